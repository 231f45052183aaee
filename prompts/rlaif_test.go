package prompts

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synthkit/export"
	"synthkit/local"
	"synthkit/prompts/inputs"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSoftLabelArithmetic(t *testing.T) {
	lp := func(tok string, l float64, top ...local.TokenLogprob) local.TokenLogprob {
		return local.TokenLogprob{Token: tok, Logprob: l, Top: top}
	}
	top := func(tok string, l float64) local.TokenLogprob { return local.TokenLogprob{Token: tok, Logprob: l} }
	// Two spellings of A add up; normalised over A and B only.
	p, ok := SoftLabelFromLogprobs([]local.TokenLogprob{lp(" A", -0.5, top(" A", -0.5), top("A", -2), top(" B", -1.5), top("The", -3))})
	wantA := math.Log(math.Exp(-0.5) + math.Exp(-2))
	if !ok || !near(p, math.Exp(wantA)/(math.Exp(wantA)+math.Exp(-1.5))) {
		t.Fatalf("P(A) = %v, %v", p, ok)
	}
	// The letter may come after an opening parenthesis.
	p, ok = SoftLabelFromLogprobs([]local.TokenLogprob{lp("(", -0.1, top("(", -0.1), top("I", -3)), lp("B", -0.2, top("B", -0.2), top("A", -1.8))})
	if !ok || !near(p, math.Exp(-1.8)/(math.Exp(-1.8)+math.Exp(-0.2))) {
		t.Fatalf("P(A) after '(' = %v, %v", p, ok)
	}
	// A letter missing from the list gets the smallest listed logprob.
	p, _ = SoftLabelFromLogprobs([]local.TokenLogprob{lp("A", -0.1, top("A", -0.1), top("Sure", -4))})
	if !near(p, math.Exp(-0.1)/(math.Exp(-0.1)+math.Exp(-4))) {
		t.Fatalf("P(A) with B missing = %v", p)
	}
	if _, ok := SoftLabelFromLogprobs([]local.TokenLogprob{lp("Sure", -0.1, top("Sure", -0.1))}); ok {
		t.Fatal("a reply without A or B gave a label")
	}
	// Both orders: A first says 0.8 for the first, B first says 0.3 for
	// the first (so 0.7 for A).
	if got := CombineOrders(0.8, 0.3); !near(got, 0.75) {
		t.Fatalf("CombineOrders = %v", got)
	}
	if got := ClampLabel(0.9, &[2]float64{0.4, 0.6}); got != 0.6 {
		t.Fatalf("clamp = %v", got)
	}
	if got := ClampLabel(0.1, &[2]float64{0.4, 0.6}); got != 0.4 {
		t.Fatalf("clamp = %v", got)
	}
	// Position bias: the first shown wins in both orders.
	biased := Label{FirstAB: 1, FirstBA: 1, PA: CombineOrders(1, 1)}
	if !biased.Flipped() || !biased.Tie() {
		t.Fatalf("a judge that always picks the first shown must flip and tie: %+v", biased)
	}
	steady := Label{FirstAB: 0.9, FirstBA: 0.2, PA: CombineOrders(0.9, 0.2)}
	if steady.Flipped() || steady.Tie() {
		t.Fatalf("a consistent label flipped or tied: %+v", steady)
	}
}

