package prompts

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"synthkit/export"
	"synthkit/local"
)

func f64(v float64) *float64 { return &v }

func TestBinarize(t *testing.T) {
	s := func(vs ...float64) []*float64 {
		out := make([]*float64, len(vs))
		for i, v := range vs {
			if v >= 0 {
				out[i] = f64(v)
			}
		}
		return out
	}
	tests := []struct {
		name   string
		scores []*float64
		rule   string
		margin float64
		want   [][2]int // nil: no pair; for best-random, any of want
		anyOf  bool
	}{
		{"all equal: no pair", s(3, 3, 3, 3), PairsBestRandom, 0, nil, false},
		{"all equal best-worst", s(4, 4), PairsBestWorst, 0, nil, false},
		{"all equal all", s(2, 2, 2), PairsAll, 0, nil, false},
		{"one completion", s(5), PairsBestRandom, 0, nil, false},
		{"one rated of three", s(5, -1, -1), PairsBestRandom, 0, nil, false},
		{"missing is never rejected", s(5, -1, 1), PairsBestWorst, 0, [][2]int{{0, 2}}, false},
		{"best-worst", s(2, 5, 1, 3), PairsBestWorst, 0, [][2]int{{1, 2}}, false},
		{"best-random picks a lower one", s(2, 5, 1, 5), PairsBestRandom, 0, [][2]int{{1, 0}, {1, 2}, {3, 0}, {3, 2}}, true},
		{"best-random tie at top and rest equal", s(5, 5, 1), PairsBestRandom, 0, [][2]int{{0, 2}, {1, 2}}, true},
		{"margin drops a close pair", s(4, 3.5), PairsBestWorst, 1, nil, false},
		{"margin keeps a wide pair", s(4, 2), PairsBestRandom, 1, [][2]int{{0, 1}}, false},
		{"all: ties skipped, widest first", s(1, 3, 3, 5), PairsAll, 0, [][2]int{{3, 0}, {1, 0}, {2, 0}, {3, 1}, {3, 2}}, false},
		{"all with margin", s(1, 3, 5), PairsAll, 2, [][2]int{{2, 0}, {1, 0}, {2, 1}}, false},
		{"all with margin 3", s(1, 3, 5), PairsAll, 3, [][2]int{{2, 0}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range 20 {
				got := binarize(tt.scores, tt.rule, tt.margin, rand.New(rand.NewPCG(uint64(seed), 7)))
				if tt.anyOf {
					if len(got) != 1 || !slices.Contains(tt.want, got[0]) {
						t.Fatalf("seed %d: got %v, want one of %v", seed, got, tt.want)
					}
					continue
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("seed %d: got %v, want %v", seed, got, tt.want)
				}
			}
		})
	}
	// best-random draws the rejected side at random: over seeds, both
	// lower answers appear.
	seen := map[[2]int]bool{}
	for seed := range 50 {
		for _, p := range binarize(s(5, 2, 1), PairsBestRandom, 0, rand.New(rand.NewPCG(uint64(seed), 1))) {
			seen[p] = true
		}
	}
	if !seen[[2]int{0, 1}] || !seen[[2]int{0, 2}] {
		t.Errorf("best-random never varied its rejected answer: %v", seen)
	}
}

// tableOf returns the card table titled title (or starting so), or nil.
func tableOf(m export.Manifest, title string) *export.CardTable {
	for i, t := range m.Tables {
		if strings.HasPrefix(t.Title, title) {
			return &m.Tables[i]
		}
	}
	return nil
}

// shownAnswers reads the numbered answers out of a ratings or rank
// judge prompt, as a scripted judge sees them.
func shownAnswers(prompt string) []string {
	_, rest, _ := strings.Cut(prompt, "## The answers")
	rest, _, _ = strings.Cut(rest, "## What to return")
	var out []string
	for _, part := range strings.Split(rest, "### Answer ")[1:] {
		_, text, _ := strings.Cut(part, "\n")
		out = append(out, strings.TrimSpace(text))
	}
	return out
}

