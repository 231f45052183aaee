package prompts

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"unicode"

	"synthkit/export"
	"synthkit/local"
)

// EvolOp is one way of evolving an instruction.
type EvolOp struct {
	Name string
	// Method is the line the in-depth template states as the method;
	// empty for in-breadth.
	Method string
	// NoWordLimit lifts the "add only 10 to 20 words" rule: giving a
	// prompt a table or a code block to work on takes more.
	NoWordLimit bool
}

// EvolOps are the five in-depth operations and the in-breadth mutation;
// each round picks one uniformly.
var EvolOps = []EvolOp{
	{Name: "add_constraints", Method: "Add one more constraint or requirement that the answer must satisfy."},
	{Name: "deepen", Method: "If the prompt asks about a particular issue, make it ask about that issue in more depth and breadth."},
	{Name: "concretize", Method: "Replace general concepts in the prompt with more specific ones."},
	{Name: "increase_reasoning", Method: "If the prompt can be answered with a few simple thoughts, rewrite it so that it explicitly asks for several steps of reasoning."},
	{Name: "complicate_input", Method: "Give the prompt some input data to work on in a structured format (a table, JSON, XML, SQL, Python code, a shell command or LaTeX) and make the task use that data.", NoWordLimit: true},
	{Name: "breadth"},
}

var (
	evolDepth   = mustTemplate("evol_depth")
	evolBreadth = mustTemplate("evol_breadth")
	evolEqual   = mustTemplate("evol_equal")
)

var (
	promptSchema  = local.MustCompileSchema(`{"type":"object","properties":{"prompt":{"type":"string","minLength":1}},"required":["prompt"]}`)
	verdictSchema = local.MustCompileSchema(`{"type":"object","properties":{"verdict":{"type":"string","enum":["equal","not_equal","answer"]}},"required":["verdict"]}`)
)

// leakRe matches the rewriting prompt's own scaffolding in an evolved
// instruction: "#Rewritten Prompt#" markers, a leading "Rewritten prompt:"
// or "Original:" label, or the words our templates forbid. A prompt that is
// merely about prompts ("write a new prompt for…", "what is a system
// prompt") does not match.
var leakRe = regexp.MustCompile(`(?i)(#\s*(the )?(given|rewritten|created|new|original) prompt\s*#|^\s*((the )?(rewritten|created|given|original|new) prompt|original|inspiration)\s*:|\brewritten prompt\b|\bthe given prompt\b)`)

// stopWords is a compact English stop-word list for the "only punctuation
// and stop words" rule.
var stopWords = toSet(`a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on once
only or other our ours ourselves out over own same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up very was we were what when where which while who whom
why will with would you your yours yourself yourselves ok okay yes sure well oh`)

func toSet(words string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.Fields(words) {
		out[w] = true
	}
	return out
}

// MinResponseWords is the length below which a response containing an
// apology counts as a failed evolution (the paper's 80 words).
const MinResponseWords = 80

// CheckEvolution applies the rule-based eliminations to an evolved
// instruction and its response; "" means it survives (the model-judged
// "no information gain" rule runs separately).
func CheckEvolution(instruction, response string) string {
	if LeakedWording(instruction) {
		return ElimLeak
	}
	return checkResponse(response)
}

// LeakedWording reports an evolved instruction that copies the rewriting
// prompt's own frame ("#Rewritten Prompt#", "the given prompt").
func LeakedWording(instruction string) bool { return leakRe.MatchString(instruction) }

func checkResponse(response string) string {
	words := strings.Fields(response)
	if len(words) == 0 {
		return ElimTooShort
	}
	if strings.Contains(strings.ToLower(response), "sorry") && len(words) < MinResponseWords {
		return ElimApology
	}
	if onlyStopWords(response) {
		return ElimOnlyStopWords
	}
	return ""
}

func onlyStopWords(s string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' }) {
		if !stopWords[strings.Trim(w, "'")] {
			return false
		}
	}
	return true
}

