package ollamatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"synthkit/local/ollamatest"
)

const requestTimeout = 2 * time.Minute

// chat sends a non-streaming chat request and returns the final response.
func chat(ctx context.Context, c *api.Client, req *api.ChatRequest) (api.ChatResponse, error) {
	stream := false
	req.Stream = &stream
	var last api.ChatResponse
	err := c.Chat(ctx, req, func(r api.ChatResponse) error {
		last = r
		return nil
	})
	if err != nil {
		return last, fmt.Errorf("couldn't chat with %q: %w", req.Model, err)
	}
	return last, nil
}

// runAll runs fn for i in [0,n) with at most par at once.
func runAll(n, par int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

func TestChatStopsOnItsOwn(t *testing.T) {
	host := ollamatest.Host(t)
	for _, model := range []string{ollamatest.TinyModel, ollamatest.TinyModelB} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			c := ollamatest.NewClient(t, host)
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()

			const n, numPredict = 20, 256
			var mu sync.Mutex
			var lengths []int
			stopped := 0
			runAll(n, 4, func(i int) {
				resp, err := chat(ctx, c, &api.ChatRequest{
					Model:    model,
					Messages: []api.Message{{Role: "user", Content: fmt.Sprintf("Write a short story about item %d.", i)}},
					Options:  map[string]any{"seed": i, "num_predict": numPredict},
				})
				if err != nil {
					t.Error(err)
					return
				}
				if strings.TrimSpace(resp.Message.Content) == "" {
					t.Errorf("seed %d: empty reply (done_reason %q, %d tokens)", i, resp.DoneReason, resp.EvalCount)
				}
				if resp.Message.Role != "assistant" {
					t.Errorf("seed %d: role %q, want assistant", i, resp.Message.Role)
				}
				mu.Lock()
				defer mu.Unlock()
				lengths = append(lengths, resp.EvalCount)
				if resp.Done && resp.DoneReason == "stop" && resp.EvalCount < numPredict {
					stopped++
				}
			})
			slices.Sort(lengths)
			t.Logf("%d/%d stopped before num_predict %d; output tokens: %v", stopped, n, numPredict, lengths)
			if stopped < n*9/10 {
				t.Errorf("only %d of %d replies stopped on their own", stopped, n)
			}
		})
	}
}

func TestStructuredOutput(t *testing.T) {
	host := ollamatest.Host(t)
	schema := json.RawMessage(`{"type":"object","properties":{"instruction":{"type":"string"},"score":{"type":"integer"}},"required":["instruction","score"]}`)
	tests := []struct {
		name  string
		model string
	}{
		{"model A", ollamatest.TinyModel},
		{"model B", ollamatest.TinyModelB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ollamatest.NewClient(t, host)
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()

			const n = 10
			var mu sync.Mutex
			var lengths []int
			valid := 0
			runAll(n, 4, func(i int) {
				resp, err := chat(ctx, c, &api.ChatRequest{
					Model:    tt.model,
					Messages: []api.Message{{Role: "user", Content: "Write one instruction and score it from 1 to 10. Answer in JSON."}},
					Format:   schema,
					Options:  map[string]any{"seed": i, "num_predict": 256},
				})
				if err != nil {
					t.Error(err)
					return
				}
				var got struct {
					Instruction string `json:"instruction"`
					Score       int    `json:"score"`
				}
				err = json.Unmarshal([]byte(resp.Message.Content), &got)
				mu.Lock()
				defer mu.Unlock()
				lengths = append(lengths, resp.EvalCount)
				if err != nil {
					t.Logf("seed %d: not JSON (%s, %d tokens): %v", i, resp.DoneReason, resp.EvalCount, err)
					return
				}
				valid++
			})
			slices.Sort(lengths)
			t.Logf("%d/%d valid; output tokens: %v", valid, n, lengths)
			if valid < n*8/10 {
				t.Errorf("only %d of %d structured replies parsed", valid, n)
			}
		})
	}
}

