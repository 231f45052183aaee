package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
)

// Backends a [Client] can drive.
const (
	// BackendOllama is Ollama's native API (/api/chat, /api/generate, …).
	BackendOllama = "ollama"
	// BackendOpenAI is any OpenAI-compatible server (vLLM, SGLang,
	// llama.cpp server, a hosted endpoint, Ollama's own /v1): chat
	// completions, completions and embeddings under a base URL.
	BackendOpenAI = "openai"
)

// Defaults of auto concurrency on OpenAI-compatible servers, which batch
// many requests at once (vLLM, SGLang) and so gain up to far higher
// concurrency than one Ollama.
const (
	openAIStartConcurrency = 8
	openAIMaxConcurrency   = 64
)

// ParseBaseURLs turns "URL[,URL…]" into the base URLs of OpenAI-compatible
// servers, e.g. "http://gpu-box:8000/v1". Each needs a scheme and a host;
// a trailing slash is dropped.
func ParseBaseURLs(list string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("bad base URL %q: want http(s)://host[:port]/path, e.g. http://gpu-box:8000/v1", raw)
		}
		if u.User != nil || u.RawQuery != "" {
			// They would end up in run.json and in error messages.
			return nil, fmt.Errorf("bad base URL %q: no user, password or query in it; pass a key with --api-key-env", redactURL(u))
		}
		s := strings.TrimRight(u.String(), "/")
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no base URL given: --backend openai needs --base-url, e.g. http://gpu-box:8000/v1")
	}
	return out, nil
}

func redactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery = nil, ""
	return c.String()
}

// NewOpenAIClient makes a client for OpenAI-compatible servers at the given
// base URLs (see [ParseBaseURLs]), through the openai-go library behind the
// same scheduler as Ollama hosts: bounded concurrency per server, retries
// with backoff (the library's own retries are off). apiKey may be empty for
// servers without authentication; it is sent as a bearer token and never
// appears in errors. Auto concurrency starts at 8 and may climb to 64 per
// server unless opts say otherwise.
func NewOpenAIClient(baseURLs []string, apiKey string, opts SchedulerOptions, httpClient *http.Client) (*Client, error) {
	if len(baseURLs) == 0 {
		return nil, fmt.Errorf("no base URL given")
	}
	if httpClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		httpClient = &http.Client{Transport: tr}
	}
	if opts.Concurrency == 0 {
		if opts.MaxConcurrency == 0 {
			opts.MaxConcurrency = openAIMaxConcurrency
		}
		if opts.StartConcurrency == 0 {
			opts.StartConcurrency = openAIStartConcurrency
		}
	}
	c := &Client{EmbedBatch: 64, backend: BackendOpenAI, secret: apiKey}
	for _, base := range baseURLs {
		// Only explicit options: openai.NewClient would also read
		// OPENAI_API_KEY and OPENAI_BASE_URL from the environment, and
		// the key must come from the variable the user named.
		ro := []option.RequestOption{
			option.WithBaseURL(base + "/"),
			option.WithHTTPClient(httpClient),
			option.WithMaxRetries(0),
			option.WithAPIKey(apiKey),
		}
		cl := openai.NewClient(ro...)
		c.hosts = append(c.hosts, &hostState{url: base, http: httpClient, oai: &cl})
	}
	c.sched = newScheduler(c.hosts, opts)
	return c, nil
}

// Backend says which API the client speaks: [BackendOllama] or
// [BackendOpenAI].
func (c *Client) Backend() string {
	if c.backend == "" {
		return BackendOllama
	}
	return c.backend
}

func (c *Client) isOpenAI() bool { return c.backend == BackendOpenAI }

// sampling is the part of Ollama's options an OpenAI-compatible server
// understands. num_ctx and other load-time options belong to the server's
// own configuration and are not sent; top_k, min_p and repeat_penalty go
// as the extra fields vLLM and llama.cpp server read (others ignore them).
type sampling struct {
	temperature, topP, presence, frequency param.Opt[float64]
	maxTokens                              param.Opt[int64]
	seed                                   param.Opt[int64]
	stop                                   []string
	extra                                  map[string]any
}

