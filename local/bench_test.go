package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"synthkit/local"
	"synthkit/local/ollamatest"
)

// BenchmarkScheduler drives the tiny model through the scheduler and, in
// the same run, through a bare load generator that posts the same requests
// straight to /api/generate. The two alternate in short rounds so machine
// noise hits both alike. scripts/bench-scheduler.sh turns the metrics into
// the table in README.
func BenchmarkScheduler(b *testing.B) {
	host := ollamatest.Host(b)
	prompt := "Write a short story about a river."
	opts := map[string]any{"num_predict": 64, "temperature": 0.8, "num_ctx": 1024}
	// Warm the model so neither side pays the load.
	warm, _ := local.NewClient([]string{host}, local.SchedulerOptions{Concurrency: 1}, nil)
	if _, err := warm.Generate(context.Background(), &local.GenerateRequest{Model: ollamatest.TinyModel, Prompt: prompt, Options: opts}); err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	// c=auto is synthkit's default: the scheduler finds its own
	// concurrency (up to 8); the raw side runs at 4, the usual best fixed
	// value on two cores (see the c=N rows).
	for _, conc := range []int{1, 2, 4, 8, 0} {
		name := fmt.Sprintf("c=%d", conc)
		sopts := local.SchedulerOptions{Concurrency: conc}
		if conc == 0 {
			name, conc = "c=auto", 4
			sopts = local.SchedulerOptions{MaxConcurrency: 8}
		}
		b.Run(name, func(b *testing.B) {
			c, err := local.NewClient([]string{host}, sopts, nil)
			if err != nil {
				b.Fatal(err)
			}
			viaScheduler := func(i int) (int, error) {
				r, err := c.Generate(context.Background(), &local.GenerateRequest{Model: ollamatest.TinyModel,
					Prompt: prompt, Options: opts, Seed: local.Int64(int64(i))})
				if err != nil {
					return 0, err
				}
				return r.OutputTokens, nil
			}
			viaRaw := func(i int) (int, error) { return rawGenerate(hc, host, prompt, opts, i) }
			var sched, raw throughput
			round := 4 * conc
			b.ResetTimer()
			for r, done := 0, 0; done < b.N; r, done = r+1, done+round {
				n := min(round, b.N-done)
				// Continuous load: the scheduler gets more callers than
				// slots, like a method's worker pool; raw gets exactly conc.
				// Who goes first alternates, so neither always follows the other.
				if r%2 == 0 {
					sched.add(b, drive(conc*2, done, n, viaScheduler))
					raw.add(b, drive(conc, done, n, viaRaw))
				} else {
					raw.add(b, drive(conc, done, n, viaRaw))
					sched.add(b, drive(conc*2, done, n, viaScheduler))
				}
			}
			b.StopTimer()
			b.ReportMetric(sched.rate(), "sched-tok/s")
			b.ReportMetric(raw.rate(), "raw-tok/s")
			b.ReportMetric(sched.rate()/raw.rate(), "ratio")
		})
	}
}

type throughput struct {
	tokens  int64
	elapsed time.Duration
}

type roundResult struct {
	tokens  int64
	elapsed time.Duration
	err     error
}

func (t *throughput) add(b *testing.B, r roundResult) {
	if r.err != nil {
		b.Fatal(r.err)
	}
	t.tokens += r.tokens
	t.elapsed += r.elapsed
}

func (t *throughput) rate() float64 { return float64(t.tokens) / t.elapsed.Seconds() }

// drive runs requests first..first+n-1 with `workers` goroutines.
func drive(workers, first, n int, call func(i int) (int, error)) roundResult {
	var next, tokens atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				got, err := call(first + i)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				tokens.Add(int64(got))
			}
		}()
	}
	wg.Wait()
	r := roundResult{tokens: tokens.Load(), elapsed: time.Since(start)}
	if err, ok := firstErr.Load().(error); ok {
		r.err = err
	}
	return r
}

