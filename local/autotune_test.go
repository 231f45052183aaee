package local

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// simRequest is one request in flight on the simulated server.
type simRequest struct {
	id      int
	started time.Time
	left    float64 // tokens still to generate
	speed   float64 // its share of the throughput is scaled by this (noise)
	limit   int     // the tuner's limit when it was sent
}

// simServer is a server whose throughput depends on how many requests are
// in flight: tput(n) tokens/s at n, every request tokens long.
type simServer struct {
	tput   func(n int) float64
	tokens int
	noise  float64 // ± fraction of each request's duration
	// drift is the machine's other load: throughput falls by up to this
	// fraction, a new level every driftEvery (1s if zero), the same
	// levels at the same times for every contender.
	drift      float64
	driftEvery time.Duration
	seed       uint64
}

// load is the fraction of its throughput the server has at time at.
func (s simServer) load(at time.Duration) float64 {
	if s.drift == 0 {
		return 1
	}
	every := s.driftEvery
	if every == 0 {
		every = time.Second
	}
	r := rand.New(rand.NewPCG(s.seed, uint64(at/every)))
	return 1 - s.drift*r.Float64()
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
	moves     int           // how often the limit changed
	settledAt int           // requests finished when the limit last changed
	elapsed   time.Duration // time to finish all requests
	tokens    int
	latency   time.Duration // mean latency of the requests sent after settledAt
}

func (r simResult) rate() float64 { return float64(r.tokens) / r.elapsed.Seconds() }