func samplingOf(opts map[string]any, seed *int64) sampling {
	var s sampling
	num := func(k string) (float64, bool) {
		switch v := opts[k].(type) {
		case float64:
			return v, true
		case float32:
			return float64(v), true
		case int:
			return float64(v), true
		case int64:
			return float64(v), true
		case json.Number:
			f, err := v.Float64()
			return f, err == nil
		}
		return 0, false
	}
	if v, ok := num("temperature"); ok {
		s.temperature = openai.Float(v)
	}
	if v, ok := num("top_p"); ok {
		s.topP = openai.Float(v)
	}
	if v, ok := num("presence_penalty"); ok {
		s.presence = openai.Float(v)
	}
	if v, ok := num("frequency_penalty"); ok {
		s.frequency = openai.Float(v)
	}
	if v, ok := num("num_predict"); ok && v > 0 {
		s.maxTokens = openai.Int(int64(v))
	}
	if v, ok := num("seed"); ok {
		s.seed = openai.Int(int64(v))
	}
	if seed != nil {
		s.seed = openai.Int(*seed)
	}
	switch v := opts["stop"].(type) {
	case string:
		s.stop = []string{v}
	case []string:
		s.stop = v
	case []any:
		for _, x := range v {
			if str, ok := x.(string); ok {
				s.stop = append(s.stop, str)
			}
		}
	}
	for from, to := range map[string]string{"top_k": "top_k", "min_p": "min_p", "repeat_penalty": "repetition_penalty"} {
		if v, ok := num(from); ok {
			if s.extra == nil {
				s.extra = map[string]any{}
			}
			s.extra[to] = v
		}
	}
	return s
}

// chatOpenAI is [Client.Chat] against an OpenAI-compatible server: POST
// /chat/completions, the schema as response_format json_schema.
func (c *Client) chatOpenAI(ctx context.Context, req *ChatRequest) (*Response, error) {
	if req.Think != "" && req.Think != "false" {
		return nil, fmt.Errorf("chat with %s: think=%s is not available through the OpenAI-compatible API", req.Model, req.Think)
	}
	msgs := make([]openai.ChatCompletionMessageParamUnion, 0, len(req.Messages))
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			msgs = append(msgs, openai.SystemMessage(m.Content))
		case "user":
			msgs = append(msgs, openai.UserMessage(m.Content))
		case "assistant":
			msgs = append(msgs, openai.AssistantMessage(m.Content))
		default:
			return nil, fmt.Errorf("chat with %s: message role %q is not one of system, user, assistant", req.Model, m.Role)
		}
	}
	s := samplingOf(req.Options, req.Seed)
	p := openai.ChatCompletionNewParams{
		Model: req.Model, Messages: msgs,
		Temperature: s.temperature, TopP: s.topP, PresencePenalty: s.presence, FrequencyPenalty: s.frequency,
		MaxTokens: s.maxTokens, Seed: s.seed,
	}
	if len(s.stop) > 0 {
		p.Stop = openai.ChatCompletionNewParamsStopUnion{OfStringArray: s.stop}
	}
	if len(req.Schema) > 0 {
		var schema any
		if err := json.Unmarshal(req.Schema, &schema); err != nil {
			return nil, fmt.Errorf("chat with %s: bad schema: %w", req.Model, err)
		}
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &openai.ResponseFormatJSONSchemaParam{
			JSONSchema: openai.ResponseFormatJSONSchemaJSONSchemaParam{Name: "synthkit_reply", Schema: schema}}}
	}
	if req.Logprobs {
		p.Logprobs = openai.Bool(true)
		if req.TopLogprobs > 0 {
			p.TopLogprobs = openai.Int(int64(req.TopLogprobs))
		}
	}
	if s.extra != nil {
		p.SetExtraFields(s.extra)
	}
	var out *Response
	err := c.runOpenAI(ctx, req.Model, func(ctx context.Context, h *hostState) (int, error) {
		start := time.Now()
		r, err := h.oai.Chat.Completions.New(ctx, p)
		if err != nil {
			return 0, err
		}
		if len(r.Choices) == 0 {
			return 0, fmt.Errorf("chat reply from %s has no choices: %w", h.url, errBadReply)
		}
		ch := r.Choices[0]
		out = &Response{Content: ch.Message.Content, Model: r.Model, DoneReason: openAIDoneReason(ch.FinishReason),
			PromptTokens: int(r.Usage.PromptTokens), OutputTokens: int(r.Usage.CompletionTokens),
			Duration: time.Since(start), Host: h.url, Fingerprint: r.SystemFingerprint}
		for _, lp := range ch.Logprobs.Content {
			t := TokenLogprob{Token: lp.Token, Logprob: lp.Logprob}
			for _, top := range lp.TopLogprobs {
				t.Top = append(t.Top, TokenLogprob{Token: top.Token, Logprob: top.Logprob})
			}
			out.Logprobs = append(out.Logprobs, t)
		}
		return out.OutputTokens, nil
	})
	if err != nil {
		return nil, fmt.Errorf("chat with %s: %w", req.Model, err)
	}
	c.count(out)
	return out, nil
}

