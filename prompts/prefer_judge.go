package prompts

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"synthkit/export"
	"synthkit/local"
)

// judgment is what a mode makes of one prompt's candidates.
type judgment struct {
	// Ratings per candidate; Score is the aggregate that ranks them (nil:
	// not rated).
	Ratings [][]export.AspectRating
	Score   []*float64
	// Decided, when set (pairwise), lists the pairs the judge decided
	// directly, chosen first; binarization is then not used.
	Decided  [][2]int
	Metadata map[string]any
}

// judgeUnitOf judges prompt p and journals its rating and pairs.
func (m *Prefer) judgeUnitOf(env *Env, p int) Unit {
	id := judgeUnit(p)
	seed := UnitSeed(env.Seed, id)
	model := m.judge
	if m.mode() == ModeModels {
		model = m.pool[0]
	}
	prov := export.Provenance{Method: m.Name(), Model: model, Seed: &seed}
	return Unit{ID: id, Prov: prov, Do: func(ctx context.Context, w *Work) error {
		if m.health != nil {
			// A judgment counts toward the next calibration whether it
			// made rows or a rejection.
			defer m.health.judged.Add(1)
		}
		cs := m.candidates(env, p)
		if len(cs) < 2 {
			return reject(ReasonTooFewCompletions)
		}
		prompt := toExport(m.Conversations[p])
		if m.mode() == ModeModels {
			return m.commitModelPair(w, env, p, cs, prov)
		}
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(p)))
		cost := &judgeCost{}
		j, err := m.judge1(ctx, env, m.query(p), cs, seed, rng, cost)
		m.recordCost(cost)
		if err != nil {
			return err
		}
		j.Metadata["judge_calls"], j.Metadata["judge_prompt_tokens"], j.Metadata["judge_output_tokens"] = cost.Calls, cost.PromptTokens, cost.OutputTokens
		if m.health != nil {
			m.health.observe(j.Score)
		}
		pairs := j.Decided
		if pairs == nil {
			pairs = binarize(j.Score, m.pairRule(), m.Margin, rng)
		}
		return w.Commit(m.entries(env, p, prompt, cs, j, pairs, prov)...)
	}}
}

// judgeQuery is what the judge is told besides the answers: the request
// as it reads it and a reference answer (rubric mode; "" for none).
type judgeQuery struct {
	Prompt, Reference string
}

// query is prompt p's judge query.
func (m *Prefer) query(p int) judgeQuery {
	q := judgeQuery{Prompt: promptText(m.Conversations[p])}
	if p < len(m.References) {
		q.Reference = m.References[p]
	}
	return q
}

// judgeCost counts one judgment's judge calls and tokens.
type judgeCost struct {
	Calls, PromptTokens, OutputTokens int64
}

func (c *judgeCost) add(r *local.Response) {
	c.Calls++
	c.PromptTokens += int64(r.PromptTokens)
	c.OutputTokens += int64(r.OutputTokens)
}

func (m *Prefer) recordCost(c *judgeCost) {
	m.judgeCalls.Add(c.Calls)
	m.judgePromptTokens.Add(c.PromptTokens)
	m.judgeOutputTokens.Add(c.OutputTokens)
}

// judge1 judges one prompt's candidates in the run's mode; data and
// calibration items go through it alike.
func (m *Prefer) judge1(ctx context.Context, env *Env, q judgeQuery, cs []candidate, seed int64, rng *rand.Rand, cost *judgeCost) (*judgment, error) {
	var j *judgment
	var err error
	switch m.mode() {
	case ModeRatings:
		j, err = m.judgeRatings(ctx, env, q, cs, seed, rng, cost)
	case ModePairwise:
		j, err = m.judgePairwise(ctx, env, q, cs, seed, cost)
	case ModeRubric:
		j, err = m.judgeRubric(ctx, env, q, cs, seed, cost)
	case ModeRank:
		j, err = m.judgeRank(ctx, env, q, cs, seed, rng, cost)
	default:
		return nil, fmt.Errorf("no judge in %s mode", m.mode())
	}
	if err != nil {
		return nil, err
	}
	if j.Metadata == nil {
		j.Metadata = map[string]any{}
	}
	return j, nil
}