// qualityOf is the scripted judge's opinion: answers say "quality N".
func qualityOf(text string) int {
	m := regexp.MustCompile(`quality (\d)`).FindStringSubmatch(text)
	if m == nil {
		return 1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func ratingsReply(prompt string) string {
	var answers []map[string]any
	for _, a := range shownAnswers(prompt) {
		q := qualityOf(a)
		e := map[string]any{}
		for _, asp := range ratingAspects {
			e[asp] = map[string]any{"rationale": "because " + a, "rating": q}
		}
		answers = append(answers, e)
	}
	b, _ := json.Marshal(map[string]any{"answers": answers})
	return string(b)
}

// qualityModel answers a prompt "quality N" by the model that is asked:
// the digit after "q" in its name. It wraps a scriptedModel for the judge.
type qualityModel struct {
	*scriptedModel
	judge string
}

func (q *qualityModel) Chat(ctx context.Context, r *local.ChatRequest) (*local.Response, error) {
	if r.Model != q.judge {
		q.mu.Lock()
		q.chats = append(q.chats, *r)
		q.mu.Unlock()
		name := r.Model
		d := name[strings.Index(name, "q")+1:]
		if strings.HasPrefix(d, "0") {
			return &local.Response{Content: "", DoneReason: "stop"}, nil
		}
		return &local.Response{Content: fmt.Sprintf("answer by %s, quality %s (seed %d)", name, d[:1], *r.Seed), DoneReason: "stop", OutputTokens: 5}, nil
	}
	return q.scriptedModel.Chat(ctx, r)
}

func preferEnv(t *testing.T, model local.Model) (*Env, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	return &Env{Model: model, Run: testRun(t, dir, "prefer"), Workers: 1, Seed: 1, Retries: 1}, dir
}

func convs(prompts ...string) [][]local.Message {
	var out [][]local.Message
	for _, p := range prompts {
		out = append(out, []local.Message{{Role: "user", Content: p}})
	}
	return out
}

// completionCalls counts the requests that went to answering models.
func completionCalls(q *qualityModel) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, c := range q.chats {
		if c.Model != q.judge {
			n++
		}
	}
	return n
}

func judgeCalls(q *qualityModel) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, c := range q.chats {
		if c.Model == q.judge {
			n++
		}
	}
	return n
}

func TestPreferRatings(t *testing.T) {
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return ratingsReply(p) })
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Pool: []string{"q2", "q4", "q5", "q4b"}, Judge: "judge", Conversations: convs("Name a river.", "Say hi.")}
	// q4b answers "quality 4" too: a tie with q4 that never becomes a pair.
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	rows := rowsOf(t, dir)
	for p := range 2 {
		rs := rows[judgeUnit(p)]
		if len(rs) != 2 {
			t.Fatalf("prompt %d: %d rows, want a rating and a pair", p, len(rs))
		}
		rating := rs[0].(export.Rating)
		if len(rating.Completions) != 4 {
			t.Fatalf("rating has %d completions", len(rating.Completions))
		}
		for _, c := range rating.Completions {
			if len(c.Ratings) != 4 || c.Ratings[0].Aspect != "instruction_following" {
				t.Fatalf("ratings %+v", c.Ratings)
			}
			// The shuffle was mapped back: each completion got its own score.
			if want := float64(qualityOf(c.Response)); *c.Overall != want || c.Ratings[3].Rating != want {
				t.Fatalf("%s rated %v, want %v (shuffle not mapped back?)", c.Model, *c.Overall, want)
			}
		}
		pref := rs[1].(export.Preference)
		if pref.ChosenModel != "q5" || !strings.Contains(pref.Chosen[0].Content, "quality 5") || pref.RejectedModel == "q5" {
			t.Fatalf("best-random chose %s over %s", pref.ChosenModel, pref.RejectedModel)
		}
		if *pref.ScoreChosen != 5 || *pref.ScoreRejected >= 5 || pref.Prompt[0].Content == "" || pref.Prompt[0].Role != "user" {
			t.Fatalf("pair %+v", pref)
		}
	}
	// Completions model by model (a laptop loads each once), then the judge.
	var order []string
	for _, c := range q.chats {
		if len(order) == 0 || order[len(order)-1] != c.Model {
			order = append(order, c.Model)
		}
	}
	if !slices.Equal(order, []string{"q2", "q4", "q5", "q4b", "judge"}) {
		t.Fatalf("request order by model: %v", order)
	}
}

