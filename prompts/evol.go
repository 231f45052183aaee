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
}

// EvolOps are the five in-depth operations and the in-breadth mutation;
// each round picks one uniformly.
var EvolOps = []EvolOp{
	{"add_constraints", "Add one more constraint or requirement that the answer must satisfy."},
	{"deepen", "If the prompt asks about a particular issue, make it ask about that issue in more depth and breadth."},
	{"concretize", "Replace general concepts in the prompt with more specific ones."},
	{"increase_reasoning", "If the prompt can be answered with a few simple thoughts, rewrite it so that it explicitly asks for several steps of reasoning."},
	{"complicate_input", "Give the prompt some input data to work on in a structured format (a table, JSON, XML, SQL, Python code, a shell command or LaTeX) and make the task use that data."},
	{"breadth", ""},
}

var (
	evolDepth   = mustTemplate("evol_depth")
	evolBreadth = mustTemplate("evol_breadth")
	evolEqual   = mustTemplate("evol_equal")
)

// EvolTemplates lists the templates the method uses, for run.json.
func EvolTemplates() []*Template { return []*Template{evolDepth, evolBreadth, evolEqual} }

var (
	promptSchema  = local.MustCompileSchema(`{"type":"object","properties":{"prompt":{"type":"string","minLength":1}},"required":["prompt"]}`)
	verdictSchema = local.MustCompileSchema(`{"type":"object","properties":{"verdict":{"type":"string","enum":["equal","not_equal"]}},"required":["verdict"]}`)
)

// Elimination reasons of Evol-Instruct, as they appear in the card.
const (
	ElimNoGain        = "no_information_gain"
	ElimApology       = "response_is_apology"
	ElimTooShort      = "response_too_short"
	ElimOnlyStopWords = "response_only_punctuation_and_stop_words"
	ElimLeak          = "prompt_wording_leaked"
	ElimInvalid       = ReasonInvalid
)

// leakRe matches the template's own wording showing up in an evolved
// instruction: the model copied the frame instead of rewriting the prompt.
var leakRe = regexp.MustCompile(`(?i)(original prompt|rewritten prompt|given prompt|created prompt|new prompt|#\s*(the )?(given|rewritten|created|new) prompt\s*#|^\s*(rewritten|new|created) prompt\s*:)`)

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

// EvolOptions configures [Evol].
type EvolOptions struct {
	Model   string
	Prompts []string
	Rounds  int
	// Count stops after this many accepted evolutions (0: all prompts).
	Count int
}

func evolUnit(prompt, round int) string { return fmt.Sprintf("evol-%06d-r%d", prompt, round) }

// Evol evolves every prompt for Rounds rounds. Each round applies one
// random operation, answers the evolved instruction, and eliminates failed
// evolutions (no information gain as judged by the model, an apology or
// too short a response, a response of only stop words, leaked template
// wording); a failed round leaves the instruction unchanged for the next.
// Every surviving round is a row, with its lineage.
func Evol(ctx context.Context, env *Env, o EvolOptions) error {
	if o.Rounds <= 0 {
		o.Rounds = 4
	}
	if len(o.Prompts) == 0 {
		return fmt.Errorf("evol-instruct needs prompts to evolve (--prompts)")
	}
	tmplHash := CombinedHash(EvolTemplates()...)
	i := 0
	next := func() (int, bool) {
		for i < len(o.Prompts) {
			if o.Count > 0 && env.Run.Counts().Accepted >= int64(o.Count) {
				return 0, false
			}
			p := i
			i++
			if !env.Run.Done(evolUnit(p, 1)) {
				return p, true
			}
		}
		return 0, false
	}
	return env.runWorkers(ctx, next, func(ctx context.Context, p int) error {
		return evolChain(ctx, env, &o, p, tmplHash)
	})
}

type evolRound struct {
	op, instruction, response, reason string
	surplus                           bool // accepted, but past -n
}