// entries builds the unit's journal entries: the rating with the first
// pair (the marker), then one entry per further pair.
func (m *Prefer) entries(env *Env, p int, prompt []export.Message, cs []candidate, j *judgment, pairs [][2]int, prov export.Provenance) []Entry {
	self := false
	rating := export.Rating{Prompt: prompt, Metadata: map[string]any{"prompt_index": p, "judge_mode": m.mode()}}
	var comps []map[string]any
	for i, c := range cs {
		rc := export.RatedCompletion{Model: c.Model, ModelDigest: env.modelInfo(c.Model).Digest, Response: c.Text,
			Ratings: j.Ratings[i], Overall: j.Score[i]}
		if len(rc.Ratings) == 0 {
			// Not rated (cannot happen after a successful judgment, but a
			// row needs one): record the absence explicitly.
			rc.Ratings = []export.AspectRating{{Aspect: "unrated", Rationale: "the judge gave no rating"}}
		}
		rating.Completions = append(rating.Completions, rc)
		comps = append(comps, map[string]any{"slot": c.Slot, "principle": c.Principle, "sample": c.Sample, "seed": c.Seed})
		self = self || c.Model == m.judge
	}
	rating.Metadata["completions"] = comps
	rating.Metadata["pairs"] = len(pairs)
	if self {
		rating.Metadata["self_judged"] = true
	}
	for k, v := range j.Metadata {
		rating.Metadata[k] = v
	}
	entries := []Entry{{Unit: judgeUnit(p), Rows: []export.Row{rating}, Prov: prov}}
	for k, pr := range pairs {
		c, r := cs[pr[0]], cs[pr[1]]
		pref := export.Preference{Prompt: prompt, Chosen: assistantMsg(c.Text), Rejected: assistantMsg(r.Text),
			ScoreChosen: j.Score[pr[0]], ScoreRejected: j.Score[pr[1]], ChosenModel: c.Model, RejectedModel: r.Model,
			Metadata: map[string]any{"prompt_index": p, "judge_mode": m.mode(), "pair_rule": m.pairRuleFor(j),
				"chosen_slot": c.Slot, "rejected_slot": r.Slot}}
		if k == 0 {
			entries[0].Rows = append(entries[0].Rows, pref)
			continue
		}
		entries = append(entries, Entry{Unit: pairUnit(p, k), Rows: []export.Row{pref}, Prov: prov})
	}
	return entries
}

func (m *Prefer) pairRuleFor(j *judgment) string {
	if j.Decided != nil {
		return "decided"
	}
	return m.pairRule()
}

// commitModelPair makes the judge-free pair of ModeModels: the chosen
// model's answer over the rejected model's.
func (m *Prefer) commitModelPair(w *Work, env *Env, p int, cs []candidate, prov export.Provenance) error {
	var c, r *candidate
	for i := range cs {
		switch cs[i].Model {
		case m.pool[0]:
			c = &cs[i]
		case m.pool[1]:
			r = &cs[i]
		}
	}
	if c == nil || r == nil {
		return reject(ReasonTooFewCompletions)
	}
	pref := export.Preference{Prompt: toExport(m.Conversations[p]), Chosen: assistantMsg(c.Text), Rejected: assistantMsg(r.Text),
		ChosenModel: c.Model, RejectedModel: r.Model,
		Metadata: map[string]any{"prompt_index": p, "judge_mode": ModeModels, "pair_rule": "model-ranked"}}
	return w.Commit(Entry{Unit: judgeUnit(p), Rows: []export.Row{pref}, Prov: prov})
}

func assistantMsg(text string) []export.Message {
	return []export.Message{{Role: "assistant", Content: text}}
}

// binarize picks preference pairs (chosen, rejected) from scores (nil:
// not rated). Ties never become pairs, and no pair has a gap below margin.
//   - best-random: the best against a random lower one (the Zephyr rule)
//   - best-worst: the best against the worst
//   - all: every pair with a positive gap ≥ margin, widest gap first
//
// Among equal best (or worst) scores the one taken is drawn from rng.
func binarize(scores []*float64, rule string, margin float64, rng *rand.Rand) [][2]int {
	var valid []int
	for i, s := range scores {
		if s != nil {
			valid = append(valid, i)
		}
	}
	if len(valid) < 2 {
		return nil
	}
	hi, lo := *scores[valid[0]], *scores[valid[0]]
	for _, i := range valid {
		hi, lo = max(hi, *scores[i]), min(lo, *scores[i])
	}
	pick := func(v float64) []int {
		var out []int
		for _, i := range valid {
			if *scores[i] == v {
				out = append(out, i)
			}
		}
		return out
	}
	ok := func(c, r int) bool {
		gap := *scores[c] - *scores[r]
		return gap > 0 && gap >= margin
	}
	switch rule {
	case PairsAll:
		var out [][2]int
		for _, i := range valid {
			for _, j := range valid {
				if ok(i, j) {
					out = append(out, [2]int{i, j})
				}
			}
		}
		sort.SliceStable(out, func(a, b int) bool {
			return *scores[out[a][0]]-*scores[out[a][1]] > *scores[out[b][0]]-*scores[out[b][1]]
		})
		return out
	case PairsBestWorst:
		if hi == lo {
			return nil
		}
		tops, bottoms := pick(hi), pick(lo)
		c, r := tops[rng.IntN(len(tops))], bottoms[rng.IntN(len(bottoms))]
		if !ok(c, r) {
			return nil
		}
		return [][2]int{{c, r}}
	default: // best-random
		tops := pick(hi)
		var lower []int
		for _, i := range valid {
			if *scores[i] < hi {
				lower = append(lower, i)
			}
		}
		if len(lower) == 0 {
			return nil
		}
		c, r := tops[rng.IntN(len(tops))], lower[rng.IntN(len(lower))]
		if !ok(c, r) {
			return nil
		}
		return [][2]int{{c, r}}
	}
}

