package prompts

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"

	"synthkit/export"
	"synthkit/local"
)

// Judge modes of [Prefer].
const (
	// ModeRatings rates all completions of a prompt together on four
	// aspects, 1–5 (UltraFeedback).
	ModeRatings = "ratings"
	// ModePairwise compares completions two at a time in both orders
	// (MT-Bench); a verdict that flips with the order is a tie.
	ModePairwise = "pairwise"
	// ModeRubric grades each completion alone against a rubric
	// (Prometheus; the HelpSteer preset).
	ModeRubric = "rubric"
	// ModeRank ranks up to 7 shuffled completions at once (Nectar).
	ModeRank = "rank"
	// ModeModels makes pairs without a judge: one model's answer is always
	// chosen over another's (Intel neural-chat's DPO data).
	ModeModels = "models"
)

// Pair rules: how rated completions become preference pairs.
const (
	PairsBestRandom = "best-random"
	PairsBestWorst  = "best-worst"
	PairsAll        = "all"
)

// MaxRank is the most completions rank mode shows the judge at once.
const MaxRank = 7

// Principles are the system prompts a completion may be written under
// (UltraFeedback's four), in our own words. The principle of each
// completion is recorded in the ratings metadata; it is not part of the
// rows' prompt, which is what the trained model will see.
var Principles = map[string]string{
	"helpfulness": "You are a helpful assistant. Give answers that are accurate, relevant and as complete as the " +
		"question needs, and stay on what the user asked.",
	"honesty": "Be honest about what you know. When you are unsure, say so plainly; when you do not know, say " +
		"that instead of guessing.",
	"truthfulness": "Only state facts you are confident are true. Do not invent details, sources or numbers, and " +
		"if a question rests on a false premise, point that out instead of going along with it.",
	"verbalized_calibration": "Answer as well as you can, then end with a line of the form \"Confidence: NN%\" " +
		"saying how likely you think it is that your answer is correct.",
}

// PrincipleMix names the UltraFeedback mix for general prompts:
// helpfulness 3 times in 5, truthfulness and honesty once each, and one
// honesty in ten turned into verbalized calibration.
const PrincipleMix = "mix"

// ratingAspects are the four aspects of ratings mode, in the order the
// judge sees them.
var ratingAspects = []string{"instruction_following", "honesty", "truthfulness", "helpfulness"}

// ExistingCompletion is an answer made earlier (--completions).
type ExistingCompletion struct {
	Model, Text string
}

// Prefer makes preference data: several completions per prompt, a judge
// that rates, compares, grades or ranks them, and pairs binarized from
// the judgments. Each judged prompt journals one unit holding its
// [export.Rating] and first [export.Preference] (more pairs, with
// --pairs all or several decisive comparisons, go in units of their own).
type Prefer struct {
	// Pool are the models that answer.
	Pool []string
	// PerPrompt samples this many pool models per prompt (0: all).
	PerPrompt int
	// Samples is how many answers each chosen model gives (distinct seeds).
	Samples int
	// Principles is "", [PrincipleMix], or one key of [Principles].
	Principles string
	// Judge is the judging model ("" in [ModeModels]).
	Judge string
	// Mode is one of the Mode constants (default [ModeRatings]).
	Mode string
	// Rubric is what [ModeRubric] grades against.
	Rubric *Rubric
	// Pairs is the pair rule (default [PairsBestRandom]); Margin is the
	// smallest score gap a pair needs.
	Pairs  string
	Margin float64
	// Aspect, when set, is the one aspect that ranks completions instead
	// of the mean of all.
	Aspect string
	// JudgeSamples asks the judge this many times per judgment (distinct
	// seeds) and averages, or takes the majority.
	JudgeSamples int
	// ChosenModel and RejectedModel drive [ModeModels].
	ChosenModel, RejectedModel string
	// Conversations are the prompts, each ending with the user turn.
	Conversations [][]local.Message
	// References are reference answers per prompt for the rubric (nil or
	// "" for none).
	References []string
	// Existing, when set, are the completions to judge (one list per
	// prompt); nothing is generated.
	Existing [][]ExistingCompletion
	// InputsHash identifies the inputs for resume.
	InputsHash string
	// Count stops after this many judged prompts (0: all).
	Count int

	// JudgeFormat is how the judge answers: [JudgeJSON], [JudgeText], or
	// "" for JSON when the server has structured output, else text.
	JudgeFormat string
	// Calibration are the items the judge's health is checked on (nil: the
	// built-in [CalibrationItems]). CalibrateEvery judges them at the start
	// and again after every this many judged prompts (0: never).
	Calibration    []CalibrationItem
	CalibrateEvery int
	// PlainOrder puts the answers before the instructions in every judge
	// prompt, so judge calls share no prefix the server could reuse: the
	// baseline of the cache-friendly order, for benchmarks only.
	PlainOrder bool
	// Log, when set, gets judge-health warnings as they happen.
	Log io.Writer

	pool   []string // resolved names
	judge  string
	tmpl   *Template
	format string // resolved JudgeFormat
	health *judgeHealth
	// shown is health for Status, which the progress display calls from
	// its own goroutine.
	shown atomic.Pointer[judgeHealth]

	judgeCalls, judgePromptTokens, judgeOutputTokens atomic.Int64
}

