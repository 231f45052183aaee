package local

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"
)

// DefaultHost is where Ollama listens unless OLLAMA_HOST says otherwise.
const DefaultHost = "http://127.0.0.1:11434"

// hostState is one server and its share of the concurrency: an Ollama
// host (api set) or an OpenAI-compatible base URL (oai set).
type hostState struct {
	url  string
	api  *api.Client
	oai  *openai.Client
	http *http.Client

	// Guarded by scheduler.mu.
	limit     int
	inflight  int
	downUntil time.Time
	tuner     *autoTuner

	// features caches what probing found, per model ("" = no model).
	featMu   sync.Mutex
	features map[string]Features
}

// Client talks to one or more Ollama servers. Requests are spread over the
// hosts by a scheduler with bounded, continuous concurrency per host and
// retries for transient failures. Client implements [Model].
type Client struct {
	hosts []*hostState
	sched *scheduler
	stats Stats

	// EmbedBatch is how many inputs go into one /api/embed request.
	EmbedBatch int

	loadMu sync.Mutex
	loaded map[string]string // host → the model its last load was for

	// backend is "" (Ollama) or BackendOpenAI; secret is the OpenAI API
	// key, kept only to scrub it from errors.
	backend string
	secret  string
}

var _ Model = (*Client)(nil)

// Stats counts what a [Client] did. Read it with [Client.Stats].
type Stats struct {
	Requests     atomic.Int64
	Retries      atomic.Int64
	Failures     atomic.Int64
	PromptTokens atomic.Int64
	OutputTokens atomic.Int64
	// Loads counts replies whose load_duration says the server (re)loaded
	// the model for them: a run that makes many is swapping models.
	Loads        atomic.Int64
	InFlight     atomic.Int64
	PeakInFlight atomic.Int64
}

func (s *Stats) addRetry()   { s.Retries.Add(1) }
func (s *Stats) addFailure() { s.Failures.Add(1) }

func (s *Stats) begin() {
	n := s.InFlight.Add(1)
	for {
		p := s.PeakInFlight.Load()
		if n <= p || s.PeakInFlight.CompareAndSwap(p, n) {
			return
		}
	}
}

// StatsSnapshot is a plain copy of [Stats].
type StatsSnapshot struct {
	Requests, Retries, Failures, PromptTokens, OutputTokens, PeakInFlight int64
	// Loads is how many replies came after a model load (see [Stats.Loads]).
	Loads int64
}

// ParseHosts turns "HOST[,HOST…]" into base URLs. An empty list means
// $OLLAMA_HOST, then [DefaultHost]. A host without a port gets Ollama's
// 11434 unless a scheme was given.
func ParseHosts(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		list = os.Getenv("OLLAMA_HOST")
	}
	if strings.TrimSpace(list) == "" {
		return []string{DefaultHost}, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := normalizeHost(raw)
		if err != nil {
			return nil, err
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no Ollama host in %q", list)
	}
	return out, nil
}