// aggregate is the score that ranks a completion: one aspect's rating,
// or the mean of all.
func aggregate(rs []export.AspectRating, aspect string) *float64 {
	if len(rs) == 0 {
		return nil
	}
	sum, n := 0.0, 0
	for _, r := range rs {
		if aspect == "" || r.Aspect == aspect {
			sum += r.Rating
			n++
		}
	}
	if n == 0 {
		return nil
	}
	v := sum / float64(n)
	return &v
}

// promptText is the request as the judge reads it: the user's text for a
// one-turn prompt, else the conversation with speakers named.
func promptText(conv []local.Message) string {
	var turns []local.Message
	for _, m := range conv {
		if m.Role != "system" {
			turns = append(turns, m)
		}
	}
	if len(turns) == 1 {
		return turns[0].Content
	}
	var b strings.Builder
	for _, m := range conv {
		fmt.Fprintf(&b, "[%s]\n%s\n\n", m.Role, m.Content)
	}
	return strings.TrimSpace(b.String())
}

// errWrongCount is a structured judgment with another number of entries
// than answers shown.
var errWrongCount = errors.New("wrong number of judgments")

// errBadRanking is a ranking that is not a permutation.
var errBadRanking = errors.New("not a ranking of every answer")

// judgeOptions are the judge's sampling settings: greedy for one sample
// (as MT-Bench and UltraFeedback judge), Prometheus's temperature 1 and
// top_p 0.9 when several samples are averaged; numPredict bounds the reply.
func (m *Prefer) judgeOptions(numPredict int) map[string]any {
	own := map[string]any{"temperature": 0.0, "num_predict": numPredict}
	if m.judgeSamples() > 1 {
		own["temperature"], own["top_p"] = 1.0, 0.9
	}
	return own
}

// ask sends one judge prompt with the schema and reads the reply with
// read: structured first; read also tries the free-text parsers on the
// same reply. A reply neither can read is asked again with a new seed and
// some temperature (env.Retries times), then the judgment is rejected by
// the last failure's reason.
func (m *Prefer) ask(ctx context.Context, env *Env, prompt string, n int, schema *local.Schema, own map[string]any, seed int64, cost *judgeCost, read func(content string) error) error {
	prompt, format, err := m.shape(prompt, n, schema)
	if err != nil {
		return err
	}
	msgs := append(env.systemMessages(m.judge, ""), local.Message{Role: "user", Content: prompt})
	var last error
	for attempt := 0; attempt <= env.Retries; attempt++ {
		s := seed + int64(attempt)*7919
		opts := own
		if attempt > 0 && own["temperature"] == 0.0 {
			opts = mapsClone(own)
			opts["temperature"] = 0.7
		}
		resp, err := env.Chat(ctx, &local.ChatRequest{Model: m.judge, Messages: msgs, Schema: format,
			Options: env.options(opts), Seed: &s})
		if err != nil {
			return err
		}
		cost.add(resp)
		if last = read(resp.Content); last == nil {
			return nil
		}
	}
	switch {
	case errors.Is(last, errWrongCount):
		return reject(ReasonJudgeWrongCount)
	case errors.Is(last, errBadRanking):
		return reject(ReasonJudgeBadRanking)
	}
	return reject(ReasonJudgeUnparseable)
}

func mapsClone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ── ratings ────────────────────────────────────────────────────────────────

var schemaCache sync.Map // string → *local.Schema

func cachedSchema(key string, build func() string) *local.Schema {
	if s, ok := schemaCache.Load(key); ok {
		return s.(*local.Schema)
	}
	s := local.MustCompileSchema(build())
	schemaCache.Store(key, s)
	return s
}

