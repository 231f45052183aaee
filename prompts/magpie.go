package prompts

import (
	"context"
	"fmt"
	"strings"

	"synthkit/export"
	"synthkit/local"
)

// MagpieOptions configures [Magpie].
type MagpieOptions struct {
	Model string
	// Template is the model's Ollama chat template (from /api/show).
	Template string
	// System is an optional system prompt placed in the prefix.
	System string
	Count  int
	// Turns is the number of user/assistant exchanges per conversation.
	Turns int
}

func magpieUnit(i int) string { return fmt.Sprintf("magpie-%06d", i) }

// Magpie makes conversations from nothing but the model's chat template:
// raw generation from the prefix that opens a user turn makes an aligned
// model write a plausible user query, which the model then answers.
func Magpie(ctx context.Context, env *Env, o MagpieOptions) error {
	if o.Turns <= 0 {
		o.Turns = 1
	}
	if _, err := QueryPrefix(o.Template, o.System, nil); err != nil {
		return fmt.Errorf("magpie with %s: %w", o.Model, err)
	}
	ct, err := ParseChatTemplate(o.Template)
	if err != nil {
		return fmt.Errorf("magpie with %s: %w", o.Model, err)
	}
	// In raw mode the model's own stop tokens may not end the user turn;
	// the template's end-of-turn marker does.
	queryStop := ct.QueryStop()
	q := &quota{target: int64(o.Count), run: env.Run}
	i := 0
	next := func() (int, bool) {
		if !q.claim(ctx) {
			return 0, false
		}
		for env.Run.Done(magpieUnit(i)) {
			i++
		}
		i++
		return i - 1, true
	}
	return env.runWorkers(ctx, next, func(ctx context.Context, u int) error {
		defer q.release()
		return magpieOne(ctx, env, &o, u, queryStop)
	})
}

func magpieOne(ctx context.Context, env *Env, o *MagpieOptions, u int, queryStop string) error {
	unit := magpieUnit(u)
	seed := UnitSeed(env.Seed, unit)
	prov := export.Provenance{Method: "magpie", Model: o.Model, Seed: &seed, TemplateHash: TextHash(o.Template)}
	m := env.model()
	var conv []local.Message
	if o.System != "" {
		conv = append(conv, local.Message{Role: "system", Content: o.System})
	}
	for turn := 0; turn < o.Turns; turn++ {
		prefix, err := QueryPrefix(o.Template, o.System, conv)
		if err != nil {
			return err
		}
		over := map[string]any{"temperature": 1.0, "top_p": 1.0}
		if queryStop != "" {
			over["stop"] = []string{queryStop}
		}
		q, err := m.Generate(ctx, &local.GenerateRequest{Model: o.Model, Prompt: prefix, Raw: true,
			Options: env.options(over), Seed: &seed})
		if err != nil {
			if reason, soft := isSoftFailure(err); soft {
				return env.reject(unit, reason, prov)
			}
			return err
		}
		q.Content = cleanQuery(q.Content)
		query, reason := checkReply(q, "query")
		if reason != "" {
			return env.reject(unit, reason, prov)
		}
		conv = append(conv, local.Message{Role: "user", Content: query})
		a, err := m.Chat(ctx, &local.ChatRequest{Model: o.Model, Messages: conv,
			Options: env.options(map[string]any{"temperature": 0}), Seed: &seed})
		if err != nil {
			if reason, soft := isSoftFailure(err); soft {
				return env.reject(unit, reason, prov)
			}
			return err
		}
		answer, reason := checkReply(a, "response")
		if reason != "" {
			return env.reject(unit, reason, prov)
		}
		conv = append(conv, local.Message{Role: "assistant", Content: answer})
	}
	row := export.SFT{Metadata: map[string]any{"turns": o.Turns}}
	for _, c := range conv {
		row.Messages = append(row.Messages, export.Message{Role: c.Role, Content: c.Content})
	}
	return env.accept(unit, prov, row)
}

// cleanQuery trims what a model may add after its query in raw mode: an
// echoed role header or the start of the assistant turn.
func cleanQuery(s string) string {
	s = strings.TrimSpace(s)
	for _, cut := range []string{"<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "[/INST]", "</s>"} {
		if i := strings.Index(s, cut); i >= 0 {
			s = s[:i]
		}
	}
	return strings.TrimSpace(s)
}
