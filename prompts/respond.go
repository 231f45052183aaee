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

	// SystemPool, when set, gives each prompt one system prompt sampled
	// from it (seeded per prompt, the same for every model), recorded as
	// system_id; it takes the place of System (Orca's explanation tuning).
	SystemPool []SystemPrompt
	// EraseSystem stores rows without the system prompt that elicited the
	// answer (Orca 2's prompt erasure); the erased text stays in metadata.
	EraseSystem bool
	// References are the tasks' known answers, one per prompt ("" for
	// none); with Verify every answer is checked against its reference
	// and one that disagrees is rejected.
	References []string
	Verify     bool
	// Judge, when set, decides agreement (agrees / disagrees / cannot
	// tell, with a reason); without one, [MatchReference]'s rule for short
	// answers applies.
	Judge string

	models []string // resolved names
	judge  string
}

func (r *Respond) Name() string { return "respond" }

func (r *Respond) Models() []ModelRef {
	out := make([]ModelRef, len(r.Responders))
	for i, n := range r.Responders {
		out[i] = ModelRef{n, RoleResponder}
	}
	if r.Verify && r.Judge != "" {
		out = append(out, ModelRef{r.Judge, RoleJudge})
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
	if r.Conversations != nil && len(r.Conversations) != len(r.Prompts) {
		return Identity{}, fmt.Errorf("respond: %d conversations for %d prompts", len(r.Conversations), len(r.Prompts))
	}
	if r.Verify && len(r.References) != len(r.Prompts) {
		return Identity{}, fmt.Errorf("respond --verify needs a reference answer per prompt (--reference-column)")
	}
	names := resolvedNames(models)
	r.models = names[:len(r.Responders)]
	if r.Verify && r.Judge != "" {
		r.judge = names[len(r.Responders)]
	}
	// Unit ids number prompts and models by position, so a resume must see
	// the same prompts and models in the same order.
	inputs := r.InputsHash
	if inputs == "" {
		inputs = TextHash(strings.Join(r.Prompts, "\x00"))
	}
	id := Identity{Hashes: map[string]string{
		"system":  TextHash(r.System),
		InputsKey: TextHash(inputs + "\x00models:" + strings.Join(r.Responders, ",")),
	}}
	if len(r.SystemPool) > 0 {
		var b strings.Builder
		for _, p := range r.SystemPool {
			fmt.Fprintf(&b, "%s\x00%s\x00%g\x00", p.ID, p.Text, p.Weight)
		}
		id.Hashes["system-prompt pool"] = TextHash(b.String())
		if r.EraseSystem {
			id.Hashes["system prompts erased"] = TextHash("yes")
		}
	}
	if r.Verify {
		id.Templates = []*Template{verifyTemplate}
		id.Hashes["references"] = TextHash(strings.Join(r.References, "\x00") + "\x00judge:" + r.Judge)
	}
	return id, nil
}

// InputsKey names the hash of a run's inputs in run.json.
const InputsKey = "input prompts and model order"

func respondUnit(prompt, model int) string { return fmt.Sprintf("respond-%06d-m%d", prompt, model) }

// Run answers model by model: a server that holds one model at a time
// loads each once. With Count, the rows are the first Count of the
// prompt-major order (prompt 0 by every model, then prompt 1 …), and a
// rejected answer is replaced by the same model's next prompt.
func (r *Respond) Run(ctx context.Context, env *Env) error {
	nm := len(r.models)
	// With a judge, answers are made model by model and kept as run state;
	// the judge then verifies them in a phase of its own, so a laptop never
	// swaps between a responder and the judge.
	twoStep := r.judge != ""
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
		if twoStep {
			ph.Target = 0 // the judge phase counts
			ph.Next = seqUnits(len(r.Prompts), func(p int) bool {
				return r.Count > 0 && p*nm+mi >= r.Count || env.Run.Done(respondUnit(p, mi)) || r.hasAnswer(env, p, mi)
			}, func(p int) Unit { return r.unit(env, p, mi) })
			phases = append(phases, ph)
			continue
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
	if twoStep {
		total := len(r.Prompts) * nm
		phases = append(phases, &Phase{Model: r.judge, Method: r.Name(), Target: int64(r.Count), Accepted: env.Run.Counts().Accepted,
			Next: seqUnits(total, func(u int) bool {
				return env.Run.Done(respondUnit(u/nm, u%nm)) || !r.hasAnswer(env, u/nm, u%nm)
			}, func(u int) Unit { return r.verifyUnit(env, u/nm, u%nm) })})
	}
	return env.RunPhases(ctx, phases...)
}

// respondAnswer is an answer kept as run state until the judge verifies it.
type respondAnswer struct {
	Messages []local.Message `json:"messages"`
	Answer   string          `json:"answer"`
	SystemID string          `json:"system_id,omitempty"`
	Seed     int64           `json:"seed"`
}

func answerKey(unit string) string { return "answer/" + unit }

func (r *Respond) hasAnswer(env *Env, p, mi int) bool {
	var a respondAnswer
	ok, _ := env.Run.State(answerKey(respondUnit(p, mi)), &a)
	return ok
}

// unit answers prompt p with model mi: the row, or (with a judge) the
// answer kept for the judge phase.
func (r *Respond) unit(env *Env, p, mi int) Unit {
	model := r.models[mi]
	id := respondUnit(p, mi)
	seed := UnitSeed(env.Seed, id)
	prov := export.Provenance{Method: r.Name(), Model: model, Seed: &seed}
	return Unit{ID: id, Prov: prov, Do: func(ctx context.Context, w *Work) error {
		msgs, sysID := r.conversation(env, model, p)
		text, _, err := env.answer(ctx, model, msgs, nil, seed)
		if err != nil {
			return err
		}
		a := respondAnswer{Messages: msgs, Answer: text, SystemID: sysID, Seed: seed}
		if r.judge != "" {
			return env.Run.SetState(answerKey(id), a)
		}
		meta := map[string]any{}
		if r.Verify {
			verdict, reason := MatchReference(r.References[p], text)
			if verdict == VerdictDisagrees {
				return reject(ReasonDisagreesWithReference)
			}
			meta["reference_verdict"], meta["reference_reason"], meta["verified_by"] = verdict, reason, "match rule"
		}
		return w.Commit(Entry{Unit: id, Rows: []export.Row{r.row(p, a, meta)}, Prov: prov})
	}}
}

// verifyUnit has the judge check a kept answer against the reference.
func (r *Respond) verifyUnit(env *Env, p, mi int) Unit {
	id := respondUnit(p, mi)
	return Unit{ID: id, Do: func(ctx context.Context, w *Work) error {
		var a respondAnswer
		if _, err := env.Run.State(answerKey(id), &a); err != nil {
			return err
		}
		prov := export.Provenance{Method: r.Name(), Model: r.models[mi], Seed: &a.Seed}
		verdict, reason, err := verifyByJudge(ctx, env, r.judge, r.Prompts[p], r.References[p], a.Answer, a.Seed)
		if err != nil {
			if reason := RejectReason(err); reason != "" {
				return w.Commit(Entry{Unit: id, Reason: reason, Prov: prov})
			}
			return err
		}
		if verdict == VerdictDisagrees {
			return w.Commit(Entry{Unit: id, Reason: ReasonDisagreesWithReference, Prov: prov})
		}
		meta := map[string]any{"reference_verdict": verdict, "reference_reason": reason, "verified_by": r.judge}
		return w.Commit(Entry{Unit: id, Rows: []export.Row{r.row(p, a, meta)}, Prov: prov})
	}}
}

// row builds the stored conversation: what the model saw, unless the
// system prompt is erased (then it moves to metadata).
func (r *Respond) row(p int, a respondAnswer, meta map[string]any) export.SFT {
	msgs := slices.Clone(a.Messages)
	meta["prompt_index"] = p
	if a.SystemID != "" {
		meta["system_id"] = a.SystemID
	}
	if r.EraseSystem && len(msgs) > 0 && msgs[0].Role == "system" {
		meta["erased_system"] = msgs[0].Content
		msgs = msgs[1:]
	}
	return export.SFT{Messages: toExport(append(msgs, local.Message{Role: "assistant", Content: a.Answer})), Metadata: meta}
}

// conversation is what prompt p asks model, and the pool entry used: the
// record's history if it has one, behind the system prompt (the record's
// own, else one drawn from the pool, else --system, else the model's
// Modelfile SYSTEM).
func (r *Respond) conversation(env *Env, model string, p int) ([]local.Message, string) {
	var conv []local.Message
	if r.Conversations == nil {
		conv = []local.Message{{Role: "user", Content: r.Prompts[p]}}
	} else {
		conv = r.Conversations[p]
		if len(conv) > 0 && conv[0].Role == "system" {
			return slices.Clone(conv), ""
		}
	}
	system, sysID := r.System, ""
	if len(r.SystemPool) > 0 {
		sp := pickSystem(r.SystemPool, UnitSeed(env.Seed, fmt.Sprintf("system-%06d", p)))
		system, sysID = sp.Text, sp.ID
	}
	return append(env.systemMessages(model, system), conv...), sysID
}