func intEnum(lo, hi int) string {
	var vs []string
	for v := lo; v <= hi; v++ {
		vs = append(vs, fmt.Sprint(v))
	}
	return "[" + strings.Join(vs, ",") + "]"
}

// ratingsSchema: {"answers": [n × {aspect: {rationale, rating}}]}, the
// array bounded to exactly n entries and every rationale bounded.
func ratingsSchema(n int) *local.Schema {
	return cachedSchema(fmt.Sprintf("ratings/%d", n), func() string {
		var props, req []string
		for _, a := range ratingAspects {
			props = append(props, fmt.Sprintf(`%q: {"type": "object", "properties": {"rationale": {"type": "string", "maxLength": 400}, "rating": {"type": "integer", "enum": %s}}, "required": ["rationale", "rating"], "additionalProperties": false}`, a, intEnum(1, 5)))
			req = append(req, fmt.Sprintf("%q", a))
		}
		return fmt.Sprintf(`{"type": "object", "properties": {"answers": {"type": "array", "minItems": %d, "maxItems": %d, "items": {"type": "object", "properties": {%s}, "required": [%s], "additionalProperties": false}}}, "required": ["answers"], "additionalProperties": false}`,
			n, n, strings.Join(props, ", "), strings.Join(req, ", "))
	})
}

type aspectJSON struct {
	Rationale string  `json:"rationale"`
	Rating    float64 `json:"rating"`
}

type shownAnswer struct {
	N    int
	Text string
}

// judgeRatings rates all candidates in one call per judge sample, each
// sample with the answers in a new random order (mapped back), and
// averages every aspect over the samples that parsed.
func (m *Prefer) judgeRatings(ctx context.Context, env *Env, q judgeQuery, cs []candidate, seed int64, rng *rand.Rand, cost *judgeCost) (*judgment, error) {
	n := len(cs)
	schema := ratingsSchema(n)
	sums := make([][]float64, n)
	rats := make([][]string, n)
	for i := range sums {
		sums[i] = make([]float64, len(ratingAspects))
		rats[i] = make([]string, len(ratingAspects))
	}
	var orders [][]int
	good := 0
	var lastErr error
	for s := range m.judgeSamples() {
		order := rng.Perm(n) // position k shows candidate order[k]
		shown := make([]shownAnswer, n)
		for k, ci := range order {
			shown[k] = shownAnswer{k + 1, cs[ci].Text}
		}
		prompt, err := m.tmpl.Render(map[string]any{"Prompt": q.Prompt, "Answers": shown})
		if err != nil {
			return nil, err
		}
		var got [][]aspectJSON // per shown position, per aspect
		err = m.ask(ctx, env, prompt, n, schema, m.judgeOptions(200+260*n), seed+int64(s)*1009, cost, func(content string) error {
			g, err := readRatings(content, schema, n)
			got = g
			return err
		})
		if err != nil {
			if RejectReason(err) == "" {
				return nil, err
			}
			lastErr = err
			continue
		}
		good++
		orders = append(orders, order)
		for k, ci := range order {
			for a := range ratingAspects {
				sums[ci][a] += got[k][a].Rating
				if rats[ci][a] == "" {
					rats[ci][a] = got[k][a].Rationale
				}
			}
		}
	}
	if good == 0 {
		return nil, lastErr
	}
	j := &judgment{Ratings: make([][]export.AspectRating, n), Score: make([]*float64, n),
		Metadata: map[string]any{"orders": orders, "judge_samples": good}}
	for i := range cs {
		for a, name := range ratingAspects {
			j.Ratings[i] = append(j.Ratings[i], export.AspectRating{Aspect: name, Rating: sums[i][a] / float64(good), Rationale: rats[i][a]})
		}
		j.Score[i] = aggregate(j.Ratings[i], m.Aspect)
	}
	return j, nil
}

// readRatings reads a ratings reply: the schema's JSON, else the
// free-text form ("Answer 2 … helpfulness: 4").
func readRatings(content string, schema *local.Schema, n int) ([][]aspectJSON, error) {
	var out struct {
		Answers []map[string]aspectJSON `json:"answers"`
	}
	err := local.DecodeJSON(content, schema, &out)
	if err == nil {
		got := make([][]aspectJSON, n)
		for k, a := range out.Answers {
			for _, name := range ratingAspects {
				got[k] = append(got[k], a[name])
			}
		}
		return got, nil
	}
	if local.DecodeJSON(content, nil, &out) == nil && len(out.Answers) != n && len(out.Answers) > 0 {
		return nil, fmt.Errorf("%w: %d for %d answers", errWrongCount, len(out.Answers), n)
	}
	if scores, ok := aspectScores(content, n, ratingAspects, 1, 5); ok {
		got := make([][]aspectJSON, n)
		for k := range scores {
			for a := range ratingAspects {
				got[k] = append(got[k], aspectJSON{Rating: scores[k][a]})
			}
		}
		return got, nil
	}
	return nil, err
}

