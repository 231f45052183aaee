package prompts

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"synthkit/export"
	"synthkit/local"
)

// Respond answers every prompt with every model (SFT rows).
type Respond struct {
	// Responders answer every prompt (one row per prompt and model).
	Responders []string
	// Prompts are the user messages to answer.
	Prompts []string
	// Conversations, when set, are what is answered instead (one per
	// prompt, ending with the user turn; a multi-turn record's history).
	Conversations [][]local.Message
	// InputsHash identifies the inputs for resume (default: a hash of the
	// prompts in order).
	InputsHash string
	// System is an optional system prompt; without one, a model's
	// Modelfile SYSTEM is sent (and stored) explicitly.
	System string
	// Count stops at this many accepted rows (0: answer everything).
	Count int

	models []string // resolved names
}

func (r *Respond) Name() string { return "respond" }

func (r *Respond) Models() []ModelRef {
	out := make([]ModelRef, len(r.Responders))
	for i, n := range r.Responders {
		out[i] = ModelRef{n, RoleResponder}
	}
	return out
}

// Target is Count, or every prompt times every model.
func (r *Respond) Target() int {
	if r.Count > 0 {
		return r.Count
	}
	return len(r.Prompts) * len(r.Responders)
}

func (r *Respond) Prepare(models []local.ModelInfo) (Identity, error) {
	if len(models) == 0 || len(r.Prompts) == 0 {
		return Identity{}, fmt.Errorf("respond needs at least one model and one prompt")
	}
	r.models = resolvedNames(models)
	// Unit ids number prompts and models by position, so a resume must see
	// the same prompts and models in the same order.
	return Identity{Hashes: map[string]string{
		"system":  TextHash(r.System),
		InputsKey: TextHash(strings.Join(r.Prompts, "\x00") + "\x00models:" + strings.Join(r.Responders, ",")),
	}}, nil
}

// InputsKey names the hash of a run's inputs in run.json.
const InputsKey = "input prompts and model order"

func respondUnit(prompt, model int) string { return fmt.Sprintf("respond-%06d-m%d", prompt, model) }

// Run answers model by model: a server that holds one model at a time
// loads each once. With Count, the rows are the first Count of the
// prompt-major order (prompt 0 by every model, then prompt 1 …), and a
// rejected answer is replaced by the same model's next prompt.
func (r *Respond) Run(ctx context.Context, env *Env) error {
	if r.models == nil {
		if _, err := r.Prepare(modelInfos(r.Responders)); err != nil {
			return err
		}
	}
	nm := len(r.models)
	var phases []*Phase
	for mi, model := range r.models {
		ph := &Phase{Model: model, Method: r.Name()}
		if r.Count > 0 {
			// Units u < Count of the prompt-major order that are this model's.
			ph.Target = int64(r.Count / nm)
			if mi < r.Count%nm {
				ph.Target++
			}
			if ph.Target == 0 {
				continue
			}
		}
		for p := range r.Prompts {
			if _, acc := env.Run.Status(respondUnit(p, mi)); acc {
				ph.Accepted++
			}
		}
		ph.Next = seqUnits(len(r.Prompts), func(p int) bool { return env.Run.Done(respondUnit(p, mi)) },
			func(p int) Unit { return r.unit(env, p, mi) })
		phases = append(phases, ph)
	}
	return env.RunPhases(ctx, phases...)
}

// unit answers prompt p with model mi.
func (r *Respond) unit(env *Env, p, mi int) Unit {
	model := r.models[mi]
	id := respondUnit(p, mi)
	seed := UnitSeed(env.Seed, id)
	prov := export.Provenance{Method: r.Name(), Model: model, Seed: &seed}
	return Unit{ID: id, Prov: prov, Do: func(ctx context.Context, w *Work) error {
		msgs := r.conversation(env, model, p)
		text, _, err := env.answer(ctx, model, msgs, nil, seed)
		if err != nil {
			return err
		}
		row := export.SFT{Messages: toExport(append(msgs, local.Message{Role: "assistant", Content: text})),
			Metadata: map[string]any{"prompt_index": p}}
		return w.Commit(Entry{Unit: id, Rows: []export.Row{row}, Prov: prov})
	}}
}

// conversation is what prompt p asks model: its history if it has one,
// behind the system prompt (the record's own, else --system, else the
// model's Modelfile SYSTEM).
func (r *Respond) conversation(env *Env, model string, p int) []local.Message {
	if r.Conversations == nil {
		return append(env.systemMessages(model, r.System), local.Message{Role: "user", Content: r.Prompts[p]})
	}
	conv := r.Conversations[p]
	if len(conv) > 0 && conv[0].Role == "system" {
		return slices.Clone(conv)
	}
	return append(env.systemMessages(model, r.System), conv...)
}

// modelInfos stands in for resolved models when a method runs without the
// lifecycle (tests): the names as given.
func modelInfos(names []string) []local.ModelInfo {
	out := make([]local.ModelInfo, len(names))
	for i, n := range names {
		out[i] = local.ModelInfo{Name: n}
	}
	return out
}