// generateOpenAI is [Client.Generate] against an OpenAI-compatible server.
// A raw generate is a plain completion (POST /completions), which takes
// the prompt as is on vLLM, SGLang and llama.cpp server; a templated one
// is a chat with one user turn, since the server applies the template.
func (c *Client) generateOpenAI(ctx context.Context, req *GenerateRequest) (*Response, error) {
	if !req.Raw {
		return c.chatOpenAI(ctx, &ChatRequest{Model: req.Model, Messages: []Message{{Role: "user", Content: req.Prompt}},
			Schema: req.Schema, Options: req.Options, Seed: req.Seed, Logprobs: req.Logprobs, TopLogprobs: req.TopLogprobs, Think: req.Think})
	}
	if len(req.Schema) > 0 {
		return nil, fmt.Errorf("generate with %s: a schema on a raw completion is not available through the OpenAI-compatible API", req.Model)
	}
	s := samplingOf(req.Options, req.Seed)
	p := openai.CompletionNewParams{
		Model: openai.CompletionNewParamsModel(req.Model), Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(req.Prompt)},
		Temperature: s.temperature, TopP: s.topP, PresencePenalty: s.presence, FrequencyPenalty: s.frequency,
		MaxTokens: s.maxTokens, Seed: s.seed,
	}
	if len(s.stop) > 0 {
		p.Stop = openai.CompletionNewParamsStopUnion{OfStringArray: s.stop}
	}
	if req.Logprobs {
		p.Logprobs = openai.Int(int64(max(req.TopLogprobs, 1)))
	}
	if s.extra != nil {
		p.SetExtraFields(s.extra)
	}
	var out *Response
	err := c.runOpenAI(ctx, req.Model, func(ctx context.Context, h *hostState) (int, error) {
		start := time.Now()
		r, err := h.oai.Completions.New(ctx, p)
		if err != nil {
			var se api.StatusError
			if errors.As(openAIError(err, c.secret), &se) && (se.StatusCode == http.StatusNotFound || se.StatusCode == http.StatusMethodNotAllowed) &&
				!strings.Contains(strings.ToLower(se.ErrorMessage), "model") {
				return 0, &NoRawCompletionError{BaseURL: h.url}
			}
			return 0, err
		}
		if len(r.Choices) == 0 {
			return 0, fmt.Errorf("completion reply from %s has no choices: %w", h.url, errBadReply)
		}
		ch := r.Choices[0]
		out = &Response{Content: ch.Text, Model: r.Model, DoneReason: openAIDoneReason(string(ch.FinishReason)),
			PromptTokens: int(r.Usage.PromptTokens), OutputTokens: int(r.Usage.CompletionTokens),
			Duration: time.Since(start), Host: h.url, Fingerprint: r.SystemFingerprint}
		for i, tok := range ch.Logprobs.Tokens {
			t := TokenLogprob{Token: tok}
			if i < len(ch.Logprobs.TokenLogprobs) {
				t.Logprob = ch.Logprobs.TokenLogprobs[i]
			}
			if req.TopLogprobs > 0 && i < len(ch.Logprobs.TopLogprobs) {
				for tt, lp := range ch.Logprobs.TopLogprobs[i] {
					t.Top = append(t.Top, TokenLogprob{Token: tt, Logprob: lp})
				}
				sort.Slice(t.Top, func(a, b int) bool { return t.Top[a].Logprob > t.Top[b].Logprob })
			}
			out.Logprobs = append(out.Logprobs, t)
		}
		return out.OutputTokens, nil
	})
	if err != nil {
		return nil, fmt.Errorf("generate with %s: %w", req.Model, err)
	}
	c.count(out)
	return out, nil
}

// NoRawCompletionError says an OpenAI-compatible server has no plain
// completions endpoint, which raw generation (Magpie) needs.
type NoRawCompletionError struct{ BaseURL string }

func (e *NoRawCompletionError) Error() string {
	return fmt.Sprintf("the server at %s has no /completions endpoint: raw generation (Magpie) needs plain completions; use a server that has them (vLLM, SGLang, llama.cpp server) or --backend ollama", e.BaseURL)
}