// ── pairwise ───────────────────────────────────────────────────────────────

var pairwiseSchema = local.MustCompileSchema(`{"type": "object", "properties": {"explanation": {"type": "string", "maxLength": 800}, "verdict": {"enum": ["A", "B", "tie"]}}, "required": ["explanation", "verdict"], "additionalProperties": false}`)

// comparison is one pair judged in both orders.
type comparison struct {
	A, B int // candidate indices; A shown first in the first order
	// AB and BA are the verdicts (majority over judge samples) with A
	// first and with B first, in terms of the shown labels.
	AB, BA string
	// Winner is the candidate index the judge preferred in both orders,
	// or -1 for a tie (both said tie, or the verdict flipped with order).
	Winner     int
	Consistent bool
	// Explanations of the first sample of each order.
	ExplainAB string `json:"explain_ab"`
	ExplainBA string `json:"explain_ba"`
}

// judgePairwise compares every pair of candidates in both orders (the
// two orders back to back, so the server's prompt cache keeps the shared
// prefix). A verdict that flips with the order is a tie; every pair the
// judge decided consistently is a preference pair.
func (m *Prefer) judgePairwise(ctx context.Context, env *Env, q judgeQuery, cs []candidate, seed int64, cost *judgeCost) (*judgment, error) {
	n := len(cs)
	var comps []comparison
	wins := make([]float64, n)
	for a := 0; a < n; a++ {
		for b := a + 1; b < n; b++ {
			c := comparison{A: a, B: b, Winner: -1}
			for order, pair := range [][2]int{{a, b}, {b, a}} {
				v, why, err := m.verdict(ctx, env, q, cs[pair[0]].Text, cs[pair[1]].Text, seed+int64(len(comps)*2+order)*131, cost)
				if err != nil {
					return nil, err
				}
				if order == 0 {
					c.AB, c.ExplainAB = v, why
				} else {
					c.BA, c.ExplainBA = v, why
				}
			}
			c.Winner, c.Consistent = resolveOrders(c.AB, c.BA, a, b)
			switch c.Winner {
			case a:
				wins[a]++
			case b:
				wins[b]++
			default:
				wins[a] += 0.5
				wins[b] += 0.5
			}
			comps = append(comps, c)
		}
	}
	j := &judgment{Ratings: make([][]export.AspectRating, n), Score: make([]*float64, n), Decided: [][2]int{},
		Metadata: map[string]any{"comparisons": comps}}
	for i := range cs {
		rate := wins[i] / float64(n-1)
		w, l, t := 0, 0, 0
		for _, c := range comps {
			if c.A != i && c.B != i {
				continue
			}
			switch c.Winner {
			case i:
				w++
			case -1:
				t++
			default:
				l++
			}
		}
		j.Ratings[i] = []export.AspectRating{{Aspect: "win_rate", Rating: rate,
			Rationale: fmt.Sprintf("won %d, lost %d, tied %d of %d comparisons (each judged in both orders)", w, l, t, n-1)}}
		j.Score[i] = &rate
	}
	for _, c := range comps {
		switch c.Winner {
		case c.A:
			j.Decided = append(j.Decided, [2]int{c.A, c.B})
		case c.B:
			j.Decided = append(j.Decided, [2]int{c.B, c.A})
		}
	}
	return j, nil
}

// resolveOrders combines the verdict with a shown first (ab) and with b
// shown first (ba): the same answer preferred both times wins; two ties
// are a tie; anything else flipped with the order and is a tie too.
func resolveOrders(ab, ba string, a, b int) (winner int, consistent bool) {
	switch {
	case ab == VerdictA && ba == VerdictB:
		return a, true
	case ab == VerdictB && ba == VerdictA:
		return b, true
	case ab == VerdictTie && ba == VerdictTie:
		return -1, true
	}
	return -1, false
}

