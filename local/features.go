package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Features is what a server can do beyond plain chat and generate, found by
// probing it (not from its version: source builds report 0.0.0). A method
// that wants a missing feature degrades (for example k-sample votes instead
// of logprobs) and notes it in the run's provenance.
type Features struct {
	// Version is what /api/version said (the lowest one over all hosts).
	Version string `json:"version"`
	// StructuredOutput: a JSON schema in "format" (Ollama ≥ 0.5.0).
	StructuredOutput bool `json:"structured_output"`
	// EmbedAPI: batched /api/embed (Ollama ≥ 0.3.4).
	EmbedAPI bool `json:"embed_api"`
	// Thinking: the "think" request field (Ollama ≥ 0.9.0). Whether a given
	// model thinks is a model capability (see [ModelInfo.Capabilities]).
	Thinking bool `json:"thinking"`
	// Logprobs: token log-probabilities in chat and generate replies
	// (Ollama ≥ 0.12.11).
	Logprobs bool `json:"logprobs"`
	// Raw: generate with raw: true (the prompt sent without the chat
	// template). Only a probe with a model can show it; without one it is
	// assumed (every server since 0.1.x has it).
	Raw bool `json:"raw"`
	// VersionUnknown: the server did not give a usable version (a source
	// build reports 0.0.0). The features above are probed all the same.
	VersionUnknown bool `json:"version_unknown,omitempty"`
	// Notes say what each probe saw, one line per feature ("logprobs:
	// missing (…)"), prefixed with the host when there are several.
	Notes []string `json:"notes,omitempty"`
}

// featureNames are the probed features in the order Missing reports them.
var featureNames = []struct {
	name string
	has  func(Features) bool
}{
	{"structured output", func(f Features) bool { return f.StructuredOutput }},
	{"embed API", func(f Features) bool { return f.EmbedAPI }},
	{"thinking", func(f Features) bool { return f.Thinking }},
	{"logprobs", func(f Features) bool { return f.Logprobs }},
	{"raw mode", func(f Features) bool { return f.Raw }},
}

// Missing lists the features this server lacks, each with what its probe
// saw, for notes in provenance.
func (f Features) Missing() []string {
	var out []string
	for _, fn := range featureNames {
		if fn.has(f) {
			continue
		}
		var why []string
		for _, n := range f.Notes {
			i := strings.Index(n, fn.name+": missing (")
			if i < 0 {
				continue
			}
			host := strings.TrimSuffix(n[:i], ": ")
			w := strings.TrimSuffix(n[i+len(fn.name+": missing ("):], ")")
			if host != "" {
				w = host + ": " + w
			}
			why = append(why, w)
		}
		item := fn.name
		if len(why) > 0 {
			item += " (" + strings.Join(why, "; ") + ")"
		}
		out = append(out, item)
	}
	return out
}

// ServerFeatures probes every host once (the result is cached per host)
// without loading any model, and returns the features all hosts share: the
// weakest server decides. Logprobs are judged by whether the server
// validates the request fields; [Client.ProbeFeatures] with a model checks
// that a reply really carries them.
func (c *Client) ServerFeatures(ctx context.Context) (Features, error) {
	return c.ProbeFeatures(ctx, "")
}

// ProbeFeatures is [Client.ServerFeatures] plus, when model is not empty,
// one 1-token raw generate with that model asking for logprobs: a reply
// that carries none means the server lacks them whatever it accepts, and a
// reply at all shows raw mode works. The model must be present on every
// host. Results are cached per host and model.
func (c *Client) ProbeFeatures(ctx context.Context, model string) (Features, error) {
	var common Features
	for i, h := range c.hosts {
		f, err := c.featuresOf(ctx, h, model)
		if err != nil {
			return Features{}, err
		}
		notes := f.Notes
		if len(c.hosts) > 1 {
			notes = make([]string, len(f.Notes))
			for j, n := range f.Notes {
				notes[j] = h.url + ": " + n
			}
		}
		if i == 0 {
			common = f
			common.Notes = notes
			continue
		}
		common.StructuredOutput = common.StructuredOutput && f.StructuredOutput
		common.EmbedAPI = common.EmbedAPI && f.EmbedAPI
		common.Thinking = common.Thinking && f.Thinking
		common.Logprobs = common.Logprobs && f.Logprobs
		common.Raw = common.Raw && f.Raw
		common.VersionUnknown = common.VersionUnknown || f.VersionUnknown
		common.Notes = append(common.Notes, notes...)
		if pv, ok := parseVersion(f.Version); ok {
			if cv, ok := parseVersion(common.Version); !ok || versionLess(pv, cv) {
				common.Version = f.Version
			}
		}
	}
	return common, nil
}

// featuresOf probes one host, once per model.
func (c *Client) featuresOf(ctx context.Context, h *hostState, model string) (Features, error) {
	h.featMu.Lock()
	defer h.featMu.Unlock()
	if f, ok := h.features[model]; ok {
		return f, nil
	}
	var f Features
	var err error
	if h.oai != nil {
		f, err = probeOpenAI(ctx, c, h, model)
	} else {
		f, err = probeFeatures(ctx, h, model)
	}
	if err != nil {
		return Features{}, err
	}
	if h.features == nil {
		h.features = map[string]Features{}
	}
	f.Notes = append([]string(nil), f.Notes...)
	h.features[model] = f
	return f, nil
}