func TestPreferPairRulesAndTies(t *testing.T) {
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return ratingsReply(p) })
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Pool: []string{"q3", "q3x", "q1", "q5"}, Judge: "judge", Pairs: PairsAll, Margin: 1,
		Conversations: convs("A?", "B?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	rows := rowsOf(t, dir)
	// Scores 3,3,1,5 with margin 1: 5>3, 5>3, 5>1, 3>1, 3>1 (3=3 is a tie).
	var pairs []string
	for u, rs := range rows {
		if !strings.HasPrefix(u, judgeUnit(0)) {
			continue
		}
		for _, r := range rs {
			if p, ok := r.(export.Preference); ok {
				pairs = append(pairs, p.ChosenModel+">"+p.RejectedModel)
			}
		}
	}
	slices.Sort(pairs)
	if want := []string{"q3>q1", "q3x>q1", "q5>q1", "q5>q3", "q5>q3x"}; !slices.Equal(pairs, want) {
		t.Fatalf("all-pairs: %v, want %v", pairs, want)
	}
	// The widest gap is the marker's pair.
	if p := rows[judgeUnit(0)][1].(export.Preference); p.ChosenModel != "q5" || p.RejectedModel != "q1" {
		t.Fatalf("marker pair %s>%s, want the widest gap", p.ChosenModel, p.RejectedModel)
	}

	t.Run("all tied: rating without a pair", func(t *testing.T) {
		sm := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return ratingsReply(p) })
		q := &qualityModel{scriptedModel: sm, judge: "judge"}
		env, dir := preferEnv(t, q)
		m := &Prefer{Pool: []string{"q4", "q4b"}, Judge: "judge", Conversations: convs("A?")}
		if err := runMethod(env, m); err != nil {
			t.Fatal(err)
		}
		env.Run.Close()
		rs := rowsOf(t, dir)[judgeUnit(0)]
		if len(rs) != 1 || rs[0].Config() != export.ConfigRatings {
			t.Fatalf("all tied: rows %v", rs)
		}
		if !slices.ContainsFunc(env.Run.Manifest().Tables, func(tb export.CardTable) bool {
			return tb.Title == "Judged prompts and pairs" && tb.Rows[0][2] == "1"
		}) {
			t.Errorf("card tables: %+v", env.Run.Manifest().Tables)
		}
	})
}

func TestPreferJudgeFailures(t *testing.T) {
	tests := []struct {
		name   string
		reply  func(p string, n int) string
		pool   []string
		reason string
	}{
		{"too few ratings", func(p string, _ int) string {
			return `{"answers": [{"instruction_following": {"rationale": "x", "rating": 3}, "honesty": {"rationale": "x", "rating": 3}, "truthfulness": {"rationale": "x", "rating": 3}, "helpfulness": {"rationale": "x", "rating": 3}}]}`
		}, []string{"q2", "q3"}, ReasonJudgeWrongCount},
		{"garbage", fixed("I think they are both fine overall."), []string{"q2", "q3"}, ReasonJudgeUnparseable},
		{"rating out of range", func(p string, _ int) string {
			return strings.ReplaceAll(ratingsReply(p), `"rating":3`, `"rating":9`)
		}, []string{"q2", "q3"}, ReasonJudgeUnparseable},
		{"one completion empty", func(p string, _ int) string { return ratingsReply(p) }, []string{"q2", "q0"}, ReasonTooFewCompletions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := (&scriptedModel{}).on("You are grading answers", tt.reply)
			q := &qualityModel{scriptedModel: sm, judge: "judge"}
			env, dir := preferEnv(t, q)
			m := &Prefer{Pool: tt.pool, Judge: "judge", Conversations: convs("A?")}
			if err := runMethod(env, m); err != nil {
				t.Fatal(err)
			}
			c := env.Run.Counts()
			env.Run.Close()
			if c.Rejected[tt.reason] != 1 || len(rowsOf(t, dir)) != 0 {
				t.Fatalf("counts %+v, rows %v; want one %s and no rows", c, rowsOf(t, dir), tt.reason)
			}
		})
	}
}

