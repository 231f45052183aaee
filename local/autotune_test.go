package local

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// simRequest is one request in flight on the simulated server.
type simRequest struct {
	id      int
	started time.Time
	finish  time.Time
	limit   int // the tuner's limit when it was sent
}

type simQueue []simRequest

func (q simQueue) Len() int           { return len(q) }
func (q simQueue) Less(i, j int) bool { return q[i].finish.Before(q[j].finish) }
func (q simQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)        { *q = append(*q, x.(simRequest)) }
func (q *simQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// simServer is a server whose throughput depends on how many requests are
// in flight: tput(n) tokens/s at n, every request tokens long.
type simServer struct {
	tput   func(n int) float64
	tokens int
	noise  float64 // ± fraction of each request's duration
}

// simFail says whether request id, sent at the given limit and in flight
// from sent to end (times since the start), fails; the scheduler retries
// failed requests, so they are sent again.
type simFail func(id, limit int, sent, end time.Duration) bool

type simResult struct {
	final     int
	peak      int
	min       int           // lowest limit after the first request finished
	drops     int           // how often the limit went down
	settledAt int           // requests finished when the limit last changed
	elapsed   time.Duration // time to finish all requests
	tokens    int
}

func (r simResult) rate() float64 { return float64(r.tokens) / r.elapsed.Seconds() }

// simulate runs n requests through the tuner the way the scheduler does:
// a new request starts whenever fewer than the limit are in flight, and
// every reply (or failure) is observed.
func simulate(at *autoTuner, srv simServer, n int, fail simFail) simResult {
	rng := rand.New(rand.NewPCG(42, 7))
	t0 := time.Unix(1000, 0)
	now := t0
	var q simQueue
	var retry []int
	nextID, done := 0, 0
	res := simResult{peak: at.limit, min: at.limit}
	for done < n {
		for q.Len() < at.limit && (len(retry) > 0 || nextID < n) {
			id := nextID
			if len(retry) > 0 {
				id, retry = retry[0], retry[1:]
			} else {
				nextID++
			}
			// Each request gets its share of the throughput at the limit.
			d := float64(srv.tokens) * float64(at.limit) / srv.tput(at.limit)
			d *= 1 + srv.noise*(2*rng.Float64()-1)
			heap.Push(&q, simRequest{id: id, started: now, finish: now.Add(time.Duration(d * float64(time.Second))), limit: at.limit})
		}
		r := heap.Pop(&q).(simRequest)
		now = r.finish
		failed := fail != nil && fail(r.id, r.limit, r.started.Sub(t0), r.finish.Sub(t0))
		before := at.limit
		tokens := srv.tokens
		if failed {
			tokens = 0
			retry = append(retry, r.id)
		} else {
			done++
			res.tokens += tokens
		}
		at.observe(now, r.started, tokens, failed)
		if at.limit != before {
			res.settledAt = done
		}
		if at.limit < before {
			res.drops++
		}
		res.peak = max(res.peak, at.limit)
		res.min = min(res.min, at.limit)
	}
	res.final = at.limit
	res.elapsed = now.Sub(t0)
	return res
}

// bestFixed is the throughput of the best fixed limit in 1..maxLimit on
// the same server and requests.
func bestFixed(srv simServer, n, maxLimit int) (float64, int) {
	best, bestC := 0.0, 0
	for c := 1; c <= maxLimit; c++ {
		at := newAutoTuner(c, c)
		at.phase = settled // never moves
		if r := simulate(at, srv, n, nil).rate(); r > best {
			best, bestC = r, c
		}
	}
	return best, bestC
}

// table is a throughput curve given at a few limits; other limits take
// the value of the nearest given limit below.
func table(points map[int]float64) func(int) float64 {
	return func(n int) float64 {
		for c := n; c >= 1; c-- {
			if v, ok := points[c]; ok {
				return v
			}
		}
		return points[1]
	}
}

func TestAutoTunerStart(t *testing.T) {
	tests := []struct{ start, max, want int }{
		{0, 8, 4},   // unknown server: 4, not 1
		{0, 2, 2},   // never above the maximum
		{4, 8, 4},   // synthkit started the server with OLLAMA_NUM_PARALLEL=4
		{16, 8, 8},  // a hint above the maximum is capped
		{1, 8, 1},   // the server runs one request at a time
		{0, 0, 1},   // a nonsense maximum still leaves one slot
		{8, 64, 8},  // an OpenAI-compatible server
		{-3, 64, 4}, // negative start means the default
	}
	for _, tt := range tests {
		if got := newAutoTuner(tt.start, tt.max).limit; got != tt.want {
			t.Errorf("newAutoTuner(%d, %d) starts at %d, want %d", tt.start, tt.max, got, tt.want)
		}
	}
}

// The tuner's decisions on synthetic servers: where it ends, that it never
// exceeds the maximum, how soon it settles, and what share of the best
// fixed limit's throughput a 300- and a 1,500-request run get.
func TestAutoTunerDecisions(t *testing.T) {
	linear := func(n int) float64 { return 100 * float64(n) }
	flatAbove := func(k int) func(int) float64 {
		return func(n int) float64 { return 1000 * float64(min(n, k)) / float64(k) }
	}
	tests := []struct {
		name       string
		srv        simServer
		start, max int
		want       [2]int // the final limit lies in this range
		settleBy   int    // the limit stops moving within this many requests of a 300-request run
		// minRatio is the least share of the best fixed limit's tok/s for
		// a 300- and a 1,500-request run (zero: 0.95).
		minRatio [2]float64
	}{
		// Ties climb: an Ollama server queues what it cannot run in parallel.
		{"flat above 4 (NUM_PARALLEL=4): ties climb", simServer{tput: flatAbove(4), tokens: 64}, 0, 8, [2]int{8, 8}, 90, [2]float64{}},
		{"flat from 1 (NUM_PARALLEL=1): no probe down", simServer{tput: flatAbove(1), tokens: 64}, 0, 8, [2]int{8, 8}, 90, [2]float64{}},
		{"clearly worse above 4: stays at 4", simServer{tput: table(map[int]float64{1: 400, 2: 700, 4: 1000, 8: 850}), tokens: 64}, 0, 8, [2]int{4, 4}, 120, [2]float64{}},
		{"flat above 8: climbs to the maximum", simServer{tput: flatAbove(8), tokens: 64}, 0, 8, [2]int{8, 8}, 90, [2]float64{}},
		// Three doublings to 64 take a few hundred requests: a short run
		// on such a server spends much of itself ramping.
		{"linear (vLLM-like) from 8: climbs to 64", simServer{tput: linear, tokens: 64}, 8, 64, [2]int{64, 64}, 300, [2]float64{0.3, 0.75}},
		{"odd maximum: stops at 6, never above", simServer{tput: linear, tokens: 64}, 0, 6, [2]int{6, 6}, 90, [2]float64{}},
		{"best at 2 (two CPU cores): probes down", simServer{tput: table(map[int]float64{1: 900, 2: 1000, 4: 850, 8: 800}), tokens: 64}, 0, 8, [2]int{2, 2}, 120, [2]float64{}},
		// The worst case for a start at 4: every probe but the last loses.
		{"best at 1: keeps halving while it pays", simServer{tput: table(map[int]float64{1: 1000, 2: 800, 4: 700, 8: 650}), tokens: 64}, 0, 8, [2]int{1, 1}, 150, [2]float64{0.9, 0.95}},
		// The price of climbing on ties: a limit up to tieLoss too high.
		{"small losses are noise: a step 8% worse climbs", simServer{tput: table(map[int]float64{1: 500, 2: 800, 4: 1000, 8: 920}), tokens: 64}, 0, 8, [2]int{8, 8}, 120, [2]float64{0.9, 0.9}},
		{"a step down must gain clearly: 3% is noise", simServer{tput: table(map[int]float64{1: 500, 2: 1030, 4: 1000, 8: 700}), tokens: 64}, 0, 8, [2]int{4, 4}, 120, [2]float64{0.93, 0.95}},
		{"server parallelism known: starts there", simServer{tput: table(map[int]float64{1: 500, 2: 1000, 4: 800}), tokens: 64}, 2, 4, [2]int{2, 2}, 90, [2]float64{}},
		{"noisy flat server: no wandering off", simServer{tput: flatAbove(4), tokens: 64, noise: 0.3}, 0, 8, [2]int{2, 8}, 150, [2]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range []int{300, 1500} {
				at := newAutoTuner(tt.start, tt.max)
				r := simulate(at, tt.srv, n, nil)
				if r.final < tt.want[0] || r.final > tt.want[1] {
					t.Errorf("%d requests: ended at %d, want %d..%d", n, r.final, tt.want[0], tt.want[1])
				}
				if r.peak > tt.max {
					t.Errorf("%d requests: reached %d, above the maximum %d", n, r.peak, tt.max)
				}
				if n == 300 && r.settledAt > tt.settleBy {
					t.Errorf("the limit last moved after %d of %d requests, want within %d", r.settledAt, n, tt.settleBy)
				}
				minRatio := tt.minRatio[0]
				if n == 1500 {
					minRatio = tt.minRatio[1]
				}
				if minRatio == 0 {
					minRatio = 0.95
				}
				best, bestC := bestFixed(tt.srv, n, tt.max)
				if ratio := r.rate() / best; ratio < minRatio {
					t.Errorf("%d requests: %.0f tok/s = %.3f of the best fixed limit (%d, %.0f tok/s), want ≥ %.2f",
						n, r.rate(), ratio, bestC, best, minRatio)
				}
			}
		})
	}
}

