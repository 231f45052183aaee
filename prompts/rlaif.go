package prompts

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"synthkit/export"
	"synthkit/local"
)

// LabelPair is a prompt and two answers for the RLAIF judge to compare.
type LabelPair struct {
	Prompt []local.Message
	A, B   string
	// ModelA and ModelB name the models that wrote A and B, when known.
	ModelA, ModelB string
}

// Labelling ways: how a soft label P(A better) is made.
const (
	LabelsAuto     = "auto"     // logprobs where the server returns them, else votes
	LabelsLogprobs = "logprobs" // the first answer token's log-probabilities of A and B
	LabelsVotes    = "votes"    // the share of k sampled verdicts
)

// DefaultVotes is k, the sampled verdicts per order, unless set.
const DefaultVotes = 5

// TieMargin: a soft label within this of 0.5 is a tie (no pair is made).
const TieMargin = 0.02

// RLAIF labels preference pairs with AI feedback under a constitution, as
// in the RL stage of Constitutional AI: for each pair, one principle drawn
// at random (seeded, recorded), the judge asked which answer follows it
// better in both orders (A first, then B first) to cancel position bias,
// and a soft label P(A better) averaged over the two orders. The soft
// label of one order comes from the first-token log-probabilities of "A"
// and "B" where the server returns log-probabilities (normalised over the
// two letters), else from k sampled verdicts at temperature 1.
//
// It runs in two phases. Labelling journals one ratings row per pair (the
// soft label of each answer under the principle, the per-order numbers in
// metadata). Once every pair is labelled, the principle stability table is
// computed from those rows and each pair becomes a preference row
// (chosen/rejected by the label, score = the probability, clamped to
// Clamp if set), or is left out as a tie or, with DropUnstable, because
// its principle's verdict flipped too often when the answers swapped.
type RLAIF struct {
	Judge string
	Pairs []LabelPair
	// Constitution holds the principles (default: [DefaultConstitution]).
	Constitution *Constitution
	// Votes is k for vote labels (default DefaultVotes).
	Votes int
	// Labels is LabelsAuto (default), LabelsLogprobs or LabelsVotes.
	Labels string
	// Clamp, when set, bounds the probabilities written to [lo, hi].
	Clamp *[2]float64
	// DropUnstable, when set, leaves out the pairs of principles whose
	// flip rate is above it.
	DropUnstable *float64
	// CoT makes the judge reason step by step before it answers (the
	// paper's chain-of-thought labels): a vote is a JSON reply with the
	// reasoning first; a logprob label reads the answer letter after the
	// reasoning, asked for in a second turn.
	CoT bool
	// InputsHash identifies the pairs for resume (default: their hash).
	InputsHash string

	// Stability is the per-principle table, set by Run once every pair
	// is labelled.
	Stability []PrincipleStability
	// Method is how labels were made in this run ("logprobs" or "votes"),
	// set by Run.
	Method string

	judge      string
	principles []Principle
	tmplHash   string
}

var (
	rlaifCompareT = mustTemplate("rlaif_compare")
	rlaifAnswerT  = mustTemplate("rlaif_answer")
)

var (
	choiceSchema    = local.MustCompileSchema(`{"type":"object","properties":{"choice":{"type":"string","enum":["A","B"]}},"required":["choice"]}`)
	cotChoiceSchema = local.MustCompileSchema(`{"type":"object","properties":{"reasoning":{"type":"string","minLength":1},"choice":{"type":"string","enum":["A","B"]}},"required":["reasoning","choice"]}`)
)

func init() {
	Register(Factory{Name: "rlaif", Summary: "AI preference labels under a constitution (RLAIF soft labels)",
		New: func() Method { return &RLAIF{} }})
}

func (o *RLAIF) Name() string       { return "rlaif" }
func (o *RLAIF) Models() []ModelRef { return []ModelRef{{o.Judge, RoleJudge}} }

// Target counts both phases: a label and a pair per input pair.
func (o *RLAIF) Target() int { return 2 * len(o.Pairs) }

func (o *RLAIF) votes() int {
	if o.Votes <= 0 {
		return DefaultVotes
	}
	return o.Votes
}

