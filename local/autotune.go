package local

import "time"

// autoTuner finds the concurrency that maximizes tokens/s on one host and
// holds it. Each host has its own.
//
// It starts high enough to matter (the server's parallelism when synthkit
// knows it, else [defaultAutoStart]) and measures throughput over windows
// of completed requests: output tokens finished from the first reply of a
// request sent at the current limit to the last reply of the window.
// Replies to requests sent before a change of limit are warm-up and do not
// start a window, so a new limit is judged on its own load.
//
// From the start it doubles, up to max, while a window is not clearly
// worse (by more than [tieLoss]) than the best so far: ties climb. If the
// first step up is clearly worse, it tries halving instead, and keeps
// halving while that beats the best by more than tuneGain. Then it settles
// on the best limit seen and holds it.
//
// Failures: one transient error (a timeout, a reset) says little; it is
// retried and the limit stays. [backoffFailures] failures of requests sent
// within one window halve the limit once (a burst of in-flight requests
// failing together counts as one event, since only requests sent after the
// halving count towards the next). After [cleanToRecover] clean windows
// the limit doubles back towards the best, so a server restart does not
// leave a long run slow for good.
type autoTuner struct {
	max        int
	startLimit int
	limit      int
	phase      tunePhase

	best      float64 // tokens/s at bestLimit
	bestLimit int
	triedDown bool // a step below the start was measured
	gained    bool // a step up measured clearly better
	clean     int  // clean windows in a row while below bestLimit

	changedAt    time.Time // when limit last changed
	windowStart  time.Time
	windowTokens int
	windowDone   int
	windowFailed int
}

type tunePhase int

const (
	probingUp tunePhase = iota
	probingDown
	settled
)

const (
	// defaultAutoStart is where auto concurrency starts when the server's
	// parallelism is unknown: most servers gain from a few requests in
	// flight, and starting at 1 wastes the start of a short run.
	defaultAutoStart = 4
	// tuneGain is how much better, as a fraction, a step down must
	// measure than the best to be taken.
	tuneGain = 0.05
	// tieLoss is how much worse a step up may measure and still be taken:
	// windows on a busy machine differ by this much at the same load, and
	// on a server that queues, a limit too high costs far less than one
	// too low.
	tieLoss = 0.10
	// minWindowDone and windowPerSlot size a window: at least this many
	// completions, and at least windowPerSlot per slot, so every slot has
	// turned over a few times.
	minWindowDone = 12
	windowPerSlot = 3
	// minTuneWindow is the least time a window spans; with a fast model
	// a dozen replies can arrive within the scheduler's own jitter.
	minTuneWindow = 300 * time.Millisecond
	// clearlyWorse is the fraction of the best throughput below which a
	// probe ends after half a window; noise does not go that deep.
	clearlyWorse = 0.75
	// backoffFailures transient failures within one window halve the limit.
	backoffFailures = 2
	// cleanToRecover clean windows earn one doubling back towards the best.
	cleanToRecover = 2
)

// newAutoTuner returns a tuner that starts at start (0: the default,
// [defaultAutoStart]) and never exceeds max.
func newAutoTuner(start, maxLimit int) *autoTuner {
	maxLimit = max(maxLimit, 1)
	if start <= 0 {
		start = defaultAutoStart
	}
	start = min(start, maxLimit)
	return &autoTuner{max: maxLimit, startLimit: start, limit: start, bestLimit: start}
}

// observe records one finished attempt, sent at started and finished at
// now, and returns the limit to use from now on.
func (t *autoTuner) observe(now, started time.Time, tokens int, failed bool) int {
	if started.Before(t.changedAt) {
		// Sent under an earlier limit (or before a back-off): it tells
		// nothing about the current one.
		return t.limit
	}
	if failed {
		t.windowFailed++
		if t.windowFailed >= backoffFailures {
			t.backOff(now)
		}
		return t.limit
	}
	if t.windowStart.IsZero() {
		// The first reply at the current limit starts the window: by now the
		// server has run at this load for a whole request.
		t.windowStart = now
		return t.limit
	}
	t.windowTokens += tokens
	t.windowDone++
	elapsed := now.Sub(t.windowStart)
	if elapsed < minTuneWindow {
		return t.limit
	}
	tput := float64(t.windowTokens) / elapsed.Seconds()
	full := t.windowDone >= max(minWindowDone, windowPerSlot*t.limit)
	// A probe that is clearly losing after half a window ends early: a
	// bad limit costs the run for as short a time as possible.
	losing := t.phase != settled && t.best > 0 && t.windowDone >= minWindowDone/2 && tput < t.best*clearlyWorse
	if !full && !losing {
		return t.limit
	}
	clean := t.windowFailed == 0
	t.resetWindow()
	t.decide(now, tput, clean)
	return t.limit
}

// decide moves the limit after a full window that measured tput.
func (t *autoTuner) decide(now time.Time, tput float64, clean bool) {
	switch t.phase {
	case probingUp:
		switch {
		case t.best == 0 || tput >= t.best*(1-tieLoss):
			// Better, or a tie: more requests in flight cost a server that
			// queues them nothing, while too few leave it idle between
			// replies, so ties climb.
			if t.best > 0 && tput > t.best*(1+tuneGain) {
				t.gained = true
			}
			t.best, t.bestLimit = max(t.best, tput), t.limit
			if t.limit < t.max {
				t.setLimit(now, min(t.max, 2*t.limit))
				return
			}
			t.startDown(now)
		default:
			// A step up did not pay. If it was the first, fewer slots
			// than the start may pay more.
			t.startDown(now)
		}
	case probingDown:
		if tput > t.best*(1+tuneGain) {
			t.best, t.bestLimit = tput, t.limit
			if t.limit > 1 {
				t.setLimit(now, t.limit/2)
				return
			}
		}
		t.settle(now)
	case settled:
		if t.limit >= t.bestLimit || !clean {
			t.clean = 0
			return
		}
		if t.clean++; t.clean >= cleanToRecover {
			t.clean = 0
			t.setLimit(now, min(t.bestLimit, 2*t.limit))
		}
	}
}

// startDown tries half the start, once, unless a step up measured
// clearly better (then lower limits are worse still on any sane server).
// After climbing on ties only, the curve may as well fall from the start
// down, so it is probed all the same.
func (t *autoTuner) startDown(now time.Time) {
	from := min(t.bestLimit, t.startLimit)
	if t.triedDown || t.gained || from <= 1 {
		t.settle(now)
		return
	}
	t.triedDown = true
	t.phase = probingDown
	t.setLimit(now, from/2)
}

func (t *autoTuner) settle(now time.Time) {
	t.phase = settled
	t.clean = 0
	if t.limit != t.bestLimit {
		t.setLimit(now, t.bestLimit)
	}
}

// backOff halves the limit after repeated failures and stops probing.
func (t *autoTuner) backOff(now time.Time) {
	t.phase = settled
	t.clean = 0
	t.setLimit(now, max(1, t.limit/2))
}

func (t *autoTuner) setLimit(now time.Time, limit int) {
	t.limit = limit
	t.changedAt = now
	t.resetWindow()
}

func (t *autoTuner) resetWindow() {
	t.windowStart = time.Time{}
	t.windowTokens, t.windowDone, t.windowFailed = 0, 0, 0
}