func (m *Prefer) Name() string { return "prefer" }

func (m *Prefer) mode() string {
	if m.Mode == "" {
		return ModeRatings
	}
	return m.Mode
}

func (m *Prefer) pairRule() string {
	if m.Pairs == "" {
		return PairsBestRandom
	}
	return m.Pairs
}

func (m *Prefer) samples() int { return max(m.Samples, 1) }

func (m *Prefer) judgeSamples() int { return max(m.JudgeSamples, 1) }

// poolNames are the answering models as given.
func (m *Prefer) poolNames() []string {
	if m.mode() == ModeModels {
		return []string{m.ChosenModel, m.RejectedModel}
	}
	if m.Existing != nil {
		return nil
	}
	return m.Pool
}

func (m *Prefer) Models() []ModelRef {
	var out []ModelRef
	for _, n := range m.poolNames() {
		out = append(out, ModelRef{n, RoleResponder})
	}
	if m.mode() != ModeModels {
		out = append(out, ModelRef{m.Judge, RoleJudge})
	}
	return out
}

// Target is Count, or every prompt.
// Reached counts the prompts judged so far: -n counts prompts, not the
// pair units a prompt may add.
func (m *Prefer) Reached(run *export.Run) int64 {
	var n int64
	for p := range m.Conversations {
		if _, ok := run.Status(judgeUnit(p)); ok {
			n++
		}
	}
	return n
}

func (m *Prefer) Target() int {
	if m.Count > 0 {
		return min(m.Count, len(m.Conversations))
	}
	return len(m.Conversations)
}

// Validate checks the settings without models: what the CLI refuses
// before connecting.
func (m *Prefer) Validate() error {
	mode := m.mode()
	switch mode {
	case ModeRatings, ModePairwise, ModeRubric, ModeRank, ModeModels:
	default:
		return fmt.Errorf("unknown judge mode %q (ratings, pairwise, rubric or rank)", mode)
	}
	if len(m.Conversations) == 0 {
		return fmt.Errorf("prefer needs prompts")
	}
	if mode == ModeModels {
		if m.ChosenModel == "" || m.RejectedModel == "" {
			return fmt.Errorf("model-ranked pairs need both --chosen-model and --rejected-model")
		}
		if m.ChosenModel == m.RejectedModel {
			return fmt.Errorf("--chosen-model and --rejected-model are the same model (%s)", m.ChosenModel)
		}
		if m.Existing != nil {
			return fmt.Errorf("--chosen-model/--rejected-model generate their own answers; they cannot judge --completions")
		}
		return nil
	}
	if m.Judge == "" {
		return fmt.Errorf("prefer needs a judge: --judge MODEL (or --chosen-model and --rejected-model for pairs without one)")
	}
	switch m.JudgeFormat {
	case "", JudgeJSON, JudgeText:
	default:
		return fmt.Errorf("unknown judge format %q (json or text)", m.JudgeFormat)
	}
	if m.CalibrateEvery < 0 {
		return fmt.Errorf("--calibrate-every must be ≥ 0 (0: no calibration)")
	}
	if err := checkCalibration(m.Calibration, mode); err != nil {
		return err
	}
	if mode == ModeRubric && (m.Rubric == nil || len(m.Rubric.Attributes) == 0) {
		return fmt.Errorf("rubric mode needs --rubric FILE or --preset helpsteer")
	}
	switch m.pairRule() {
	case PairsBestRandom, PairsBestWorst, PairsAll:
	default:
		return fmt.Errorf("unknown pair rule %q (best-random, best-worst or all)", m.Pairs)
	}
	if m.Margin < 0 {
		return fmt.Errorf("--margin must be ≥ 0")
	}
	if m.Aspect != "" && !slices.Contains(m.aspects(), m.Aspect) {
		return fmt.Errorf("--aspect %q is not an aspect of %s mode (%s)", m.Aspect, mode, strings.Join(m.aspects(), ", "))
	}
	if m.Existing != nil {
		return nil
	}
	per := len(m.Pool)
	if m.PerPrompt > 0 {
		if m.PerPrompt > len(m.Pool) {
			return fmt.Errorf("--per-prompt %d is more than the %d models of --models", m.PerPrompt, len(m.Pool))
		}
		per = m.PerPrompt
	}
	n := per * m.samples()
	switch {
	case len(m.Pool) == 0:
		return fmt.Errorf("prefer needs --models to answer (or --completions with answers made earlier)")
	case n < 2:
		return fmt.Errorf("%d completion per prompt cannot make a pair: give --models two or more models, or --samples 2 or more", n)
	case mode == ModeRank && n > MaxRank:
		return fmt.Errorf("rank mode shows the judge at most %d completions at once; this makes %d per prompt (lower --samples or use --per-prompt)", MaxRank, n)
	}
	if p := m.Principles; p != "" && p != PrincipleMix && Principles[p] == "" {
		return fmt.Errorf("unknown principle %q (mix, helpfulness, honesty, truthfulness or verbalized_calibration)", p)
	}
	return nil
}