// judgeModel answers the RLAIF judge. Under a principle whose question
// says BIASED it always picks the first shown; otherwise it prefers the
// reply that says "good". With logprobs it returns first-token
// log-probabilities instead of sampling.
func judgeModel(logprobs bool) *convModel {
	m := &convModel{feats: &local.Features{Logprobs: logprobs}}
	m.reply = func(r *local.ChatRequest) (*local.Response, error) {
		p := ""
		for i := len(r.Messages) - 1; i >= 0 && p == ""; i-- {
			if strings.Contains(r.Messages[i].Content, "Reply A:") {
				p = r.Messages[i].Content
			}
		}
		last := r.Messages[len(r.Messages)-1].Content
		if strings.Contains(last, "Write your reasoning only") {
			return text("Step one: compare. Step two: weigh.")
		}
		body := p[strings.LastIndex(p, "Reply A:"):]
		firstGood := strings.Index(body, "good") < strings.Index(body, "Reply B:")
		first := "A"
		if !strings.Contains(p, "BIASED") && !firstGood {
			first = "B"
		}
		if r.Logprobs {
			// 0.8 for the good reply when it is shown first, 0.7 when second.
			pFirst := 0.8
			if !firstGood {
				pFirst = 0.3
			}
			tok := local.TokenLogprob{Token: first, Logprob: math.Log(max(pFirst, 1-pFirst)),
				Top: []local.TokenLogprob{{Token: "A", Logprob: math.Log(pFirst)}, {Token: "B", Logprob: math.Log(1 - pFirst)}}}
			return &local.Response{Content: first, DoneReason: "length", Logprobs: []local.TokenLogprob{tok}}, nil
		}
		if strings.Contains(last, `"reasoning"`) {
			return text(`{"reasoning": "I weighed both.", "choice": "` + first + `"}`)
		}
		return text(`{"choice": "` + first + `"}`)
	}
	return m
}

func rlaifPairs(n int) []LabelPair {
	var out []LabelPair
	for i := range n {
		a, b := "a good reply", "a weak reply"
		if i%2 == 1 {
			a, b = b, a
		}
		out = append(out, LabelPair{Prompt: []local.Message{{Role: "user", Content: "Question " + string(rune('a'+i))}}, A: a, B: b, ModelA: "m1", ModelB: "m2"})
	}
	return out
}

func TestRLAIFLogprobLabels(t *testing.T) {
	m := judgeModel(true)
	dir := t.TempDir()
	run := testRun(t, dir, "rlaif")
	defer run.Close()
	c := &Constitution{Principles: []Principle{{Name: "steady", Compare: "Which reply is better?"}}}
	o := &RLAIF{Judge: "scripted:latest", Pairs: rlaifPairs(2), Constitution: c, Clamp: &[2]float64{0.3, 0.7}}
	if err := runMethod(&Env{Model: m, Run: run, Workers: 2, Seed: 1}, o); err != nil {
		t.Fatal(err)
	}
	if o.Method != LabelsLogprobs || len(m.reqs) != 4 {
		t.Fatalf("method %q with %d requests, want logprobs with 2 per pair", o.Method, len(m.reqs))
	}
	for _, r := range m.reqs {
		if !r.Logprobs || r.TopLogprobs == 0 || r.Schema != nil {
			t.Fatalf("logprob request %+v", r)
		}
	}
	rows := rowsOf(t, dir)
	for i, pair := range o.Pairs {
		rating := rows[rlaifLabelUnit(i)][0].(export.Rating)
		wantA := 0.75 // (0.8 + 0.7) / 2 for the good reply
		if pair.A != "a good reply" {
			wantA = 0.25
		}
		if !near(rating.Completions[0].Ratings[0].Rating, wantA) || rating.Metadata["label_method"] != LabelsLogprobs {
			t.Fatalf("pair %d label %+v", i, rating)
		}
		pref := rows[rlaifPairUnit(i)][0].(export.Preference)
		if pref.Chosen[0].Content != "a good reply" || !near(*pref.ScoreChosen, 0.7) || pref.Metadata["principle"] != "steady" ||
			pref.Metadata["probability"] != 0.7 || pref.Metadata["p_a"] != wantA {
			t.Fatalf("pair %d preference %+v (%v)", i, pref, pref.Metadata)
		}
		if pref.ChosenModel != map[bool]string{true: "m1", false: "m2"}[pair.A == "a good reply"] {
			t.Fatalf("chosen model %q", pref.ChosenModel)
		}
	}
	if notes := run.Manifest().Notes; !strings.Contains(strings.Join(notes, "\n"), "log-probabilities of A and B") {
		t.Fatalf("labelling way not noted: %v", notes)
	}
}