// verdict asks for one order JudgeSamples times and takes the majority
// (a tie vote or no majority is a tie).
func (m *Prefer) verdict(ctx context.Context, env *Env, q judgeQuery, first, second string, seed int64, cost *judgeCost) (string, string, error) {
	prompt, err := m.tmpl.Render(map[string]any{"Prompt": q.Prompt, "A": first, "B": second})
	if err != nil {
		return "", "", err
	}
	votes := map[string]int{}
	why := ""
	for s := range m.judgeSamples() {
		var v, e string
		err := m.ask(ctx, env, prompt, 2, pairwiseSchema, m.judgeOptions(600), seed+int64(s)*1009, cost, func(content string) error {
			var out struct{ Explanation, Verdict string }
			if err := local.DecodeJSON(content, pairwiseSchema, &out); err == nil {
				v, e = out.Verdict, out.Explanation
				return nil
			} else if pv, ok := parseVerdict(content); ok {
				v, e = pv, content
				return nil
			} else {
				return err
			}
		})
		if err != nil {
			return "", "", err
		}
		votes[v]++
		if why == "" {
			why = e
		}
	}
	switch {
	case votes[VerdictA] > votes[VerdictB] && votes[VerdictA] > votes[VerdictTie]:
		return VerdictA, why, nil
	case votes[VerdictB] > votes[VerdictA] && votes[VerdictB] > votes[VerdictTie]:
		return VerdictB, why, nil
	}
	return VerdictTie, why, nil
}

// ── rubric ─────────────────────────────────────────────────────────────────

func rubricSchema(r *Rubric) *local.Schema {
	return cachedSchema("rubric/"+TextHash(r.Text), func() string {
		var props, req []string
		for _, a := range r.Attributes {
			props = append(props, fmt.Sprintf(`%q: {"type": "object", "properties": {"feedback": {"type": "string", "maxLength": 600}, "score": {"type": "integer", "enum": %s}}, "required": ["feedback", "score"], "additionalProperties": false}`, a.Name, intEnum(a.Min, a.Max)))
			req = append(req, fmt.Sprintf("%q", a.Name))
		}
		return fmt.Sprintf(`{"type": "object", "properties": {%s}, "required": [%s], "additionalProperties": false}`, strings.Join(props, ", "), strings.Join(req, ", "))
	})
}

type rubricScore struct {
	Score float64
	Text  string
}

type rubricAttrView struct {
	Name, Criteria string
	Scores         []rubricScore
}

// judgeRubric grades each candidate alone against the rubric (one call
// per candidate and judge sample), averaging scores over the samples.
func (m *Prefer) judgeRubric(ctx context.Context, env *Env, q judgeQuery, cs []candidate, seed int64, cost *judgeCost) (*judgment, error) {
	r := m.Rubric
	schema := rubricSchema(r)
	var attrs []rubricAttrView
	for _, a := range r.Attributes {
		v := rubricAttrView{Name: a.Name, Criteria: a.Criteria}
		for k, d := range a.Scores {
			v.Scores = append(v.Scores, rubricScore{float64(a.Min + k), d})
		}
		attrs = append(attrs, v)
	}
	aspect := m.Aspect
	if aspect == "" {
		aspect = r.Aggregate
	}
	j := &judgment{Ratings: make([][]export.AspectRating, len(cs)), Score: make([]*float64, len(cs)),
		Metadata: map[string]any{"rubric": r.Name}}
	for i, c := range cs {
		prompt, err := m.tmpl.Render(map[string]any{"Prompt": q.Prompt, "Reference": q.Reference,
			"Attributes": attrs, "Answer": c.Text})
		if err != nil {
			return nil, err
		}
		sums := make([]float64, len(r.Attributes))
		feedback := make([]string, len(r.Attributes))
		good := 0
		var lastErr error
		for s := range m.judgeSamples() {
			var got []rubricScore
			err := m.ask(ctx, env, prompt, 1, schema, m.judgeOptions(200+300*len(r.Attributes)), seed+int64(i*31+s)*1009, cost, func(content string) error {
				g, err := readRubric(content, schema, r)
				got = g
				return err
			})
			if err != nil {
				if RejectReason(err) == "" {
					return nil, err
				}
				lastErr = err
				continue
			}
			good++
			for a := range got {
				sums[a] += got[a].Score
				if feedback[a] == "" {
					feedback[a] = got[a].Text
				}
			}
		}
		if good == 0 {
			// One unreadable grade leaves the prompt without a fair
			// comparison: no pair from it.
			return nil, lastErr
		}
		for a, attr := range r.Attributes {
			j.Ratings[i] = append(j.Ratings[i], export.AspectRating{Aspect: attr.Name, Rating: sums[a] / float64(good), Rationale: feedback[a]})
		}
		j.Score[i] = aggregate(j.Ratings[i], aspect)
	}
	return j, nil
}