// embedOpenAI is [Client.Embed] against an OpenAI-compatible server: POST
// /embeddings in batches of [Client.EmbedBatch].
func (c *Client) embedOpenAI(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	return c.embedInBatches(model, inputs, func(part []string) ([][]float32, error) {
		var vecs [][]float32
		err := c.runOpenAI(ctx, model, func(ctx context.Context, h *hostState) (int, error) {
			r, err := h.oai.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: model,
				Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: part},
				EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat})
			if err != nil {
				return 0, err
			}
			data := r.Data
			sort.SliceStable(data, func(i, j int) bool { return data[i].Index < data[j].Index })
			vecs = make([][]float32, len(data))
			for i, d := range data {
				v := make([]float32, len(d.Embedding))
				for j, x := range d.Embedding {
					v[j] = float32(x)
				}
				vecs[i] = v
			}
			c.stats.PromptTokens.Add(r.Usage.PromptTokens)
			return int(r.Usage.PromptTokens), nil
		})
		return vecs, err
	})
}

// runOpenAI runs one request through the scheduler, turning the library's
// errors into the ones the scheduler classifies (status codes, model not
// served) with the API key scrubbed.
func (c *Client) runOpenAI(ctx context.Context, model string, fn attemptFunc) error {
	err := c.run(ctx, model, func(ctx context.Context, h *hostState) (int, error) {
		n, err := fn(ctx, h)
		return n, openAIError(err, c.secret)
	})
	var mm *ModelMissingError
	if errors.As(err, &mm) {
		mm.Backend = BackendOpenAI
	}
	return err
}

// openAIError turns an API error into an [api.StatusError] (so 429 and 5xx
// retry, other 4xx do not) whose message never holds the key: a refused
// key gets a fixed message, since servers echo parts of it.
func openAIError(err error, secret string) error {
	if err == nil {
		return nil
	}
	var ae *openai.Error
	if !errors.As(err, &ae) {
		if len(secret) >= 4 && strings.Contains(err.Error(), secret) {
			return errors.New(scrub(err.Error(), secret))
		}
		return err // keeps its type: the scheduler classifies it
	}
	msg := ae.Message
	if msg == "" {
		msg = errorBody(ae)
	}
	if ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden {
		msg = "the server refused the request's credentials: check the key in the variable named by --api-key-env"
	}
	msg = scrub(msg, secret)
	if strings.Contains(strings.ToLower(msg), "does not exist") && strings.Contains(strings.ToLower(msg), "model") {
		msg += " (model not found)"
	}
	return api.StatusError{StatusCode: ae.StatusCode, Status: fmt.Sprintf("%d %s", ae.StatusCode, http.StatusText(ae.StatusCode)), ErrorMessage: msg}
}

