package local_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"synthkit/local"
	"synthkit/local/ollamatest"
)

// fakeOllama answers the feature probes the way a server of the given
// generation does: "new" validates think and top_logprobs and returns
// logprobs; "old" (before 0.3.4 and 0.5.0) has a string format field and
// no /api/embed. Requests counts every request it served.
type fakeOllama struct {
	gen     string
	version string
	// noLogprobs: accept the logprobs fields but return none.
	noLogprobs bool
	requests   atomic.Int64
}

func (f *fakeOllama) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	switch r.URL.Path {
	case "/api/version":
		json.NewEncoder(w).Encode(map[string]string{"version": f.version})
		return
	case "/api/embed":
		if f.gen == "old" {
			http.NotFound(w, r) // gin's plain "404 page not found"
			return
		}
		fail(http.StatusNotFound, `model "" not found, try pulling it first`)
		return
	case "/api/generate", "/api/chat":
	default:
		http.NotFound(w, r)
		return
	}
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	if f.gen == "new" {
		if th, ok := req["think"]; ok {
			if s, isStr := th.(string); isStr && s != "low" && s != "medium" && s != "high" {
				fail(http.StatusBadRequest, `invalid think value: "`+s+`" (must be "high", "medium", "low", true, or false)`)
				return
			}
		}
		if n, _ := req["top_logprobs"].(float64); n < 0 || n > 20 {
			fail(http.StatusBadRequest, "top_logprobs must be between 0 and 20")
			return
		}
	}
	if _, isObj := req["format"].(map[string]any); isObj && f.gen == "old" {
		fail(http.StatusBadRequest, "json: cannot unmarshal object into Go struct field GenerateRequest.format of type string")
		return
	}
	if req["model"] == "" {
		fail(http.StatusNotFound, "model '' not found")
		return
	}
	reply := map[string]any{"model": req["model"], "response": "a", "done": true, "done_reason": "stop", "eval_count": 1}
	if r.URL.Path == "/api/chat" {
		reply["message"] = map[string]any{"role": "assistant", "content": "a", "thinking": "hmm"}
		delete(reply, "response")
	} else {
		reply["thinking"] = "hmm"
	}
	if f.gen == "new" && !f.noLogprobs && req["logprobs"] == true {
		reply["logprobs"] = []map[string]any{{"token": "a", "logprob": -0.25,
			"top_logprobs": []map[string]any{{"token": "a", "logprob": -0.25}, {"token": "b", "logprob": -1.5}}}}
	}
	json.NewEncoder(w).Encode(reply)
}

func TestProbeFeaturesByBehaviourNotVersion(t *testing.T) {
	tests := []struct {
		name, gen, version string
		noLogprobs         bool
		model              string
		want               local.Features
		missing            []string
	}{
		// A source build of a current server: version 0.0.0, every feature.
		{"new source build", "new", "0.0.0", false, "", local.Features{StructuredOutput: true, EmbedAPI: true, Thinking: true,
			Logprobs: true, Raw: true, VersionUnknown: true}, nil},
		{"new with a model", "new", "0.17.4", false, "m", local.Features{StructuredOutput: true, EmbedAPI: true, Thinking: true,
			Logprobs: true, Raw: true}, nil},
		// A server that claims a new version but ignores the new fields.
		// Fields accepted, but the replies carry no logprobs: the reply decides.
		{"logprobs accepted, none returned", "new", "0.17.4", true, "m", local.Features{StructuredOutput: true, EmbedAPI: true,
			Thinking: true, Raw: true}, []string{"logprobs"}},
		{"old claiming new", "old", "0.17.4", false, "", local.Features{Raw: true},
			[]string{"structured output", "embed API", "thinking", "logprobs"}},
		{"old with a model", "old", "0.4.0", false, "m", local.Features{Raw: true},
			[]string{"structured output", "embed API", "thinking", "logprobs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeOllama{gen: tt.gen, version: tt.version, noLogprobs: tt.noLogprobs}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c, err := local.NewClient([]string{srv.URL}, local.SchedulerOptions{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ProbeFeatures(context.Background(), tt.model)
			if err != nil {
				t.Fatal(err)
			}
			if got.StructuredOutput != tt.want.StructuredOutput || got.EmbedAPI != tt.want.EmbedAPI || got.Thinking != tt.want.Thinking ||
				got.Logprobs != tt.want.Logprobs || got.Raw != tt.want.Raw || got.VersionUnknown != tt.want.VersionUnknown {
				t.Fatalf("features = %+v, want %+v", got, tt.want)
			}
			if got.Version != tt.version {
				t.Errorf("version = %q, want %q", got.Version, tt.version)
			}
			missing := got.Missing()
			if len(missing) != len(tt.missing) {
				t.Fatalf("Missing() = %q, want %q", missing, tt.missing)
			}
			for i, m := range missing {
				// Each missing feature says what its probe saw.
				if !strings.HasPrefix(m, tt.missing[i]+" (") || !strings.Contains(m, " got ") {
					t.Errorf("Missing()[%d] = %q, want %q with the probe's outcome", i, m, tt.missing[i])
				}
			}
			if len(got.Notes) < 4 {
				t.Errorf("notes = %q, want one per probe", got.Notes)
			}
			// Probed once per host: asking again sends nothing.
			n := fake.requests.Load()
			if _, err := c.ProbeFeatures(context.Background(), tt.model); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ServerFeatures(context.Background()); err != nil {
				t.Fatal(err)
			}
			extra := fake.requests.Load() - n
			if tt.model == "" && extra != 0 {
				t.Errorf("second probe sent %d requests, want 0 (cached)", extra)
			}
		})
	}
}