func (o *RLAIF) Prepare(models []local.ModelInfo) (Identity, error) {
	if len(o.Pairs) == 0 {
		return Identity{}, fmt.Errorf("rlaif needs pairs to label (--label-pairs)")
	}
	if o.Constitution == nil {
		o.Constitution = DefaultConstitution()
	}
	o.principles = o.Constitution.Principles
	if len(o.principles) == 0 {
		return Identity{}, fmt.Errorf("the constitution has no principles")
	}
	switch o.Labels {
	case "":
		o.Labels = LabelsAuto
	case LabelsAuto, LabelsLogprobs, LabelsVotes:
	default:
		return Identity{}, fmt.Errorf("labels must be auto, logprobs or votes, not %q", o.Labels)
	}
	if c := o.Clamp; c != nil && !(0 <= c[0] && c[0] <= 0.5 && 0.5 <= c[1] && c[1] <= 1) {
		return Identity{}, fmt.Errorf("clamp %g,%g: need 0 ≤ lo ≤ 0.5 ≤ hi ≤ 1", c[0], c[1])
	}
	o.judge = models[0].Name
	o.tmplHash = CombinedHash(rlaifCompareT, rlaifAnswerT)
	inputs := o.InputsHash
	if inputs == "" {
		raw, _ := json.Marshal(o.Pairs)
		inputs = TextHash(string(raw))
	}
	clamp, drop := "off", "off"
	if o.Clamp != nil {
		clamp = fmt.Sprintf("%g,%g", o.Clamp[0], o.Clamp[1])
	}
	if o.DropUnstable != nil {
		drop = strconv.FormatFloat(*o.DropUnstable, 'g', -1, 64)
	}
	return Identity{Templates: []*Template{rlaifCompareT, rlaifAnswerT}, TemplateHash: o.tmplHash, Hashes: map[string]string{
		"input pairs":   inputs,
		"constitution":  o.Constitution.Hash(),
		"labels":        o.Labels + "/k=" + strconv.Itoa(o.votes()) + "/cot=" + strconv.FormatBool(o.CoT),
		"clamp":         clamp,
		"drop unstable": drop,
	}}, nil
}

func rlaifLabelUnit(i int) string { return fmt.Sprintf("rlaif-%06d", i) }
func rlaifPairUnit(i int) string  { return fmt.Sprintf("rlaif-%06d-pair", i) }

// featureProber is what [local.Client] offers to find out whether the
// server returns log-probabilities.
type featureProber interface {
	ProbeFeatures(ctx context.Context, model string) (local.Features, error)
}

// chooseMethod decides between logprobs and votes and notes why.
func (o *RLAIF) chooseMethod(ctx context.Context, env *Env) string {
	if o.Labels == LabelsVotes {
		env.Run.Note(fmt.Sprintf("RLAIF labels from %d sampled verdicts per order (--labels votes)", o.votes()))
		return LabelsVotes
	}
	has, how := false, "the model interface cannot be probed"
	if p, ok := env.Model.(featureProber); ok {
		f, err := p.ProbeFeatures(ctx, o.judge)
		switch {
		case err != nil:
			how = "probing the server failed: " + err.Error()
		default:
			has = f.Logprobs
			how = "probed with " + o.judge
		}
	}
	switch {
	case has:
		env.Run.Note("RLAIF labels from the first answer token's log-probabilities of A and B (the server returns them; " + how + ")")
		return LabelsLogprobs
	case o.Labels == LabelsLogprobs:
		env.Run.Note(fmt.Sprintf("--labels logprobs asked, but the server returns no log-probabilities (%s): labels from %d sampled verdicts per order", how, o.votes()))
	default:
		env.Run.Note(fmt.Sprintf("RLAIF labels from %d sampled verdicts per order: the server returns no log-probabilities (%s)", o.votes(), how))
	}
	return LabelsVotes
}

