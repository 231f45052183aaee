package prompts

import (
	"context"
	"fmt"
	"testing"
	"time"

	"synthkit/export"
	"synthkit/local"
	"synthkit/local/ollamatest"
)

// On a server that keeps one model loaded at a time (a laptop), work that
// alternates between models makes the server swap on almost every request.
// These run respond with two models on such a server, model by model (the
// engine's phases) and interleaved (one phase alternating models, the old
// order), and count the model loads the server reports.

func oneModelServer(t testing.TB) *local.Client {
	t.Helper()
	srv := ollamatest.StartServer(t, ollamatest.WithEnv("OLLAMA_MAX_LOADED_MODELS=1", "OLLAMA_NUM_PARALLEL=4"))
	c, err := local.NewClient([]string{srv.URL()}, local.SchedulerOptions{Concurrency: 4, RequestTimeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func respondPrompts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Tell me one fact about the number %d.", i)
	}
	return out
}

// runRespond answers prompts with both tiny models and returns the loads
// the run caused and its wall time.
func runRespond(t testing.TB, c *local.Client, prompts []string, interleaved bool) (loads int64, wall time.Duration) {
	t.Helper()
	run, err := export.OpenRun(t.TempDir()+"/r", export.Manifest{Version: "test", Method: "respond", Seed: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	env := &Env{Model: c, Run: run, Workers: c.Capacity(), Seed: 1, Options: map[string]any{"num_predict": 8, "num_ctx": 512}}
	r := &Respond{Responders: []string{ollamatest.TinyModel, ollamatest.TinyModelB}, Prompts: prompts}
	if _, err := r.Prepare(modelInfos([]string{ollamatest.TinyModel, ollamatest.TinyModelB})); err != nil {
		t.Fatal(err)
	}
	before := c.Stats().Loads
	start := time.Now()
	if interleaved {
		i := 0
		err = env.RunPhases(context.Background(), &Phase{Next: func() (Unit, bool) {
			if i >= 2*len(prompts) {
				return Unit{}, false
			}
			u := r.unit(env, i/2, i%2)
			i++
			return u, true
		}})
	} else {
		err = r.Run(context.Background(), env)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c.Stats().Loads - before, time.Since(start)
}

func TestRespondLoadsEachModelOnceOnAOneModelServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private Ollama server")
	}
	c := oneModelServer(t)
	loads, _ := runRespond(t, c, respondPrompts(16), false)
	// The first model loads once, the second once; one more is tolerated
	// for a request that arrives while the first is being unloaded.
	if loads < 2 || loads > 3 {
		t.Fatalf("%d model loads for 2 models run model by model, want 2 (3 at most)", loads)
	}
	loads, _ = runRespond(t, c, respondPrompts(16), true)
	if loads < 6 {
		t.Fatalf("interleaved order caused only %d loads: the server is not swapping, so this test cannot see the difference", loads)
	}
}

// BenchmarkRespondOneModelServer: scripts/bench-model-aware.sh runs it.
func BenchmarkRespondOneModelServer(b *testing.B) {
	c := oneModelServer(b)
	ps := respondPrompts(48)
	for _, mode := range []struct {
		name        string
		interleaved bool
	}{{"interleaved", true}, {"model-aware", false}} {
		b.Run(mode.name, func(b *testing.B) {
			var loads int64
			for i := 0; i < b.N; i++ {
				l, _ := runRespond(b, c, ps, mode.interleaved)
				loads += l
			}
			b.ReportMetric(float64(loads)/float64(b.N), "loads/run")
		})
	}
}
