package prompts

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"synthkit/export"
	"synthkit/local"
)

// Critique is the supervised stage of Constitutional AI: every prompt gets
// an initial answer (or comes with one), then Revisions rounds of
// critique → revision, each under a principle of the constitution drawn
// for that round. The whole trace is one row of the critiques config;
// export derives SFT on the final revisions and pairs of final revision
// over initial answer.
//
// Every step (the initial answer, each round) is saved in the journal as
// it finishes (run state keyed by the trace's unit), so a crash loses at
// most the step in flight and a resumed run continues the trace where it
// stopped, with the same principles and seeds. A round whose critique or
// revision stays empty or off-format after retries with new seeds is
// journaled as a rejection of that round's own unit (counted by reason,
// never written) and the next round revises the latest good answer; a
// critique that finds nothing to fix keeps the answer as the round's
// revision and says so in the row's metadata (unchanged_rounds).
type Critique struct {
	Model string
	// Prompts are the conversations to answer (each ends with a user turn;
	// one that starts with a system turn keeps it).
	Prompts [][]local.Message
	// Responses, when set, are the initial answers to revise, one per
	// prompt, instead of answers the model writes first.
	Responses []string
	// Constitution holds the principles (default: [DefaultConstitution]).
	Constitution *Constitution
	// Revisions is the number of critique → revision rounds (default 2).
	Revisions int
	// System is the system prompt of a generated initial answer and of
	// the rounds (default: the model's Modelfile SYSTEM, if any).
	System string
	// Count stops at this many accepted traces (0: every prompt).
	Count int
	// InputsHash identifies the inputs for resume (default: a hash of the
	// prompts and responses in order).
	InputsHash string

	model      string
	principles []Principle
	tmplHash   string
}

// DefaultRevisions is the number of rounds unless set.
const DefaultRevisions = 2

// CritiqueRetries is how often an off-format critique or revision is asked
// again with a new seed before the round is rejected.
const CritiqueRetries = 2

// NoIssues is the sentence a critique answers with when the answer already
// follows the principle; the round then keeps the answer.
const NoIssues = "No changes are needed."

var (
	critiqueRequestT  = mustTemplate("critique_request")
	critiqueRevisionT = mustTemplate("critique_revision")
)

func init() {
	Register(Factory{Name: "critique", Summary: "Constitutional AI critique → revision traces",
		New: func() Method { return &Critique{} }}, "constitutional")
}

func (o *Critique) Name() string       { return "critique" }
func (o *Critique) Models() []ModelRef { return []ModelRef{{o.Model, RoleGenerator}} }

func (o *Critique) rounds() int {
	if o.Revisions <= 0 {
		return DefaultRevisions
	}
	return o.Revisions
}

// Target is Count, or one trace per prompt.
func (o *Critique) Target() int {
	if o.Count > 0 {
		return min(o.Count, len(o.Prompts))
	}
	return len(o.Prompts)
}

func (o *Critique) templates() []*Template { return []*Template{critiqueRequestT, critiqueRevisionT} }

func (o *Critique) Prepare(models []local.ModelInfo) (Identity, error) {
	if len(o.Prompts) == 0 {
		return Identity{}, fmt.Errorf("critique needs prompts (--prompts) or answers to revise (--responses)")
	}
	if o.Responses != nil && len(o.Responses) != len(o.Prompts) {
		return Identity{}, fmt.Errorf("critique: %d responses for %d prompts", len(o.Responses), len(o.Prompts))
	}
	if o.Constitution == nil {
		o.Constitution = DefaultConstitution()
	}
	o.principles = o.Constitution.revising()
	if len(o.principles) == 0 {
		return Identity{}, fmt.Errorf("the constitution has no principle with both a critique and a revision request (a file of comparison principles only serves --label-pairs)")
	}
	o.model = models[0].Name
	o.tmplHash = CombinedHash(o.templates()...)
	inputs := o.InputsHash
	if inputs == "" {
		var b strings.Builder
		for _, conv := range o.Prompts {
			for _, m := range conv {
				b.WriteString(m.Role + "\x00" + m.Content + "\x00")
			}
			b.WriteString("\x01")
		}
		inputs = TextHash(b.String())
	}
	given := "generated"
	if o.Responses != nil {
		given = TextHash(strings.Join(o.Responses, "\x00"))
	}
	return Identity{Templates: o.templates(), TemplateHash: o.tmplHash, Hashes: map[string]string{
		InputsKey:           inputs,
		"initial responses": given,
		"constitution":      o.Constitution.Hash(),
		"revisions":         strconv.Itoa(o.rounds()),
		"system":            TextHash(o.System),
	}}, nil
}

