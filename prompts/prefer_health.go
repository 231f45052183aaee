package prompts

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"

	"synthkit/export"
)

// Judge health thresholds. A judge endpoint can change under a run (a
// remote model swapped, a quantization changed) and start giving the
// minimum score to everything; these catch that while the run goes.
const (
	// MinScoreRun flags this many judged completions in a row that all got
	// the scale's minimum score.
	MinScoreRun = 10
	// DominanceWindow and DominanceShare flag one rounded score taking at
	// least this share of the last DominanceWindow judged completions.
	DominanceWindow = 50
	DominanceShare  = 0.9
	// DriftAgreementDrop flags a calibration pass whose agreement with the
	// expected order fell this much below the first pass's.
	DriftAgreementDrop = 0.25
	// DriftScoreShift flags a calibration pass whose mean score moved by
	// this share of the scale's range from the first pass's.
	DriftScoreShift = 0.2
)

// judgeHealth follows one judge through a run: calibration passes and
// anomalies in the scores it gives.
type judgeHealth struct {
	judge     string
	items     []CalibrationItem
	itemsHash string
	// judged counts judged prompts (rows or rejections), resumed included.
	judged atomic.Int64
	calls  atomic.Int64 // calibration judge calls of this invocation

	mu       sync.Mutex
	passes   []calibrationPass
	inFlight bool

	lo, hi   float64 // the scale, for anomalies and shift
	absolute bool    // scores mean something alone (ratings, rubric)
	minRun   int     // completions in a row at the minimum
	window   []int   // last rounded scores, oldest first
	events   []anomaly
	active   map[string]bool // an episode of this kind is going on
	quiet    bool            // replaying the journal: no warnings
	warn     func(string)
}

// anomaly is one episode of an odd score distribution.
type anomaly struct {
	Kind   string
	After  int64 // judged prompts when it was seen
	Detail string
}

const (
	anomalyMinRun   = "run of minimum scores"
	anomalyDominant = "one score dominating"
	anomalyDrift    = "calibration drift"
)

// scale is the range of the aggregate score and whether it is absolute.
// Pairwise win rates and rank scores are relative to the other answers
// of the same prompt, so a run of minimums cannot happen in them.
func (m *Prefer) scale() (lo, hi float64, absolute bool) {
	switch m.mode() {
	case ModeRatings:
		return 1, 5, true
	case ModeRubric:
		if m.Rubric == nil || len(m.Rubric.Attributes) == 0 {
			return 0, 0, false
		}
		agg := m.Aspect
		if agg == "" {
			agg = m.Rubric.Aggregate
		}
		var n float64
		for _, a := range m.Rubric.Attributes {
			if agg == "" || a.Name == agg {
				lo, hi, n = lo+float64(a.Min), hi+float64(a.Max), n+1
			}
		}
		return lo / n, hi / n, true
	}
	return 0, 0, false
}