// readRubric reads a rubric grade: the schema's JSON, else the free-text
// forms ("[RESULT] 4" for one attribute, "correctness: 3" for several).
func readRubric(content string, schema *local.Schema, r *Rubric) ([]rubricScore, error) {
	var out map[string]struct {
		Feedback string  `json:"feedback"`
		Score    float64 `json:"score"`
	}
	err := local.DecodeJSON(content, schema, &out)
	if err == nil {
		var got []rubricScore
		for _, a := range r.Attributes {
			got = append(got, rubricScore{out[a.Name].Score, out[a.Name].Feedback})
		}
		return got, nil
	}
	if len(r.Attributes) == 1 {
		a := r.Attributes[0]
		if v, ok := parseScore(content, a.Min, a.Max); ok {
			return []rubricScore{{v, strings.TrimSpace(content)}}, nil
		}
		return nil, err
	}
	var got []rubricScore
	for _, a := range r.Attributes {
		v, ok := aspectScore(content, a.Name, a.Min, a.Max)
		if !ok {
			return nil, err
		}
		got = append(got, rubricScore{v, ""})
	}
	return got, nil
}

// ── rank ───────────────────────────────────────────────────────────────────

func rankSchema(k int) *local.Schema {
	return cachedSchema(fmt.Sprintf("rank/%d", k), func() string {
		return fmt.Sprintf(`{"type": "object", "properties": {"reasoning": {"type": "string", "maxLength": 1200}, "ranking": {"type": "array", "minItems": %d, "maxItems": %d, "uniqueItems": true, "items": {"type": "integer", "enum": %s}}}, "required": ["reasoning", "ranking"], "additionalProperties": false}`,
			k, k, intEnum(1, k))
	})
}

// judgeRank ranks the shuffled candidates at once (per judge sample, a
// new shuffle), and averages each candidate's rank. The score is
// K + 1 − mean rank, so higher is better and the best of K scores K.
func (m *Prefer) judgeRank(ctx context.Context, env *Env, q judgeQuery, cs []candidate, seed int64, rng *rand.Rand, cost *judgeCost) (*judgment, error) {
	k := len(cs)
	schema := rankSchema(k)
	sum := make([]float64, k)
	var shuffles, rankings [][]int
	var reasoning []string
	var lastErr error
	for s := range m.judgeSamples() {
		order := rng.Perm(k) // shown number n is candidate order[n-1]
		shown := make([]shownAnswer, k)
		for n, ci := range order {
			shown[n] = shownAnswer{n + 1, cs[ci].Text}
		}
		prompt, err := m.tmpl.Render(map[string]any{"Prompt": q.Prompt, "Answers": shown})
		if err != nil {
			return nil, err
		}
		var ranking []int
		why := ""
		err = m.ask(ctx, env, prompt, k, schema, m.judgeOptions(300+80*k), seed+int64(s)*1009, cost, func(content string) error {
			var out struct {
				Reasoning string `json:"reasoning"`
				Ranking   []int  `json:"ranking"`
			}
			if err := local.DecodeJSON(content, schema, &out); err == nil {
				ranking, why = out.Ranking, out.Reasoning
				return nil
			}
			if r, ok := parseRanking(content, k); ok {
				ranking, why = r, ""
				return nil
			}
			if local.DecodeJSON(content, nil, &out) == nil && len(out.Ranking) > 0 {
				return errBadRanking
			}
			return errors.New("no ranking in the reply")
		})
		if err != nil {
			if RejectReason(err) == "" {
				return nil, err
			}
			lastErr = err
			continue
		}
		byCand := make([]int, 0, k)
		for r, shownN := range ranking {
			ci := order[shownN-1]
			sum[ci] += float64(r + 1)
			byCand = append(byCand, ci)
		}
		shuffles = append(shuffles, order)
		rankings = append(rankings, byCand)
		reasoning = append(reasoning, why)
	}
	good := len(rankings)
	if good == 0 {
		return nil, lastErr
	}
	j := &judgment{Ratings: make([][]export.AspectRating, k), Score: make([]*float64, k),
		Metadata: map[string]any{"shuffles": shuffles, "rankings": rankings, "reasoning": reasoning}}
	for i := range cs {
		mean := sum[i] / float64(good)
		score := float64(k+1) - mean
		j.Ratings[i] = []export.AspectRating{{Aspect: "rank", Rating: mean, Rationale: fmt.Sprintf("mean rank %.3g of %d (1 is best)", mean, k)}}
		j.Score[i] = &score
	}
	return j, nil
}

// ── run notes ──────────────────────────────────────────────────────────────

