package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOpenAI records what an OpenAI-compatible server is sent and answers
// with the given handler.
type fakeOpenAI struct {
	mu     sync.Mutex
	bodies []map[string]any
	auth   []string
	paths  []string
}

func (f *fakeOpenAI) start(t *testing.T, reply func(w http.ResponseWriter, path string, n int)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		f.mu.Lock()
		f.bodies = append(f.bodies, m)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.paths = append(f.paths, r.URL.Path)
		n := len(f.paths)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		reply(w, r.URL.Path, n)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

const chatReply = `{"id":"x","object":"chat.completion","created":1,"model":"m","system_fingerprint":"fp_1",
"choices":[{"index":0,"finish_reason":"length","message":{"role":"assistant","content":"{\"a\":1}"},
"logprobs":{"content":[{"token":"{","logprob":-0.5,"bytes":[123],"top_logprobs":[{"token":"{","logprob":-0.5,"bytes":[123]}]}]}}],
"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}`

func fastOpenAIClient(t *testing.T, base, key string) *Client {
	t.Helper()
	c, err := NewOpenAIClient([]string{base}, key, SchedulerOptions{Concurrency: 1, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// What a chat request puts on the wire: Ollama's options mapped to their
// OpenAI names, the schema as response_format json_schema, the seed, the
// logprobs, and nothing load-time (num_ctx).
func TestOpenAIChatRequestMapping(t *testing.T) {
	var f fakeOpenAI
	base := f.start(t, func(w http.ResponseWriter, _ string, _ int) { io.WriteString(w, chatReply) })
	c := fastOpenAIClient(t, base, "")
	r, err := c.Chat(context.Background(), &ChatRequest{Model: "m",
		Messages: []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}, {Role: "assistant", Content: "a"}},
		Schema:   json.RawMessage(`{"type":"object"}`),
		Options:  map[string]any{"num_predict": 32, "temperature": 0.0, "top_p": 0.9, "top_k": 40, "num_ctx": 4096, "stop": []string{"END"}},
		Seed:     Int64(11), Logprobs: true, TopLogprobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	b := f.bodies[0]
	if f.paths[0] != "/v1/chat/completions" {
		t.Errorf("path %s", f.paths[0])
	}
	want := map[string]any{"model": "m", "max_tokens": 32.0, "temperature": 0.0, "top_p": 0.9, "top_k": 40.0, "seed": 11.0,
		"logprobs": true, "top_logprobs": 2.0}
	for k, v := range want {
		if b[k] != v {
			t.Errorf("%s = %v, want %v (body %v)", k, b[k], v, b)
		}
	}
	if _, ok := b["num_ctx"]; ok {
		t.Error("num_ctx was sent")
	}
	rf, _ := json.Marshal(b["response_format"])
	if !strings.Contains(string(rf), `"type":"json_schema"`) || !strings.Contains(string(rf), `"schema":{"type":"object"}`) {
		t.Errorf("response_format %s", rf)
	}
	if msgs, _ := b["messages"].([]any); len(msgs) != 3 {
		t.Errorf("messages %v", b["messages"])
	}
	if stop, _ := json.Marshal(b["stop"]); string(stop) != `["END"]` {
		t.Errorf("stop %s", stop)
	}
	if r.Content != `{"a":1}` || r.DoneReason != "length" || r.PromptTokens != 5 || r.OutputTokens != 3 || r.Fingerprint != "fp_1" {
		t.Errorf("response %+v", r)
	}
	if len(r.Logprobs) != 1 || r.Logprobs[0].Logprob != -0.5 || len(r.Logprobs[0].Top) != 1 {
		t.Errorf("logprobs %+v", r.Logprobs)
	}
}

// The key goes out as a bearer token and nowhere else: not from
// $OPENAI_API_KEY when the user named no variable, never in an error, even
// when the server echoes it.
func TestOpenAIKeyNeverLeaks(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-env-0000")
	const key = "sk-secret-1234567890"
	var f fakeOpenAI
	base := f.start(t, func(w http.ResponseWriter, _ string, n int) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s","type":"invalid_request_error","code":"invalid_api_key"}}`, key)
	})
	c := fastOpenAIClient(t, base, key)
	_, err := c.Chat(context.Background(), &ChatRequest{Model: "m", Messages: []Message{{Role: "user", Content: "u"}}})
	if err == nil {
		t.Fatal("a 401 passed")
	}
	if strings.Contains(err.Error(), key) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), key) {
		t.Errorf("the key is in the error: %v", err)
	}
	if !strings.Contains(err.Error(), "--api-key-env") {
		t.Errorf("error %q does not say where the key came from", err)
	}
	if len(f.auth) != 1 || f.auth[0] != "Bearer "+key {
		t.Errorf("authorization headers %q: want one attempt (401 is not retried) with the bearer key", f.auth)
	}
	_, err = c.ListModels(context.Background())
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("list: %v", err)
	}

	// No key named: none sent, whatever the environment holds.
	var g fakeOpenAI
	base = g.start(t, func(w http.ResponseWriter, _ string, _ int) { io.WriteString(w, chatReply) })
	if _, err := fastOpenAIClient(t, base, "").Chat(context.Background(), &ChatRequest{Model: "m", Messages: []Message{{Role: "user", Content: "u"}}}); err != nil {
		t.Fatal(err)
	}
	if g.auth[0] != "" {
		t.Errorf("sent authorization %q without a key named", g.auth[0])
	}
}

