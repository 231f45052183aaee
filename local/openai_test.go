package local_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"synthkit/local"
	"synthkit/local/ollamatest"
)

// The OpenAI-compatible backend against the real Ollama's own /v1
// endpoint, with the tiny fixture model: chat, structured output, seeds,
// embeddings, model listing and identity, and what it refuses to do.

func newOpenAITestClient(t *testing.T, opts local.SchedulerOptions) *local.Client {
	t.Helper()
	c, err := local.NewOpenAIClient([]string{ollamatest.Host(t) + "/v1"}, "", opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenAIBackendChat(t *testing.T) {
	c := newOpenAITestClient(t, local.SchedulerOptions{Concurrency: 1})
	if c.Backend() != local.BackendOpenAI {
		t.Fatalf("Backend() = %q", c.Backend())
	}
	ctx := context.Background()
	ask := func(seed int64) *local.Response {
		t.Helper()
		r, err := c.Chat(ctx, &local.ChatRequest{Model: ollamatest.TinyModel,
			Messages: []local.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Name a river."}},
			Options:  map[string]any{"num_predict": 24, "temperature": 0.9}, Seed: local.Int64(seed)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, other := ask(7), ask(7), ask(8)
	if a.OutputTokens <= 0 || a.OutputTokens > 24 || a.PromptTokens <= 0 {
		t.Errorf("tokens: prompt %d, output %d (num_predict 24)", a.PromptTokens, a.OutputTokens)
	}
	if a.DoneReason != "stop" && a.DoneReason != "length" {
		t.Errorf("done reason %q", a.DoneReason)
	}
	if a.Host != ollamatest.Host(t)+"/v1" || !strings.Contains(a.Model, "synthkit-tiny") {
		t.Errorf("host %q, model %q", a.Host, a.Model)
	}
	if a.Content != b.Content {
		t.Errorf("the same seed gave different replies:\n%q\n%q", a.Content, b.Content)
	}
	if a.Content == other.Content {
		t.Errorf("seeds 7 and 8 gave the same reply %q: the seed is not sent", a.Content)
	}
	// A templated generate is a chat turn on this backend.
	g, err := c.Generate(ctx, &local.GenerateRequest{Model: ollamatest.TinyModel, Prompt: "Name a river.",
		Options: map[string]any{"num_predict": 8}})
	if err != nil || g.OutputTokens == 0 {
		t.Fatalf("generate: %v, %+v", err, g)
	}
	if s := c.Stats(); s.Requests != 4 || s.OutputTokens == 0 {
		t.Errorf("stats %+v: want 4 requests counted with their tokens", s)
	}
}

func TestOpenAIBackendStructuredOutput(t *testing.T) {
	c := newOpenAITestClient(t, local.SchedulerOptions{Concurrency: 4})
	schema := local.MustCompileSchema(`{"type":"object","properties":{"instruction":{"type":"string"},"score":{"type":"integer"}},"required":["instruction","score"]}`)
	for i := range 4 {
		var out struct {
			Instruction string `json:"instruction"`
			Score       *int   `json:"score"`
		}
		_, err := local.ChatStructured(context.Background(), c, &local.ChatRequest{Model: ollamatest.TinyModel,
			Messages: []local.Message{{Role: "user", Content: "Write an instruction and score it."}},
			Options:  map[string]any{"num_predict": 160, "temperature": 0.7}, Seed: local.Int64(int64(i))}, schema, &out, 3)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if out.Score == nil {
			t.Fatalf("reply %d: no score in %+v", i, out)
		}
	}
}

func TestOpenAIBackendEmbeddings(t *testing.T) {
	c := newOpenAITestClient(t, local.SchedulerOptions{})
	c.EmbedBatch = 2 // three texts: two requests
	texts := []string{"a river", "a mountain", "a river"}
	vecs, err := c.Embed(context.Background(), ollamatest.TinyModel, texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vecs), len(texts))
	}
	for i, v := range vecs {
		var sum float64
		for _, x := range v {
			sum += float64(x) * float64(x)
		}
		if len(v) != len(vecs[0]) || math.Abs(sum-1) > 1e-4 {
			t.Errorf("vector %d: size %d, norm² %v", i, len(v), sum)
		}
	}
	for j := range vecs[0] {
		if math.Abs(float64(vecs[0][j]-vecs[2][j])) > 1e-5 {
			t.Fatal("the same text embedded twice differs: vectors out of order?")
		}
	}
	if c.Stats().Requests != 2 {
		t.Errorf("%d requests, want 2 batches", c.Stats().Requests)
	}
}

func TestOpenAIBackendModels(t *testing.T) {
	c := newOpenAITestClient(t, local.SchedulerOptions{})
	ctx := context.Background()
	models, err := c.ListModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range models {
		found = found || m.Name == ollamatest.TinyModel
	}
	if !found {
		t.Fatalf("GET /v1/models lists %+v, not %s", models, ollamatest.TinyModel)
	}
	// Ollama's /v1 lists names with their tag; a bare name finds them.
	info, err := c.Inspect(ctx, strings.TrimSuffix(ollamatest.TinyModel, ":latest"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != "openai-model-id:"+ollamatest.TinyModel || info.Backend != "openai" || info.BaseURL != ollamatest.Host(t)+"/v1" {
		t.Errorf("identity %+v", info)
	}
	// For a run's models the identity carries the reply's fingerprint.
	infos, err := c.EnsureModels(ctx, []string{ollamatest.TinyModel}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "openai-model-id:" + ollamatest.TinyModel + "+system_fingerprint:fp_ollama"; infos[0].Digest != want {
		t.Errorf("run identity %q, want %q", infos[0].Digest, want)
	}
	// Never pulls.
	if err := c.Pull(ctx, "qwen2.5:0.5b", nil); !errors.Is(err, local.ErrNoPull) {
		t.Errorf("pull: %v, want ErrNoPull", err)
	}
	_, err = c.EnsureModels(ctx, []string{"no-such-model:1b"}, true, nil)
	var mm *local.ModelMissingError
	if !errors.As(err, &mm) || !strings.Contains(err.Error(), "never pulls") {
		t.Errorf("missing model: %v", err)
	}
	_, err = c.Chat(ctx, &local.ChatRequest{Model: "no-such-model:1b", Messages: []local.Message{{Role: "user", Content: "hi"}}})
	if !errors.As(err, &mm) || mm.Backend != "openai" {
		t.Errorf("chat with a missing model: %v, want ModelMissingError", err)
	}
	f, err := c.ServerFeatures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.Version, "Ollama") || f.Raw || !f.StructuredOutput || !f.EmbedAPI {
		t.Errorf("features %+v: want Ollama recognized behind /v1, no raw mode", f)
	}
}
