package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// barScale is the bar's resolution. The bar runs on a fixed scale that
// stops one short of full until Done, because mpb ends a bar for good once
// it is full and a run can reach its target before it has finished (the
// export, late rejections).
const barScale = 1000

// terminal is the live display: one redrawn line per stage (mpb), with
// messages printed above them. The mpb container lives only while a
// stage does, so anything printed between stages (notices, the summary)
// goes straight to the terminal and stays.
type terminal struct {
	mu   sync.Mutex
	w    io.Writer
	p    *mpb.Progress // nil while no stage is live
	live []*termStage
}

func newTerminal(w io.Writer) *terminal { return &terminal{w: w} }

func (t *terminal) Stage(name string, target int64) Stage {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.p == nil {
		t.p = mpb.New(mpb.WithOutput(t.w), mpb.WithRefreshRate(200*time.Millisecond))
	}
	s := &termStage{t: t, name: name, target: target}
	s.bar = t.p.New(barScale,
		mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding(" ").Rbound("]"),
		mpb.BarWidth(22),
		mpb.PrependDecorators(decor.Any(s.head)),
		mpb.AppendDecorators(decor.Any(s.tail)))
	t.live = append(t.live, s)
	return s
}

func (t *terminal) Logf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.print(fmt.Sprintf(format, args...))
}

// print writes above the live lines, or plainly when none is live; t.mu
// is held.
func (t *terminal) print(msg string) {
	if t.p != nil {
		writeLine(t.p, msg)
		return
	}
	writeLine(t.w, msg)
}

func (t *terminal) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.live {
		s.bar.Abort(false)
	}
	t.live = nil
	t.shutdown()
}

// shutdown waits until mpb has drawn the last frame; t.mu is held.
func (t *terminal) shutdown() {
	if t.p != nil {
		t.p.Wait()
		t.p = nil
	}
}

// termStage is one line; its mutex guards what the decorators read.
type termStage struct {
	t      *terminal
	name   string
	target int64
	bar    *mpb.Bar

	mu    sync.Mutex
	last  Snapshot
	rates rates
	ended bool
	err   error
}

func (s *termStage) Update(snap Snapshot) {
	s.mu.Lock()
	s.set(snap)
	cur := s.scaled()
	s.mu.Unlock()
	s.bar.SetCurrent(min(cur, barScale-1))
}

func (s *termStage) Done(snap Snapshot, err error) {
	s.mu.Lock()
	s.set(snap)
	s.ended, s.err = true, err
	s.mu.Unlock()
	if err == nil {
		s.bar.SetCurrent(barScale)
	} else {
		s.bar.Abort(false)
	}
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, o := range t.live {
		if o == s {
			t.live = append(t.live[:i], t.live[i+1:]...)
			break
		}
	}
	if len(t.live) == 0 {
		t.shutdown()
	}
}

func (s *termStage) Logf(format string, args ...any) { s.t.Logf(format, args...) }

func (s *termStage) Summary(text string, _ any) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	s.t.print(text)
}

func (s *termStage) set(snap Snapshot) {
	if snap.Target <= 0 {
		snap.Target = s.target
	}
	s.rates.observe(snap)
	s.last = snap
}

// scaled is the bar position for the latest snapshot; s.mu is held.
func (s *termStage) scaled() int64 {
	if s.last.Target <= 0 {
		return 0
	}
	return min(s.last.Done*barScale/s.last.Target, barScale)
}

// head is drawn left of the bar: the name and the count.
func (s *termStage) head(decor.Statistics) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name + " " + countText(s.last)
}

// tail is drawn right of the bar: the details, or how the stage ended.
func (s *termStage) tail(decor.Statistics) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	eta, ok := s.rates.eta(s.last)
	d := detailText(s.last, eta, ok)
	if s.ended {
		d += "  " + endText(s.err)
	}
	return d
}