// Evol evolves every prompt for Rounds rounds. Each round applies one
// random operation, answers the evolved instruction, and eliminates failed
// evolutions (no information gain as judged by the model, an answer given
// instead of a rewrite, an apology or too short a response, a response of
// only stop words, leaked template wording); a failed round leaves the
// instruction unchanged for the next. Every surviving round is a row with
// its lineage: the operations of the surviving rounds that led to it and
// its parent's id.
type Evol struct {
	Model   string
	Prompts []string
	Rounds  int
	// Count stops after this many accepted evolutions (0: all prompts).
	Count int
	// InputsHash identifies the inputs for resume (default: a hash of the
	// prompts in order).
	InputsHash string

	model string
}

// DefaultEvolRounds is the number of rounds unless set.
const DefaultEvolRounds = 4

func (o *Evol) Name() string       { return "evol-instruct" }
func (o *Evol) Models() []ModelRef { return []ModelRef{{o.Model, RoleGenerator}} }

func (o *Evol) rounds() int {
	if o.Rounds <= 0 {
		return DefaultEvolRounds
	}
	return o.Rounds
}

// Target is Count, or every round of every prompt.
func (o *Evol) Target() int {
	if o.Count > 0 {
		return o.Count
	}
	return len(o.Prompts) * o.rounds()
}

func (o *Evol) templates() []*Template { return []*Template{evolDepth, evolBreadth, evolEqual} }

func (o *Evol) Prepare(models []local.ModelInfo) (Identity, error) {
	if len(o.Prompts) == 0 {
		return Identity{}, fmt.Errorf("evol-instruct needs prompts to evolve (--prompts)")
	}
	o.model = models[0].Name
	inputs := o.InputsHash
	if inputs == "" {
		inputs = TextHash(strings.Join(o.Prompts, "\x00"))
	}
	return Identity{Templates: o.templates(), Hashes: map[string]string{InputsKey: inputs}}, nil
}

func evolUnit(prompt, round int) string { return fmt.Sprintf("evol-%06d-r%d", prompt, round) }

// evolStep is the state of a chain after a surviving round.
type evolStep struct {
	instruction string
	lineage     []string
	parent      string
}

func (o *Evol) Run(ctx context.Context, env *Env) error {
	rounds := o.rounds()
	// On resume a chain continues from its last surviving round.
	survived := map[string]evolStep{}
	err := env.Run.Rows(func(unit string, rows []export.Row) error {
		for _, r := range rows {
			sft, ok := r.(export.SFT)
			if !ok || len(sft.Messages) == 0 {
				continue
			}
			st := evolStep{parent: unit}
			for _, m := range sft.Messages {
				if m.Role == "user" {
					st.instruction = m.Content
					break
				}
			}
			if lin, ok := sft.Metadata["lineage"].([]any); ok {
				for _, op := range lin {
					if s, ok := op.(string); ok {
						st.lineage = append(st.lineage, s)
					}
				}
			}
			survived[unit] = st
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild evolution chains: %w", err)
	}
	tmplHash := CombinedHash(o.templates()...)
	return env.RunPhases(ctx, &Phase{
		Model: o.model, Method: o.Name(), Target: int64(o.Count), Accepted: env.Run.Counts().Accepted,
		Next: seqUnits(len(o.Prompts), func(p int) bool { return env.Run.Done(evolUnit(p, rounds)) }, func(p int) Unit {
			return Unit{ID: evolUnit(p, rounds), Do: func(ctx context.Context, w *Work) error {
				return o.chain(ctx, env, w, p, rounds, survived, tmplHash)
			}}
		}),
	})
}

// chain runs the rounds of prompt p that are not done yet, journaling each
// as it finishes, so a crash loses at most the round in flight.
func (o *Evol) chain(ctx context.Context, env *Env, w *Work, p, rounds int, survived map[string]evolStep, tmplHash string) error {
	root := strings.TrimSpace(o.Prompts[p])
	cur := evolStep{instruction: root}
	first := true
	for r := 1; r <= rounds; r++ {
		unit := evolUnit(p, r)
		if done, _ := env.Run.Status(unit); done {
			if st, ok := survived[unit]; ok {
				cur = st
			}
			continue
		}
		if !first && !w.Claim(ctx) {
			return nil // -n reached or the budget is used up
		}
		first = false
		seed := UnitSeed(env.Seed, unit)
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(r)))
		op := EvolOps[rng.IntN(len(EvolOps))]
		prov := export.Provenance{Method: o.Name(), Model: o.model, Seed: &seed, TemplateHash: tmplHash}
		res, err := o.evolveOnce(ctx, env, op, cur.instruction, seed)
		if err != nil {
			return err
		}
		if res.reason != "" {
			if err := w.Commit(Entry{Unit: unit, Reason: res.reason, Prov: prov}); err != nil {
				return err
			}
			continue
		}
		next := evolStep{instruction: res.instruction, lineage: append(append([]string{}, cur.lineage...), op.Name), parent: unit}
		meta := map[string]any{"evol_op": op.Name, "round": r, "root_index": p, "root": root,
			"lineage": next.lineage, "parent": cur.parent}
		if res.answerRetried {
			meta["answer_retried"] = true
		}
		row := export.SFT{Messages: toExport(append(res.messages, local.Message{Role: "assistant", Content: res.response})), Metadata: meta}
		before := w.added
		if err := w.Commit(Entry{Unit: unit, Rows: []export.Row{row}, Prov: prov}); err != nil {
			return err
		}
		if w.added > before {
			cur = next // only a round that was kept (not refused by the gate) moves the chain on
		}
	}
	return nil
}

