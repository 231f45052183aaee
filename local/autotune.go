package local

import "time"

// autoTuner finds the concurrency that maximizes tokens/s on one host: it
// doubles the limit while throughput grows by more than 5%, then settles on
// the best limit seen. Errors and timeouts halve the limit; after
// cleanToRecover clean windows it steps back up by one, towards the best
// limit, so a server restart does not leave a long run slow for good.
type autoTuner struct {
	max     int
	limit   int
	settled bool

	best      float64 // tokens/s at bestLimit
	bestLimit int
	clean     int // windows in a row without a failure, once settled

	windowStart  time.Time
	windowTokens int
	windowDone   int
}

// minTuneWindow is the least time a measurement window spans; shorter
// windows mostly measure noise.
const minTuneWindow = 2 * time.Second

// cleanToRecover is how many clean windows earn one more slot after a
// back-off.
const cleanToRecover = 3

func newAutoTuner(max int) *autoTuner {
	return &autoTuner{max: max, limit: 1, bestLimit: 1}
}

// observe records one finished request and returns the limit to use now.
func (t *autoTuner) observe(now time.Time, tokens int, failed bool) int {
	if failed {
		t.limit = max(1, t.limit/2)
		t.settled = true
		t.clean = 0
		t.resetWindow()
		return t.limit
	}
	if t.windowStart.IsZero() {
		// The first completion at a new limit starts the window, so the
		// ramp-up of the new slots is not counted.
		t.windowStart = now
		return t.limit
	}
	t.windowTokens += tokens
	t.windowDone++
	elapsed := now.Sub(t.windowStart)
	if t.windowDone < max(2*t.limit, 4) || elapsed < minTuneWindow {
		return t.limit
	}
	tput := float64(t.windowTokens) / elapsed.Seconds()
	t.resetWindow()
	if t.settled {
		if t.limit < t.bestLimit {
			if t.clean++; t.clean >= cleanToRecover {
				t.limit++
				t.clean = 0
			}
		}
		return t.limit
	}
	if tput > t.best*1.05 {
		t.best, t.bestLimit = tput, t.limit
		if t.limit < t.max {
			t.limit = min(t.max, t.limit*2)
		} else {
			t.settled = true
		}
	} else {
		t.limit = t.bestLimit
		t.settled = true
	}
	return t.limit
}

func (t *autoTuner) resetWindow() {
	t.windowStart = time.Time{}
	t.windowTokens, t.windowDone = 0, 0
}