func TestPreferFreeTextJudge(t *testing.T) {
	// A judge that ignores the JSON format but writes the usual headings.
	reply := func(p string, _ int) string {
		var b strings.Builder
		for k, a := range shownAnswers(p) {
			q := qualityOf(a)
			fmt.Fprintf(&b, "#### Output for Text %d\nInstruction following: %d\nHonesty: %d/5\nTruthfulness - Rating: %d\n**Helpfulness**: %d\n\n", k+1, q, q, q, q)
		}
		return b.String()
	}
	sm := (&scriptedModel{}).on("You are grading answers", reply)
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Pool: []string{"q2", "q5"}, Judge: "judge", Conversations: convs("A?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	rs := rowsOf(t, dir)[judgeUnit(0)]
	if len(rs) != 2 || rs[1].(export.Preference).ChosenModel != "q5" {
		t.Fatalf("free-text judgment: rows %v", rs)
	}
	if judgeCalls(q) != 1 {
		t.Fatalf("%d judge calls; the free-text parse should need no retry", judgeCalls(q))
	}
}

// TestPreferResumeAfterCrash stops the run in the judge phase (the judge's
// transport fails), then resumes: no completion is asked again, and only
// the judgments are made.
func TestPreferResumeAfterCrash(t *testing.T) {
	sm := (&scriptedModel{}).on("You are grading answers", fixed(failNow))
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	newM := func() *Prefer {
		return &Prefer{Pool: []string{"q2", "q3", "q4"}, Judge: "judge", Conversations: convs("A?", "B?", "C?")}
	}
	if err := runMethod(env, newM()); err == nil {
		t.Fatal("a failing judge did not stop the run")
	}
	if n := completionCalls(q); n != 9 {
		t.Fatalf("%d completion calls before the crash, want 9", n)
	}
	env.Run.Close()

	sm2 := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return ratingsReply(p) })
	q2 := &qualityModel{scriptedModel: sm2, judge: "judge"}
	run, err := export.OpenRun(dir, export.Manifest{Version: "test", Method: "prefer", Seed: 1,
		Models: []export.ModelInfo{{Name: "scripted:latest", Digest: "sha256:0123456789abcdef"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	env2 := &Env{Model: q2, Run: run, Workers: 2, Seed: 1, Retries: 1}
	if err := runMethod(env2, newM()); err != nil {
		t.Fatal(err)
	}
	run.Close()
	if n := completionCalls(q2); n != 0 {
		t.Fatalf("resume asked for %d completions again", n)
	}
	if n := judgeCalls(q2); n != 3 {
		t.Fatalf("resume made %d judge calls, want 3", n)
	}
	rows := rowsOf(t, dir)
	for p := range 3 {
		rs := rows[judgeUnit(p)]
		if len(rs) != 2 || len(rs[0].(export.Rating).Completions) != 3 {
			t.Fatalf("prompt %d after resume: %v", p, rs)
		}
	}
}

func TestPreferCountReplacesFailedJudgments(t *testing.T) {
	// The judge fails the first prompt; -n 2 takes a third prompt.
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, n int) string {
		if strings.Contains(p, "First?") {
			return "no idea"
		}
		return ratingsReply(p)
	})
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Pool: []string{"q2", "q3"}, Judge: "judge", Count: 2, Conversations: convs("First?", "Second?", "Third?", "Fourth?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	rows := rowsOf(t, dir)
	if len(rows) != 2 || rows[judgeUnit(1)] == nil || rows[judgeUnit(2)] == nil {
		t.Fatalf("rows %v, want prompts 2 and 3", rows)
	}
	if n := completionCalls(q); n != 6 {
		t.Fatalf("%d completions for -n 2 with one failure, want 6 (the fourth prompt untouched)", n)
	}
}

func TestPreferPlan(t *testing.T) {
	m := &Prefer{Pool: []string{"a", "b", "c", "d", "e"}, PerPrompt: 2, Samples: 2, Principles: PrincipleMix,
		Judge: "j", Conversations: convs("x")}
	if _, err := m.Prepare(modelInfos(append(m.Pool, "j"))); err != nil {
		t.Fatal(err)
	}
	used := map[int]int{}
	principles := map[string]int{}
	for p := range 400 {
		plan := m.plan(7, p)
		if len(plan) != 4 || plan[0].Model != plan[1].Model || plan[0].Sample != 0 || plan[1].Sample != 1 || plan[2].Model == plan[0].Model {
			t.Fatalf("plan %v", plan)
		}
		if !slices.Equal(plan, m.plan(7, p)) {
			t.Fatal("plan is not a function of seed and prompt")
		}
		for _, s := range plan {
			used[s.Model]++
			principles[s.Principle]++
		}
	}
	if len(used) != 5 {
		t.Errorf("per-prompt sampling used models %v", used)
	}
	// helpfulness 3/5, truthfulness 1/5, honesty 0.9/5, calibration 0.1/5 of 1600.
	if h := principles["helpfulness"]; h < 850 || h > 1050 || principles["verbalized_calibration"] == 0 || principles["honesty"] < 220 {
		t.Errorf("principle mix %v", principles)
	}
}

func TestPreferPrinciplesRecorded(t *testing.T) {
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return ratingsReply(p) })
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Pool: []string{"q2", "q3"}, Principles: "honesty", Judge: "judge",
		Conversations: [][]local.Message{{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "A?"}}}}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	for _, c := range q.chats {
		if c.Model != "judge" && (c.Messages[0].Role != "system" || !strings.HasPrefix(c.Messages[0].Content, "Be brief.\n\n") ||
			!strings.Contains(c.Messages[0].Content, Principles["honesty"])) {
			t.Fatalf("completion system prompt %q", c.Messages[0].Content)
		}
	}
	r := rowsOf(t, dir)[judgeUnit(0)][0].(export.Rating)
	comps := r.Metadata["completions"].([]any)
	if comps[0].(map[string]any)["principle"] != "honesty" {
		t.Fatalf("principle not recorded: %v", comps)
	}
	// The rows' prompt is the record's, without the principle.
	if r.Prompt[0].Content != "Be brief." {
		t.Fatalf("row prompt %v", r.Prompt)
	}
}