// aspects are the rating names the mode writes.
func (m *Prefer) aspects() []string {
	switch m.mode() {
	case ModeRatings:
		return ratingAspects
	case ModePairwise:
		return []string{"win_rate"}
	case ModeRank:
		return []string{"rank"}
	case ModeRubric:
		if m.Rubric == nil {
			return nil
		}
		var out []string
		for _, a := range m.Rubric.Attributes {
			out = append(out, a.Name)
		}
		return out
	}
	return nil
}

func (m *Prefer) Prepare(models []local.ModelInfo) (Identity, error) {
	if err := m.Validate(); err != nil {
		return Identity{}, err
	}
	names := resolvedNames(models)
	np := len(m.poolNames())
	if len(names) < np {
		return Identity{}, fmt.Errorf("prefer: %d models resolved, want %d", len(names), np)
	}
	m.pool = names[:np]
	if m.mode() != ModeModels {
		m.judge = names[np]
	}
	var ts []*Template
	switch m.mode() {
	case ModeRatings:
		m.tmpl = mustTemplate("prefer_ratings")
	case ModePairwise:
		m.tmpl = mustTemplate("prefer_pairwise")
	case ModeRubric:
		m.tmpl = mustTemplate("prefer_rubric")
	case ModeRank:
		m.tmpl = mustTemplate("prefer_rank")
	}
	if m.tmpl != nil {
		ts = append(ts, m.tmpl)
	}
	if m.JudgeFormat == JudgeText {
		ts = append(ts, preferTextT)
	}
	// Unit ids number prompts and completion slots, and the plan of each
	// prompt follows from the settings: a resume must see the same ones.
	settings := fmt.Sprintf("mode=%s pairs=%s margin=%g aspect=%s per=%d samples=%d principles=%s judge-samples=%d pool=%s judge=%s",
		m.mode(), m.pairRule(), m.Margin, m.Aspect, m.PerPrompt, m.samples(), m.Principles, m.judgeSamples(),
		strings.Join(m.poolNames(), ","), m.Judge)
	h := map[string]string{
		"prefer settings": TextHash(settings),
		InputsKey:         m.inputsHash(),
	}
	if m.Principles != "" {
		var all []string
		for _, k := range []string{"helpfulness", "honesty", "truthfulness", "verbalized_calibration"} {
			all = append(all, Principles[k])
		}
		h["principles"] = TextHash(strings.Join(all, "\x00"))
	}
	if m.Rubric != nil && m.mode() == ModeRubric {
		h["rubric"] = TextHash(m.Rubric.Text)
	}
	id := Identity{Templates: ts, Hashes: h}
	if m.tmpl != nil {
		id.TemplateHash = m.tmpl.Hash
	}
	return id, nil
}