// Failures: one transient error does not move the limit; repeated ones
// within a window halve it once per burst; clean windows bring it back.
// The server gains up to 8, so without failures the limit climbs 4 → 8
// and never drops.
func TestAutoTunerFailures(t *testing.T) {
	linear := simServer{tput: func(n int) float64 { return 100 * float64(n) }, tokens: 64}
	once := func(ids ...int) simFail {
		seen := map[int]bool{}
		return func(id, _ int, _, _ time.Duration) bool {
			for _, x := range ids {
				if id == x && !seen[id] {
					seen[id] = true
					return true
				}
			}
			return false
		}
	}
	// Every request in flight at some moment in [from, to] fails: a
	// server restart.
	outage := func(from, to time.Duration) simFail {
		return func(_, _ int, sent, end time.Duration) bool { return sent <= to && end >= from }
	}
	tests := []struct {
		name      string
		fail      simFail
		wantDrops [2]int
		wantMin   int // the lowest limit
		want      int // the final limit
	}{
		{"no failures", nil, [2]int{0, 0}, 4, 8},
		{"one timeout while probing does not halve", once(20), [2]int{0, 0}, 4, 8},
		{"one timeout once settled does not halve", once(400), [2]int{0, 0}, 4, 8},
		{"two far apart do not halve", once(300, 800), [2]int{0, 0}, 4, 8},
		{"two within a window halve", once(400, 401), [2]int{1, 1}, 4, 8},
		{"a burst of 8 in-flight failures halves once", outage(30*time.Second, 30*time.Second), [2]int{1, 1}, 4, 8},
		{"overload at 8 backs off to 4 and stays", func(_, limit int, _, _ time.Duration) bool { return limit >= 8 }, [2]int{1, 1}, 4, 4},
		{"an outage halves to 1, then it recovers", outage(30*time.Second, 40*time.Second), [2]int{3, 5}, 1, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := simulate(newAutoTuner(0, 8), linear, 1500, tt.fail)
			if r.drops < tt.wantDrops[0] || r.drops > tt.wantDrops[1] {
				t.Errorf("the limit dropped %d times, want %d..%d", r.drops, tt.wantDrops[0], tt.wantDrops[1])
			}
			if r.min != tt.wantMin {
				t.Errorf("lowest limit %d, want %d", r.min, tt.wantMin)
			}
			if r.final != tt.want {
				t.Errorf("ended at %d, want %d", r.final, tt.want)
			}
		})
	}
}