func (o *RLAIF) Run(ctx context.Context, env *Env) error {
	o.Method = o.chooseMethod(ctx, env)
	label := &Phase{Model: o.judge, Method: o.Name(),
		Next: seqUnits(len(o.Pairs), func(i int) bool { return env.Run.Done(rlaifLabelUnit(i)) }, func(i int) Unit {
			seed := UnitSeed(env.Seed, rlaifLabelUnit(i))
			prov := export.Provenance{Method: o.Name(), Model: o.judge, Seed: &seed, TemplateHash: o.tmplHash}
			return Unit{ID: rlaifLabelUnit(i), Prov: prov, Do: func(ctx context.Context, w *Work) error {
				row, err := o.label(ctx, env, i, seed)
				if err != nil {
					return err
				}
				return w.Commit(Entry{Unit: rlaifLabelUnit(i), Rows: []export.Row{row}, Prov: prov})
			}}
		})}
	if err := env.RunPhases(ctx, label); err != nil {
		return err
	}
	labels, err := o.readLabels(env)
	if err != nil {
		return err
	}
	o.Stability = StabilityOf(labels)
	var unstable map[string]bool
	if o.DropUnstable != nil {
		unstable = map[string]bool{}
		for _, s := range o.Stability {
			if unstableBy(s, o.DropUnstable) {
				unstable[s.Principle] = true
			}
		}
	}
	pairs := &Phase{Model: o.judge, Method: o.Name(),
		Next: seqUnits(len(o.Pairs), func(i int) bool {
			_, labelled := labels[i]
			return !labelled || env.Run.Done(rlaifPairUnit(i))
		}, func(i int) Unit {
			l := labels[i]
			prov := export.Provenance{Method: o.Name(), Model: o.judge, Seed: &l.Seed, TemplateHash: o.tmplHash}
			return Unit{ID: rlaifPairUnit(i), Prov: prov, Do: func(ctx context.Context, w *Work) error {
				switch {
				case unstable[l.Principle]:
					return reject(ReasonUnstablePrinciple)
				case l.Tie():
					return reject(ReasonLabelTie)
				}
				return w.Commit(Entry{Unit: rlaifPairUnit(i), Rows: []export.Row{o.preference(i, l)}, Prov: prov})
			}}
		})}
	if err := env.RunPhases(ctx, pairs); err != nil {
		return err
	}
	env.Run.SetTable(StabilityCardTable(o.Stability, o.DropUnstable))
	return nil
}

// StabilityCardTable is the principle stability table for the dataset card.
func StabilityCardTable(st []PrincipleStability, dropAbove *float64) export.CardTable {
	t := export.CardTable{Title: "Principle stability (RLAIF labels)",
		Header: []string{"principle", "labels", "flip rate when the answers swap", "mean gap between orders", "spread of P(A)", "ties", "labels dropped"}}
	for _, s := range st {
		dropped := "no"
		if unstableBy(s, dropAbove) {
			dropped = "yes (--drop-unstable)"
		}
		t.Rows = append(t.Rows, []string{s.Principle, strconv.Itoa(s.Labels), fmt.Sprintf("%.0f%%", 100*s.FlipRate),
			fmt.Sprintf("%.2f", s.OrderGap), fmt.Sprintf("%.2f", s.Spread), fmt.Sprintf("%.0f%%", 100*s.TieRate), dropped})
	}
	return t
}

// Label is one pair's soft label, as journaled in the ratings row's
// metadata.
type Label struct {
	Pair      int     `json:"pair_index"`
	Principle string  `json:"principle"`
	Method    string  `json:"label_method"`
	PA        float64 `json:"p_a"`
	// FirstAB is P(first shown is better) with A first; FirstBA with B first.
	FirstAB float64 `json:"p_first_ab"`
	FirstBA float64 `json:"p_first_ba"`
	// Votes for the first shown, and valid votes, per order (vote labels).
	VotesAB []int `json:"votes_ab,omitempty"`
	VotesBA []int `json:"votes_ba,omitempty"`
	Seed    int64 `json:"seed"`
	// CoT marks a label made after step-by-step reasoning.
	CoT bool `json:"cot,omitempty"`
}

// Flipped reports whether the verdict changed side when the answers
// swapped places (both orders decisive, and they disagree).
func (l Label) Flipped() bool {
	ab := sign(l.FirstAB - 0.5) // +1: A
	ba := sign(0.5 - l.FirstBA) // +1: A (B shown first lost)
	return ab != 0 && ba != 0 && ab != ba
}

// Tie reports a soft label too close to 0.5 to pick a side.
func (l Label) Tie() bool { return math.Abs(l.PA-0.5) < TieMargin }

func sign(x float64) int {
	switch {
	case x > 1e-9:
		return 1
	case x < -1e-9:
		return -1
	}
	return 0
}

// CombineOrders is the soft label P(A better) from the two orders:
// firstAB = P(first better) with A first, firstBA with B first.
func CombineOrders(firstAB, firstBA float64) float64 { return (firstAB + 1 - firstBA) / 2 }