func TestRawGenerate(t *testing.T) {
	host := ollamatest.Host(t)
	c := ollamatest.NewClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()

	generate := func(prompt string, raw bool) api.GenerateResponse {
		t.Helper()
		stream := false
		var last api.GenerateResponse
		err := c.Generate(ctx, &api.GenerateRequest{
			Model:   ollamatest.TinyModel,
			Prompt:  prompt,
			Raw:     raw,
			Stream:  &stream,
			Options: map[string]any{"seed": 7, "num_predict": 128},
		}, func(r api.GenerateResponse) error {
			last = r
			return nil
		})
		if err != nil {
			t.Fatalf("couldn't generate (raw %v): %v", raw, err)
		}
		return last
	}

	// Magpie-style: the template's opening for a user turn, sent as is.
	prefix := "<|im_start|>user\n"
	raw := generate(prefix, true)
	if !raw.Done || strings.TrimSpace(raw.Response) == "" {
		t.Fatalf("raw generate: done %v, response %q", raw.Done, raw.Response)
	}
	// Raw mode must not wrap the prompt in the chat template, which would
	// add the system/assistant markers around it.
	templated := generate(prefix, false)
	if raw.PromptEvalCount >= templated.PromptEvalCount {
		t.Errorf("raw prompt took %d tokens, templated %d: raw mode seems to apply the template",
			raw.PromptEvalCount, templated.PromptEvalCount)
	}
	t.Logf("raw: %d prompt tokens, %d output tokens (%s); templated: %d prompt tokens",
		raw.PromptEvalCount, raw.EvalCount, raw.DoneReason, templated.PromptEvalCount)
}

func TestEmbed(t *testing.T) {
	host := ollamatest.Host(t)
	c := ollamatest.NewClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()

	inputs := []string{"a cat sat on the mat", "synthetic data for post-training", ""}
	resp, err := c.Embed(ctx, &api.EmbedRequest{Model: ollamatest.TinyModel, Input: inputs})
	if err != nil {
		t.Fatalf("couldn't embed: %v", err)
	}
	if len(resp.Embeddings) != len(inputs) {
		t.Fatalf("got %d embeddings for %d inputs", len(resp.Embeddings), len(inputs))
	}
	for i, v := range resp.Embeddings {
		if len(v) != ollamatest.EmbeddingLength {
			t.Errorf("input %d: %d dimensions, want %d", i, len(v), ollamatest.EmbeddingLength)
		}
		var sq float64
		for _, x := range v {
			sq += float64(x) * float64(x)
		}
		if norm := math.Sqrt(sq); math.Abs(norm-1) > 1e-3 {
			t.Errorf("input %d: L2 norm %v, want 1", i, norm)
		}
	}
	if slices.Equal(resp.Embeddings[0], resp.Embeddings[1]) {
		t.Error("different inputs gave the same embedding")
	}
}