// errorBody is the message of an error reply not in OpenAI's shape
// ({"error": {"message": …}}): vLLM's {"message": …}, FastAPI's
// {"detail": …}, or the start of the body.
func errorBody(ae *openai.Error) string {
	if ae.Response == nil || ae.Response.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(ae.Response.Body, 4096))
	var m struct {
		Message string `json:"message"`
		Detail  any    `json:"detail"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(b, &m) == nil {
		switch {
		case m.Message != "":
			return m.Message
		case m.Error != "":
			return m.Error
		case m.Detail != nil:
			return fmt.Sprint(m.Detail)
		}
	}
	return shorten(strings.TrimSpace(string(b)), 200)
}

// scrub removes the secret from s.
func scrub(s, secret string) string {
	if len(secret) < 4 {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

func openAIDoneReason(r string) string {
	switch r {
	case "stop", "length":
		return r
	case "":
		return "incomplete"
	}
	return r
}

// listOpenAI lists the models a server serves (GET /models).
func (c *Client) listOpenAI(ctx context.Context, h *hostState) ([]ModelInfo, error) {
	page, err := h.oai.Models.List(ctx)
	if err != nil {
		err = openAIError(err, c.secret)
		if isStatus(err) {
			return nil, fmt.Errorf("list models at %s: %w", h.url, err)
		}
		return nil, &NoServerError{Host: h.url, Err: err, Backend: BackendOpenAI}
	}
	out := make([]ModelInfo, 0, len(page.Data))
	for _, m := range page.Data {
		out = append(out, openAIModelInfo(h.url, m.ID, m.OwnedBy, ""))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// openAIModelInfo is the provenance of a model behind an OpenAI-compatible
// API, which reports no content digest: its identity is the model id the
// server serves it under, plus the system_fingerprint its replies carry,
// if any. Digest says so in its prefix, so no one takes it for a hash.
func openAIModelInfo(base, id, owner, fingerprint string) ModelInfo {
	d := "openai-model-id:" + id
	if fingerprint != "" {
		d += "+system_fingerprint:" + fingerprint
	}
	return ModelInfo{Name: id, Digest: d, Family: owner, Backend: BackendOpenAI, BaseURL: base}
}

// inspectOpenAI finds name among the served models. Ollama's /v1 lists
// names with their tag, so a bare name also matches name:latest.
func (c *Client) inspectOpenAI(ctx context.Context, h *hostState, name string) (ModelInfo, error) {
	models, err := c.listOpenAI(ctx, h)
	if err != nil {
		return ModelInfo{}, err
	}
	for _, want := range []string{name, CanonicalName(name)} {
		for _, m := range models {
			if m.Name == want {
				return m, nil
			}
		}
	}
	return ModelInfo{}, &ModelMissingError{Model: name, Host: h.url, Backend: BackendOpenAI}
}

// fingerprint asks for one token to learn the server's system_fingerprint
// for a model; "" when it reports none or the model does not chat (an
// embedding model).
func (c *Client) fingerprint(ctx context.Context, model string) string {
	r, err := c.chatOpenAI(ctx, &ChatRequest{Model: model, Messages: []Message{{Role: "user", Content: "a"}},
		Options: map[string]any{"num_predict": 1, "temperature": 0}})
	if err != nil {
		return ""
	}
	return r.Fingerprint
}

// probeOpenAI is what can be known of an OpenAI-compatible server's
// features. The API has no version; Ollama's /v1 is recognized by
// /api/version beside it, since its /completions applies the chat
// template and so is not raw.
func probeOpenAI(ctx context.Context, c *Client, h *hostState, model string) (Features, error) {
	f := Features{Version: "openai-compatible", StructuredOutput: true, EmbedAPI: true}
	f.Notes = append(f.Notes,
		"structured output: assumed (response_format json_schema; replies are validated either way)",
		"embed API: assumed (/embeddings)",
		"thinking: missing (not part of the OpenAI-compatible API)")
	root := strings.TrimSuffix(h.url, "/v1")
	isOllama := false
	if root != h.url {
		if v, _, err := versionOnce(ctx, h.http, root); err == nil && v != "" {
			isOllama = true
			f.Version = "openai-compatible (Ollama " + v + ")"
		}
	}
	if model == "" {
		f.Notes = append(f.Notes, "logprobs: missing (needs a model to probe)")
		if isOllama {
			f.Notes = append(f.Notes, "raw mode: missing (Ollama's /v1/completions applies the chat template; use --backend ollama)")
		} else {
			f.Raw = true
			f.Notes = append(f.Notes, "raw mode: assumed (/completions; needs a model to probe)")
		}
		return f, nil
	}
	r, err := c.chatOpenAI(ctx, &ChatRequest{Model: model, Messages: []Message{{Role: "user", Content: "a"}},
		Options: map[string]any{"num_predict": 1, "temperature": 0}, Logprobs: true, TopLogprobs: 1})
	if err != nil {
		return Features{}, fmt.Errorf("probe %s on %s: %w", model, h.url, err)
	}
	f.Logprobs = len(r.Logprobs) > 0
	state := map[bool]string{true: "present", false: "missing"}
	f.Notes = append(f.Notes, fmt.Sprintf("logprobs: %s (a 1-token chat with %s asking for logprobs got %d)", state[f.Logprobs], model, len(r.Logprobs)))
	if isOllama {
		f.Notes = append(f.Notes, "raw mode: missing (Ollama's /v1/completions applies the chat template; use --backend ollama)")
		return f, nil
	}
	_, err = c.generateOpenAI(ctx, &GenerateRequest{Model: model, Prompt: "a", Raw: true, Options: map[string]any{"num_predict": 1, "temperature": 0}})
	var nr *NoRawCompletionError
	switch {
	case err == nil:
		f.Raw = true
		f.Notes = append(f.Notes, fmt.Sprintf("raw mode: present (a 1-token completion with %s answered)", model))
	case errors.As(err, &nr):
		f.Notes = append(f.Notes, "raw mode: missing (no /completions endpoint)")
	default:
		return Features{}, fmt.Errorf("probe %s on %s: %w", model, h.url, err)
	}
	return f, nil
}

// ErrNoPull says the OpenAI-compatible backend cannot pull models.
var ErrNoPull = errors.New("the openai backend never pulls models: load the model on the server (it lists what it serves at GET /models)")
