package prompts

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/local"
	"synthkit/local/ollamatest"
)

// modelEmbedder is an embedding model on the test server as the runner
// builds it; inProcess true turns batching off (one request per record).
// The threshold is 1: the tiny model's vectors of different texts are all
// close, and these tests keep every record.
func modelEmbedder(t testing.TB, c *local.Client, inProcess bool) diversity.Embedder {
	t.Helper()
	return diversity.Embedder{
		Name:                 "ollama:" + ollamatest.TinyModel,
		DefaultMaxSimilarity: 1,
		InProcess:            inProcess,
		Embed: func(ctx context.Context, texts []string) ([][]float32, error) {
			return c.Embed(ctx, ollamatest.TinyModel, texts)
		},
	}
}

// admitAll has workers goroutines admit and keep one record each for
// texts, as the engine's workers do at commit, and returns how long it took.
func admitAll(t testing.TB, g *NoveltyGate, prefix string, texts []string, workers int) time.Duration {
	t.Helper()
	ctx := context.Background()
	next := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				unit := fmt.Sprintf("%s%04d", prefix, i)
				if _, err := g.Admit(ctx, unit, []export.Row{sft(texts[i], "ok")}); err != nil {
					errs <- err
					return
				}
				g.Settle(unit, true)
			}
		}()
	}
	for i := range texts {
		next <- i
	}
	close(next)
	wg.Wait()
	el := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return el
}

// benchRun opens a run for a benchmark (testRun takes a *testing.T).
func benchRun(tb testing.TB, dir string) *export.Run {
	tb.Helper()
	r, err := export.OpenRun(dir, export.Manifest{Version: "test", Method: "respond", Seed: 1,
		Models: []export.ModelInfo{{Name: "scripted:latest", Digest: "sha256:0123456789abcdef"}}}, false)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func batchTexts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Question %d: how many legs do %d spiders and %d ants have together?", i, i%7+1, i%11+2)
	}
	return out
}

// TestNoveltyGateBatchesEmbeddingCalls (real server): with an embedding
// model, concurrent workers' records go to the server in fewer requests
// than records, and every record gets the vector a request of its own
// would have given it.
func TestNoveltyGateBatchesEmbeddingCalls(t *testing.T) {
	host := ollamatest.Host(t)
	const records, workers = 48, 8
	texts := batchTexts(records)
	vectors := map[bool]map[string][]float32{}
	requests := map[bool]int64{}
	for _, batched := range []bool{false, true} {
		c, err := local.NewClient([]string{host}, local.SchedulerOptions{Concurrency: workers}, nil)
		if err != nil {
			t.Fatal(err)
		}
		run := testRun(t, t.TempDir(), "respond")
		g, err := NewNoveltyGate(context.Background(), run, modelEmbedder(t, c, !batched), OnPrompt, 1)
		if err != nil {
			t.Fatal(err)
		}
		before := c.Stats().Requests
		admitAll(t, g, "u", texts, workers)
		requests[batched] = c.Stats().Requests - before
		vectors[batched] = map[string][]float32{}
		g.Store().Each(func(id string, v []float32) { vectors[batched][id] = v })
		run.Close()
	}
	if requests[false] != records {
		t.Fatalf("one request per record expected without batching: %d for %d", requests[false], records)
	}
	if requests[true] >= records/2 {
		t.Fatalf("batched: %d requests for %d records from %d workers", requests[true], records, workers)
	}
	if len(vectors[true]) != records || len(vectors[false]) != records {
		t.Fatalf("stored %d batched and %d unbatched vectors of %d", len(vectors[true]), len(vectors[false]), records)
	}
	for id, v := range vectors[false] {
		if s := diversity.Dot(v, vectors[true][id]); s < 0.9999 {
			t.Errorf("%s: batched vector differs from its own request's (cosine %v)", id, s)
		}
	}
	t.Logf("%d records from %d workers: %d requests batched, %d unbatched", records, workers, requests[true], requests[false])
}

// BenchmarkNoveltyEmbedBatching (real server; scripts/test.sh ./prompts/
// -run '^$' -bench EmbedBatching -benchtime 1x): records/s through the
// gate with an embedding model, one request per record against gathered
// batches, alternating A and B rounds so both see the same machine load.
func BenchmarkNoveltyEmbedBatching(b *testing.B) {
	host := ollamatest.Host(b)
	const records, rounds = 240, 5
	for _, workers := range []int{4, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			texts := batchTexts(records)
			rate := map[bool][]float64{}
			reqs := map[bool]int64{}
			for range b.N {
				for r := range rounds {
					for _, batched := range []bool{r%2 == 1, r%2 == 0} {
						c, err := local.NewClient([]string{host}, local.SchedulerOptions{Concurrency: 8}, nil)
						if err != nil {
							b.Fatal(err)
						}
						run := benchRun(b, b.TempDir())
						g, err := NewNoveltyGate(context.Background(), run, modelEmbedder(b, c, !batched), OnPrompt, 1)
						if err != nil {
							b.Fatal(err)
						}
						before := c.Stats().Requests
						el := admitAll(b, g, fmt.Sprint("r", r, "-"), texts, workers)
						reqs[batched] += c.Stats().Requests - before
						rate[batched] = append(rate[batched], float64(records)/el.Seconds())
						run.Close()
					}
				}
			}
			med := func(xs []float64) float64 {
				s := append([]float64(nil), xs...)
				sort.Float64s(s)
				return s[len(s)/2]
			}
			b.ReportMetric(med(rate[false]), "single-rec/s")
			b.ReportMetric(med(rate[true]), "batched-rec/s")
			b.ReportMetric(med(rate[true])/med(rate[false]), "speedup")
			b.ReportMetric(float64(reqs[true])/float64(reqs[false]), "requests-ratio")
			b.Logf("records/s single %v, batched %v", rate[false], rate[true])
		})
	}
}
