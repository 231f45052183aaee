package prompts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/local"
)

func sft(user, assistant string) export.SFT {
	return export.SFT{Messages: []export.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: user}, {Role: "assistant", Content: assistant}}}
}

func TestNoveltyText(t *testing.T) {
	pref := export.Preference{Prompt: []export.Message{{Role: "user", Content: "Q"}},
		Chosen: []export.Message{{Role: "assistant", Content: "good"}}, Rejected: []export.Message{{Role: "assistant", Content: "bad"}}}
	crit := export.Critique{Prompt: []export.Message{{Role: "user", Content: "Q"}}, Initial: "first",
		Steps: []export.CritiqueStep{{Revision: "second"}, {Revision: "final"}}}
	multi := export.SFT{Messages: []export.Message{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"},
		{Role: "user", Content: "c"}, {Role: "assistant", Content: "d"}}}
	tests := []struct {
		name string
		rows []export.Row
		on   string
		want string
	}{
		{"sft prompt leaves out the system turn", []export.Row{sft("Q", "A")}, OnPrompt, "Q"},
		{"sft response", []export.Row{sft("Q", "A")}, OnResponse, "A"},
		{"sft both", []export.Row{sft("Q", "A")}, OnBoth, "Q\n\nA"},
		{"multi-turn joins turns of a role", []export.Row{multi}, OnBoth, "a\nc\n\nb\nd"},
		{"pointer rows", []export.Row{&multi}, OnPrompt, "a\nc"},
		{"preference prompt", []export.Row{pref}, OnPrompt, "Q"},
		{"preference response is the chosen answer", []export.Row{pref}, OnResponse, "good"},
		{"critique response is the final revision", []export.Row{crit}, OnResponse, "final"},
		{"critique without steps: the initial response", []export.Row{export.Critique{Initial: "first"}}, OnResponse, "first"},
		{"the first row with text counts", []export.Row{export.Rating{}, sft("Q", "A")}, OnPrompt, "Q"},
		{"no text", []export.Row{export.Rating{}}, OnBoth, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NoveltyText(tt.rows, tt.on); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func newGate(t *testing.T, run *export.Run, on string) *NoveltyGate {
	t.Helper()
	g, err := NewNoveltyGate(context.Background(), run, diversity.HashedNGrams(), on, 0)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// checkNovel asserts what the novelty filter promises about a finished
// run: no two accepted records are more similar than the threshold, and
// every accepted record but the first names its nearest neighbour.
func checkNovel(t *testing.T, dir, on string, tau float64) {
	t.Helper()
	rows := rowsOf(t, dir)
	var units []string
	for u := range rows {
		units = append(units, u)
	}
	slices.Sort(units)
	vecs := map[string][]float32{}
	without := 0
	for _, u := range units {
		vecs[u] = diversity.HashNGrams(NoveltyText(rows[u], on), diversity.HashedNGramDim)
		meta := rows[u][0].(export.SFT).Metadata
		id, ok := meta[MetaNearestID].(string)
		sim, _ := meta[MetaNearestSimilarity].(float64)
		switch {
		case !ok:
			without++
		case sim > tau || sim <= -1:
			t.Errorf("%s: nearest similarity %v is above the threshold %v", u, sim, tau)
		case id == u:
			t.Errorf("%s names itself as its nearest neighbour", u)
		}
	}
	if without != 1 {
		t.Errorf("%d of %d accepted rows lack %s, want only the first", without, len(units), MetaNearestID)
	}
	for i, a := range units {
		for _, b := range units[i+1:] {
			if s := float64(diversity.Dot(vecs[a], vecs[b])); s > tau {
				t.Errorf("accepted %s and %s at similarity %.3f > %v:\n  %q\n  %q", a, b, s, tau,
					NoveltyText(rows[a], on), NoveltyText(rows[b], on))
			}
		}
	}
}

// TestNoveltyGateAppliesToEveryMethod runs each method on a scripted model
// that keeps writing near-copies, with the novelty gate: the copies are
// rejected as near_duplicate and what is accepted is pairwise novel.
func TestNoveltyGateAppliesToEveryMethod(t *testing.T) {
	topics := []string{
		"Why do cats purr when they are content?",
		"Name three rivers in Africa and their lengths.",
		"Which planet has the most moons these days?",
		"Suggest a vegetarian dinner for a cold evening.",
		"Convert 72 Fahrenheit into Celsius, showing work.",
		"Who painted the ceiling of the Sistine Chapel?",
		"Give tips for sleeping well before an exam.",
		"How is paper recycled at an industrial scale?",
	}
	long := strings.Repeat("Here is a careful, complete answer with reasons. ", 12)
	tests := []struct {
		name    string
		on      string
		workers int
		method  func() Method
		model   *scriptedModel
		info    []local.ModelInfo
		minNear int64
	}{
		{
			name: "respond, on prompt", on: OnPrompt, workers: 3,
			method: func() Method {
				return &Respond{Responders: []string{"scripted:latest"}, Prompts: []string{
					"What is the capital of France?", topics[0], "what is the CAPITAL of France??",
					"List 5 facts about honey bees.", topics[1], "List 7 facts about honey bees."}}
			},
			model:   (&scriptedModel{}).on("", func(p string, n int) string { return "Answer " + p }),
			minNear: 2,
		},
		{
			name: "respond, on response", on: OnResponse, workers: 2,
			method: func() Method {
				return &Respond{Responders: []string{"a:1", "b:1"}, Prompts: topics[:3]}
			},
			// Both models give the same answer: the second is a copy.
			model:   (&scriptedModel{}).on("", func(p string, n int) string { return "The answer to " + p }),
			minNear: 3,
		},
		{
			name: "magpie, on prompt", on: OnPrompt, workers: 1,
			method: func() Method { return &Magpie{Model: "scripted:latest", Count: 4, Turns: 1} },
			model: (&scriptedModel{}).
				on("<|im_start|>user\n", func(p string, n int) string {
					if n%2 == 0 {
						return fmt.Sprintf("How do tides work, question %d?<|im_end|>", n)
					}
					return topics[n/2] + "<|im_end|>"
				}).
				on("", fixed("An answer.")),
			info:    []local.ModelInfo{{Name: "scripted:latest", Template: "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"}},
			minNear: 1,
		},
		{
			name: "evol, on prompt", on: OnPrompt, workers: 1,
			method: func() Method {
				return &Evol{Model: "scripted:latest", Rounds: 1, Prompts: []string{"one", "two", "three", "four", "five", "six"}}
			},
			model: (&scriptedModel{}).
				on("Reply with JSON only: {\"prompt\"", func(p string, n int) string {
					if n%2 == 0 {
						return fmt.Sprintf(`{"prompt": "Describe rivers in detail, round %d, with constraint %d."}`, n, n)
					}
					return fmt.Sprintf(`{"prompt": %q}`, topics[n/2])
				}).
				on("Compare the two prompts", fixed(`{"verdict": "not_equal"}`)).
				on("", fixed(long)),
			minNear: 1,
		},
		{
			name: "self-instruct, on response", on: OnResponse, workers: 2,
			method: func() Method {
				return &SelfInstruct{Model: "scripted:latest", Count: 4, Seeds: []SeedTask{{Instruction: "Translate the sentence into French."}}, Pool: diversity.NewPool()}
			},
			model: (&scriptedModel{}).
				on("Reply with JSON only: {\"tasks\"", func(p string, n int) string {
					return fmt.Sprintf(`{"tasks": [%q, %q]}`, topics[(2*n)%len(topics)], topics[(2*n+1)%len(topics)])
				}).
				on("Decide whether the following task", fixed(`{"is_classification": false}`)).
				on("Write examples of it", func(p string, n int) string {
					// Two examples per task with the same answer: the
					// second is a copy on the response.
					for _, tp := range topics {
						if strings.Contains(p, tp) {
							ans := strings.Repeat(strings.Fields(tp)[2]+" ", 6)
							return fmt.Sprintf(`{"instances": [{"input": "a", "output": %q}, {"input": "b", "output": %q}]}`, ans, ans)
						}
					}
					return `{"instances": []}`
				}),
			minNear: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			run := testRun(t, dir, "test")
			defer run.Close()
			g := newGate(t, run, tt.on)
			env := &Env{Model: tt.model, Run: run, Workers: tt.workers, Seed: 5, Retries: 1, Gate: g}
			if err := runMethod(env, tt.method(), tt.info...); err != nil {
				t.Fatal(err)
			}
			c := run.Counts()
			if c.Rejected[ReasonNearDuplicate] < tt.minNear {
				t.Fatalf("%d near_duplicate rejections, want ≥ %d (counts %+v)", c.Rejected[ReasonNearDuplicate], tt.minNear, c)
			}
			checked, rejected, _ := g.Stats()
			if rejected != c.Rejected[ReasonNearDuplicate] || checked < c.Accepted+rejected {
				t.Fatalf("gate stats checked %d rejected %d, counts %+v", checked, rejected, c)
			}
			if got := g.Store().Len(); int64(got) != c.Accepted {
				t.Fatalf("store holds %d vectors, %d accepted", got, c.Accepted)
			}
			checkNovel(t, dir, tt.on, g.MaxSimilarity())
		})
	}
}

// storeSnapshot is a store's contents: ids and vector bits, sorted (the
// order of insertion only breaks exact ties between neighbours).
func storeSnapshot(s *diversity.Store) []string {
	var out []string
	s.Each(func(id string, v []float32) { out = append(out, fmt.Sprint(id, v)) })
	slices.Sort(out)
	return out
}

// TestNoveltyResumeRebuildsSameStore: a resumed run's store holds exactly
// the vectors the previous process held for the accepted records: not
// those of rejected or dropped records, and for a unit redone after a
// crash between its vector and its journal entry, the redone one.
func TestNoveltyResumeRebuildsSameStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	texts := []string{"What is the capital of France?", "Name three rivers in Africa.", "what is the capital of FRANCE",
		"List 5 facts about honey bees.", "How is paper recycled?", "List 7 facts about honey bees.", "Why do cats purr?"}
	run := testRun(t, dir, "respond")
	g := newGate(t, run, OnPrompt)
	env := &Env{Model: (&scriptedModel{}).on("", fixed("ok")), Run: run, Workers: 3, Seed: 1, Gate: g}
	if err := runMethod(env, &Respond{Responders: []string{"m:1"}, Prompts: texts, Count: 3}); err != nil {
		t.Fatal(err)
	}
	first := storeSnapshot(g.Store())
	if len(first) != 3 {
		t.Fatalf("store holds %d after -n 3", len(first))
	}

	// Units of the second process: one kept, one dropped over the target,
	// and one whose vector is written when the process dies before its
	// journal entry.
	admit := func(g *NoveltyGate, unit, text string) {
		t.Helper()
		if reason, err := g.Admit(ctx, unit, []export.Row{sft(text, "ok")}); err != nil || reason != "" {
			t.Fatalf("admit %s: %q %v", unit, reason, err)
		}
	}
	steps := []struct {
		name  string
		units func(g *NoveltyGate, run *export.Run)
		want  func(prev []string, g *NoveltyGate) []string
	}{
		{"plain resume", func(*NoveltyGate, *export.Run) {}, func(prev []string, _ *NoveltyGate) []string { return prev }},
		{"kept, dropped and crashed units", func(g *NoveltyGate, run *export.Run) {
			admit(g, "kept", "Who painted the Sistine Chapel ceiling?")
			if err := run.Add("kept", export.Provenance{}, sft("Who painted the Sistine Chapel ceiling?", "ok")); err != nil {
				t.Fatal(err)
			}
			g.Settle("kept", true)
			admit(g, "dropped", "Suggest a vegetarian dinner.")
			if err := run.Reject("dropped", ReasonOverTarget, export.Provenance{}); err != nil {
				t.Fatal(err)
			}
			g.Settle("dropped", false)
			admit(g, "crashed", "Convert 72 Fahrenheit to Celsius.") // vector written, never journaled
		}, func(prev []string, g *NoveltyGate) []string { return storeSnapshot(g.Store()) }},
		{"the crashed unit redone with other text", func(g *NoveltyGate, run *export.Run) {
			admit(g, "crashed", "Give tips for sleeping well before an exam.")
			if err := run.Add("crashed", export.Provenance{}, sft("Give tips for sleeping well before an exam.", "ok")); err != nil {
				t.Fatal(err)
			}
			g.Settle("crashed", true)
		}, func(prev []string, g *NoveltyGate) []string { return storeSnapshot(g.Store()) }},
		{"plain resume after the redo", func(*NoveltyGate, *export.Run) {}, func(prev []string, _ *NoveltyGate) []string { return prev }},
	}
	prev := first
	run.Close()
	for _, st := range steps {
		run := testRun(t, dir, "respond")
		g := newGate(t, run, OnPrompt)
		if got := storeSnapshot(g.Store()); !slices.Equal(got, prev) {
			t.Fatalf("%s: resumed store differs from the last process's:\n got  %.200v\n want %.200v", st.name, got, prev)
		}
		st.units(g, run)
		prev = st.want(prev, g)
		run.Close()
	}
	// The redone unit's vector is the second text's, not the crashed one's.
	want := diversity.HashNGrams("Give tips for sleeping well before an exam.", diversity.HashedNGramDim)
	if err := diversity.Normalize(want); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(prev, func(s string) bool { return s == fmt.Sprint("crashed", want) }) {
		t.Fatalf("the redone unit's vector is not the redone text's: %.300v", prev)
	}
	if slices.ContainsFunc(prev, func(s string) bool { return strings.HasPrefix(s, "dropped") }) {
		t.Fatal("a dropped unit's vector was rebuilt")
	}
}

// TestNoveltyGateRefusesAnotherEmbedder: resuming with an embedder of
// another size is an error, not a silently mixed store.
func TestNoveltyGateRefusesAnotherEmbedder(t *testing.T) {
	dir := t.TempDir()
	run := testRun(t, dir, "respond")
	g := newGate(t, run, OnPrompt)
	env := &Env{Model: (&scriptedModel{}).on("", fixed("ok")), Run: run, Workers: 1, Seed: 1, Gate: g}
	if err := runMethod(env, &Respond{Responders: []string{"m:1"}, Prompts: []string{"Why is the sky blue?"}}); err != nil {
		t.Fatal(err)
	}
	run.Close()
	run = testRun(t, dir, "respond")
	defer run.Close()
	other := diversity.Embedder{Name: "tiny", Embed: func(ctx context.Context, in []string) ([][]float32, error) {
		out := make([][]float32, len(in))
		for i := range out {
			out[i] = []float32{1, 0, 0}
		}
		return out, nil
	}}
	if _, err := NewNoveltyGate(context.Background(), run, other, OnPrompt, 0.9); err == nil || !strings.Contains(err.Error(), "--fresh") {
		t.Fatalf("err = %v, want a refusal naming --fresh", err)
	}
	if _, err := NewNoveltyGate(context.Background(), run, diversity.HashedNGrams(), "answers", 0); err == nil {
		t.Fatal("--on answers accepted")
	}
}

// TestNoveltyGateAnnotatesRows: an admitted row names its nearest
// neighbour, including one still pending; a row without metadata gets it.
func TestNoveltyGateAnnotatesRows(t *testing.T) {
	ctx := context.Background()
	run := testRun(t, t.TempDir(), "respond")
	defer run.Close()
	g := newGate(t, run, OnPrompt)
	first := []export.Row{sft("Why do cats purr when content?", "x")}
	if r, err := g.Admit(ctx, "a", first); err != nil || r != "" {
		t.Fatal(r, err)
	}
	if first[0].(export.SFT).Metadata != nil {
		t.Fatalf("the first row has a neighbour: %v", first[0].(export.SFT).Metadata)
	}
	// "a" is pending (not settled): still the nearest.
	second := []export.Row{sft("Why do dogs wag their tails when content?", "x")}
	if r, err := g.Admit(ctx, "b", second); err != nil || r != "" {
		t.Fatal(r, err)
	}
	meta := second[0].(export.SFT).Metadata
	sim, _ := meta[MetaNearestSimilarity].(float64)
	if meta[MetaNearestID] != "a" || sim <= 0 || sim > g.MaxSimilarity() {
		t.Fatalf("metadata %v, want nearest a with its similarity", meta)
	}
	if r, err := g.Admit(ctx, "c", []export.Row{sft("why do cats PURR when content", "y")}); err != nil || r != ReasonNearDuplicate {
		t.Fatalf("a copy of a pending row: %q %v, want %s", r, err, ReasonNearDuplicate)
	}
}