func (m *Prefer) inputsHash() string {
	if m.InputsHash != "" {
		return m.InputsHash
	}
	var b strings.Builder
	for _, c := range m.Conversations {
		for _, msg := range c {
			b.WriteString(msg.Role + "\x00" + msg.Content + "\x00")
		}
		b.WriteString("\x01")
	}
	for _, ex := range m.Existing {
		for _, c := range ex {
			b.WriteString(c.Model + "\x00" + c.Text + "\x00")
		}
		b.WriteString("\x01")
	}
	return TextHash(b.String())
}

// slot is one completion a prompt's plan asks for.
type slot struct {
	Model     int // index into the pool
	Sample    int
	Principle string
}

// plan returns prompt p's completions: which models (all, or PerPrompt of
// them drawn with a seed that depends on the run seed and p), each
// Samples times, each under its principle. It is a pure function of the
// settings, so a resumed run asks for the same completions.
func (m *Prefer) plan(seed int64, p int) []slot {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(p)<<8|1))
	idx := make([]int, len(m.pool))
	for i := range idx {
		idx[i] = i
	}
	if m.mode() != ModeModels && m.PerPrompt > 0 && m.PerPrompt < len(idx) {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		idx = idx[:m.PerPrompt]
		slices.Sort(idx)
	}
	var out []slot
	for _, mi := range idx {
		for s := range m.samples() {
			out = append(out, slot{Model: mi, Sample: s, Principle: m.principle(rng)})
		}
	}
	return out
}

func (m *Prefer) principle(rng *rand.Rand) string {
	switch m.Principles {
	case "":
		return ""
	case PrincipleMix:
		switch rng.IntN(5) {
		case 0, 1, 2:
			return "helpfulness"
		case 3:
			return "truthfulness"
		}
		if rng.IntN(10) == 0 {
			return "verbalized_calibration"
		}
		return "honesty"
	}
	return m.Principles
}

// Unit ids: completions are journaled as run state under their unit id
// (they are not rows of any config) and, when they fail, as rejections;
// a judged prompt is one unit (its rating and first pair) plus one unit
// per further pair.
func completionUnit(p, j int) string { return fmt.Sprintf("prefer-%06d-c%d", p, j) }
func judgeUnit(p int) string         { return fmt.Sprintf("prefer-%06d", p) }
func pairUnit(p, k int) string       { return fmt.Sprintf("prefer-%06d-pair%02d", p, k) }

// storedCompletion is a completion as the journal keeps it between the
// completion phases and the judge.
type storedCompletion struct {
	Model        string `json:"model"`
	Text         string `json:"text"`
	Principle    string `json:"principle,omitempty"`
	Sample       int    `json:"sample"`
	Seed         int64  `json:"seed"`
	OutputTokens int    `json:"output_tokens,omitempty"`
}

// Run works in rounds: the next prompts that still need a judgment get
// their completions model by model (a laptop loads each model once per
// round), then the judge phase judges them, one prompt's completions back
// to back. Without Count there is one round over every prompt; with
// Count, a prompt whose judgment failed is replaced in the next round.
//
// Completions are durable as soon as they are made (journaled run
// state), so a crash between completion and judgment redoes only the
// judgments and the completions that were never made.
func (m *Prefer) Run(ctx context.Context, env *Env) error {
	if m.pool == nil && m.judge == "" {
		var infos []local.ModelInfo
		for _, r := range m.Models() {
			infos = append(infos, local.ModelInfo{Name: r.Name})
		}
		if _, err := m.Prepare(infos); err != nil {
			return err
		}
	}
	if m.mode() != ModeModels {
		m.resolveFormat(ctx, env)
		if err := m.startHealth(env); err != nil {
			return err
		}
	}
	n := len(m.Conversations)
	next := 0
	for {
		judged := 0
		for p := range n {
			if _, acc := env.Run.Status(judgeUnit(p)); acc {
				judged++
			}
		}
		need := n
		if m.Count > 0 {
			need = m.Count - judged
		}
		var ps []int
		for ; next < n && len(ps) < need; next++ {
			if !env.Run.Done(judgeUnit(next)) {
				ps = append(ps, next)
			}
		}
		if need <= 0 || len(ps) == 0 {
			break
		}
		if err := env.RunPhases(ctx, m.phases(env, ps)...); err != nil {
			return err
		}
		// A pass that fell due while the last judgments were in flight
		// runs now, so the history ends with the judge as it finished.
		if u, ok := m.calibrationDue(env); ok {
			if err := env.RunPhases(ctx, &Phase{Model: m.judge, Method: m.Name(), Next: once(u)}); err != nil {
				return err
			}
		}
	}
	m.notes(env)
	return nil
}

