package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