func TestPreferPairwise(t *testing.T) {
	// The judge prefers higher quality, except that it always says "A"
	// when both answers have quality 3 or more (a position-biased judge).
	reply := func(p string, _ int) string {
		a := regexp.MustCompile(`(?s)## Answer A\n(.*?)\n\n## Answer B\n(.*?)\n\n## What`).FindStringSubmatch(p)
		qa, qb := qualityOf(a[1]), qualityOf(a[2])
		v := "tie"
		switch {
		case qa >= 3 && qb >= 3:
			v = "A"
		case qa > qb:
			v = "A"
		case qb > qa:
			v = "B"
		}
		return fmt.Sprintf(`{"explanation": "compared", "verdict": %q}`, v)
	}
	sm := (&scriptedModel{}).on("You are comparing two answers", reply)
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Mode: ModePairwise, Pool: []string{"q1", "q3", "q4"}, Judge: "judge", Conversations: convs("A?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	if n := judgeCalls(q); n != 6 {
		t.Fatalf("%d judge calls for 3 pairs, want 6 (both orders)", n)
	}
	rows := rowsOf(t, dir)
	var pairs []string
	for _, rs := range rows {
		for _, r := range rs {
			if p, ok := r.(export.Preference); ok {
				pairs = append(pairs, p.ChosenModel+">"+p.RejectedModel)
			}
		}
	}
	slices.Sort(pairs)
	// q3 vs q4 flipped with the order: a tie, no pair.
	if want := []string{"q3>q1", "q4>q1"}; !slices.Equal(pairs, want) {
		t.Fatalf("pairwise pairs %v, want %v", pairs, want)
	}
	rating := rows[judgeUnit(0)][0].(export.Rating)
	if r := rating.Completions[0].Ratings[0]; r.Aspect != "win_rate" || r.Rating != 0 {
		t.Fatalf("q1 win rate %+v", r)
	}
	if r := rating.Completions[2].Ratings[0]; r.Rating != 0.75 {
		t.Fatalf("q4 win rate %v, want 0.75 (one win, one tie)", r.Rating)
	}
	bias := tableOf(env.Run.Manifest(), "Pairwise position bias")
	if bias == nil || !slices.Equal(bias.Rows[0], []string{"3", "1", "33.3%"}) {
		t.Fatalf("position bias table %+v", bias)
	}
}

