package local

import "time"

// autoTuner finds the concurrency that maximizes tokens/s on one host and
// holds it. Each host has its own.
//
// It starts where the server is likely best (its parallelism when synthkit
// started it, else [defaultAutoStart]) and measures windows sized in
// completed requests: output tokens finished per second, from the first
// reply to a request sent at the current limit to the last reply of the
// window. Replies to requests sent before a change of limit are warm-up and
// count for nothing, so each limit is judged on its own load.
//
// Search: it doubles while a step up is not clearly worse. A step up that
// looks clearly worse is measured a second time before it is given up, so
// one slow moment on a busy machine does not stop the climb. A tie climbs
// only while replies are fast ([cheapLatency]): on a server that queues
// what it cannot run in parallel, a higher limit then costs nothing and a
// lower one may leave it idle between replies; when replies are slow, the
// queue is what the user waits on, so ties stop the climb. Unless a step up
// measured clearly better, it then tries halving from the start, and keeps
// halving while that pays (or ties, when replies are slow). Finally it
// settles on one of the limits it measured (see [autoTuner.choose]) and
// holds it for the rest of the run: no later probing, so no oscillation.
//
// Failures: one transient error (a timeout, a reset) says little; it is
// retried and the limit stays. [backoffFailures] failures of requests sent
// within one window halve the limit once (a burst of in-flight requests
// failing together counts as one event, since only requests sent after the
// halving count towards the next). After [cleanToRecover] clean windows
// the limit doubles back towards the chosen one, so a server restart does
// not leave a long run slow for good.
type autoTuner struct {
	max        int
	startLimit int
	limit      int
	phase      tunePhase

	seen       map[int]tuneMeasure // what each measured limit got
	prev       int                 // the limit the current one is compared with
	gained     bool                // a step up measured clearly better
	triedDown  bool                // a step below the start was measured
	confirming bool                // this window re-measures a limit that looked worse
	bestLimit  int                 // where it settles and recovers to
	clean      int                 // clean windows in a row while below bestLimit

	changedAt time.Time // when limit last changed
	win       tuneWindow
}

// tuneMeasure is the mean of the windows measured at one limit.
type tuneMeasure struct {
	tput    float64       // output tokens/s
	latency time.Duration // mean time from sending a request to its reply
	windows int
}

// tuneWindow accumulates the replies of one window.
type tuneWindow struct {
	start   time.Time
	tokens  int
	done    int
	failed  int
	latency time.Duration // summed over done
}

// tput estimates tokens/s twice and takes the lower. Tokens over the
// time since the window's first reply is right unless replies come in
// bunches (a batch of requests sent together and finishing together):
// the first reply's bunch-mates then count with no time spent, up to
// half too high for a window of two replies per slot. Little's law,
// limit × tokens per second a slot is held, is right whatever the
// bunching while every slot is busy; if the callers leave slots idle it
// is too high, and the first estimate is the better.
func (w *tuneWindow) tput(elapsed time.Duration, limit int) float64 {
	byTime := float64(w.tokens) / elapsed.Seconds()
	if w.latency <= 0 {
		return byTime
	}
	return min(byTime, float64(limit)*float64(w.tokens)/w.latency.Seconds())
}

type tunePhase int

const (
	climbing tunePhase = iota
	descending
	settled
)

