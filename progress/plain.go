package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// plain prints each live stage's line every interval and once more when
// it ends: what a CI log or nohup.out should hold.
type plain struct {
	mu     sync.Mutex
	w      io.Writer
	live   []*plainStage
	stop   chan struct{}
	wg     sync.WaitGroup
	closed bool
}

func newPlain(w io.Writer, every time.Duration) *plain {
	d := &plain{w: w, stop: make(chan struct{})}
	d.wg.Add(1)
	go d.tick(every)
	return d
}

func (d *plain) tick(every time.Duration) {
	defer d.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.mu.Lock()
			for _, s := range d.live {
				if s.seen {
					fmt.Fprintln(d.w, s.text())
				}
			}
			d.mu.Unlock()
		}
	}
}

func (d *plain) Stage(name string, target int64) Stage {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &plainStage{d: d, name: name, target: target}
	d.live = append(d.live, s)
	return s
}

func (d *plain) Logf(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	writeLine(d.w, fmt.Sprintf(format, args...))
}

func (d *plain) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.mu.Unlock()
	close(d.stop)
	d.wg.Wait()
}

// plainStage is one stage's latest snapshot; the display's mutex guards it.
type plainStage struct {
	d      *plain
	name   string
	target int64
	last   Snapshot
	seen   bool
	rates  rates
}

func (s *plainStage) Update(snap Snapshot) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.set(snap)
}

func (s *plainStage) Done(snap Snapshot, err error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.set(snap)
	fmt.Fprintf(s.d.w, "%s  %s\n", s.text(), endText(err))
	for i, o := range s.d.live {
		if o == s {
			s.d.live = append(s.d.live[:i], s.d.live[i+1:]...)
			break
		}
	}
}

func (s *plainStage) Logf(format string, args ...any) { s.d.Logf(format, args...) }

func (s *plainStage) Summary(text string, _ any) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	writeLine(s.d.w, text)
}

func (s *plainStage) set(snap Snapshot) {
	if snap.Target <= 0 {
		snap.Target = s.target
	}
	s.rates.observe(snap)
	s.last, s.seen = snap, true
}

func (s *plainStage) text() string {
	eta, ok := s.rates.eta(s.last)
	return line(s.name, s.last, eta, ok)
}

// writeLine writes msg and ends it with exactly one newline.
func writeLine(w io.Writer, msg string) {
	io.WriteString(w, strings.TrimRight(msg, "\n")+"\n")
}