func normalizeHost(raw string) (string, error) {
	hadScheme := strings.Contains(raw, "://")
	if !hadScheme {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("bad Ollama host %q: want host:port or http://host:port", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("bad Ollama host %q: scheme must be http or https", raw)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	if port == "" && !hadScheme {
		port = "11434"
	}
	if port != "" {
		u.Host = net.JoinHostPort(host, port)
	} else {
		u.Host = host
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// NewClient makes a client for the given base URLs (see [ParseHosts]).
// httpClient may be nil; it must not set a timeout (deadlines come from
// the scheduler and ctx).
func NewClient(hosts []string, opts SchedulerOptions, httpClient *http.Client) (*Client, error) {
	if len(hosts) == 0 {
		return nil, fmt.Errorf("no Ollama host given")
	}
	if httpClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// Keep enough idle connections for the highest concurrency.
		tr.MaxIdleConnsPerHost = 64
		httpClient = &http.Client{Transport: tr}
	}
	c := &Client{EmbedBatch: 64}
	for _, h := range hosts {
		u, err := url.Parse(h)
		if err != nil {
			return nil, fmt.Errorf("bad Ollama host %q: %w", h, err)
		}
		c.hosts = append(c.hosts, &hostState{url: h, api: api.NewClient(u, httpClient), http: httpClient})
	}
	c.sched = newScheduler(c.hosts, opts)
	return c, nil
}

// Hosts lists the base URLs the client uses.
func (c *Client) Hosts() []string {
	out := make([]string, len(c.hosts))
	for i, h := range c.hosts {
		out[i] = h.url
	}
	return out
}

// Capacity is the most requests that can be in flight at once over all
// hosts; run that many workers to keep every slot busy.
func (c *Client) Capacity() int { return c.sched.capacity() }

// Concurrency reports each host's current limit (auto concurrency moves it).
func (c *Client) Concurrency() map[string]int {
	c.sched.mu.Lock()
	defer c.sched.mu.Unlock()
	out := map[string]int{}
	for _, h := range c.hosts {
		out[h.url] = h.limit
	}
	return out
}

// Stats returns a snapshot of the request counters.
func (c *Client) Stats() StatsSnapshot {
	return StatsSnapshot{
		Requests:     c.stats.Requests.Load(),
		Retries:      c.stats.Retries.Load(),
		Failures:     c.stats.Failures.Load(),
		PromptTokens: c.stats.PromptTokens.Load(),
		OutputTokens: c.stats.OutputTokens.Load(),
		PeakInFlight: c.stats.PeakInFlight.Load(),
		Loads:        c.stats.Loads.Load(),
	}
}

func buildOptions(opts map[string]any, seed *int64) map[string]any {
	out := make(map[string]any, len(opts)+1)
	for k, v := range opts {
		out[k] = v
	}
	if seed != nil {
		out["seed"] = *seed
	}
	return out
}

// checkContext refuses a prompt that clearly cannot fit num_ctx. Ollama
// would silently cut it; a cut prompt makes garbage data. Only runs when
// num_ctx is set explicitly (synthkit always sets it), and uses a cautious
// 4 bytes per token so it never refuses a prompt that fits.
func checkContext(model string, opts map[string]any, promptBytes int) error {
	n, ok := opts["num_ctx"]
	if !ok {
		return nil
	}
	var numCtx int
	switch v := n.(type) {
	case int:
		numCtx = v
	case int64:
		numCtx = int(v)
	case float64:
		numCtx = int(v)
	}
	if numCtx > 0 && promptBytes/4 > numCtx {
		return &ContextOverflowError{Model: model, PromptTokens: promptBytes / 4, NumCtx: numCtx}
	}
	return nil
}

func formatOf(schema json.RawMessage) json.RawMessage {
	if len(schema) == 0 {
		return nil
	}
	return schema
}

// Chat sends one chat request (not streamed) through the scheduler.
func (c *Client) Chat(ctx context.Context, req *ChatRequest) (*Response, error) {
	if c.isOpenAI() {
		return c.chatOpenAI(ctx, req)
	}
	size := 0
	msgs := make([]api.Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = api.Message{Role: m.Role, Content: m.Content}
		size += len(m.Content)
	}
	if err := checkContext(req.Model, req.Options, size); err != nil {
		return nil, err
	}
	think, err := thinkValue(req.Think)
	if err != nil {
		return nil, err
	}
	stream := false
	areq := &api.ChatRequest{
		Model:       req.Model,
		Messages:    msgs,
		Stream:      &stream,
		Format:      formatOf(req.Schema),
		Options:     buildOptions(req.Options, req.Seed),
		Think:       think,
		Logprobs:    req.Logprobs,
		TopLogprobs: req.TopLogprobs,
	}
	out, err := c.complete(ctx, req.Model, "/api/chat", areq)
	if err != nil {
		return nil, fmt.Errorf("chat with %s: %w", req.Model, err)
	}
	return out, nil
}

// Generate sends one generate request (not streamed) through the scheduler.
func (c *Client) Generate(ctx context.Context, req *GenerateRequest) (*Response, error) {
	if c.isOpenAI() {
		return c.generateOpenAI(ctx, req)
	}
	if err := checkContext(req.Model, req.Options, len(req.Prompt)); err != nil {
		return nil, err
	}
	think, err := thinkValue(req.Think)
	if err != nil {
		return nil, err
	}
	stream := false
	areq := &api.GenerateRequest{
		Model:       req.Model,
		Prompt:      req.Prompt,
		Raw:         req.Raw,
		Stream:      &stream,
		Format:      formatOf(req.Schema),
		Options:     buildOptions(req.Options, req.Seed),
		Think:       think,
		Logprobs:    req.Logprobs,
		TopLogprobs: req.TopLogprobs,
	}
	out, err := c.complete(ctx, req.Model, "/api/generate", areq)
	if err != nil {
		return nil, fmt.Errorf("generate with %s: %w", req.Model, err)
	}
	return out, nil
}

// completionReply is a non-streamed reply of /api/chat or /api/generate:
// chat puts the text in message.content, generate in response.
type completionReply struct {
	Model    string `json:"model"`
	Response string `json:"response"`
	Thinking string `json:"thinking"`
	Message  struct {
		Content  string `json:"content"`
		Thinking string `json:"thinking"`
	} `json:"message"`
	Done       bool          `json:"done"`
	DoneReason string        `json:"done_reason"`
	Logprobs   []api.Logprob `json:"logprobs"`
	api.Metrics
}

// thinkValue turns [ChatRequest.Think] into the api's bool-or-level value.
func thinkValue(s string) (*api.ThinkValue, error) {
	switch s {
	case "":
		return nil, nil
	case "true", "false":
		return &api.ThinkValue{Value: s == "true"}, nil
	case "low", "medium", "high":
		return &api.ThinkValue{Value: s}, nil
	}
	return nil, fmt.Errorf("bad think value %q: want true, false, low, medium or high", s)
}

func logprobsOf(in []api.Logprob) []TokenLogprob {
	if len(in) == 0 {
		return nil
	}
	out := make([]TokenLogprob, len(in))
	for i, lp := range in {
		out[i] = TokenLogprob{Token: lp.Token, Logprob: lp.Logprob}
		for _, top := range lp.TopLogprobs {
			out[i].Top = append(out[i].Top, TokenLogprob{Token: top.Token, Logprob: top.Logprob})
		}
	}
	return out
}

// complete runs one chat or generate request through the scheduler.
func (c *Client) complete(ctx context.Context, model, path string, areq any) (*Response, error) {
	var out *Response
	err := c.run(ctx, model, func(ctx context.Context, h *hostState) (int, error) {
		start := time.Now()
		var r completionReply
		if err := h.post(ctx, path, areq, &r); err != nil {
			return 0, err
		}
		out = &Response{Content: r.Response + r.Message.Content, Model: r.Model, DoneReason: doneReason(r.Done, r.DoneReason),
			PromptTokens: r.PromptEvalCount, OutputTokens: r.EvalCount, Duration: time.Since(start), Host: h.url,
			ComputeDuration: r.PromptEvalDuration + r.EvalDuration, LoadDuration: r.LoadDuration,
			Thinking: r.Thinking + r.Message.Thinking, Logprobs: logprobsOf(r.Logprobs)}
		return r.EvalCount, nil
	})
	if err != nil {
		return nil, err
	}
	c.count(out)
	return out, nil
}

// Embed embeds inputs in batches of [Client.EmbedBatch]; every vector is
// checked for the common size and unit length (re-normalized if a server
// returns raw vectors).
func (c *Client) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	if c.isOpenAI() {
		return c.embedOpenAI(ctx, model, inputs)
	}
	return c.embedInBatches(model, inputs, func(part []string) ([][]float32, error) {
		var vecs [][]float32
		err := c.run(ctx, model, func(ctx context.Context, h *hostState) (int, error) {
			r, err := h.api.Embed(ctx, &api.EmbedRequest{Model: model, Input: part})
			if err != nil {
				return 0, err
			}
			vecs = r.Embeddings
			c.stats.PromptTokens.Add(int64(r.PromptEvalCount))
			return r.PromptEvalCount, nil
		})
		return vecs, err
	})
}

// embedInBatches splits inputs into batches of [Client.EmbedBatch], embeds
// each with embed (one backend's request), and checks and gathers the
// vectors.
func (c *Client) embedInBatches(model string, inputs []string, embed func(part []string) ([][]float32, error)) ([][]float32, error) {
	batch := c.EmbedBatch
	if batch <= 0 {
		batch = 64
	}
	out := make([][]float32, 0, len(inputs))
	for start := 0; start < len(inputs); start += batch {
		part := inputs[start:min(start+batch, len(inputs))]
		vecs, err := embed(part)
		if err != nil {
			return nil, fmt.Errorf("embed %d texts with %s: %w", len(part), model, err)
		}
		if out, err = appendVectors(out, vecs, len(part), start, model); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// appendVectors checks a batch of embeddings (one per text, unit length
// after normalizing, one size for all) and appends it to out; start is the
// batch's first text, for messages.
func appendVectors(out, vecs [][]float32, texts, start int, model string) ([][]float32, error) {
	if len(vecs) != texts {
		return nil, fmt.Errorf("embed with %s: server returned %d vectors for %d texts", model, len(vecs), texts)
	}
	for i, v := range vecs {
		if err := normalize(v); err != nil {
			return nil, fmt.Errorf("embed text %d with %s: %w", start+i, model, err)
		}
		if len(out) > 0 && len(v) != len(out[0]) {
			return nil, fmt.Errorf("embed with %s: vector sizes differ (%d and %d)", model, len(out[0]), len(v))
		}
		out = append(out, v)
	}
	return out, nil
}

// normalize scales v to unit length in place.
func normalize(v []float32) error {
	if len(v) == 0 {
		return fmt.Errorf("empty embedding")
	}
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 || math.IsNaN(sum) || math.IsInf(sum, 0) {
		return fmt.Errorf("embedding has no direction (norm %v)", math.Sqrt(sum))
	}
	if math.Abs(sum-1) < 1e-5 {
		return nil
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
	return nil
}

// doneReason marks a stream that ended without done:true as incomplete.
func doneReason(done bool, reason string) string {
	if !done {
		return "incomplete"
	}
	return reason
}

func (c *Client) run(ctx context.Context, model string, fn attemptFunc) error {
	c.stats.Requests.Add(1)
	return c.sched.do(ctx, model, &c.stats, func(ctx context.Context, h *hostState) (int, error) {
		c.stats.begin()
		defer c.stats.InFlight.Add(-1)
		return fn(ctx, h)
	})
}

// LoadThreshold is the load_duration above which a reply waited for a
// model load: an already-loaded model reports well under a millisecond.
const LoadThreshold = 20 * time.Millisecond

func (c *Client) count(r *Response) {
	if r.LoadDuration > LoadThreshold {
		// Requests that arrive together all wait for the same load; it
		// counts once, when the host's loaded model changes.
		c.loadMu.Lock()
		if c.loaded == nil {
			c.loaded = map[string]string{}
		}
		if c.loaded[r.Host] != r.Model {
			c.loaded[r.Host] = r.Model
			c.stats.Loads.Add(1)
		}
		c.loadMu.Unlock()
	}
	c.stats.PromptTokens.Add(int64(r.PromptTokens))
	c.stats.OutputTokens.Add(int64(r.OutputTokens))
}