const (
	// defaultAutoStart is where auto concurrency starts when the server's
	// parallelism is unknown: most servers gain from a few requests in
	// flight, and starting at 1 wastes the start of a short run.
	defaultAutoStart = 4
	// tuneGain is how much better, as a fraction, a step must measure to
	// count as a gain; smaller differences are ties.
	tuneGain = 0.05
	// tieLoss is how much worse a step up may measure and still count as a
	// tie: windows on a busy machine differ by this much at the same load.
	tieLoss = 0.08
	// cheapLatency is the reply time below which more requests in flight
	// cost the user nothing worth a lost token: ties climb under it and
	// descend above it.
	cheapLatency = 2 * time.Second
	// slowGain is what a doubling must gain, twice in a row, to be taken
	// when replies are slow: it doubles the wait for every reply, and
	// windows of slow replies are few and noisy. slowTie is how much a
	// halving may lose and still be taken then.
	slowGain = 0.15
	slowTie  = 0.10
	// minWindowDone, windowPerSlot and maxWindowDone size a window in
	// completed requests: every slot turns over at least twice, but a wide
	// server is not kept at one limit for long.
	minWindowDone = 12
	windowPerSlot = 2
	maxWindowDone = 64
	// minTuneWindow only guards against a window measured within the
	// clock's resolution.
	minTuneWindow = 20 * time.Millisecond
	// clearlyWorse is the fraction of the best throughput below which a
	// probe window ends after half its size: noise does not go that deep,
	// and a bad limit should cost the run as little as possible.
	// clearlyBetter ends a window at a step up after minWindowDone replies
	// when it beats the step below by that factor, so a wide server is
	// climbed fast.
	clearlyWorse  = 0.75
	clearlyBetter = 1.3
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
	return &autoTuner{max: maxLimit, startLimit: start, limit: start, bestLimit: start, seen: map[int]tuneMeasure{}}
}

// windowSize is how many completions make a window at limit.
func windowSize(limit int) int {
	return min(maxWindowDone, max(minWindowDone, windowPerSlot*limit))
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
		t.win.failed++
		if t.win.failed >= backoffFailures {
			t.backOff(now)
		}
		return t.limit
	}
	if t.win.start.IsZero() {
		// The first reply at the current limit starts the window: by now the
		// server has run at this load for a whole request.
		t.win.start = now
		return t.limit
	}
	t.win.tokens += tokens
	t.win.done++
	t.win.latency += now.Sub(started)
	elapsed := now.Sub(t.win.start)
	if elapsed < minTuneWindow {
		return t.limit
	}
	tput := t.win.tput(elapsed, t.limit)
	size := windowSize(t.limit)
	full := t.win.done >= size
	best := t.bestTput()
	losing := t.phase != settled && best > 0 && t.win.done >= size/2 && tput < best*clearlyWorse
	winning := t.phase == climbing && t.prev > 0 && t.win.done >= minWindowDone && tput > t.seen[t.prev].tput*clearlyBetter
	if !full && !losing && !winning {
		return t.limit
	}
	latency := t.win.latency / time.Duration(t.win.done)
	clean := t.win.failed == 0
	t.win = tuneWindow{}
	t.decide(now, tput, latency, clean)
	return t.limit
}

// decide moves the limit after a window that measured tput and latency.
func (t *autoTuner) decide(now time.Time, tput float64, latency time.Duration, clean bool) {
	if t.phase == settled {
		t.recover(now, clean)
		return
	}
	r := 0.0
	if t.prev != 0 {
		r = tput / t.seen[t.prev].tput
	}
	if t.confirming && r >= 1-tieLoss {
		// The confirming window overrules the one that looked worse: that
		// one was a busy moment, not this limit.
		delete(t.seen, t.limit)
	}
	t.record(tput, latency)
	if t.prev == 0 {
		// The first window: nothing to compare with yet.
		t.climb(now)
		return
	}
	// This window alone decides; when it confirms a loss, the record
	// keeps the mean of both.
	slow := latency > cheapLatency
	if t.phase == climbing {
		switch {
		case r < 1-tieLoss && !t.confirming:
			// Looks worse: measure once more before giving up the climb.
			t.confirming = true
		case r < 1-tieLoss:
			t.startDown(now)
		case slow && r > 1+slowGain && !t.confirming:
			t.confirming = true
		case slow && r > 1+slowGain, !slow && r > 1+tuneGain:
			t.gained = true
			t.climb(now)
		case !slow:
			// A tie while replies are fast: more in flight costs nothing.
			t.climb(now)
		default:
			t.startDown(now)
		}
		return
	}
	// Descending: take the step down if it gains, or if it (nearly) ties
	// while the limit above kept replies slow.
	if r > 1+tuneGain || (r >= 1-slowTie && t.seen[t.prev].latency > cheapLatency) {
		t.descend(now)
		return
	}
	t.settle(now)
}