// Replies to requests sent before a change of limit are warm-up: they
// neither start a window nor count as failures of the new limit.
func TestAutoTunerIgnoresRequestsFromBeforeAChange(t *testing.T) {
	at := newAutoTuner(4, 8)
	t0 := time.Unix(0, 0)
	at.backOff(t0.Add(time.Second)) // limit 2 from t0+1s
	old := t0                       // sent before the back-off
	for i := 1; i <= 10; i++ {
		at.observe(t0.Add(time.Second+time.Duration(i)*time.Millisecond), old, 0, true)
	}
	if at.limit != 2 {
		t.Fatalf("failures of requests sent before the back-off moved the limit to %d, want 2", at.limit)
	}
	at.observe(t0.Add(2*time.Second), old, 64, false)
	if !at.windowStart.IsZero() {
		t.Fatal("a reply to a request sent before the change started the window")
	}
	at.observe(t0.Add(3*time.Second), t0.Add(1500*time.Millisecond), 64, false)
	if at.windowStart.IsZero() {
		t.Fatal("a reply to a request sent after the change did not start the window")
	}
}

// Each host tunes on its own: failures on one do not slow the other.
func TestAutoTunerPerHost(t *testing.T) {
	s, hs := testScheduler(2, SchedulerOptions{MaxConcurrency: 8})
	if hs[0].limit != 4 || hs[1].limit != 4 {
		t.Fatalf("limits start at %d and %d, want 4", hs[0].limit, hs[1].limit)
	}
	for i := 0; i < 2; i++ {
		for range hs {
			h, err := s.acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if h == hs[0] {
				s.release(h, time.Now(), 0, failedTransient)
			} else {
				s.release(h, time.Now(), 10, succeeded)
			}
		}
	}
	if hs[0].limit >= 4 {
		t.Errorf("the failing host kept limit %d, want it halved", hs[0].limit)
	}
	if hs[1].limit != 4 {
		t.Errorf("the healthy host's limit moved to %d, want 4", hs[1].limit)
	}
	if got := s.capacity(); got != 16 {
		t.Errorf("capacity %d, want 16 (two hosts of at most 8)", got)
	}
}