func evolChain(ctx context.Context, env *Env, o *EvolOptions, p int, tmplHash string) error {
	m := env.model()
	root := strings.TrimSpace(o.Prompts[p])
	current := root
	seed := UnitSeed(env.Seed, evolUnit(p, 1))
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(p)))
	prov := export.Provenance{Method: "evol-instruct", Model: o.Model, Seed: &seed, TemplateHash: tmplHash}
	rounds := make([]evolRound, 0, o.Rounds)
	for r := 1; r <= o.Rounds; r++ {
		op := EvolOps[rng.IntN(len(EvolOps))]
		rs := UnitSeed(env.Seed, evolUnit(p, r))
		res, err := evolveOnce(ctx, m, env, o.Model, op, current, rs)
		if err != nil {
			return err
		}
		res.op = op.Name
		rounds = append(rounds, res)
		if res.reason == "" {
			current = res.instruction
		}
	}
	var ops []string
	for _, r := range rounds {
		ops = append(ops, r.op)
	}
	// With -n, chains journal one at a time and keep their accepted rounds
	// in order up to what is left (see SelfInstruct); a chain with nothing
	// left leaves no trace.
	if o.Count > 0 {
		env.journalMu.Lock()
		defer env.journalMu.Unlock()
		left := int64(o.Count) - env.Run.Counts().Accepted
		if left <= 0 {
			return nil
		}
		for i := range rounds {
			if rounds[i].reason == "" {
				if left <= 0 {
					rounds[i].surplus = true
				}
				left--
			}
		}
	}
	// Last round first: round 1 marks the chain done (see SelfInstruct).
	for r := len(rounds); r >= 1; r-- {
		res := rounds[r-1]
		unit := evolUnit(p, r)
		if res.surplus {
			continue
		}
		if res.reason != "" {
			if err := env.reject(unit, res.reason, prov); err != nil {
				return err
			}
			continue
		}
		row := export.SFT{
			Messages: []export.Message{{Role: "user", Content: res.instruction}, {Role: "assistant", Content: res.response}},
			Metadata: map[string]any{"evol_op": res.op, "round": r, "root_index": p, "root": root,
				"lineage": ops[:r]},
		}
		if err := env.accept(unit, prov, row); err != nil {
			return err
		}
	}
	return nil
}

// evolveOnce runs one round: evolve, answer, eliminate.
func evolveOnce(ctx context.Context, m local.Model, env *Env, model string, op EvolOp, current string, seed int64) (evolRound, error) {
	var prompt string
	var err error
	if op.Method == "" {
		prompt, err = evolBreadth.Render(map[string]any{"Instruction": current})
	} else {
		prompt, err = evolDepth.Render(map[string]any{"Instruction": current, "Method": op.Method})
	}
	if err != nil {
		return evolRound{}, err
	}
	var out struct {
		Prompt string `json:"prompt"`
	}
	_, err = local.ChatStructured(ctx, m, &local.ChatRequest{Model: model,
		Messages: []local.Message{{Role: "user", Content: prompt}},
		Options:  env.options(map[string]any{"temperature": 1.0, "top_p": 0.95}), Seed: &seed}, promptSchema, &out, env.Retries)
	if reason, soft := isSoftFailure(err); soft {
		return evolRound{reason: reason}, nil
	} else if err != nil {
		return evolRound{}, err
	}
	evolved := strings.TrimSpace(out.Prompt)
	if evolved == "" {
		return evolRound{reason: ElimInvalid}, nil
	}
	if LeakedWording(evolved) {
		return evolRound{instruction: evolved, reason: ElimLeak}, nil
	}
	// The no-information-gain rule: the model compares before and after.
	judge, err := evolEqual.Render(map[string]any{"Before": current, "After": evolved})
	if err != nil {
		return evolRound{}, err
	}
	var verdict struct {
		Verdict string `json:"verdict"`
	}
	_, err = local.ChatStructured(ctx, m, &local.ChatRequest{Model: model,
		Messages: []local.Message{{Role: "user", Content: judge}},
		Options:  env.options(map[string]any{"temperature": 0}), Seed: &seed}, verdictSchema, &verdict, env.Retries)
	if reason, soft := isSoftFailure(err); soft {
		return evolRound{instruction: evolved, reason: reason}, nil
	} else if err != nil {
		return evolRound{}, err
	}
	if verdict.Verdict == "equal" || strings.EqualFold(evolved, current) {
		return evolRound{instruction: evolved, reason: ElimNoGain}, nil
	}
	resp, err := m.Chat(ctx, &local.ChatRequest{Model: model,
		Messages: []local.Message{{Role: "user", Content: evolved}},
		Options:  env.options(map[string]any{"temperature": 0.7}), Seed: &seed})
	if err != nil {
		if reason, soft := isSoftFailure(err); soft {
			return evolRound{instruction: evolved, reason: reason}, nil
		}
		return evolRound{}, err
	}
	answer, reason := checkReply(resp, "response")
	if reason == "" {
		reason = CheckEvolution(evolved, answer)
	}
	return evolRound{instruction: evolved, response: answer, reason: reason}, nil
}