// ClampLabel bounds p to [lo, hi].
func ClampLabel(p float64, c *[2]float64) float64 {
	if c == nil {
		return p
	}
	return min(max(p, c[0]), c[1])
}

// label judges pair i in both orders.
func (o *RLAIF) label(ctx context.Context, env *Env, i int, seed int64) (export.Row, error) {
	pair := o.Pairs[i]
	rng := rand.New(rand.NewPCG(uint64(seed), 0x41a1f))
	pr := o.principles[rng.IntN(len(o.principles))]
	ab, err := o.judgeOrder(ctx, env, pair, pair.A, pair.B, pr, seed)
	if err != nil {
		return nil, err
	}
	ba, err := o.judgeOrder(ctx, env, pair, pair.B, pair.A, pr, seed+1)
	if err != nil {
		return nil, err
	}
	l := Label{Pair: i, Principle: pr.Name, FirstAB: ab.p, FirstBA: ba.p, PA: CombineOrders(ab.p, ba.p), Seed: seed,
		VotesAB: ab.votes, VotesBA: ba.votes, Method: ab.method, CoT: o.CoT}
	if ab.method != ba.method {
		l.Method = "mixed"
	}
	meta := map[string]any{}
	raw, _ := json.Marshal(l)
	json.Unmarshal(raw, &meta)
	why := func(first string, o orderLabel) string {
		if o.method == LabelsVotes {
			return fmt.Sprintf("%s shown first: %d of %d verdicts for the first", first, o.votes[0], o.votes[1])
		}
		return fmt.Sprintf("%s shown first: P(first) = %.3f from log-probabilities", first, o.p)
	}
	rationale := why("A", ab) + "; " + why("B", ba)
	if o.CoT {
		rationale += "\n\nReasoning with A shown first:\n" + ab.reasoning + "\n\nReasoning with B shown first:\n" + ba.reasoning
	}
	return export.Rating{Prompt: toExport(pair.Prompt), Metadata: meta, Completions: []export.RatedCompletion{
		{Model: pair.ModelA, Response: pair.A, Ratings: []export.AspectRating{{Aspect: pr.Name, Rating: l.PA, Rationale: rationale}}},
		{Model: pair.ModelB, Response: pair.B, Ratings: []export.AspectRating{{Aspect: pr.Name, Rating: 1 - l.PA, Rationale: rationale}}},
	}}, nil
}

type orderLabel struct {
	p         float64
	method    string
	votes     []int  // [for first, valid]
	reasoning string // the first chain of thought (CoT)
}

// renderConversation lays out chat turns for the judge.
func renderConversation(msgs []local.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		role := map[string]string{"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}[m.Role]
		fmt.Fprintf(&b, "%s: %s\n", role, m.Content)
	}
	return strings.TrimSpace(b.String())
}

func (o *RLAIF) comparePrompt(pair LabelPair, first, second string, pr Principle, json bool) (string, error) {
	cot := o.CoT
	type ex struct{ Conversation, First, Second, Answer string }
	var exs []ex
	for k, c := range o.Constitution.Comparisons {
		e := ex{Conversation: renderConversation(c.Turns), First: c.Better, Second: c.Worse, Answer: "A"}
		if k%2 == 1 { // alternate sides so the examples teach no position
			e.First, e.Second, e.Answer = c.Worse, c.Better, "B"
		}
		exs = append(exs, e)
	}
	return rlaifCompareT.Render(map[string]any{"Examples": exs, "Conversation": renderConversation(pair.Prompt),
		"First": first, "Second": second, "Question": pr.question(), "JSON": json, "CoT": cot})
}