func critiqueUnit(p int) string         { return fmt.Sprintf("critique-%06d", p) }
func critiqueRoundUnit(p, r int) string { return fmt.Sprintf("critique-%06d-r%d", p, r) }
func critiqueStateKey(p int) string     { return "critique/" + critiqueUnit(p) }

// critiqueState is a trace in progress, saved after every step.
type critiqueState struct {
	Initial string                `json:"initial"`
	Steps   []export.CritiqueStep `json:"steps,omitempty"`
	// StepRounds is the round of each step; Kept and Failed list rounds.
	StepRounds []int `json:"step_rounds,omitempty"`
	Kept       []int `json:"kept,omitempty"`
	Failed     []int `json:"failed,omitempty"`
	// Round is the last round finished (0: only the initial answer).
	Round int `json:"round"`
}

func (st *critiqueState) latest() string {
	if len(st.Steps) > 0 {
		return st.Steps[len(st.Steps)-1].Revision
	}
	return st.Initial
}

func (o *Critique) Run(ctx context.Context, env *Env) error {
	return env.RunPhases(ctx, &Phase{
		Model: o.model, Method: o.Name(), Target: int64(o.Count), Accepted: env.Run.Counts().Accepted,
		Next: seqUnits(len(o.Prompts), func(p int) bool { return env.Run.Done(critiqueUnit(p)) }, func(p int) Unit {
			seed := UnitSeed(env.Seed, critiqueUnit(p))
			prov := export.Provenance{Method: o.Name(), Model: o.model, Seed: &seed, TemplateHash: o.tmplHash}
			return Unit{ID: critiqueUnit(p), Prov: prov, Do: func(ctx context.Context, w *Work) error {
				return o.trace(ctx, env, w, p, prov)
			}}
		}),
	})
}

// conversation returns the system turn (if any) and the prompt's turns.
func (o *Critique) conversation(env *Env, p int) (system, turns []local.Message) {
	conv := o.Prompts[p]
	if len(conv) > 0 && conv[0].Role == "system" {
		return conv[:1], conv[1:]
	}
	return env.systemMessages(o.model, o.System), conv
}

// principleOrder is the trace's principles, one per round: a seeded
// shuffle, so a trace uses distinct principles while it can and a resumed
// trace draws the same ones.
func (o *Critique) principleOrder(env *Env, p int) []Principle {
	rng := rand.New(rand.NewPCG(uint64(UnitSeed(env.Seed, critiqueUnit(p)+"/principles")), 0xca1))
	perm := rng.Perm(len(o.principles))
	out := make([]Principle, o.rounds())
	for r := range out {
		out[r] = o.principles[perm[r%len(perm)]]
	}
	return out
}