func rawGenerate(hc *http.Client, host, prompt string, opts map[string]any, seed int) (int, error) {
	o := map[string]any{"seed": seed}
	for k, v := range opts {
		o[k] = v
	}
	body, _ := json.Marshal(map[string]any{"model": ollamatest.TinyModel, "prompt": prompt, "stream": false, "options": o})
	resp, err := hc.Post(host+"/api/generate", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		EvalCount int    `json:"eval_count"`
		Error     string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Error != "" {
		return 0, fmt.Errorf("raw generate: %s", r.Error)
	}
	return r.EvalCount, nil
}

// BenchmarkAutoConcurrency measures synthkit's default, auto concurrency
// on whole runs against fixed concurrencies and the raw load generator:
// every contender gets a fresh client (auto starts from nothing) and the
// same run of requests, driven by as many callers as the client's
// capacity (what a method's worker pool does). Contenders take turns in
// every round, in an order that rotates and reverses from round to round,
// so machine noise hits all alike. Run lengths come from
// $SYNTHKIT_BENCH_RUNS (default "300,1500"), rounds from
// $SYNTHKIT_BENCH_ROUNDS (default 2), the raw generator's concurrencies
// from $SYNTHKIT_BENCH_RAW (default "4,8"); use -benchtime 1x. Auto is
// the CLI's default against a server it did not start: start at 4, at
// most 8.
// scripts/bench-scheduler.sh prints the table.
func BenchmarkAutoConcurrency(b *testing.B) {
	host := ollamatest.Host(b)
	prompt := "Write a short story about a river."
	opts := map[string]any{"num_predict": 64, "temperature": 0.8, "num_ctx": 1024}
	warm, _ := local.NewClient([]string{host}, local.SchedulerOptions{Concurrency: 1}, nil)
	if _, err := warm.Generate(context.Background(), &local.GenerateRequest{Model: ollamatest.TinyModel, Prompt: prompt, Options: opts}); err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	runs := envInts(b, "SYNTHKIT_BENCH_RUNS", []int{300, 1500})
	rounds := envInts(b, "SYNTHKIT_BENCH_ROUNDS", []int{2})[0]
	fixed := []int{1, 2, 4, 8}
	rawConc := envInts(b, "SYNTHKIT_BENCH_RAW", []int{4, 8})

	type contender struct {
		name  string
		run   func(first, n int) (roundResult, int) // result and the final limit
		total throughput
		limit int
	}
	schedRun := func(sopts local.SchedulerOptions) func(first, n int) (roundResult, int) {
		return func(first, n int) (roundResult, int) {
			c, err := local.NewClient([]string{host}, sopts, nil)
			if err != nil {
				return roundResult{err: err}, 0
			}
			r := drive(c.Capacity(), first, n, func(i int) (int, error) {
				resp, err := c.Generate(context.Background(), &local.GenerateRequest{Model: ollamatest.TinyModel,
					Prompt: prompt, Options: opts, Seed: local.Int64(int64(i))})
				if err != nil {
					return 0, err
				}
				return resp.OutputTokens, nil
			})
			return r, c.Concurrency()[host]
		}
	}
	for _, n := range runs {
		b.Run(fmt.Sprintf("run=%d", n), func(b *testing.B) {
			cs := []*contender{{name: "auto", run: schedRun(local.SchedulerOptions{})}}
			for _, c := range fixed {
				cs = append(cs, &contender{name: fmt.Sprintf("c%d", c), run: schedRun(local.SchedulerOptions{Concurrency: c})})
			}
			for _, c := range rawConc {
				c := c
				cs = append(cs, &contender{name: fmt.Sprintf("raw%d", c), run: func(first, n int) (roundResult, int) {
					return drive(c, first, n, func(i int) (int, error) { return rawGenerate(hc, host, prompt, opts, i) }), c
				}})
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for r := 0; r < rounds; r++ {
					order := make([]*contender, len(cs))
					for j := range cs {
						order[j] = cs[(j+r)%len(cs)]
					}
					if r%2 == 1 {
						for x, y := 0, len(order)-1; x < y; x, y = x+1, y-1 {
							order[x], order[y] = order[y], order[x]
						}
					}
					for _, c := range order {
						// The same requests (seeds) for everyone in a round.
						res, limit := c.run(r*n, n)
						c.total.add(b, res)
						c.limit += limit
					}
				}
			}
			b.StopTimer()
			best, bestName := 0.0, ""
			for _, c := range cs {
				b.ReportMetric(c.total.rate(), c.name+"-tok/s")
				if strings.HasPrefix(c.name, "c") && c.total.rate() > best {
					best, bestName = c.total.rate(), c.name
				}
			}
			auto := cs[0]
			b.ReportMetric(float64(auto.limit)/float64(rounds*b.N), "auto-final-c")
			b.ReportMetric(auto.total.rate()/best, "auto/best-fixed")
			b.Logf("%d requests per run, %d rounds: best fixed %s", n, rounds*b.N, bestName)
		})
	}
}

// envInts reads a comma-separated list of positive numbers from name.
func envInts(b *testing.B, name string, def []int) []int {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("$%s: %q is not a list of positive numbers", name, v)
		}
		out = append(out, n)
	}
	return out
}