// record folds a window into what is known about the current limit.
func (t *autoTuner) record(tput float64, latency time.Duration) {
	m := t.seen[t.limit]
	n := float64(m.windows)
	m.tput = (m.tput*n + tput) / (n + 1)
	m.latency = time.Duration((float64(m.latency)*n + float64(latency)) / (n + 1))
	m.windows++
	t.seen[t.limit] = m
}

// climb accepts the current limit and doubles it, or turns to the way
// down at the maximum.
func (t *autoTuner) climb(now time.Time) {
	t.prev = t.limit
	if t.limit < t.max {
		t.setLimit(now, min(t.max, 2*t.limit))
		return
	}
	t.startDown(now)
}

// startDown tries half the start, unless a step up measured clearly
// better (then lower limits are worse still on any sane server).
func (t *autoTuner) startDown(now time.Time) {
	if t.gained || t.triedDown || t.startLimit <= 1 {
		t.settle(now)
		return
	}
	t.triedDown = true
	t.phase = descending
	t.prev = t.startLimit
	t.setLimit(now, t.startLimit/2)
}

// descend accepts the current limit and halves it, down to 1.
func (t *autoTuner) descend(now time.Time) {
	t.prev = t.limit
	if t.limit > 1 {
		t.setLimit(now, t.limit/2)
		return
	}
	t.settle(now)
}

func (t *autoTuner) settle(now time.Time) {
	t.phase = settled
	t.clean = 0
	t.confirming = false
	t.bestLimit = t.choose()
	if t.limit != t.bestLimit {
		t.setLimit(now, t.bestLimit)
	}
}

// choose picks the limit to hold among those measured. Measurements at
// neighbouring limits differ by noise as much as by load, so it does not
// just take the highest figure: while replies are fast it takes the
// highest limit within [tieLoss] of the best (a server that queues loses
// nothing there, and one that gains a little keeps it); when replies are
// slow, the lowest limit within [slowTie] of the best, so nobody waits
// on a queue that buys little.
func (t *autoTuner) choose() int {
	best := t.bestTput()
	if best == 0 {
		return t.bestLimit
	}
	high := 0
	for l, m := range t.seen {
		if m.tput >= best*(1-tieLoss) && m.latency <= cheapLatency && l > high {
			high = l
		}
	}
	if high > 0 {
		return high
	}
	low := t.max
	for l, m := range t.seen {
		if m.tput >= best*(1-slowTie) && l < low {
			low = l
		}
	}
	return low
}

func (t *autoTuner) bestTput() float64 {
	best := 0.0
	for _, m := range t.seen {
		best = max(best, m.tput)
	}
	return best
}

// recover doubles back towards bestLimit after clean windows below it.
func (t *autoTuner) recover(now time.Time, clean bool) {
	if t.limit >= t.bestLimit || !clean {
		t.clean = 0
		return
	}
	if t.clean++; t.clean >= cleanToRecover {
		t.clean = 0
		t.setLimit(now, min(t.bestLimit, 2*t.limit))
	}
}

// backOff halves the limit after repeated failures and stops probing; it
// will recover towards the best limit measured so far.
func (t *autoTuner) backOff(now time.Time) {
	if t.phase != settled {
		t.phase = settled
		if t.bestTput() > 0 {
			t.bestLimit = t.choose()
		}
		t.bestLimit = min(t.bestLimit, t.limit)
	}
	t.clean = 0
	t.setLimit(now, max(1, t.limit/2))
}

func (t *autoTuner) setLimit(now time.Time, limit int) {
	t.limit = limit
	t.changedAt = now
	t.confirming = false
	t.win = tuneWindow{}
}