// trace runs the steps of prompt p that are not done yet.
func (o *Critique) trace(ctx context.Context, env *Env, w *Work, p int, prov export.Provenance) error {
	key := critiqueStateKey(p)
	var st critiqueState
	if _, err := env.Run.State(key, &st); err != nil {
		return err
	}
	system, turns := o.conversation(env, p)
	if st.Initial == "" {
		if o.Responses != nil {
			st.Initial = strings.TrimSpace(o.Responses[p])
			if st.Initial == "" {
				return reject(ReasonEmptyResponse)
			}
		} else {
			text, _, err := env.answer(ctx, o.model, slices.Concat(system, turns), nil, UnitSeed(env.Seed, critiqueUnit(p)+"/initial"))
			if err != nil {
				return err
			}
			st.Initial = text
			if err := env.Run.SetState(key, st); err != nil {
				return err
			}
		}
	}
	order := o.principleOrder(env, p)
	for r := st.Round + 1; r <= o.rounds(); r++ {
		round := critiqueRoundUnit(p, r)
		if env.Run.Done(round) {
			// Rejected before a crash that came before the state was saved.
			st.Failed = append(st.Failed, r)
			st.Round = r
			continue
		}
		if !w.Claim(ctx) {
			return nil // -n reached or the budget is used up; resume goes on
		}
		pr := order[r-1]
		step, kept, reason, err := o.round(ctx, env, system, turns, st.latest(), pr, UnitSeed(env.Seed, round))
		if err != nil {
			return err
		}
		if reason != "" {
			rseed := UnitSeed(env.Seed, round)
			rprov := prov
			rprov.Seed = &rseed
			if err := w.Commit(Entry{Unit: round, Reason: reason, Prov: rprov}); err != nil {
				return err
			}
			st.Failed = append(st.Failed, r)
		} else {
			st.Steps = append(st.Steps, step)
			st.StepRounds = append(st.StepRounds, r)
			if kept {
				st.Kept = append(st.Kept, r)
			}
		}
		st.Round = r
		if err := env.Run.SetState(key, st); err != nil {
			return err
		}
	}
	if !w.Claim(ctx) {
		return nil
	}
	if len(st.Steps) == 0 {
		return reject(ReasonCritiqueNoRounds)
	}
	row := o.row(system, turns, p, &st)
	if err := w.Commit(Entry{Unit: critiqueUnit(p), Rows: []export.Row{row}, Prov: prov}); err != nil {
		return err
	}
	// The trace is in the row now; drop its working state.
	return env.Run.SetState(key, nil)
}

func (o *Critique) row(system, turns []local.Message, p int, st *critiqueState) export.Critique {
	names := make([]string, len(st.Steps))
	for i, s := range st.Steps {
		names[i] = s.Principle
	}
	initial := "generated"
	if o.Responses != nil {
		initial = "given"
	}
	meta := map[string]any{
		"prompt_index": p, "revisions": o.rounds(), "rounds": st.StepRounds, "principles": names,
		"initial": initial, "revised": st.latest() != st.Initial,
		"constitution": o.Constitution.Hash(),
	}
	if len(st.Kept) > 0 {
		meta["unchanged_rounds"] = st.Kept
	}
	if len(st.Failed) > 0 {
		meta["failed_rounds"] = st.Failed
	}
	return export.Critique{Prompt: toExport(slices.Concat(system, turns)), Initial: st.Initial,
		Steps: slices.Clone(st.Steps), Metadata: meta}
}

// fewShot renders the constitution's worked examples as earlier turns.
func (o *Critique) fewShot() ([]local.Message, error) {
	var out []local.Message
	for _, ex := range o.Constitution.Examples {
		creq, err := critiqueRequestT.Render(map[string]any{"Request": ex.CritiqueRequest, "NoIssues": NoIssues})
		if err != nil {
			return nil, err
		}
		rreq, err := critiqueRevisionT.Render(map[string]any{"Request": ex.RevisionRequest})
		if err != nil {
			return nil, err
		}
		out = append(out, ex.Turns...)
		out = append(out, local.Message{Role: "assistant", Content: ex.Response},
			local.Message{Role: "user", Content: creq}, local.Message{Role: "assistant", Content: ex.Critique},
			local.Message{Role: "user", Content: rreq}, local.Message{Role: "assistant", Content: ex.Revision})
	}
	return out, nil
}