func TestPreferRank(t *testing.T) {
	// The judge ranks shown answers by quality, best first.
	reply := func(p string, _ int) string {
		shown := shownAnswers(p)
		idx := make([]int, len(shown))
		for i := range idx {
			idx[i] = i + 1
		}
		slices.SortStableFunc(idx, func(a, b int) int { return qualityOf(shown[b-1]) - qualityOf(shown[a-1]) })
		b, _ := json.Marshal(map[string]any{"reasoning": "by quality", "ranking": idx})
		return string(b)
	}
	sm := (&scriptedModel{}).on("You are ranking", reply)
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Mode: ModeRank, Pairs: PairsAll, Pool: []string{"q1", "q2", "q3", "q4", "q5", "q6", "q7"}, Judge: "judge",
		Conversations: convs("A?", "B?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	rows := rowsOf(t, dir)
	n := 0
	for u, rs := range rows {
		for _, r := range rs {
			if p, ok := r.(export.Preference); ok {
				n++
				if qualityOf(p.Chosen[0].Content) <= qualityOf(p.Rejected[0].Content) {
					t.Fatalf("%s: %s chosen over %s", u, p.ChosenModel, p.RejectedModel)
				}
			}
		}
	}
	if n != 42 {
		t.Fatalf("%d pairs from two 7-way rankings, want 2×21", n)
	}
	r := rows[judgeUnit(0)][0].(export.Rating)
	shuffles := r.Metadata["shuffles"].([]any)
	if len(shuffles) != 1 || len(shuffles[0].([]any)) != 7 {
		t.Fatalf("shuffle not recorded: %v", r.Metadata)
	}
	// A shuffle that was not the identity (else mapping back is untested).
	s0 := shuffles[0].([]any)
	ident := true
	for i, v := range s0 {
		ident = ident && int(v.(float64)) == i
	}
	if ident {
		t.Fatal("shuffle is the identity")
	}
	if *r.Completions[6].Overall != 7 || *r.Completions[0].Overall != 1 {
		t.Fatalf("rank scores %v %v", *r.Completions[6].Overall, *r.Completions[0].Overall)
	}
}

func TestPreferRubricHelpSteer(t *testing.T) {
	var seen string
	reply := func(p string, _ int) string {
		seen = p
		a := regexp.MustCompile(`(?s)## The answer to grade\n(.*?)\n\n## What`).FindStringSubmatch(p)
		q := qualityOf(a[1]) - 1 // 0–4
		out := map[string]any{}
		for _, attr := range []string{"helpfulness", "correctness", "coherence", "complexity", "verbosity"} {
			s := q
			if attr == "verbosity" {
				s = 4 - q // verbose answers are the bad ones here: must not drive the pair
			}
			out[attr] = map[string]any{"feedback": "fine", "score": s}
		}
		b, _ := json.Marshal(out)
		return string(b)
	}
	sm := (&scriptedModel{}).on("strictly against the rubric", reply)
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Mode: ModeRubric, Rubric: HelpSteerRubric(), Pool: []string{"q2", "q5"}, Judge: "judge",
		Conversations: convs("A?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	if !strings.Contains(seen, "Score 0: Far shorter") || !strings.Contains(seen, "### verbosity:") {
		t.Fatalf("rubric not in the judge prompt:\n%s", seen)
	}
	rs := rowsOf(t, dir)[judgeUnit(0)]
	r := rs[0].(export.Rating)
	if len(r.Completions[0].Ratings) != 5 || *r.Completions[1].Overall != 4 {
		t.Fatalf("helpsteer ratings %+v overall %v", r.Completions[1].Ratings, *r.Completions[1].Overall)
	}
	if p := rs[1].(export.Preference); p.ChosenModel != "q5" {
		t.Fatalf("aggregate was not helpfulness: chose %s", p.ChosenModel)
	}
}

func TestPreferRubricPrometheusFreeText(t *testing.T) {
	rub, err := ParseRubric("r.yaml", []byte("criteria: Is it right?\nscores:\n  1: wrong\n  2: mostly wrong\n  3: half\n  4: mostly right\n  5: right\nreference: answer\n"))
	if err != nil {
		t.Fatal(err)
	}
	reply := func(p string, _ int) string {
		if !strings.Contains(p, "## A reference answer") || !strings.Contains(p, "Paris") {
			return "no reference shown"
		}
		a := regexp.MustCompile(`(?s)## The answer to grade\n(.*?)\n\n## What`).FindStringSubmatch(p)
		return fmt.Sprintf("The response is decent. [RESULT] %d", qualityOf(a[1]))
	}
	sm := (&scriptedModel{}).on("strictly against the rubric", reply)
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Mode: ModeRubric, Rubric: rub, Pool: []string{"q4", "q2"}, Judge: "judge",
		Conversations: convs("Capital of France?"), References: []string{"Paris"}}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	rs := rowsOf(t, dir)[judgeUnit(0)]
	if len(rs) != 2 || rs[1].(export.Preference).ChosenModel != "q4" || *rs[1].(export.Preference).ScoreRejected != 2 {
		t.Fatalf("rows %v", rs)
	}
}

