package local

import (
	"context"
	"encoding/json"
	"time"
)

// Message is one chat turn.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is the request passed to [Model.Chat].
type ChatRequest struct {
	// Model is the model name as Ollama knows it, e.g. "qwen2.5:0.5b".
	Model    string
	Messages []Message
	// Schema, when set, is a JSON Schema object the reply must satisfy; the
	// server turns it into a grammar. Use [ChatStructured] to also validate
	// the reply and retry with a new seed when it does not parse.
	Schema json.RawMessage
	// Options are Ollama runtime options (temperature, top_p, num_predict,
	// stop, …). Seed is set separately so retries can change it.
	Options map[string]any
	// Seed makes sampling reproducible (best effort: parallel requests on one
	// server are not bit-exact). Nil leaves the server's default.
	Seed *int64
	// Logprobs asks for the log-probability of every output token. Servers
	// without [Features.Logprobs] ignore it and the reply carries none.
	Logprobs bool
	// TopLogprobs is how many of the most likely tokens (0–20) to return at
	// each position; it needs Logprobs.
	TopLogprobs int
	// Think is for thinking models: "" leaves the model's default, "true"
	// or "false" turn thinking on or off, "low", "medium" or "high" set its
	// effort. Servers without [Features.Thinking] ignore it.
	Think string
}

// GenerateRequest is the request passed to [Model.Generate].
type GenerateRequest struct {
	Model  string
	Prompt string
	// Raw sends Prompt as is, without the model's chat template (Magpie).
	Raw     bool
	Schema  json.RawMessage
	Options map[string]any
	Seed    *int64
	// Logprobs, TopLogprobs and Think are as in [ChatRequest].
	Logprobs    bool
	TopLogprobs int
	Think       string
}

// Response is what [Model.Chat] and [Model.Generate] return.
type Response struct {
	// Content is the generated text.
	Content string
	// Model is the model that answered, as the server reported it.
	Model string
	// DoneReason is "stop" when the model ended the text itself, "length"
	// when it hit num_predict (usually a truncated answer), and "incomplete"
	// when the server ended the stream without saying it was done (Ollama
	// 0.6.5 does this after a long run of one repeated token).
	DoneReason   string
	PromptTokens int
	OutputTokens int
	// Duration is the wall time of the request as the client saw it.
	Duration time.Duration
	// ComputeDuration is the server's prompt evaluation plus generation
	// time for this request alone (no queueing, no model load).
	ComputeDuration time.Duration
	// LoadDuration is the server's time spent loading the model for this
	// request; long ones mean the server swapped models.
	LoadDuration time.Duration
	// Host is the server that answered (empty for non-HTTP models).
	Host string
	// Thinking is the model's reasoning, returned apart from Content when
	// the request set Think and the model thinks.
	Thinking string
	// Logprobs has one entry per output token when the request asked for
	// them and the server has them (see [Features.Logprobs]); nil otherwise.
	Logprobs []TokenLogprob
	// Fingerprint is the system_fingerprint an OpenAI-compatible server
	// reported for this reply ("" from Ollama's native API).
	Fingerprint string
}

// TokenLogprob is one output token and its log-probability.
type TokenLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	// Top holds the most likely tokens at this position, when the request
	// set TopLogprobs.
	Top []TokenLogprob `json:"top_logprobs,omitempty"`
}

// Truncated reports whether generation stopped at the token limit.
func (r *Response) Truncated() bool { return r.DoneReason == "length" || r.DoneReason == "incomplete" }

// Model is what generation methods need from a language model. [Client]
// implements it against Ollama; tests implement it with scripted replies.
type Model interface {
	Chat(ctx context.Context, req *ChatRequest) (*Response, error)
	Generate(ctx context.Context, req *GenerateRequest) (*Response, error)
	// Embed returns one unit-length vector per input.
	Embed(ctx context.Context, model string, inputs []string) ([][]float32, error)
}

// Int64 returns a pointer to v, for optional fields such as Seed.
func Int64(v int64) *int64 { return &v }