func TestRLAIFVotesAndStability(t *testing.T) {
	m := judgeModel(false)
	dir := t.TempDir()
	run := testRun(t, dir, "rlaif")
	defer run.Close()
	c := &Constitution{Principles: []Principle{
		{Name: "steady", Compare: "Which reply is better?"},
		{Name: "biased", Compare: "Which reply is BIASED-better?"},
	}}
	drop := 0.5
	o := &RLAIF{Judge: "scripted:latest", Pairs: rlaifPairs(10), Constitution: c, Votes: 3, DropUnstable: &drop}
	if err := runMethod(&Env{Model: m, Run: run, Workers: 3, Seed: 2}, o); err != nil {
		t.Fatal(err)
	}
	if o.Method != LabelsVotes || len(m.reqs) != 10*2*3 {
		t.Fatalf("method %q with %d requests, want votes, 3 per order", o.Method, len(m.reqs))
	}
	st := map[string]PrincipleStability{}
	for _, s := range o.Stability {
		st[s.Principle] = s
	}
	b, s := st["biased"], st["steady"]
	if b.Labels == 0 || s.Labels == 0 || b.Labels+s.Labels != 10 {
		t.Fatalf("seed 2 should use both principles: %+v", o.Stability)
	}
	if b.FlipRate != 1 || b.TieRate != 1 || s.FlipRate != 0 || s.TieRate != 0 || s.Spread < 0.45 || s.OrderGap != 0 || b.OrderGap != 1 {
		t.Fatalf("stability %+v", o.Stability)
	}
	cn := run.Counts()
	if cn.Rejected[ReasonUnstablePrinciple] != int64(b.Labels) || cn.Accepted != int64(10+s.Labels) {
		t.Fatalf("counts %+v with %d biased labels", cn, b.Labels)
	}
	for unit, rows := range rowsOf(t, dir) {
		if p, ok := rows[0].(export.Preference); ok && (p.Chosen[0].Content != "a good reply" || p.Metadata["label_method"] != LabelsVotes) {
			t.Fatalf("%s: %+v", unit, p)
		}
	}
	table := StabilityTable(o.Stability, &drop)
	if !strings.Contains(table, "biased") || !strings.Contains(table, "dropped") || strings.Index(table, "biased") > strings.Index(table, "steady") {
		t.Fatalf("table (least stable first, dropped marked):\n%s", table)
	}
	var card *export.CardTable
	for _, tb := range run.Manifest().Tables {
		if strings.HasPrefix(tb.Title, "Principle stability") {
			card = &tb
		}
	}
	if card == nil || len(card.Rows) == 0 || card.Rows[0][0] != "biased" || card.Rows[0][1] != itoa(b.Labels) ||
		card.Rows[0][2] != "100%" || !strings.HasPrefix(card.Rows[0][6], "yes") {
		t.Fatalf("stability table for the card: %+v", card)
	}

	// Without --drop-unstable the biased principle's labels are ties.
	dir2 := t.TempDir()
	run2 := testRun(t, dir2, "rlaif")
	defer run2.Close()
	if err := runMethod(&Env{Model: judgeModel(false), Run: run2, Workers: 3, Seed: 2},
		&RLAIF{Judge: "scripted:latest", Pairs: rlaifPairs(10), Constitution: c, Votes: 3, Labels: LabelsVotes}); err != nil {
		t.Fatal(err)
	}
	if got := run2.Counts().Rejected[ReasonLabelTie]; got != int64(b.Labels) {
		t.Fatalf("ties %d, want %d", got, b.Labels)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestRLAIFOffFormatJudge(t *testing.T) {
	m := &convModel{reply: func(r *local.ChatRequest) (*local.Response, error) { return text("I like turtles") }}
	dir := t.TempDir()
	run := testRun(t, dir, "rlaif")
	defer run.Close()
	err := runMethod(&Env{Model: m, Run: run, Workers: 1, Seed: 1, Retries: 0},
		&RLAIF{Judge: "scripted:latest", Pairs: rlaifPairs(1), Votes: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Counts().Rejected[ReasonLabelOffFormat]; got != 1 {
		t.Fatalf("counts %+v", run.Counts())
	}
}

func TestPairsFromRecords(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) *inputs.Set {
		t.Helper()
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		set, err := inputs.Load(p, inputs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	set := write("p.jsonl", `{"prompt": "q1", "chosen": "good", "rejected": "bad"}
{"prompt": "q2", "completions": ["x", "y", "z"]}
{"prompt": "q3", "response": "first"}
{"prompt": "q3", "response": "second"}
`)
	pairs, err := PairsFromRecords(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 3 || pairs[0].A != "good" || pairs[1].B != "y" || pairs[2].A != "first" || pairs[2].B != "second" {
		t.Fatalf("pairs %+v", pairs)
	}
	_, err = PairsFromRecords(write("one.jsonl", `{"prompt": "q1", "chosen": "good", "rejected": "bad"}
{"prompt": "lonely", "response": "only one"}
`))
	var ie *inputs.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "one.jsonl:2") || !strings.Contains(err.Error(), "only one answer") {
		t.Fatalf("error %v, want one naming one.jsonl:2", err)
	}
}

// Chain-of-thought labels: the judge reasons first. With logprobs the
// letter is read in a second turn that carries the reasoning; with votes
// the reasoning comes first in the JSON reply.
func TestRLAIFChainOfThought(t *testing.T) {
	c := &Constitution{Principles: []Principle{{Name: "steady", Compare: "Which reply is better?"}}}
	for _, logprobs := range []bool{true, false} {
		m := judgeModel(logprobs)
		dir := t.TempDir()
		run := testRun(t, dir, "rlaif")
		o := &RLAIF{Judge: "scripted:latest", Pairs: rlaifPairs(1), Constitution: c, CoT: true, Votes: 2}
		if err := runMethod(&Env{Model: m, Run: run, Workers: 1, Seed: 1}, o); err != nil {
			t.Fatal(err)
		}
		run.Close()
		rows := rowsOf(t, dir)
		rating := rows[rlaifLabelUnit(0)][0].(export.Rating)
		pref := rows[rlaifPairUnit(0)][0].(export.Preference)
		if pref.Chosen[0].Content != "a good reply" || pref.Metadata["cot"] != true {
			t.Fatalf("logprobs=%v: preference %+v", logprobs, pref)
		}
		if logprobs {
			// Two orders × (reasoning, then the letter with logprobs).
			if len(m.reqs) != 4 || m.reqs[0].Logprobs || !m.reqs[1].Logprobs ||
				m.reqs[1].Messages[len(m.reqs[1].Messages)-2].Content != "Step one: compare. Step two: weigh." {
				t.Fatalf("CoT logprob requests: %+v", m.reqs)
			}
			if !near(rating.Completions[0].Ratings[0].Rating, 0.75) || !strings.Contains(rating.Completions[0].Ratings[0].Rationale, "Step one") {
				t.Fatalf("CoT logprob label %+v", rating)
			}
		} else if len(m.reqs) != 4 || !strings.Contains(string(m.reqs[0].Schema), "reasoning") ||
			!strings.Contains(rating.Completions[0].Ratings[0].Rationale, "I weighed both.") {
			t.Fatalf("CoT votes: %d requests, rating %+v", len(m.reqs), rating)
		}
	}
}

// TestDropUnstableNeedsEnoughLabels: one flipped label is a 100% flip rate;
// a principle is judged unstable only on MinLabelsToDrop labels or more.
func TestDropUnstableNeedsEnoughLabels(t *testing.T) {
	half := 0.5
	tests := []struct {
		labels int
		flip   float64
		drop   *float64
		want   bool
	}{
		{1, 1, &half, false},
		{2, 1, &half, false},
		{3, 0.67, &half, true},
		{10, 0.4, &half, false},
		{10, 0.9, nil, false},
	}
	for _, tt := range tests {
		if got := unstableBy(PrincipleStability{Labels: tt.labels, FlipRate: tt.flip}, tt.drop); got != tt.want {
			t.Errorf("%d labels, flip %.2f: unstable %v, want %v", tt.labels, tt.flip, got, tt.want)
		}
	}
}