// judgeOrder returns P(first better) for one order.
func (o *RLAIF) judgeOrder(ctx context.Context, env *Env, pair LabelPair, first, second string, pr Principle, seed int64) (orderLabel, error) {
	if o.Method == LabelsLogprobs {
		prompt, err := o.comparePrompt(pair, first, second, pr, false)
		if err != nil {
			return orderLabel{}, err
		}
		msgs := append(env.systemMessages(o.judge, ""), local.Message{Role: "user", Content: prompt})
		reasoning := ""
		if o.CoT {
			// Reason first (sampled, as the paper did), then ask for the letter.
			thought, _, err := env.answer(ctx, o.judge, msgs, map[string]any{"temperature": 1.0}, seed)
			if err != nil {
				return orderLabel{}, err
			}
			ask, err := rlaifAnswerT.Render(nil)
			if err != nil {
				return orderLabel{}, err
			}
			reasoning = thought
			msgs = append(msgs, local.Message{Role: "assistant", Content: thought}, local.Message{Role: "user", Content: ask})
		}
		s := seed
		resp, err := env.Chat(ctx, &local.ChatRequest{Model: o.judge, Messages: msgs, Seed: &s,
			Options: env.options(map[string]any{"temperature": 0, "num_predict": 4}), Logprobs: true, TopLogprobs: 20})
		if err != nil {
			return orderLabel{}, err
		}
		if p, ok := SoftLabelFromLogprobs(resp.Logprobs); ok {
			return orderLabel{p: p, method: LabelsLogprobs, reasoning: reasoning}, nil
		}
		// No A or B among the first tokens: vote instead, and say so.
	}
	prompt, err := o.comparePrompt(pair, first, second, pr, true)
	if err != nil {
		return orderLabel{}, err
	}
	k := o.votes()
	forFirst, valid := 0, 0
	schema := choiceSchema
	if o.CoT {
		schema = cotChoiceSchema
	}
	reasoning := ""
	for v := 0; v < k; v++ {
		var out struct {
			Reasoning string `json:"reasoning"`
			Choice    string `json:"choice"`
		}
		err := env.instruct(ctx, o.judge, prompt, schema, map[string]any{"temperature": 1.0}, seed+int64(v)*7919, &out)
		if r := RejectReason(err); r == ReasonInvalid {
			continue // this vote never parsed; the others still count
		} else if err != nil {
			return orderLabel{}, err
		}
		valid++
		if reasoning == "" {
			reasoning = out.Reasoning
		}
		if out.Choice == "A" {
			forFirst++
		}
	}
	if valid == 0 {
		return orderLabel{}, reject(ReasonLabelOffFormat)
	}
	return orderLabel{p: float64(forFirst) / float64(valid), method: LabelsVotes, votes: []int{forFirst, valid}, reasoning: reasoning}, nil
}

// choiceLetter maps a token to "A" or "B" (" A", "(B", "A." …), else "".
func choiceLetter(tok string) string {
	t := strings.Trim(tok, " \t\n\"'()[]*.:")
	if t == "A" || t == "B" {
		return t
	}
	return ""
}

// SoftLabelFromLogprobs returns P(A) = e^lA / (e^lA + e^lB) from the first
// answer token that has A or B among its most likely tokens (within the
// first four: a model may open with a space or a parenthesis). Several
// spellings of one letter (" A", "A") add up. A letter missing from the
// top list gets the smallest listed log-probability, an upper bound of its
// own. ok is false when no position lists either letter.
func SoftLabelFromLogprobs(lps []local.TokenLogprob) (p float64, ok bool) {
	probs, ok := OptionProbs(lps, 2, func(tok string) int {
		switch choiceLetter(tok) {
		case "A":
			return 0
		case "B":
			return 1
		}
		return -1
	})
	if !ok {
		return 0, false
	}
	return probs[0], true
}

func logAddExp(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	m := math.Max(a, b)
	return m + math.Log(math.Exp(a-m)+math.Exp(b-m))
}

// readLabels reads every pair's label from the journal's ratings rows.
func (o *RLAIF) readLabels(env *Env) (map[int]Label, error) {
	out := map[int]Label{}
	err := env.Run.Rows(func(unit string, rows []export.Row) error {
		for _, r := range rows {
			rt, ok := r.(export.Rating)
			if !ok {
				continue
			}
			raw, _ := json.Marshal(rt.Metadata)
			var l Label
			if err := json.Unmarshal(raw, &l); err != nil {
				return fmt.Errorf("label of %s: %w", unit, err)
			}
			if unit == rlaifLabelUnit(l.Pair) {
				out[l.Pair] = l
			}
		}
		return nil
	})
	return out, err
}

