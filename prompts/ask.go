package prompts

import (
	"context"
	"strings"

	"synthkit/export"
	"synthkit/local"
)

// EmptyRetries is how many times an empty answer is asked again, with a
// new seed, before the unit is rejected as empty: small models sometimes
// stop at once, and a second sample usually answers.
const EmptyRetries = 2

// systemMessages returns the system turn a conversation with model starts
// with: the given system prompt, else the model's Modelfile SYSTEM made
// explicit, else none. Ollama's /api/chat silently adds the Modelfile
// SYSTEM to a request without a system message while raw generate does
// not, so every request says it, and every stored row holds what the
// model saw.
func (e *Env) systemMessages(model, system string) []local.Message {
	if system == "" {
		system = e.modelInfo(model).System
	}
	if system == "" {
		return nil
	}
	return []local.Message{{Role: "system", Content: system}}
}

// instruct sends one of the method's own instruction prompts (rewrite,
// judge, label…) as a single user turn and decodes the structured reply
// into out. The model's Modelfile SYSTEM, if any, is sent explicitly.
func (e *Env) instruct(ctx context.Context, model, prompt string, schema *local.Schema, own map[string]any, seed int64, out any) error {
	msgs := append(e.systemMessages(model, ""), local.Message{Role: "user", Content: prompt})
	_, err := local.ChatStructured(ctx, e.model(), &local.ChatRequest{Model: model, Messages: msgs,
		Options: e.options(own), Seed: &seed}, schema, out, e.Retries)
	return err
}

// answer asks model to reply to a conversation and returns the trimmed
// answer. An empty answer is asked again with a new seed (EmptyRetries
// times) and then rejected as [ReasonEmptyResponse]; an answer cut off at
// num_predict is rejected as [ReasonTruncated] (the response is returned
// too, for callers that retry with a larger budget).
func (e *Env) answer(ctx context.Context, model string, msgs []local.Message, own map[string]any, seed int64) (string, *local.Response, error) {
	var resp *local.Response
	for attempt := 0; attempt <= EmptyRetries; attempt++ {
		s := seed + int64(attempt)*104729
		var err error
		resp, err = e.model().Chat(ctx, &local.ChatRequest{Model: model, Messages: msgs, Options: e.options(own), Seed: &s})
		if err != nil {
			return "", nil, err
		}
		text := strings.TrimSpace(resp.Content)
		switch {
		case text == "" && resp.Truncated():
			// Cut off before any visible text (a model that thinks first).
			return "", resp, reject(ReasonTruncated)
		case text == "":
			continue
		case resp.Truncated():
			return text, resp, reject(ReasonTruncated)
		}
		return text, resp, nil
	}
	return "", resp, reject(ReasonEmptyResponse)
}

// toExport converts chat messages to the row format.
func toExport(msgs []local.Message) []export.Message {
	out := make([]export.Message, len(msgs))
	for i, m := range msgs {
		out[i] = export.Message{Role: m.Role, Content: m.Content}
	}
	return out
}
