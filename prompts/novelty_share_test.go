package prompts

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/local"
	"synthkit/local/ollamatest"
)

// timedGate measures the time workers spend in a gate's Admit.
type timedGate struct {
	Gate
	busy atomic.Int64 // nanoseconds
}

func (g *timedGate) Admit(ctx context.Context, unit string, rows []export.Row) (string, error) {
	start := time.Now()
	defer func() { g.busy.Add(int64(time.Since(start))) }()
	return g.Gate.Admit(ctx, unit, rows)
}

// shareWords builds prompts that share few character trigrams, so the
// built-in embedder's filter keeps them all and every mode does the same
// work.
func sharePrompts(n int) []string {
	words := strings.Fields(`river copper honey violin glacier orbit pepper lantern marble tundra sonnet
		falcon quartz meadow harbor cactus compass velvet thunder saffron puzzle beacon walnut prism
		ember lagoon canyon jasmine anchor comet ivory rhythm summit tulip voyage zephyr basalt cobalt`)
	rng := rand.New(rand.NewPCG(5, 6))
	out := make([]string, n)
	for i := range out {
		rng.Shuffle(len(words), func(a, b int) { words[a], words[b] = words[b], words[a] })
		out[i] = fmt.Sprintf("%d %s?", i, strings.Join(words[:5], " "))
	}
	return out
}

// BenchmarkNoveltyShare (real server; scripts/bench-novelty.sh share):
// the diversity stage's share of a run's wall time. respond answers the
// same prompts with no filter, with the built-in embedder, and with an
// embedding model (batched and one request per record), the modes
// alternating round by round. Reports each mode's median wall time, its
// ratio to no filter, and the share of worker time spent in the gate.
func BenchmarkNoveltyShare(b *testing.B) {
	host := ollamatest.Host(b)
	const prompts, rounds, workers = 64, 3, 8
	ps := sharePrompts(prompts)
	type mode struct {
		name  string
		embed string // "": none; "builtin"; "model"; "model-single"
	}
	modes := []mode{{"none", ""}, {"builtin", "builtin"}, {"model-batched", "model"}, {"model-single", "model-single"}}
	walls := map[string][]float64{}
	shares := map[string][]float64{}
	for range b.N {
		for r := range rounds {
			for k := range modes {
				m := modes[(k+r)%len(modes)] // rotate the order every round
				c, err := local.NewClient([]string{host}, local.SchedulerOptions{Concurrency: workers, RequestTimeout: time.Minute}, nil)
				if err != nil {
					b.Fatal(err)
				}
				run := benchRun(b, b.TempDir())
				env := &Env{Model: c, Run: run, Workers: workers, Seed: 1, Options: map[string]any{"num_predict": 64, "num_ctx": 512}}
				var tg *timedGate
				if m.embed != "" {
					emb := diversity.HashedNGrams()
					if m.embed != "builtin" {
						emb = diversity.Embedder{Name: "ollama:" + ollamatest.TinyModelB, InProcess: m.embed == "model-single",
							Embed: func(ctx context.Context, texts []string) ([][]float32, error) {
								return c.Embed(ctx, ollamatest.TinyModelB, texts)
							}}
					}
					// Threshold 1 keeps every record (the tiny model embeds all
					// texts alike): each mode journals the same rows.
					g, err := NewNoveltyGate(context.Background(), run, emb, OnBoth, 1)
					if err != nil {
						b.Fatal(err)
					}
					tg = &timedGate{Gate: g}
					env.Gate = tg
				}
				resp := &Respond{Responders: []string{ollamatest.TinyModel}, Prompts: ps}
				start := time.Now()
				if err := runMethod(env, resp); err != nil {
					b.Fatal(err)
				}
				wall := time.Since(start)
				// Every unit is answered in every mode; the tiny model's
				// gibberish fails a few answers' checks, not the filter.
				counts := run.Counts()
				if counts.Rejected[ReasonNearDuplicate] > 0 || counts.Accepted < prompts/2 {
					b.Fatalf("%s: %+v of %d prompts", m.name, counts, prompts)
				}
				run.Close()
				walls[m.name] = append(walls[m.name], wall.Seconds())
				if tg != nil {
					shares[m.name] = append(shares[m.name], float64(tg.busy.Load())/(wall.Seconds()*1e9*workers))
				}
			}
		}
	}
	med := func(xs []float64) float64 {
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	base := med(walls["none"])
	b.ReportMetric(base, "none-s")
	for _, m := range modes[1:] {
		b.ReportMetric(med(walls[m.name])/base, m.name+"-x")
		b.ReportMetric(100*med(shares[m.name]), m.name+"-gate-%")
	}
	for _, m := range modes {
		b.Logf("%-14s wall s %v gate share %v", m.name, walls[m.name], shares[m.name])
	}
}