type evolRound struct {
	instruction, response, reason string
	messages                      []local.Message // what the answer was asked with
	answerRetried                 bool
}

// evolveOnce runs one round: evolve, judge, answer, eliminate. Failures
// that concern this round only come back as a reason.
func (o *Evol) evolveOnce(ctx context.Context, env *Env, op EvolOp, current string, seed int64) (evolRound, error) {
	var prompt string
	var err error
	if op.Method == "" {
		prompt, err = evolBreadth.Render(map[string]any{"Instruction": current})
	} else {
		prompt, err = evolDepth.Render(map[string]any{"Instruction": current, "Method": op.Method, "WordLimit": !op.NoWordLimit})
	}
	if err != nil {
		return evolRound{}, err
	}
	soft := func(r evolRound, err error) (evolRound, error) {
		if reason := RejectReason(err); reason != "" {
			r.reason = reason
			return r, nil
		}
		return evolRound{}, err
	}
	var out struct {
		Prompt string `json:"prompt"`
	}
	if err := env.instruct(ctx, o.model, prompt, promptSchema, map[string]any{"temperature": 1.0, "top_p": 0.95}, seed, &out); err != nil {
		return soft(evolRound{}, err)
	}
	evolved := strings.TrimSpace(out.Prompt)
	if evolved == "" {
		return evolRound{reason: ElimInvalid}, nil
	}
	res := evolRound{instruction: evolved}
	if LeakedWording(evolved) {
		res.reason = ElimLeak
		return res, nil
	}
	// The no-information-gain rule, and a guard against a model that
	// answered the prompt instead of rewriting it: the model compares.
	judge, err := evolEqual.Render(map[string]any{"Before": current, "After": evolved})
	if err != nil {
		return evolRound{}, err
	}
	var verdict struct {
		Verdict string `json:"verdict"`
	}
	if err := env.instruct(ctx, o.model, judge, verdictSchema, map[string]any{"temperature": 0}, seed, &verdict); err != nil {
		return soft(res, err)
	}
	switch {
	case verdict.Verdict == "equal" || strings.EqualFold(evolved, current):
		res.reason = ElimNoGain
		return res, nil
	case verdict.Verdict == "answer":
		res.reason = ElimAnswered
		return res, nil
	}
	res.messages = append(env.systemMessages(o.model, ""), local.Message{Role: "user", Content: evolved})
	own := map[string]any{"temperature": 0.7}
	answer, resp, err := env.answer(ctx, o.model, res.messages, own, seed)
	if RejectReason(err) == ReasonTruncated {
		// A good evolution whose answer ran long: ask again with twice the
		// budget rather than lose the evolution.
		budget := 2 * max(intOption(env.Options, "num_predict"), resp.OutputTokens, 256)
		own["num_predict"] = budget
		res.answerRetried = true
		answer, _, err = env.answer(ctx, o.model, res.messages, own, seed)
	}
	if err != nil {
		return soft(res, err)
	}
	res.response = answer
	res.reason = CheckEvolution(evolved, answer)
	return res, nil
}

func intOption(opts map[string]any, key string) int {
	switch v := opts[key].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	}
	return 0
}