func TestProbeFeaturesWeakestHostDecides(t *testing.T) {
	newSrv := httptest.NewServer(&fakeOllama{gen: "new", version: "0.17.4"})
	defer newSrv.Close()
	oldSrv := httptest.NewServer(&fakeOllama{gen: "old", version: "0.4.0"})
	defer oldSrv.Close()
	c, err := local.NewClient([]string{newSrv.URL, oldSrv.URL}, local.SchedulerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.ServerFeatures(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.Logprobs || f.Thinking || f.StructuredOutput || f.EmbedAPI || f.Version != "0.4.0" {
		t.Fatalf("features = %+v, want the old server's", f)
	}
	miss := strings.Join(f.Missing(), "; ")
	if !strings.Contains(miss, oldSrv.URL) || strings.Contains(miss, newSrv.URL) {
		t.Errorf("Missing() = %q, want the old host named and not the new one", miss)
	}
}

// The request fields for logprobs and thinking reach the server, and the
// reply's logprobs and thinking reach the caller.
func TestLogprobsAndThinkingPlumbing(t *testing.T) {
	var bodies []map[string]any
	fake := &fakeOllama{gen: "new", version: "0.17.4"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		data := new(strings.Builder)
		if _, err := io.Copy(data, r.Body); err == nil {
			json.Unmarshal([]byte(data.String()), &body)
		}
		bodies = append(bodies, body)
		r.Body = io.NopCloser(strings.NewReader(data.String()))
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := local.NewClient([]string{srv.URL}, local.SchedulerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	chat, err := c.Chat(ctx, &local.ChatRequest{Model: "m", Messages: []local.Message{{Role: "user", Content: "hi"}},
		Logprobs: true, TopLogprobs: 2, Think: "high"})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := c.Generate(ctx, &local.GenerateRequest{Model: "m", Prompt: "hi", Logprobs: true, TopLogprobs: 2, Think: "false"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []any{"high", false} {
		b := bodies[i]
		if b["logprobs"] != true || b["top_logprobs"] != float64(2) || b["think"] != want {
			t.Errorf("request %d = %v, want logprobs, top_logprobs 2 and think %v", i, b, want)
		}
	}
	for _, r := range []*local.Response{chat, gen} {
		if r.Thinking != "hmm" {
			t.Errorf("Thinking = %q, want %q", r.Thinking, "hmm")
		}
		if len(r.Logprobs) != 1 || r.Logprobs[0].Token != "a" || r.Logprobs[0].Logprob != -0.25 ||
			len(r.Logprobs[0].Top) != 2 || r.Logprobs[0].Top[1].Token != "b" {
			t.Errorf("Logprobs = %+v", r.Logprobs)
		}
	}
	// Unset fields are not sent: an old server must see the same requests as before.
	if _, err := c.Generate(ctx, &local.GenerateRequest{Model: "m", Prompt: "hi"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"logprobs", "top_logprobs", "think"} {
		if _, ok := bodies[2][k]; ok {
			t.Errorf("plain request sent %q: %v", k, bodies[2])
		}
	}
	if _, err := c.Chat(ctx, &local.ChatRequest{Model: "m", Think: "maybe"}); err == nil || !strings.Contains(err.Error(), "think") {
		t.Errorf("Think: maybe gave %v, want a bad-value error", err)
	}
}

// Against the real v0.6.5 test server: the probes find what it has and
// report logprobs and thinking missing without an error, and asking for
// logprobs anyway works and returns none.
func TestProbeFeaturesRealServer(t *testing.T) {
	c := newTestClient(t, ollamatest.Host(t), local.SchedulerOptions{Concurrency: 1})
	ctx := context.Background()
	f, err := c.ProbeFeatures(ctx, ollamatest.TinyModel)
	if err != nil {
		t.Fatal(err)
	}
	if !f.StructuredOutput || !f.EmbedAPI || !f.Raw || f.Logprobs || f.Thinking {
		t.Fatalf("features of the v0.6.5 server = %+v", f)
	}
	miss := strings.Join(f.Missing(), "; ")
	if !strings.Contains(miss, "logprobs (") || !strings.Contains(miss, "thinking (") {
		t.Errorf("Missing() = %q, want logprobs and thinking with reasons", miss)
	}
	t.Logf("notes: %q", f.Notes)
	r, err := c.Generate(ctx, &local.GenerateRequest{Model: ollamatest.TinyModel, Prompt: "hi", Logprobs: true, TopLogprobs: 3,
		Options: map[string]any{"num_predict": 4}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Logprobs != nil {
		t.Errorf("v0.6.5 returned logprobs %+v", r.Logprobs)
	}
}