func TestPreferExistingCompletions(t *testing.T) {
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return ratingsReply(p) })
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Judge: "judge", Conversations: convs("A?"),
		Existing: [][]ExistingCompletion{{{Model: "old-a", Text: "quality 2"}, {Model: "old-b", Text: "quality 4"}}}}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	if completionCalls(q) != 0 {
		t.Fatal("existing completions were regenerated")
	}
	rs := rowsOf(t, dir)[judgeUnit(0)]
	if p := rs[1].(export.Preference); p.ChosenModel != "old-b" || p.RejectedModel != "old-a" {
		t.Fatalf("pair %+v", p)
	}
}

func TestPreferModelRanked(t *testing.T) {
	q := &qualityModel{scriptedModel: &scriptedModel{}, judge: "none"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Mode: ModeModels, ChosenModel: "q2big", RejectedModel: "q3small", Conversations: convs("A?", "B?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	rows := rowsOf(t, dir)
	for p := range 2 {
		rs := rows[judgeUnit(p)]
		if len(rs) != 1 {
			t.Fatalf("rows %v", rs)
		}
		pr := rs[0].(export.Preference)
		if pr.ChosenModel != "q2big" || pr.ScoreChosen != nil || !strings.Contains(pr.Chosen[0].Content, "q2big") {
			t.Fatalf("model-ranked pair %+v", pr)
		}
	}
	if !slices.ContainsFunc(env.Run.Manifest().Notes, func(n string) bool { return strings.HasPrefix(n, "no judge") }) {
		t.Errorf("notes %q", env.Run.Manifest().Notes)
	}
}

func TestPreferJudgeSamples(t *testing.T) {
	// Three samples: the judge gives q3 a 5 once and a 1 twice → mean 2.33.
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, n int) string {
		r := ratingsReply(p)
		if n == 1 {
			return strings.ReplaceAll(r, `"rating":3`, `"rating":5`)
		}
		return strings.ReplaceAll(r, `"rating":3`, `"rating":1`)
	})
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Pool: []string{"q3", "q2"}, Judge: "judge", JudgeSamples: 3, Conversations: convs("A?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	rs := rowsOf(t, dir)[judgeUnit(0)]
	r := rs[0].(export.Rating)
	if got := *r.Completions[0].Overall; got < 2.33 || got > 2.34 {
		t.Fatalf("mean over samples %v", got)
	}
	if p := rs[1].(export.Preference); p.ChosenModel != "q3" {
		t.Fatalf("chose %s", p.ChosenModel)
	}
	seeds := map[int64]bool{}
	for _, c := range q.chats {
		if c.Model == "judge" {
			seeds[*c.Seed] = true
			if c.Options["temperature"] != 1.0 {
				t.Fatalf("judge samples at temperature %v", c.Options["temperature"])
			}
		}
	}
	if len(seeds) != 3 {
		t.Fatalf("judge seeds %v", seeds)
	}
}

func TestPreferValidate(t *testing.T) {
	c := convs("A?")
	tests := []struct {
		m    *Prefer
		want string
	}{
		{&Prefer{Pool: []string{"a", "b"}, Conversations: c}, "needs a judge"},
		{&Prefer{Pool: []string{"a"}, Judge: "j", Conversations: c}, "cannot make a pair"},
		{&Prefer{Pool: []string{"a", "b"}, PerPrompt: 1, Judge: "j", Conversations: c}, "cannot make a pair"},
		{&Prefer{Pool: []string{"a", "b", "c"}, PerPrompt: 4, Judge: "j", Conversations: c}, "more than the 3 models"},
		{&Prefer{Pool: []string{"a", "b"}, Samples: 4, Mode: ModeRank, Judge: "j", Conversations: c}, "at most 7"},
		{&Prefer{Pool: []string{"a", "b"}, Mode: ModeRubric, Judge: "j", Conversations: c}, "--rubric"},
		{&Prefer{Pool: []string{"a", "b"}, Judge: "j", Pairs: "some", Conversations: c}, "pair rule"},
		{&Prefer{Pool: []string{"a", "b"}, Judge: "j", Aspect: "wit", Conversations: c}, "not an aspect"},
		{&Prefer{Mode: ModeModels, ChosenModel: "a", RejectedModel: "a", Conversations: c}, "same model"},
		{&Prefer{Pool: []string{"a"}, Samples: 2, Judge: "j", Conversations: c}, ""},
	}
	for _, tt := range tests {
		err := tt.m.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.m, err, tt.want)
		}
	}
}
