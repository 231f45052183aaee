package local_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"synthkit/local"
	"synthkit/local/ollamatest"
)

// BenchmarkAutoConcurrency measures synthkit's default, auto concurrency,
// on whole runs against fixed concurrencies and the raw load generator:
// every contender gets a fresh client (auto starts from nothing) and the
// same run of requests, driven by as many callers as the client's
// capacity (what a method's worker pool does). Contenders take turns in
// every round, in an order that rotates and reverses from round to round,
// so machine noise hits all alike; the per-round ratio of auto to the best
// fixed concurrency (the one with the most tokens/s over all rounds) gives
// the median and spread.
//
// Settings: $SYNTHKIT_BENCH_RUNS run lengths (default "400,1500"),
// $SYNTHKIT_BENCH_ROUNDS rounds (default 3; a list gives each run length
// its own), $SYNTHKIT_BENCH_FIXED fixed concurrencies (default "1,2,4,8";
// the highest also runs twice, as an A/A test of the noise),
// $SYNTHKIT_BENCH_RAW the raw generator's (default "8"); use -benchtime 1x.
// Auto is the CLI's default against a server it did not start: start at
// 4, at most 8. scripts/bench-scheduler.sh prints the table.
func BenchmarkAutoConcurrency(b *testing.B) {
	host := ollamatest.Host(b)
	prompt := "Write a short story about a river."
	opts := map[string]any{"num_predict": 64, "temperature": 0.8, "num_ctx": 1024}
	warm, _ := local.NewClient([]string{host}, local.SchedulerOptions{Concurrency: 1}, nil)
	if _, err := warm.Generate(context.Background(), &local.GenerateRequest{Model: ollamatest.TinyModel, Prompt: prompt, Options: opts}); err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	runs := envInts(b, "SYNTHKIT_BENCH_RUNS", []int{400, 1500})
	roundsOf := envInts(b, "SYNTHKIT_BENCH_ROUNDS", []int{3})
	fixed := envInts(b, "SYNTHKIT_BENCH_FIXED", []int{1, 2, 4, 8})
	rawConc := envInts(b, "SYNTHKIT_BENCH_RAW", []int{8})

	// runStats is what one contender's run ends with.
	type runStats struct {
		limit     int    // the final limit
		settledAt int    // replies before the limit last moved
		path      string // how the limit moved: "4 13:8 40:2 47:8"
	}
	type contender struct {
		name   string
		run    func(first, n int) (roundResult, runStats)
		total  throughput
		rounds []float64 // tok/s per round
		stats  []runStats
	}
	schedRun := func(sopts local.SchedulerOptions) func(first, n int) (roundResult, runStats) {
		return func(first, n int) (roundResult, runStats) {
			c, err := local.NewClient([]string{host}, sopts, nil)
			if err != nil {
				return roundResult{err: err}, runStats{}
			}
			var done, lastLimit, settledAt atomic.Int64
			lastLimit.Store(int64(c.Concurrency()[host]))
			var pathMu sync.Mutex
			path := strconv.Itoa(c.Concurrency()[host])
			r := drive(c.Capacity(), first, n, func(i int) (int, error) {
				resp, err := c.Generate(context.Background(), &local.GenerateRequest{Model: ollamatest.TinyModel,
					Prompt: prompt, Options: opts, Seed: local.Int64(int64(i))})
				if err != nil {
					return 0, err
				}
				d := done.Add(1)
				if l := int64(c.Concurrency()[host]); lastLimit.Swap(l) != l {
					settledAt.Store(d)
					pathMu.Lock()
					path += fmt.Sprintf(" %d:%d", d, l)
					pathMu.Unlock()
				}
				return resp.OutputTokens, nil
			})
			return r, runStats{limit: c.Concurrency()[host], settledAt: int(settledAt.Load()), path: path}
		}
	}
	for k, n := range runs {
		rounds := roundsOf[min(k, len(roundsOf)-1)]
		b.Run(fmt.Sprintf("run=%d", n), func(b *testing.B) {
			cs := []*contender{{name: "auto", run: schedRun(local.SchedulerOptions{})}}
			for _, c := range fixed {
				cs = append(cs, &contender{name: fmt.Sprintf("c%d", c), run: schedRun(local.SchedulerOptions{Concurrency: c})})
			}
			// The twin runs the highest fixed concurrency again: the spread of
			// its ratio to that one (an A/A test) is the noise floor.
			top := slices.Max(fixed)
			twin := &contender{name: fmt.Sprintf("twin%d", top), run: schedRun(local.SchedulerOptions{Concurrency: top})}
			cs = append(cs, twin)
			for _, c := range rawConc {
				cs = append(cs, &contender{name: fmt.Sprintf("raw%d", c), run: func(first, n int) (roundResult, runStats) {
					return drive(c, first, n, func(i int) (int, error) { return rawGenerate(hc, host, prompt, opts, i) }), runStats{limit: c}
				}})
			}
			// Bring the server to its steady state (model loaded, slots
			// warm) so the first contender does not pay for it.
			if w := drive(8, 0, 64, func(i int) (int, error) { return rawGenerate(hc, host, prompt, opts, i) }); w.err != nil {
				b.Fatal(w.err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for r := 0; r < rounds; r++ {
					// Rotating, so each contender takes every place in turn.
					order := make([]*contender, len(cs))
					for j := range cs {
						order[j] = cs[(j+r)%len(cs)]
					}
					for _, c := range order {
						// The same requests (seeds) for everyone in a round.
						res, st := c.run(r*n, n)
						c.total.add(b, res)
						c.rounds = append(c.rounds, float64(res.tokens)/res.elapsed.Seconds())
						c.stats = append(c.stats, st)
					}
				}
			}
			b.StopTimer()
			var best *contender
			for _, c := range cs {
				b.ReportMetric(c.total.rate(), c.name+"-tok/s")
				if strings.HasPrefix(c.name, "c") && (best == nil || c.total.rate() > best.total.rate()) {
					best = c
				}
			}
			auto := cs[0]
			var ratios, limits, settled []float64
			for r := range auto.rounds {
				ratios = append(ratios, auto.rounds[r]/best.rounds[r])
				limits = append(limits, float64(auto.stats[r].limit))
				settled = append(settled, float64(auto.stats[r].settledAt))
			}
			b.ReportMetric(auto.total.rate()/best.total.rate(), "auto/best-fixed")
			b.ReportMetric(median(ratios), "ratio-median")
			b.ReportMetric(slices.Min(ratios), "ratio-min")
			b.ReportMetric(slices.Max(ratios), "ratio-max")
			var aa []float64
			for _, c := range cs {
				if c.name == fmt.Sprintf("c%d", top) {
					for r := range twin.rounds {
						aa = append(aa, twin.rounds[r]/c.rounds[r])
					}
				}
			}
			b.ReportMetric(median(aa), "twin-median")
			b.ReportMetric(slices.Min(aa), "twin-min")
			b.ReportMetric(slices.Max(aa), "twin-max")
			b.ReportMetric(median(limits), "auto-final-c")
			b.ReportMetric(median(settled), "auto-settled-at")
			b.Logf("%d requests per run, %d rounds: best fixed %s; auto/best per round %s; auto ended at %v after %v replies",
				n, len(auto.rounds), best.name, fmtRatios(ratios), limits, settled)
			for r := range auto.rounds {
				line := fmt.Sprintf("round %d:", r+1)
				for _, c := range cs {
					line += fmt.Sprintf(" %s %.0f", c.name, c.rounds[r])
				}
				b.Logf("%s tok/s; auto's limit (reply:limit) %s", line, auto.stats[r].path)
			}
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtRatios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 3, 64)
	}
	return strings.Join(parts, " ")
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