var (
	noIssuesRe = regexp.MustCompile(`(?i)^\W*no (changes|revisions?|issues|problems)( (are|were))?( (needed|necessary|required|found))?\W*$`)
	// labelRe strips a leading label a model copies from the layout.
	critiqueLabelRe = regexp.MustCompile(`(?i)^\s*\**\s*critique\s*\**\s*:\s*\**\s*`)
	revisionLabelRe = regexp.MustCompile(`(?i)^\s*\**\s*((revision|revised (answer|response|version)|rewritten (answer|response))\s*\**\s*:\s*\**|here('s| is) (the|my|a|an) (revised|rewritten|new|updated|improved) (answer|response|version)[^\n]*:)\s*`)
)

// cleanCritique returns the critique without a copied label; ok is false
// for one that is off-format (fewer than three words and not the
// no-issues sentence).
func cleanCritique(text string) (string, bool) {
	text = strings.TrimSpace(critiqueLabelRe.ReplaceAllString(text, ""))
	if noIssuesRe.MatchString(text) {
		return text, true
	}
	return text, len(strings.Fields(text)) >= 3
}

// cleanRevision strips a copied label or preface line; ok is false for a
// revision that is empty, repeats the critique, or is the no-issues line.
func cleanRevision(text, critique string) (string, bool) {
	text = strings.TrimSpace(revisionLabelRe.ReplaceAllString(text, ""))
	switch {
	case text == "", text == critique, noIssuesRe.MatchString(text):
		return text, false
	}
	return text, true
}

// round runs one critique → revision under principle pr. reason is set when
// the round failed (its critique or revision stayed off-format, or was cut
// off); err only for failures that stop the run.
func (o *Critique) round(ctx context.Context, env *Env, system, turns []local.Message, answer string, pr Principle, seed int64) (step export.CritiqueStep, kept bool, reason string, err error) {
	few, err := o.fewShot()
	if err != nil {
		return step, false, "", err
	}
	creq, err := critiqueRequestT.Render(map[string]any{"Request": pr.Critique, "NoIssues": NoIssues})
	if err != nil {
		return step, false, "", err
	}
	msgs := slices.Concat(system, few, turns, []local.Message{{Role: "assistant", Content: answer}, {Role: "user", Content: creq}})
	crit, reason, err := o.ask(ctx, env, msgs, seed, ReasonCritiqueOffFormat, cleanCritique)
	if err != nil || reason != "" {
		return step, false, reason, err
	}
	step = export.CritiqueStep{Principle: pr.Name, Critique: crit}
	if noIssuesRe.MatchString(crit) {
		step.Revision = answer
		return step, true, "", nil
	}
	rreq, err := critiqueRevisionT.Render(map[string]any{"Request": pr.Revision})
	if err != nil {
		return step, false, "", err
	}
	msgs = append(msgs, local.Message{Role: "assistant", Content: crit}, local.Message{Role: "user", Content: rreq})
	rev, reason, err := o.ask(ctx, env, msgs, seed+1, ReasonRevisionOffFormat, func(s string) (string, bool) { return cleanRevision(s, crit) })
	if err != nil || reason != "" {
		return step, false, reason, err
	}
	step.Revision = rev
	return step, false, "", nil
}

// ask sends msgs and cleans the answer, asking again with a new seed
// (CritiqueRetries times) while it is off-format; then reason is offFormat.
// An answer cut off at num_predict or a prompt over the context window is
// the round's reason at once.
func (o *Critique) ask(ctx context.Context, env *Env, msgs []local.Message, seed int64, offFormat string, clean func(string) (string, bool)) (string, string, error) {
	for attempt := 0; attempt <= CritiqueRetries; attempt++ {
		text, _, err := env.answer(ctx, o.model, msgs, nil, seed+int64(attempt)*7919)
		switch r := RejectReason(err); {
		case r == ReasonEmptyResponse:
			// answer already asked again with new seeds.
			return "", offFormat, nil
		case r != "":
			return "", r, nil
		case err != nil:
			return "", "", err
		}
		if t, ok := clean(text); ok {
			return t, "", nil
		}
	}
	return "", offFormat, nil
}
