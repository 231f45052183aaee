package prompts

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"synthkit/export"
	"synthkit/local"
	"synthkit/local/ollamatest"
)

// The judge's cost per preference pair in each mode, and its throughput
// with the cache-friendly order (instructions and request first, so every
// call about one prompt shares a prefix the server can reuse, and one
// prompt's judgments back to back) against the plain order (the answers
// first, so no two calls share a prefix). scripts/bench-prefer.sh runs it
// and prints the table for README.

// benchAnswers are fixed answers of 30 words, so only judging is
// measured: no answer is generated. (The test model's vocabulary is
// mostly bytes: 30 words are about 200 of its tokens.)
func benchAnswers(prompts, per int) [][]ExistingCompletion {
	words := strings.Fields("the a river forms when water collects from rain and melting snow then flows downhill along the " +
		"easiest path cutting a channel into soil and rock over many years copper conducts heat and electricity well " +
		"so it is used in wires pipes and cooking pans and it resists corrosion which makes it last a long time outdoors")
	rng := rand.New(rand.NewPCG(42, 7))
	out := make([][]ExistingCompletion, prompts)
	for p := range out {
		for c := range per {
			var b strings.Builder
			for w := range 30 {
				if w > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(words[rng.IntN(len(words))])
			}
			b.WriteByte('.')
			out[p] = append(out[p], ExistingCompletion{Model: fmt.Sprintf("m%d", c), Text: b.String()})
		}
	}
	return out
}

type preferBenchResult struct {
	calls, promptTokens, outputTokens int64
	judged, pairs                     int64
	wall                              time.Duration
}

// runPreferBench judges the fixed answers once in mode and returns the
// judge's cost and the wall time.
func runPreferBench(b testing.TB, c *local.Client, mode string, plain bool, prompts, per int) preferBenchResult {
	b.Helper()
	run, err := export.OpenRun(b.TempDir()+"/r", export.Manifest{Version: "bench", Method: "prefer", Seed: 1}, false)
	if err != nil {
		b.Fatal(err)
	}
	defer run.Close()
	var ps []string
	for i := range prompts {
		ps = append(ps, fmt.Sprintf("In about a hundred words, explain how topic number %d works and why it matters.", i))
	}
	m := &Prefer{Mode: mode, Judge: ollamatest.TinyModel, Conversations: convs(ps...), Existing: benchAnswers(prompts, per),
		JudgeFormat: JudgeJSON, PlainOrder: plain}
	if mode == ModeRubric {
		m.Rubric = mustRubric(b, "criteria: Is the answer correct, complete and clear?\nscores:\n"+
			"  1: wrong or off topic\n  2: mostly wrong\n  3: partly right\n  4: right with small gaps\n  5: right, complete and clear\n")
	}
	if _, err := m.Prepare([]local.ModelInfo{{Name: ollamatest.TinyModel}}); err != nil {
		b.Fatal(err)
	}
	env := &Env{Model: c, Run: run, Workers: c.Capacity(), Seed: 1, Retries: 1, Options: map[string]any{"num_ctx": 4096}}
	start := time.Now()
	if err := m.Run(context.Background(), env); err != nil {
		b.Fatal(err)
	}
	r := preferBenchResult{wall: time.Since(start)}
	r.calls, r.promptTokens, r.outputTokens = m.JudgeCost()
	// Every prompt counts, judged or rejected (an unreadable verdict cost
	// the same calls).
	for p := range prompts {
		if run.Done(judgeUnit(p)) {
			r.judged++
		}
	}
	r.pairs = run.Counts().Rows[export.ConfigPreferences]
	return r
}

// BenchmarkPreferJudge: per mode, the cache-friendly and the plain
// order alternate within each iteration (which goes first alternates too),
// so both see the same machine load.
func BenchmarkPreferJudge(b *testing.B) {
	srv := ollamatest.StartServer(b, ollamatest.WithEnv("OLLAMA_NUM_PARALLEL=2"))
	c, err := local.NewClient([]string{srv.URL()}, local.SchedulerOptions{Concurrency: 2, RequestTimeout: 5 * time.Minute}, nil)
	if err != nil {
		b.Fatal(err)
	}
	// Load the judge once so the first mode does not pay for it.
	runPreferBench(b, c, ModeRank, false, 1, 2)
	const prompts, per = 4, 3
	for _, mode := range []string{ModeRatings, ModePairwise, ModeRubric, ModeRank} {
		b.Run("mode="+mode, func(b *testing.B) {
			var cache, plain preferBenchResult
			add := func(sum *preferBenchResult, r preferBenchResult) {
				sum.calls += r.calls
				sum.promptTokens += r.promptTokens
				sum.outputTokens += r.outputTokens
				sum.judged += r.judged
				sum.pairs += r.pairs
				sum.wall += r.wall
			}
			for i := 0; i < b.N; i++ {
				for k := range 2 {
					if (i+k)%2 == 0 {
						add(&cache, runPreferBench(b, c, mode, false, prompts, per))
					} else {
						add(&plain, runPreferBench(b, c, mode, true, prompts, per))
					}
				}
			}
			n := float64(max(cache.judged, 1))
			b.ReportMetric(float64(cache.calls)/n, "calls/prompt")
			b.ReportMetric(float64(cache.promptTokens)/n, "prompt_tok/prompt")
			b.ReportMetric(float64(cache.outputTokens)/n, "output_tok/prompt")
			b.ReportMetric(float64(cache.pairs)/n, "pairs/prompt")
			b.ReportMetric(float64(cache.judged)/cache.wall.Seconds(), "cache_prompts/s")
			b.ReportMetric(float64(plain.judged)/plain.wall.Seconds(), "plain_prompts/s")
		})
	}
}