// probeFeatures runs the probes against one host. The model-free probes
// send requests with an empty model name, which every server refuses
// without loading anything; what matters is which check refuses it:
//
//   - think: "synthkit-probe" is not a valid think value. A server that
//     knows the field rejects the body (400 naming "think"); an older one
//     ignores it and fails on the model (404 "model ” not found").
//   - top_logprobs: 21 is out of range (0–20). A server with logprobs says
//     so (400 naming top_logprobs); an older one ignores it.
//   - format: {"type":"object"}: a server without structured output has a
//     string format field and rejects an object (400 "cannot unmarshal").
//   - POST /api/embed: an older server has no such route (gin's plain
//     "404 page not found", not a JSON error).
func probeFeatures(ctx context.Context, h *hostState, model string) (Features, error) {
	var f Features
	v, err := versionWithRetry(ctx, h.http, h.url)
	if err != nil {
		return Features{}, err
	}
	f.Version = v
	if pv, ok := parseVersion(v); !ok || pv == [3]int{} {
		f.VersionUnknown = true
		f.Notes = append(f.Notes, fmt.Sprintf("version: the server reports %q (a source build?); features probed", v))
	}
	note := func(name string, present bool, why string) {
		state := "present"
		if !present {
			state = "missing"
		}
		f.Notes = append(f.Notes, fmt.Sprintf("%s: %s (%s)", name, state, why))
	}

	st, body, err := probePost(ctx, h, "/api/generate", map[string]any{"model": "", "think": "synthkit-probe"})
	if err != nil {
		return Features{}, err
	}
	f.Thinking = st == http.StatusBadRequest && strings.Contains(strings.ToLower(errorText(body)), "think")
	note("thinking", f.Thinking, "an invalid think value got "+reply(st, body))

	st, body, err = probePost(ctx, h, "/api/generate", map[string]any{"model": "", "logprobs": true, "top_logprobs": 21})
	if err != nil {
		return Features{}, err
	}
	f.Logprobs = st == http.StatusBadRequest && strings.Contains(strings.ToLower(errorText(body)), "logprobs")
	note("logprobs", f.Logprobs, "an out-of-range top_logprobs got "+reply(st, body))

	st, body, err = probePost(ctx, h, "/api/generate", map[string]any{"model": "", "format": map[string]any{"type": "object"}})
	if err != nil {
		return Features{}, err
	}
	low := strings.ToLower(errorText(body))
	f.StructuredOutput = !(st == http.StatusBadRequest && (strings.Contains(low, "format") || strings.Contains(low, "unmarshal")))
	note("structured output", f.StructuredOutput, "a schema in format got "+reply(st, body))

	st, body, err = probePost(ctx, h, "/api/embed", map[string]any{"model": ""})
	if err != nil {
		return Features{}, err
	}
	f.EmbedAPI = !(st == http.StatusNotFound && errorText(body) == "") && st != http.StatusMethodNotAllowed
	note("embed API", f.EmbedAPI, "POST /api/embed got "+reply(st, body))

	if model == "" {
		f.Raw = true
		f.Notes = append(f.Notes, "raw mode: assumed (needs a model to probe)")
		return f, nil
	}
	st, body, err = probePost(ctx, h, "/api/generate", map[string]any{
		"model": model, "prompt": "a", "raw": true, "stream": false,
		"logprobs": true, "top_logprobs": 1,
		"options": map[string]any{"num_predict": 1, "temperature": 0},
	})
	if err != nil {
		return Features{}, err
	}
	if st != http.StatusOK {
		return Features{}, fmt.Errorf("probe %s on %s: a 1-token generate got %s", model, h.url, reply(st, body))
	}
	var r struct {
		Done     bool              `json:"done"`
		Response string            `json:"response"`
		Logprobs []json.RawMessage `json:"logprobs"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Features{}, fmt.Errorf("probe %s on %s: undecodable reply %s: %w", model, h.url, shorten(string(body), 200), err)
	}
	f.Raw = r.Done
	note("raw mode", f.Raw, fmt.Sprintf("a 1-token raw generate with %s answered done=%v", model, r.Done))
	f.Logprobs = len(r.Logprobs) > 0
	note("logprobs", f.Logprobs, fmt.Sprintf("a 1-token generate with %s asking for logprobs got %d", model, len(r.Logprobs)))
	return f, nil
}

// probeAttempts and probeBackoff bound the retries of one probe request:
// a server that just started, or a few spoiled replies in a row (a flaky
// proxy), must not decide.
var (
	probeAttempts = 6
	probeBackoff  = 200 * time.Millisecond
)

// probePost posts body to path and returns the status and reply body,
// retrying transport errors and 5xx replies. A feature probe expects 4xx
// replies, so those are answers, not failures.
func probePost(ctx context.Context, h *hostState, path string, body any) (int, []byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	var lastErr error
	for attempt := 0; attempt < probeAttempts; attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, probeBackoff<<(attempt-1)); err != nil {
				return 0, nil, err
			}
		}
		st, reply, err := postOnce(ctx, h.http, h.url+path, data)
		if err == nil && st < 500 {
			return st, reply, nil
		}
		if err == nil {
			err = fmt.Errorf("%s", strings.TrimSpace(string(reply)))
			lastErr = fmt.Errorf("POST %s: status %d: %w", path, st, err)
			continue
		}
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		lastErr = err
	}
	return 0, nil, hostErr(h, fmt.Errorf("probe POST %s (%d attempts): %w", path, probeAttempts, lastErr))
}

func postOnce(ctx context.Context, hc *http.Client, url string, data []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// errorText is the "error" field of a JSON error reply, or "".
func errorText(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error
}

func reply(status int, body []byte) string {
	return strconv.Itoa(status) + " " + shorten(strings.TrimSpace(string(body)), 120)
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func parseVersion(s string) ([3]int, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+ "); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	var v [3]int
	if len(parts) < 2 {
		return v, false
	}
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func versionLess(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