// preference turns pair i's label into a TRL preference row.
func (o *RLAIF) preference(i int, l Label) export.Preference {
	pair := o.Pairs[i]
	chosen, rejected, cm, rm := pair.A, pair.B, pair.ModelA, pair.ModelB
	pc := l.PA
	if l.PA < 0.5 {
		chosen, rejected, cm, rm = pair.B, pair.A, pair.ModelB, pair.ModelA
		pc = 1 - l.PA
	}
	pc = ClampLabel(pc, o.Clamp)
	pr := 1 - pc
	meta := map[string]any{"probability": pc, "p_a": l.PA, "principle": l.Principle, "label_method": l.Method,
		"flipped": l.Flipped(), "pair_index": i, "p_first_ab": l.FirstAB, "p_first_ba": l.FirstBA}
	if o.Clamp != nil {
		meta["clamp"] = []float64{o.Clamp[0], o.Clamp[1]}
	}
	if l.CoT {
		meta["cot"] = true
	}
	return export.Preference{Prompt: toExport(pair.Prompt),
		Chosen:      []export.Message{{Role: "assistant", Content: chosen}},
		Rejected:    []export.Message{{Role: "assistant", Content: rejected}},
		ScoreChosen: &pc, ScoreRejected: &pr, ChosenModel: cm, RejectedModel: rm, Metadata: meta}
}

// PrincipleStability measures how reliable one principle's labels are.
type PrincipleStability struct {
	Principle string
	Labels    int
	// FlipRate is the share of labels whose verdict changed side when the
	// answers swapped places.
	FlipRate float64
	// OrderGap is the mean |P(A) with A first − P(A) with B first|.
	OrderGap float64
	// Spread is the standard deviation of P(A) over its labels.
	Spread float64
	// TieRate is the share of labels within TieMargin of 0.5.
	TieRate float64
}

// MinLabelsToDrop is how many labels a principle needs before
// --drop-unstable may leave it out: one flipped label is a 100% flip rate.
const MinLabelsToDrop = 3

// unstableBy reports whether --drop-unstable T leaves out s's labels.
func unstableBy(s PrincipleStability, dropAbove *float64) bool {
	return dropAbove != nil && s.Labels >= MinLabelsToDrop && s.FlipRate > *dropAbove
}

// StabilityOf computes the stability table, by principle name.
func StabilityOf(labels map[int]Label) []PrincipleStability {
	by := map[string][]Label{}
	for _, l := range labels {
		by[l.Principle] = append(by[l.Principle], l)
	}
	var out []PrincipleStability
	for name, ls := range by {
		s := PrincipleStability{Principle: name, Labels: len(ls)}
		var sum, sq float64
		for _, l := range ls {
			if l.Flipped() {
				s.FlipRate++
			}
			if l.Tie() {
				s.TieRate++
			}
			s.OrderGap += math.Abs(l.FirstAB - (1 - l.FirstBA))
			sum += l.PA
			sq += l.PA * l.PA
		}
		n := float64(len(ls))
		s.FlipRate /= n
		s.TieRate /= n
		s.OrderGap /= n
		mean := sum / n
		s.Spread = math.Sqrt(math.Max(sq/n-mean*mean, 0))
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].FlipRate != out[j].FlipRate {
			return out[i].FlipRate > out[j].FlipRate
		}
		return out[i].Principle < out[j].Principle
	})
	return out
}

// StabilityTable renders the table for the terminal, least stable first.
func StabilityTable(st []PrincipleStability, dropAbove *float64) string {
	var b strings.Builder
	w := len("principle")
	for _, s := range st {
		w = max(w, len(s.Principle))
	}
	fmt.Fprintf(&b, "%-*s  %6s  %5s  %5s  %6s  %5s\n", w, "principle", "labels", "flip", "gap", "spread", "ties")
	for _, s := range st {
		mark := ""
		switch {
		case unstableBy(s, dropAbove):
			mark = "  dropped"
		case dropAbove != nil && s.FlipRate > *dropAbove:
			mark = fmt.Sprintf("  kept (fewer than %d labels to judge it by)", MinLabelsToDrop)
		}
		fmt.Fprintf(&b, "%-*s  %6d  %4.0f%%  %5.2f  %6.2f  %4.0f%%%s\n", w, s.Principle, s.Labels, 100*s.FlipRate, s.OrderGap, s.Spread, 100*s.TieRate, mark)
	}
	return b.String()
}

// StabilityNote is the table on one line, for run.json and the card.
func StabilityNote(st []PrincipleStability) string {
	parts := make([]string, len(st))
	for i, s := range st {
		parts[i] = fmt.Sprintf("%s: %d labels, flip %.0f%%, gap %.2f, spread %.2f, ties %.0f%%", s.Principle, s.Labels, 100*s.FlipRate, s.OrderGap, s.Spread, 100*s.TieRate)
	}
	if len(parts) == 0 {
		return "no labels"
	}
	return strings.Join(parts, "; ")
}