// simulate runs n requests through the tuner the way the scheduler does:
// a new request starts whenever fewer than the limit are in flight, and
// every reply (or failure) is observed. The server shares its throughput
// at the number in flight equally among them (processor sharing), so a
// change of limit changes every request's speed at once, as on a real
// server that batches.
func simulate(at *autoTuner, srv simServer, n int, fail simFail) simResult {
	rng := rand.New(rand.NewPCG(42+srv.seed, 7))
	t0 := time.Unix(1000, 0)
	now := t0
	var inflight []simRequest
	var retry []int
	nextID, done := 0, 0
	var lastChange time.Time
	var latSum time.Duration
	latN := 0
	res := simResult{peak: at.limit, min: at.limit}
	for done < n {
		for len(inflight) < at.limit && (len(retry) > 0 || nextID < n) {
			id := nextID
			if len(retry) > 0 {
				id, retry = retry[0], retry[1:]
			} else {
				nextID++
			}
			speed := 1 + srv.noise*(2*rng.Float64()-1)
			inflight = append(inflight, simRequest{id: id, started: now, left: float64(srv.tokens), speed: speed, limit: at.limit})
		}
		// Each request in flight gets its share of the throughput at
		// that number; the first to run out of tokens finishes.
		share := srv.tput(len(inflight)) * srv.load(now.Sub(t0)) / float64(len(inflight))
		first, dt := 0, math.Inf(1)
		for i, r := range inflight {
			if d := r.left / (share * r.speed); d < dt {
				first, dt = i, d
			}
		}
		for i := range inflight {
			inflight[i].left -= dt * share * inflight[i].speed
		}
		now = now.Add(time.Duration(dt * float64(time.Second)))
		r := inflight[first]
		inflight = append(inflight[:first], inflight[first+1:]...)
		failed := fail != nil && fail(r.id, r.limit, r.started.Sub(t0), now.Sub(t0))
		before := at.limit
		tokens := srv.tokens
		if failed {
			tokens = 0
			retry = append(retry, r.id)
		} else {
			done++
			res.tokens += tokens
			if !r.started.Before(lastChange) {
				latSum += now.Sub(r.started)
				latN++
			}
		}
		at.observe(now, r.started, tokens, failed)
		if at.limit != before {
			res.settledAt = done
			res.moves++
			lastChange = now
			latSum, latN = 0, 0
		}
		if at.limit < before {
			res.drops++
		}
		res.peak = max(res.peak, at.limit)
		res.min = min(res.min, at.limit)
	}
	res.final = at.limit
	res.elapsed = now.Sub(t0)
	if latN > 0 {
		res.latency = latSum / time.Duration(latN)
	}
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

// The tuner's decisions on simulated servers: where it ends, that it never
// exceeds the maximum, how soon it settles, what share of the best fixed
// limit's throughput a short (400) and a long (1,500-request) run get, and
// how long a request waits once it has settled. Noisy servers run with
// several seeds, every one of which must pass.
func TestAutoTunerDecisions(t *testing.T) {
	linear := func(n int) float64 { return 100 * float64(n) }
	flatAbove := func(k int, top float64) func(int) float64 {
		return func(n int) float64 { return top * float64(min(n, k)) / float64(k) }
	}
	// The test rig's server: NUM_PARALLEL=8 on two cores, so batching
	// gains a little up to 8 (measured: c=1 0.65, 2 0.88, 4 0.95 of c=8).
	rig := table(map[int]float64{1: 1430, 2: 1940, 4: 2090, 8: 2200})
	tests := []struct {
		name       string
		srv        simServer
		start, max int
		want       [2]int // the final limit lies in this range
		settleBy   int    // the limit stops moving within this many requests of the long run
		// minRatio is the least share of the best fixed limit's tok/s for
		// the short and the long run (zero: 0.95).
		minRatio [2]float64
		// maxWait bounds the mean reply time once settled, in units of
		// one request alone on the server (zero: no bound).
		maxWait float64
		seeds   int // noisy servers: how many seeds (zero: 1)
		peak    int // the highest limit it may try (zero: max)
	}{
		// Plateaus: Ollama queues what it cannot run in parallel.
		{name: "plateau from 4 (NUM_PARALLEL=4), fast replies", srv: simServer{tput: flatAbove(4, 1000), tokens: 64}, max: 8, want: [2]int{4, 8}, settleBy: 80},
		{name: "plateau from 8: climbs to the maximum", srv: simServer{tput: flatAbove(8, 1000), tokens: 64}, max: 8, want: [2]int{8, 8}, settleBy: 80},
		{name: "test rig: small gains up to 8", srv: simServer{tput: rig, tokens: 64}, max: 8, want: [2]int{8, 8}, settleBy: 80},
		{name: "test rig on a busy machine", srv: simServer{tput: rig, tokens: 64, noise: 0.3, drift: 0.25, driftEvery: 700 * time.Millisecond}, max: 8, want: [2]int{4, 8}, settleBy: 150, seeds: 8},
		// Knees.
		{name: "degrades past a knee at 4", srv: simServer{tput: table(map[int]float64{1: 400, 2: 700, 4: 1000, 8: 600}), tokens: 64}, max: 8, want: [2]int{4, 4}, settleBy: 80},
		{name: "degrades a little past the knee: within noise, climbs", srv: simServer{tput: table(map[int]float64{1: 500, 2: 800, 4: 1000, 8: 940}), tokens: 64}, max: 8, want: [2]int{8, 8}, settleBy: 80, minRatio: [2]float64{0.93, 0.93}},
		{name: "best at 2 (two CPU cores): probes down", srv: simServer{tput: table(map[int]float64{1: 900, 2: 1000, 4: 850, 8: 800}), tokens: 64}, max: 8, want: [2]int{2, 2}, settleBy: 120},
		// The worst case for a start at 4: every probe but the last loses.
		{name: "best at 1: keeps halving while it pays", srv: simServer{tput: table(map[int]float64{1: 1000, 2: 800, 4: 700, 8: 650}), tokens: 64}, max: 8, want: [2]int{1, 1}, settleBy: 150, minRatio: [2]float64{0.9, 0.95}},
		{name: "a step down must gain clearly: 3% is noise", srv: simServer{tput: table(map[int]float64{1: 500, 2: 1030, 4: 1000, 8: 700}), tokens: 64}, max: 8, want: [2]int{2, 4}, settleBy: 120, minRatio: [2]float64{0.93, 0.95}},
		// NUM_PARALLEL=1: with fast replies a queue costs nothing; with a
		// laptop's slow ones (25 s alone) it is what the user waits on.
		{name: "NUM_PARALLEL=1, fast replies", srv: simServer{tput: flatAbove(1, 1000), tokens: 64}, max: 8, want: [2]int{1, 8}, settleBy: 120},
		{name: "NUM_PARALLEL=1 laptop, slow replies: no queue", srv: simServer{tput: flatAbove(1, 10), tokens: 256}, max: 8, want: [2]int{1, 1}, settleBy: 120, maxWait: 1.1},
		// A tie that makes replies slow ends the climb: a wide maximum is
		// not queued up to before the way down.
		{name: "NUM_PARALLEL=1 laptop, maximum 32: climbs no further than 8", srv: simServer{tput: flatAbove(1, 10), tokens: 256}, max: 32, want: [2]int{1, 1}, settleBy: 120, maxWait: 1.1, peak: 8},
		{name: "NUM_PARALLEL=1 laptop, noisy", srv: simServer{tput: flatAbove(1, 10), tokens: 256, noise: 0.3, drift: 0.2, driftEvery: time.Minute}, max: 8, want: [2]int{1, 2}, settleBy: 150, maxWait: 2.5, seeds: 8},
		// Known parallelism: synthkit started the server.
		{name: "started with NUM_PARALLEL=4, slow replies: holds 4", srv: simServer{tput: flatAbove(4, 200), tokens: 512}, start: 4, max: 8, want: [2]int{4, 4}, settleBy: 80, maxWait: 4.4},
		{name: "server parallelism known: starts there", srv: simServer{tput: table(map[int]float64{1: 500, 2: 1000, 4: 800}), tokens: 64}, start: 2, max: 4, want: [2]int{2, 2}, settleBy: 80},
		// Wide servers: doubling reaches 64 in three steps.
		{name: "linear (vLLM-like) from 8: climbs to 64", srv: simServer{tput: linear, tokens: 64}, start: 8, max: 64, want: [2]int{64, 64}, settleBy: 400, minRatio: [2]float64{0.5, 0.8}},
		// It starts at half its best, and 400 replies take it 0.6 s.
		{name: "GPU box, hundreds of replies a second", srv: simServer{tput: flatAbove(16, 40000), tokens: 64}, start: 8, max: 64, want: [2]int{16, 64}, settleBy: 250, minRatio: [2]float64{0.93, 0.95}},
		{name: "odd maximum: stops at 6, never above", srv: simServer{tput: linear, tokens: 64}, max: 6, want: [2]int{6, 6}, settleBy: 80},
		{name: "noisy plateau: no wandering off", srv: simServer{tput: flatAbove(4, 1000), tokens: 64, noise: 0.3, drift: 0.2}, max: 8, want: [2]int{2, 8}, settleBy: 150, seeds: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range max(tt.seeds, 1) {
				srv := tt.srv
				srv.seed = uint64(seed)
				for i, n := range []int{400, 1500} {
					r := simulate(newAutoTuner(tt.start, tt.max), srv, n, nil)
					where := fmt.Sprintf("seed %d, %d requests", seed, n)
					if r.final < tt.want[0] || r.final > tt.want[1] {
						t.Errorf("%s: ended at %d, want %d..%d", where, r.final, tt.want[0], tt.want[1])
					}
					if peak := cmp.Or(tt.peak, tt.max); r.peak > peak {
						t.Errorf("%s: reached %d, want at most %d", where, r.peak, peak)
					}
					// No oscillation: up to the maximum and down to 1 at most,
					// plus going back once.
					if r.moves > 8 {
						t.Errorf("%s: the limit moved %d times", where, r.moves)
					}
					if n == 1500 && r.settledAt > tt.settleBy {
						t.Errorf("%s: the limit last moved after %d requests, want within %d", where, r.settledAt, tt.settleBy)
					}
					minRatio := tt.minRatio[i]
					if minRatio == 0 {
						minRatio = 0.95
					}
					best, bestC := bestFixed(srv, n, tt.max)
					if ratio := r.rate() / best; ratio < minRatio {
						t.Errorf("%s: %.0f tok/s = %.3f of the best fixed limit (%d, %.0f tok/s), want ≥ %.2f",
							where, r.rate(), ratio, bestC, best, minRatio)
					}
					if tt.maxWait > 0 {
						alone := time.Duration(float64(srv.tokens) / srv.tput(1) * float64(time.Second))
						if w := r.latency.Seconds() / alone.Seconds(); w > tt.maxWait {
							t.Errorf("%s: a reply takes %.1f× as long as alone once settled (at %d), want ≤ %.1f", where, w, r.final, tt.maxWait)
						}
					}
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
	if !at.win.start.IsZero() {
		t.Fatal("a reply to a request sent before the change started the window")
	}
	at.observe(t0.Add(3*time.Second), t0.Add(1500*time.Millisecond), 64, false)
	if at.win.start.IsZero() {
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

// feed gives the tuner one full window of replies at tput tokens/s on its
// current limit, every request 64 tokens long, from *now on; it returns
// the limit after the window.
func feed(at *autoTuner, now *time.Time, tput float64) int {
	const tokens = 64
	limit := at.limit
	latency := time.Duration(float64(limit) * tokens / tput * float64(time.Second))
	gap := time.Duration(tokens / tput * float64(time.Second))
	if start := at.changedAt.Add(latency); now.Before(start) {
		*now = start
	}
	for i := 0; i <= windowSize(limit); i++ {
		*now = now.Add(gap)
		at.observe(*now, now.Add(-latency), tokens, false)
		if i > 0 && at.win.start.IsZero() {
			break // the window was decided (perhaps early)
		}
	}
	return at.limit
}

// A step up that measures clearly worse once is measured again before the
// climb gives up: one busy moment on a shared machine must not decide.
func TestAutoTunerConfirmsALosingStep(t *testing.T) {
	tests := []struct {
		name    string
		at8     [2]float64 // the two windows at 8, the start 4 measured 1000
		want    int        // the limit after the second window at 8
		settled bool
		windows int // what 8's figure rests on: the outlier is dropped
	}{
		{"one slow window, then a gain: keeps 8", [2]float64{700, 1100}, 8, true, 1},
		{"worse twice: gives 8 up and probes down", [2]float64{700, 720}, 2, false, 2},
		{"a deep dip, then a tie: climbing on, probes down from the start", [2]float64{500, 1000}, 2, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := newAutoTuner(4, 8)
			now := time.Unix(1000, 0)
			if got := feed(at, &now, 1000); got != 8 {
				t.Fatalf("after a window at 4: limit %d, want the step up to 8", got)
			}
			if got := feed(at, &now, tt.at8[0]); got != 8 {
				t.Fatalf("one window at 8 measured %.0f moved the limit to %d; want 8 until confirmed", tt.at8[0], got)
			}
			if got := feed(at, &now, tt.at8[1]); got != tt.want || (at.phase == settled) != tt.settled {
				t.Errorf("after a second window at 8 (%.0f): limit %d, settled %v; want %d, settled %v",
					tt.at8[1], got, at.phase == settled, tt.want, tt.settled)
			}
			if m := at.seen[8]; m.windows != tt.windows {
				t.Errorf("8's figure rests on %d windows, want %d", m.windows, tt.windows)
			}
		})
	}
}