// notes reads back every judged prompt and records for the card: the
// judge's score histogram, pairwise position bias, prompts without a
// pair, the judge's cost, its health, self-judging and a judge-free run.
// Figures that change as a run resumes are tables (the latest replaces
// the last), not notes (which accumulate).
func (m *Prefer) notes(env *Env) {
	if m.mode() == ModeModels {
		env.Run.Note(fmt.Sprintf("no judge: every pair prefers %s's answer over %s's for the same prompt (model-ranked, as for Intel's neural-chat DPO data)", m.pool[0], m.pool[1]))
		return
	}
	env.Run.Note(m.healthNote())
	// After the histogram and counts, in the card's order.
	defer func() {
		for _, t := range m.healthTables() {
			env.Run.SetTable(t)
		}
	}()
	hist := map[int]int{}
	var judged, noPair, comps, flips, pairs int
	var cost judgeCost
	self := false
	_ = env.Run.Rows(func(unit string, rows []export.Row) error {
		for _, row := range rows {
			switch r := row.(type) {
			case export.Rating:
				judged++
				if n, _ := r.Metadata["pairs"].(float64); n == 0 {
					noPair++
				}
				if v, _ := r.Metadata["self_judged"].(bool); v {
					self = true
				}
				for k, dst := range map[string]*int64{"judge_calls": &cost.Calls, "judge_prompt_tokens": &cost.PromptTokens, "judge_output_tokens": &cost.OutputTokens} {
					if v, ok := r.Metadata[k].(float64); ok {
						*dst += int64(v)
					}
				}
				for _, c := range r.Completions {
					if c.Overall != nil {
						hist[int(*c.Overall+0.5)]++
					}
				}
				if cs, ok := r.Metadata["comparisons"].([]any); ok {
					for _, c := range cs {
						comps++
						if cm, _ := c.(map[string]any); cm != nil && cm["Consistent"] == false {
							flips++
						}
					}
				}
			case export.Preference:
				pairs++
			}
		}
		return nil
	})
	if judged == 0 {
		return
	}
	if self {
		env.Run.Note(fmt.Sprintf("the judge %s also wrote some of the completions it judged; judges tend to prefer their own answers (self-preference bias)", m.judge))
	}
	if m.mode() == ModePairwise && comps > 0 {
		env.Run.SetTable(export.CardTable{Title: "Pairwise position bias", Header: []string{"comparisons (each in both orders)", "verdict changed with the order", "rate"},
			Rows: [][]string{{strconv.Itoa(comps), strconv.Itoa(flips), fmt.Sprintf("%.1f%%", 100*float64(flips)/float64(comps))}}})
	}
	var keys []int
	for k := range hist {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	table := export.CardTable{Title: fmt.Sprintf("Judge score histogram (%s, %s mode)", m.judge, m.mode()),
		Header: []string{"score (rounded)", "completions"}}
	for _, k := range keys {
		table.Rows = append(table.Rows, []string{strconv.Itoa(k), strconv.Itoa(hist[k])})
	}
	env.Run.SetTable(table)
	env.Run.SetTable(export.CardTable{Title: "Judged prompts and pairs", Header: []string{"judged prompts", "pairs", "prompts without a pair (all tied)"},
		Rows: [][]string{{strconv.Itoa(judged), strconv.Itoa(pairs), strconv.Itoa(noPair)}}})
	if cost.Calls > 0 {
		per := func(v int64) string {
			if pairs == 0 {
				return "n/a"
			}
			return fmt.Sprintf("%.1f", float64(v)/float64(pairs))
		}
		env.Run.SetTable(export.CardTable{Title: fmt.Sprintf("Judge cost (%s, calibration not included)", m.judge),
			Header: []string{"", "calls", "prompt tokens", "output tokens"},
			Rows: [][]string{{"total", strconv.FormatInt(cost.Calls, 10), strconv.FormatInt(cost.PromptTokens, 10), strconv.FormatInt(cost.OutputTokens, 10)},
				{"per pair", per(cost.Calls), per(cost.PromptTokens), per(cost.OutputTokens)}}})
	}
}

// JudgeCost returns the judge calls and tokens this method value made.
func (m *Prefer) JudgeCost() (calls, promptTokens, outputTokens int64) {
	return m.judgeCalls.Load(), m.judgePromptTokens.Load(), m.judgeOutputTokens.Load()
}

func init() {
	Register(Factory{Name: "prefer", Summary: "preference data: ratings, pairwise, rubric or rank judges, binarized pairs",
		New: func() Method { return &Prefer{} }})
}
