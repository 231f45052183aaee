package local_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"synthkit/local"
	"synthkit/local/ollamatest"
)

// These tests talk to a real Ollama (scripts/test.sh starts one) serving
// the tiny fixture model. Its text is gibberish, so they check plumbing:
// shapes, counts, errors, concurrency and recovery, not content.

func newTestClient(t *testing.T, host string, opts local.SchedulerOptions) *local.Client {
	t.Helper()
	c, err := local.NewClient([]string{host}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var fastOpts = map[string]any{"num_predict": 96, "temperature": 0.8, "num_ctx": 1024}

func TestChatStructuredParsesIntoSchema(t *testing.T) {
	c := newTestClient(t, ollamatest.Host(t), local.SchedulerOptions{Concurrency: 4})
	schema := local.MustCompileSchema(`{"type":"object","properties":{"instruction":{"type":"string"},"score":{"type":"integer"}},"required":["instruction","score"]}`)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	outs := make([]struct {
		Instruction string `json:"instruction"`
		Score       *int   `json:"score"`
	}, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &local.ChatRequest{
				Model:    ollamatest.TinyModel,
				Messages: []local.Message{{Role: "user", Content: `Write one task as JSON {"instruction": string, "score": integer}.`}},
				Options:  map[string]any{"num_predict": 256, "num_ctx": 1024},
				Seed:     local.Int64(int64(i)),
			}
			_, errs[i] = local.ChatStructured(ctx, c, req, schema, &outs[i], 4)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("seed %d: %v", i, err)
			continue
		}
		if outs[i].Score == nil {
			t.Errorf("seed %d: score missing after decode: %+v", i, outs[i])
		}
	}
}

func TestChatAndRawGenerate(t *testing.T) {
	c := newTestClient(t, ollamatest.Host(t), local.SchedulerOptions{Concurrency: 2})
	ctx := context.Background()
	chat, err := c.Chat(ctx, &local.ChatRequest{Model: ollamatest.TinyModel,
		Messages: []local.Message{{Role: "user", Content: "Say something."}}, Options: fastOpts, Seed: local.Int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	if chat.Content == "" || chat.OutputTokens == 0 || chat.PromptTokens == 0 || chat.Host == "" {
		t.Fatalf("chat response incomplete: %+v", chat)
	}
	// Raw mode: the prompt is the chat template's prefix up to the user
	// turn, as Magpie sends it; the model writes the user's message.
	raw, err := c.Generate(ctx, &local.GenerateRequest{Model: ollamatest.TinyModel, Raw: true,
		Prompt: "<|im_start|>user\n", Options: fastOpts, Seed: local.Int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	if raw.Content == "" || raw.OutputTokens == 0 {
		t.Fatalf("raw generate returned nothing: %+v", raw)
	}
	if raw.DoneReason != "stop" && raw.DoneReason != "length" {
		t.Fatalf("done reason %q", raw.DoneReason)
	}
	st := c.Stats()
	if st.Requests != 2 || st.OutputTokens != int64(chat.OutputTokens+raw.OutputTokens) {
		t.Fatalf("stats %+v do not match the two requests", st)
	}
}

func TestEmbedBatchesUnitVectors(t *testing.T) {
	c := newTestClient(t, ollamatest.Host(t), local.SchedulerOptions{Concurrency: 2})
	c.EmbedBatch = 2 // force several requests
	inputs := []string{"alpha", "a much longer sentence about rivers", "gamma", "delta delta", "epsilon"}
	vecs, err := c.Embed(context.Background(), ollamatest.TinyModel, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != len(inputs) {
		t.Fatalf("%d vectors for %d inputs", len(vecs), len(inputs))
	}
	for i, v := range vecs {
		if len(v) != 64 { // the fixture's n_embd
			t.Errorf("vector %d has size %d, want 64", i, len(v))
		}
		var sum float64
		for _, x := range v {
			sum += float64(x) * float64(x)
		}
		if math.Abs(math.Sqrt(sum)-1) > 1e-3 {
			t.Errorf("vector %d has norm %f, want 1", i, math.Sqrt(sum))
		}
	}
	if equal(vecs[0], vecs[1]) {
		t.Error("different texts got identical vectors")
	}
}

func equal(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestConcurrentRequestsOverlapOnServer(t *testing.T) {
	const conc, n = 4, 8
	// A private server: on the shared one, other packages' requests would
	// queue ahead of these and stretch the wall time.
	srv := ollamatest.StartServer(t)
	c := newTestClient(t, srv.URL(), local.SchedulerOptions{Concurrency: conc})
	ctx := context.Background()
	opts := map[string]any{"num_predict": 128, "num_ctx": 1024}
	// Load the model with these options first: a changed num_ctx reloads
	// the runner, and the reload would count as wall time.
	if _, err := c.Generate(ctx, &local.GenerateRequest{Model: ollamatest.TinyModel, Prompt: "warm up", Options: opts}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var compute time.Duration
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Generate(ctx, &local.GenerateRequest{Model: ollamatest.TinyModel, Raw: true,
				Prompt: "<|im_start|>user\nTell a long story", Options: opts, Seed: local.Int64(int64(i))})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			compute += r.ComputeDuration
			mu.Unlock()
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if peak := c.Stats().PeakInFlight; peak != conc {
		t.Fatalf("peak in flight %d, want %d", peak, conc)
	}
	// Each request's server compute time counts only its own sequence. If
	// the server ran them one after another, the sum could not exceed the
	// wall time; parallel decoding makes it several times larger.
	if compute < wall*3/2 {
		t.Fatalf("server compute %s over wall %s: requests did not overlap on the server", compute, wall)
	}
	t.Logf("server compute %s in wall %s (overlap ×%.1f)", compute, wall, float64(compute)/float64(wall))
}

func TestServerKilledMidRunIsSurvived(t *testing.T) {
	srv := ollamatest.StartServer(t)
	c := newTestClient(t, srv.URL(), local.SchedulerOptions{Concurrency: 2, MaxRetries: 8,
		BackoffBase: 200 * time.Millisecond, BackoffMax: 3 * time.Second})
	ctx := context.Background()
	const n = 24
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	killed := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Generate(ctx, &local.GenerateRequest{Model: ollamatest.TinyModel, Raw: true,
				Prompt: "<|im_start|>user\n", Options: map[string]any{"num_predict": 64, "num_ctx": 1024}, Seed: local.Int64(int64(i))})
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			done++
			if done == 4 {
				close(killed)
			}
			mu.Unlock()
		}()
	}
	<-killed
	srv.Kill()
	time.Sleep(time.Second)
	srv.Restart()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request lost across the restart: %v", err)
	}
	if st := c.Stats(); st.Retries == 0 {
		t.Errorf("no retries counted; the kill did not hit in-flight requests (stats %+v)", st)
	}
}

func TestModelErrors(t *testing.T) {
	host := ollamatest.Host(t)
	c := newTestClient(t, host, local.SchedulerOptions{Concurrency: 1})
	ctx := context.Background()

	_, err := c.Chat(ctx, &local.ChatRequest{Model: "synthkit-absent:latest", Messages: []local.Message{{Role: "user", Content: "hi"}}})
	var missing *local.ModelMissingError
	if !errors.As(err, &missing) {
		t.Fatalf("chat with an absent model: %v, want ModelMissingError", err)
	}
	if _, err := c.EnsureModels(ctx, []string{"synthkit-absent"}, false, nil); !errors.As(err, &missing) {
		t.Fatalf("EnsureModels without pull: %v, want ModelMissingError", err)
	}

	// Pulling a name that exists nowhere fails with one clear error, whether
	// the registry is reachable (unknown model) or not (network error).
	err = c.Pull(ctx, "synthkit-no-such-model-3f9a", nil)
	if err == nil {
		t.Fatal("pull of an unknown name succeeded")
	}
	t.Logf("pull unknown: %v", err)

	_, err = c.Chat(ctx, &local.ChatRequest{Model: ollamatest.TinyModel,
		Messages: []local.Message{{Role: "user", Content: string(make([]byte, 20000))}}, Options: map[string]any{"num_ctx": 512}})
	var overflow *local.ContextOverflowError
	if !errors.As(err, &overflow) {
		t.Fatalf("over-long prompt: %v, want ContextOverflowError", err)
	}
}

func TestInspectRecordsProvenance(t *testing.T) {
	c := newTestClient(t, ollamatest.Host(t), local.SchedulerOptions{})
	infos, err := c.EnsureModels(context.Background(), []string{ollamatest.TinyModel, ollamatest.TinyModelB}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if len(info.Digest) < 12 || info.Family != "llama" || info.ContextLength == 0 || info.Template == "" {
			t.Errorf("provenance incomplete: %+v", info)
		}
	}
	if infos[0].Digest == infos[1].Digest {
		t.Error("two fixture models share a digest")
	}
	f, err := c.ServerFeatures(context.Background())
	if err != nil || !f.StructuredOutput {
		t.Fatalf("features %+v, %v", f, err)
	}
}

func TestFindOrStartStartsAndStopsServer(t *testing.T) {
	bin := ollamatest.Binary(t)
	ctx := context.Background()
	// Nothing listens on this port, so a server must be started.
	hosts, err := local.ParseHosts("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := local.FindOrStart(ctx, local.ServerOptions{Hosts: hosts, NoStart: true}); err == nil {
		t.Fatal("FindOrStart with NoStart found a server on port 1")
	} else if ns := new(local.NoServerError); !errors.As(err, &ns) {
		t.Fatalf("err = %v, want NoServerError", err)
	}
	var notes []string
	live, srv, err := local.FindOrStart(ctx, local.ServerOptions{Hosts: hosts, Bin: bin, NumParallel: 2,
		Notify: func(s string) { notes = append(notes, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if srv == nil || len(live) != 1 || len(notes) != 1 {
		t.Fatalf("live %v, server %v, notes %v", live, srv, notes)
	}
	if _, err := local.Probe(ctx, live[0]); err != nil {
		t.Fatalf("started server does not answer: %v", err)
	}
	srv.Stop()
	if _, err := local.Probe(ctx, live[0]); err == nil {
		t.Fatal("server still answers after Stop")
	}
}

func TestRequestsSpreadOverHosts(t *testing.T) {
	hosts := []string{ollamatest.Host(t), ollamatest.StartServer(t).URL()}
	c, err := local.NewClient(hosts, local.SchedulerOptions{Concurrency: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// (Inspect would refuse this pair: a model created locally on two
	// servers gets two manifest digests even from the same GGUF.)
	var mu sync.Mutex
	used := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Generate(context.Background(), &local.GenerateRequest{Model: ollamatest.TinyModel, Prompt: "hi",
				Options: map[string]any{"num_predict": 32, "num_ctx": 1024}, Seed: local.Int64(int64(i))})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			used[r.Host]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	// A new request goes wherever a slot is free, so a busier host answers
	// fewer; what must hold is that both were used and both hosts' slots
	// (2 each) were busy at once.
	for _, h := range hosts {
		if used[h] == 0 {
			t.Errorf("host %s answered none of 16 requests (all: %v)", h, used)
		}
	}
	if peak := c.Stats().PeakInFlight; peak != 4 {
		t.Errorf("peak in flight %d, want 4 (2 slots on each of 2 hosts)", peak)
	}
}