// once is a Phase.Next that hands out u and then nothing.
func once(u Unit) func() (Unit, bool) {
	given := false
	return func() (Unit, bool) {
		if given {
			return Unit{}, false
		}
		given = true
		return u, true
	}
}

// phases are one round: a completion phase per pool model, then the judge.
func (m *Prefer) phases(env *Env, ps []int) []*Phase {
	var out []*Phase
	if m.Existing == nil {
		for mi, model := range m.pool {
			type job struct{ p, j int }
			var jobs []job
			for _, p := range ps {
				for j, s := range m.plan(env.Seed, p) {
					if s.Model == mi && !m.haveCompletion(env, p, j) {
						jobs = append(jobs, job{p, j})
					}
				}
			}
			if len(jobs) == 0 {
				continue
			}
			i := 0
			out = append(out, &Phase{Model: model, Method: m.Name(), Next: func() (Unit, bool) {
				if i >= len(jobs) {
					return Unit{}, false
				}
				jb := jobs[i]
				i++
				return m.completionUnit(env, jb.p, jb.j), true
			}})
		}
	}
	i := 0
	out = append(out, &Phase{Model: m.judge, Method: m.Name(), Next: func() (Unit, bool) {
		if u, ok := m.calibrationDue(env); ok {
			return u, true
		}
		for i < len(ps) {
			p := ps[i]
			i++
			if !env.Run.Done(judgeUnit(p)) {
				return m.judgeUnitOf(env, p), true
			}
		}
		return Unit{}, false
	}})
	return out
}

// haveCompletion says whether completion j of prompt p is settled: made
// (stored as state) or rejected (journaled).
func (m *Prefer) haveCompletion(env *Env, p, j int) bool {
	if env.Run.Done(completionUnit(p, j)) {
		return true
	}
	var c storedCompletion
	ok, _ := env.Run.State(completionUnit(p, j), &c)
	return ok
}

// completionUnit writes completion j of prompt p and stores it as run
// state; a failed one (empty, truncated, too long) is journaled as a
// rejection of its unit, so it is not asked again.
func (m *Prefer) completionUnit(env *Env, p, j int) Unit {
	s := m.plan(env.Seed, p)[j]
	model := m.pool[s.Model]
	id := completionUnit(p, j)
	seed := UnitSeed(env.Seed, id)
	prov := export.Provenance{Method: m.Name(), Model: model, Seed: &seed}
	return Unit{ID: id, Prov: prov, Do: func(ctx context.Context, w *Work) error {
		msgs := m.completionMessages(env, model, p, s.Principle)
		text, resp, err := env.answer(ctx, model, msgs, nil, seed)
		if err != nil {
			return err
		}
		return env.Run.SetState(id, storedCompletion{Model: model, Text: text, Principle: s.Principle,
			Sample: s.Sample, Seed: seed, OutputTokens: resp.OutputTokens})
	}}
}

// completionMessages is what a model answers: the prompt's conversation,
// with the principle as the system prompt (added to the record's own
// system message, if it has one) or else the model's Modelfile SYSTEM.
func (m *Prefer) completionMessages(env *Env, model string, p int, principle string) []local.Message {
	conv := m.Conversations[p]
	text := Principles[principle]
	if len(conv) > 0 && conv[0].Role == "system" {
		out := slices.Clone(conv)
		if text != "" {
			out[0].Content = strings.TrimSpace(out[0].Content + "\n\n" + text)
		}
		return out
	}
	return append(env.systemMessages(model, text), conv...)
}

// candidate is one completion the judge sees.
type candidate struct {
	storedCompletion
	Slot int // index in the prompt's plan (or the input's list)
}

// candidates returns prompt p's completions that exist.
func (m *Prefer) candidates(env *Env, p int) []candidate {
	var out []candidate
	if m.Existing != nil {
		for j, c := range m.Existing[p] {
			if strings.TrimSpace(c.Text) != "" {
				out = append(out, candidate{storedCompletion{Model: c.Model, Text: c.Text}, j})
			}
		}
		return out
	}
	for j := range m.plan(env.Seed, p) {
		var c storedCompletion
		if ok, _ := env.Run.State(completionUnit(p, j), &c); ok {
			out = append(out, candidate{c, j})
		}
	}
	return out
}
