package prompts

import (
	"context"
	"fmt"
	"strings"

	"synthkit/export"
	"synthkit/local"
)

// RespondOptions configures [Respond].
type RespondOptions struct {
	// Models each answer every prompt (one row per prompt and model).
	Models []string
	// Prompts are the user messages to answer.
	Prompts []string
	// System is an optional system prompt.
	System string
	// Count stops at this many accepted rows (0: answer everything).
	Count int
}

func respondUnit(prompt, model int) string { return fmt.Sprintf("respond-%06d-m%d", prompt, model) }

// Respond answers every prompt with every model and writes SFT rows.
// Empty answers and answers cut off at num_predict are rejected.
func Respond(ctx context.Context, env *Env, o RespondOptions) error {
	if len(o.Models) == 0 || len(o.Prompts) == 0 {
		return fmt.Errorf("respond needs at least one model and one prompt")
	}
	total := len(o.Prompts) * len(o.Models)
	var q *quota
	if o.Count > 0 {
		q = &quota{target: int64(o.Count), run: env.Run}
	}
	i := 0
	next := func() (int, bool) {
		if q != nil && !q.claim(ctx) {
			return 0, false
		}
		for i < total {
			u := i
			i++
			if !env.Run.Done(respondUnit(u/len(o.Models), u%len(o.Models))) {
				return u, true
			}
		}
		if q != nil {
			q.release()
		}
		return 0, false
	}
	return env.runWorkers(ctx, next, func(ctx context.Context, u int) error {
		if q != nil {
			defer q.release()
		}
		p, mi := u/len(o.Models), u%len(o.Models)
		return respondOne(ctx, env, o.Models[mi], o.System, o.Prompts[p], respondUnit(p, mi), map[string]any{"prompt_index": p})
	})
}

// checkReply trims a model's reply and names why it is unusable, if it
// is: empty, or cut off at num_predict. what is "response" or "query".
func checkReply(r *local.Response, what string) (string, string) {
	text := strings.TrimSpace(r.Content)
	switch {
	case text == "":
		return text, "empty_" + what
	case r.Truncated():
		return text, what + "_truncated"
	}
	return text, ""
}

// respondOne answers one prompt and journals the row or the rejection.
func respondOne(ctx context.Context, env *Env, model, system, prompt, unit string, meta map[string]any) error {
	seed := UnitSeed(env.Seed, unit)
	prov := export.Provenance{Method: "respond", Model: model, Seed: &seed}
	var msgs []local.Message
	if system != "" {
		msgs = append(msgs, local.Message{Role: "system", Content: system})
	}
	msgs = append(msgs, local.Message{Role: "user", Content: prompt})
	resp, err := env.model().Chat(ctx, &local.ChatRequest{Model: model, Messages: msgs, Options: env.options(nil), Seed: &seed})
	if err != nil {
		if reason, soft := isSoftFailure(err); soft {
			return env.reject(unit, reason, prov)
		}
		return err
	}
	answer, reason := checkReply(resp, "response")
	if reason != "" {
		return env.reject(unit, reason, prov)
	}
	row := export.SFT{Metadata: meta}
	for _, m := range msgs {
		row.Messages = append(row.Messages, export.Message{Role: m.Role, Content: m.Content})
	}
	row.Messages = append(row.Messages, export.Message{Role: "assistant", Content: answer})
	return env.accept(unit, prov, row)
}