func TestModelsDiffer(t *testing.T) {
	host := ollamatest.Host(t)
	c := ollamatest.NewClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()

	reply := func(model string) string {
		t.Helper()
		resp, err := chat(ctx, c, &api.ChatRequest{
			Model:    model,
			Messages: []api.Message{{Role: "user", Content: "Say something."}},
			Options:  map[string]any{"seed": 3, "num_predict": 64},
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Message.Content
	}
	a, b := reply(ollamatest.TinyModel), reply(ollamatest.TinyModelB)
	if a == b {
		t.Errorf("TinyModel and TinyModelB gave the same reply %q", a)
	}
	if again := reply(ollamatest.TinyModel); again != a {
		t.Errorf("same seed gave different replies:\n%q\n%q", a, again)
	}
}

// TestThroughput logs decode speed at a few concurrency levels; it fails only
// if the server is unusably slow.
func TestThroughput(t *testing.T) {
	host := ollamatest.Host(t)
	c := ollamatest.NewClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()

	for _, par := range []int{1, 4} {
		const n = 8
		var mu sync.Mutex
		tokens := 0
		start := time.Now()
		runAll(n, par, func(i int) {
			resp, err := chat(ctx, c, &api.ChatRequest{
				Model:    ollamatest.TinyModel,
				Messages: []api.Message{{Role: "user", Content: fmt.Sprintf("Tell me about %d.", i)}},
				Options:  map[string]any{"seed": 100 + i, "num_predict": 256},
			})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			tokens += resp.EvalCount
			mu.Unlock()
		})
		rate := float64(tokens) / time.Since(start).Seconds()
		t.Logf("concurrency %d: %d tokens in %v (%.0f tokens/s wall)", par, tokens, time.Since(start).Round(time.Millisecond), rate)
		if rate < 20 {
			t.Errorf("concurrency %d: %.0f tokens/s; the fixture should decode hundreds per second", par, rate)
		}
	}
}

func TestServerKillRestart(t *testing.T) {
	s := ollamatest.StartServer(t)
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()

	ask := func() error {
		_, err := chat(ctx, c, &api.ChatRequest{
			Model:    ollamatest.TinyModel,
			Messages: []api.Message{{Role: "user", Content: "hi"}},
			Options:  map[string]any{"num_predict": 16},
		})
		return err
	}
	if err := ask(); err != nil {
		t.Fatalf("before kill: %v", err)
	}

	// Keep streams running back to back and kill the server under them:
	// the one in flight (or the next one) must fail rather than hang.
	loopErr := make(chan error, 1)
	streaming := make(chan struct{})
	go func() {
		var once sync.Once
		for {
			err := c.Generate(ctx, &api.GenerateRequest{
				Model:   ollamatest.TinyModel,
				Prompt:  "go on",
				Options: map[string]any{"num_predict": 1000},
			}, func(api.GenerateResponse) error {
				once.Do(func() { close(streaming) })
				return nil
			})
			if err != nil {
				loopErr <- err
				return
			}
		}
	}()
	select {
	case <-streaming:
	case err := <-loopErr:
		t.Fatalf("stream failed before the kill: %v", err)
	}
	s.Kill()
	select {
	case err := <-loopErr:
		t.Logf("stream after kill: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("streams kept going 30s after the kill")
	}
	if err := ask(); err == nil {
		t.Error("chat succeeded with the server killed")
	}

	s.Restart()
	if err := ask(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	list, err := c.List(ctx)
	if err != nil {
		t.Fatalf("couldn't list models: %v", err)
	}
	var names []string
	for _, m := range list.Models {
		names = append(names, m.Name)
	}
	for _, want := range []string{ollamatest.TinyModel, ollamatest.TinyModelB} {
		if !slices.Contains(names, want) {
			t.Errorf("model %s missing after restart; have %v", want, names)
		}
	}
}

func TestRegisterModelConcurrently(t *testing.T) {
	s := ollamatest.StartServer(t, ollamatest.WithoutModels())
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()

	const name = "synthkit-tiny-c:latest"
	errs := make([]error, 4)
	runAll(len(errs), len(errs), func(i int) {
		errs[i] = ollamatest.RegisterModel(ctx, c, name, 3)
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent registration: %v", err)
	}
	start := time.Now()
	if err := ollamatest.RegisterModel(ctx, c, name, 3); err != nil {
		t.Fatalf("registering again: %v", err)
	}
	t.Logf("registering an existing model took %v", time.Since(start))

	show, err := c.Show(ctx, &api.ShowRequest{Model: name})
	if err != nil {
		t.Fatalf("couldn't show %s: %v", name, err)
	}
	if show.Template != ollamatest.ChatTemplate {
		t.Errorf("template = %q, want the chatml template", show.Template)
	}
	if !strings.Contains(show.Parameters, ollamatest.StopSequence) {
		t.Errorf("parameters %q lack the stop sequence", show.Parameters)
	}
	if got := show.ModelInfo["llama.embedding_length"]; got != float64(ollamatest.EmbeddingLength) {
		t.Errorf("llama.embedding_length = %v, want %d", got, ollamatest.EmbeddingLength)
	}
}

// fakeTB records Skip and Fatal instead of stopping the test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                      {}
func (f *fakeTB) Skip(args ...any)             { f.skipped = fmt.Sprint(args...); panic(f) }
func (f *fakeTB) Fatal(args ...any)            { f.failed = fmt.Sprint(args...); panic(f) }
func (f *fakeTB) Fatalf(s string, args ...any) { f.Fatal(fmt.Sprintf(s, args...)) }

func TestHostWithoutServer(t *testing.T) {
	t.Setenv(ollamatest.EnvHost, "")
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != any(f) {
				panic(r)
			}
		}()
		ollamatest.Host(f)
	}()
	msg := f.failed
	if testing.Short() {
		msg = f.skipped
	} else if f.skipped != "" {
		t.Errorf("Host skipped outside -short: %q", f.skipped)
	}
	if !strings.Contains(msg, "scripts/test.sh") || !strings.Contains(msg, ollamatest.EnvHost) {
		t.Errorf("Host without %s said %q; want a hint to scripts/test.sh", ollamatest.EnvHost, msg)
	}
}