// startHealth loads the calibration history and replays the journal's
// judgments into the anomaly monitor, so a resumed run goes on where the
// last one stopped.
func (m *Prefer) startHealth(env *Env) error {
	items := m.Calibration
	if items == nil {
		items = CalibrationItems()
	}
	lo, hi, abs := m.scale()
	h := &judgeHealth{judge: m.judge, items: items, itemsHash: calibrationItemsHash(items),
		lo: lo, hi: hi, absolute: abs, active: map[string]bool{}}
	h.warn = func(msg string) {
		if m.Log != nil {
			fmt.Fprintf(m.Log, "warning: judge %s: %s\n", m.judge, msg)
		}
	}
	for k := 0; ; k++ {
		var p calibrationPass
		ok, err := env.Run.State(calibrationKey(k), &p)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		h.passes = append(h.passes, p)
	}
	var judged int64
	for p := range m.Conversations {
		if env.Run.Done(judgeUnit(p)) {
			judged++
		}
	}
	h.quiet = true
	n := int64(0)
	err := env.Run.Rows(func(unit string, rows []export.Row) error {
		for _, row := range rows {
			if r, ok := row.(export.Rating); ok {
				scores := make([]*float64, len(r.Completions))
				for i, c := range r.Completions {
					scores[i] = c.Overall
				}
				h.judged.Store(n)
				h.observe(scores)
				n++
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("couldn't replay the judgments: %w", err)
	}
	for _, p := range h.passes {
		h.passDone(m, p)
	}
	h.quiet = false
	h.judged.Store(judged)
	m.health = h
	m.shown.Store(h)
	return nil
}

// observe feeds one judgment's scores, in the order of its completions.
func (h *judgeHealth) observe(scores []*float64) {
	if !h.absolute {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	after := h.judged.Load()
	for _, s := range scores {
		if s == nil {
			continue
		}
		if math.Abs(*s-h.lo) < 1e-9 {
			h.minRun++
		} else {
			h.minRun = 0
		}
		h.flag(anomalyMinRun, h.minRun >= MinScoreRun, after,
			fmt.Sprintf("%d judged completions in a row got the minimum score %g", MinScoreRun, h.lo))
		h.window = append(h.window, int(math.Round(*s)))
		if len(h.window) > DominanceWindow {
			h.window = h.window[1:]
		}
		top, count := h.dominant()
		h.flag(anomalyDominant, len(h.window) == DominanceWindow && float64(count) >= DominanceShare*DominanceWindow, after,
			fmt.Sprintf("score %d was %d of the last %d judged completions", top, count, DominanceWindow))
	}
}

func (h *judgeHealth) dominant() (score, count int) {
	c := map[int]int{}
	for _, v := range h.window {
		c[v]++
		if c[v] > count || c[v] == count && v < score {
			score, count = v, c[v]
		}
	}
	return score, count
}

// flag opens an episode of kind when on and none is going on, and closes
// it when off. Callers hold h.mu.
func (h *judgeHealth) flag(kind string, on bool, after int64, detail string) {
	switch {
	case on && !h.active[kind]:
		h.active[kind] = true
		h.events = append(h.events, anomaly{Kind: kind, After: after, Detail: detail})
		if !h.quiet {
			h.warn(fmt.Sprintf("%s after %d judged prompts: %s", kind, after, detail))
		}
	case !on:
		h.active[kind] = false
	}
}

// drift compares pass p with the first pass over the same items by the
// same judge: agreement change and mean shift (nil where not defined).
func (h *judgeHealth) drift(p calibrationPass) (dAgree, shift *float64, flagged bool) {
	var first *calibrationPass
	for i := range h.passes {
		if h.passes[i].Items == p.Items && h.passes[i].Judge == p.Judge {
			first = &h.passes[i]
			break
		}
	}
	if first == nil {
		return nil, nil, false
	}
	if first.Agreement != nil && p.Agreement != nil {
		v := *p.Agreement - *first.Agreement
		dAgree = &v
		flagged = v <= -DriftAgreementDrop+1e-9
	}
	if first.Mean != nil && p.Mean != nil {
		v := *p.Mean - *first.Mean
		shift = &v
		if r := h.hi - h.lo; r > 0 && math.Abs(v) >= DriftScoreShift*r-1e-9 {
			flagged = true
		}
	}
	if p.Agreement == nil && first.Agreement != nil {
		flagged = true // the judge could not be read on any item
	}
	return dAgree, shift, flagged
}

// passDone records a finished pass's drift as an anomaly when flagged.
func (h *judgeHealth) passDone(m *Prefer, p calibrationPass) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, shift, flagged := h.drift(p)
	detail := fmt.Sprintf("calibration pass %d: agreement %s (first pass %s), mean score shift %s, %d of %d items unreadable",
		p.Pass, pct(p.Agreement), pct(h.firstAgreement(p)), signed(shift), p.Failed, len(p.Scores))
	h.flag(anomalyDrift, flagged, p.After, detail)
}

func (h *judgeHealth) firstAgreement(p calibrationPass) *float64 {
	for _, q := range h.passes {
		if q.Items == p.Items && q.Judge == p.Judge {
			return q.Agreement
		}
	}
	return nil
}

func pct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100**v)
}

func signed(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%+.2f", *v)
}

// healthTables are the judge-health tables for the card and the summary:
// each calibration pass with its drift, and the anomalies seen.
func (m *Prefer) healthTables() []export.CardTable {
	h := m.health
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []export.CardTable
	if len(h.passes) > 0 {
		t := export.CardTable{Title: fmt.Sprintf("Judge calibration (%s, %s mode)", m.judge, m.mode()),
			Header: []string{"pass", "after judged prompts", "items read", "agreement with expected order", "mean score", "change in agreement", "mean score shift", "drift"}}
		for _, p := range h.passes {
			dAgree, shift, flagged := h.drift(p)
			mean := "n/a (relative scores)"
			if p.Mean != nil {
				mean = fmt.Sprintf("%.2f", *p.Mean)
			}
			d := "no"
			if flagged {
				d = "yes"
			}
			agreeChange := "n/a"
			if dAgree != nil {
				agreeChange = fmt.Sprintf("%+.0f pts", 100**dAgree)
			}
			t.Rows = append(t.Rows, []string{strconv.Itoa(p.Pass), strconv.FormatInt(p.After, 10),
				fmt.Sprintf("%d of %d", len(p.Scores)-p.Failed, len(p.Scores)), pct(p.Agreement), mean, agreeChange, signed(shift), d})
		}
		out = append(out, t)
	}
	if len(h.events) > 0 {
		t := export.CardTable{Title: fmt.Sprintf("Judge anomalies (%s)", m.judge), Header: []string{"anomaly", "after judged prompts", "what was seen"}}
		for _, e := range h.events {
			t.Rows = append(t.Rows, []string{e.Kind, strconv.FormatInt(e.After, 10), e.Detail})
		}
		out = append(out, t)
	}
	return out
}

// Status is the live judge-health figure for the progress display.
func (m *Prefer) Status() string {
	h := m.shown.Load()
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := ""
	if n := len(h.passes); n > 0 {
		s = fmt.Sprintf("judge agreement %s (first %s)", pct(h.passes[n-1].Agreement), pct(h.firstAgreement(h.passes[n-1])))
	}
	if len(h.events) > 0 {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%d judge anomalies", len(h.events))
	}
	return s
}

// healthNote says what the checks are, once per run (the text is fixed,
// so resumed runs do not repeat it).
func (m *Prefer) healthNote() string {
	cal := "no calibration (--calibrate-every 0)"
	if m.CalibrateEvery > 0 {
		src := "the built-in items"
		if m.Calibration != nil {
			src = fmt.Sprintf("%d items from --calibration", len(m.Calibration))
		}
		cal = fmt.Sprintf("calibration on %s at the start and after every %d judged prompts (drift: agreement %.0f points below the first pass, or a mean score shift of %.0f%% of the scale)",
			src, m.CalibrateEvery, 100*DriftAgreementDrop, 100*DriftScoreShift)
	}
	return fmt.Sprintf("judge health: %s; anomalies: %d completions in a row at the minimum score, or one score taking %.0f%% of the last %d (ratings and rubric modes)",
		cal, MinScoreRun, 100*DominanceShare, DominanceWindow)
}