// Errors: 503 and 429 retry through the scheduler, a missing model and a
// missing /completions endpoint say what to do.
func TestOpenAIErrors(t *testing.T) {
	t.Run("503 then ok", func(t *testing.T) {
		var f fakeOpenAI
		base := f.start(t, func(w http.ResponseWriter, _ string, n int) {
			if n < 3 {
				w.WriteHeader(n*100 + 329) // 429, then 529
				io.WriteString(w, `{"error":{"message":"busy"}}`)
				return
			}
			io.WriteString(w, chatReply)
		})
		c := fastOpenAIClient(t, base, "")
		if _, err := c.Chat(context.Background(), &ChatRequest{Model: "m", Messages: []Message{{Role: "user", Content: "u"}}}); err != nil {
			t.Fatal(err)
		}
		if len(f.paths) != 3 || c.Stats().Retries != 2 {
			t.Errorf("%d attempts, %d retries; want 3 and 2", len(f.paths), c.Stats().Retries)
		}
	})
	t.Run("model does not exist", func(t *testing.T) {
		var f fakeOpenAI
		base := f.start(t, func(w http.ResponseWriter, _ string, _ int) {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"object":"error","message":"The model `+"`big`"+` does not exist.","type":"NotFoundError","code":404}`)
		})
		_, err := fastOpenAIClient(t, base, "").Chat(context.Background(), &ChatRequest{Model: "big", Messages: []Message{{Role: "user", Content: "u"}}})
		var mm *ModelMissingError
		if !errors.As(err, &mm) || mm.Backend != BackendOpenAI || !strings.Contains(err.Error(), "never pulls") {
			t.Errorf("err = %v, want ModelMissingError for the openai backend", err)
		}
		if len(f.paths) != 1 {
			t.Errorf("%d attempts: a missing model is not worth retrying", len(f.paths))
		}
	})
	t.Run("no completions endpoint", func(t *testing.T) {
		var f fakeOpenAI
		base := f.start(t, func(w http.ResponseWriter, _ string, _ int) { http.NotFound(w, nil) })
		_, err := fastOpenAIClient(t, base, "").Generate(context.Background(), &GenerateRequest{Model: "m", Prompt: "<|im_start|>user\n", Raw: true})
		var nr *NoRawCompletionError
		if !errors.As(err, &nr) || !strings.Contains(err.Error(), "Magpie") {
			t.Errorf("err = %v, want NoRawCompletionError naming Magpie", err)
		}
		if f.paths[0] != "/v1/completions" {
			t.Errorf("raw generate went to %s", f.paths[0])
		}
	})
}

func TestParseBaseURLs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"http://gpu:8000/v1", []string{"http://gpu:8000/v1"}, ""},
		{"http://a:8000/v1/, http://b:8000/v1,http://a:8000/v1", []string{"http://a:8000/v1", "http://b:8000/v1"}, ""},
		{"", nil, "needs --base-url"},
		{"gpu:8000", nil, "want http(s)"},
		{"http://user:pw@gpu:8000/v1", nil, "no user"},
		{"https://api.example.com/v1?key=abc", nil, "no user, password or query"},
	}
	for _, tt := range tests {
		got, err := ParseBaseURLs(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "abc") {
				t.Errorf("%q: err %v, want %q without the secret", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%q: %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
