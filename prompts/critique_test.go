package prompts

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"synthkit/export"
	"synthkit/local"
)

// convModel answers from the whole request (scriptedModel sees only the
// last message): the critique loop's replies depend on the answer being
// critiqued, several turns back.
type convModel struct {
	mu    sync.Mutex
	reqs  []local.ChatRequest
	reply func(r *local.ChatRequest) (*local.Response, error)
	// feats, when set, is what ProbeFeatures reports.
	feats *local.Features
}

func (m *convModel) Chat(ctx context.Context, r *local.ChatRequest) (*local.Response, error) {
	m.mu.Lock()
	m.reqs = append(m.reqs, *r)
	m.mu.Unlock()
	return m.reply(r)
}

func (m *convModel) Generate(context.Context, *local.GenerateRequest) (*local.Response, error) {
	return nil, fmt.Errorf("not scripted")
}

func (m *convModel) Embed(context.Context, string, []string) ([][]float32, error) {
	return nil, fmt.Errorf("not scripted")
}

func text(s string) (*local.Response, error) {
	return &local.Response{Content: s, DoneReason: "stop"}, nil
}

func (m *convModel) count(contains string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.reqs {
		if strings.Contains(r.Messages[len(r.Messages)-1].Content, contains) {
			n++
		}
	}
	return n
}

// caiModel plays a model in the critique loop. The initial answer and
// every critique and revision are made from what the request holds, so
// an interrupted run and an uninterrupted one agree exactly.
func caiModel(failRevisionOf string) *convModel {
	return &convModel{reply: func(r *local.ChatRequest) (*local.Response, error) {
		last := r.Messages[len(r.Messages)-1].Content
		prev := func(back int) string { return r.Messages[len(r.Messages)-1-back].Content }
		switch {
		case strings.Contains(last, "Look back at your last answer"):
			answer := prev(1)
			principle := strings.Fields(last[strings.Index(last, "RULE-"):])[0]
			switch {
			case strings.Contains(answer, "already perfect"):
				return text(NoIssues)
			case strings.Contains(answer, "mumble"):
				return text("Critique: meh") // off-format every time
			}
			return text(fmt.Sprintf("Critique: under %s, the answer %q is too vague.", principle, answer))
		case strings.Contains(last, "Base the rewrite on your critique"):
			answer := prev(3)
			if failRevisionOf != "" && strings.Contains(answer, failRevisionOf) {
				return nil, errors.New("scripted transport failure")
			}
			if strings.Contains(answer, "loops") {
				return text("   ") // empty every time
			}
			return text("Here is the revised answer:\n" + answer + " +fixed")
		}
		switch last {
		case "already perfect?":
			return text("This is already perfect.")
		case "mumble?":
			return text("mumble")
		}
		return text("Answer to " + last)
	}}
}

func caiConstitution() *Constitution {
	var ps []Principle
	for _, n := range []string{"alpha", "beta", "gamma"} {
		ps = append(ps, Principle{Name: n, Critique: "Check RULE-" + n + " in the answer.", Revision: "Rewrite to satisfy RULE-" + n + "."})
	}
	return &Constitution{Principles: ps}
}

func critiqueRows(t *testing.T, dir string) map[string]export.Critique {
	t.Helper()
	out := map[string]export.Critique{}
	for unit, rows := range rowsOf(t, dir) {
		out[unit] = rows[0].(export.Critique)
	}
	return out
}

func TestCritiqueTraces(t *testing.T) {
	m := caiModel("")
	dir := t.TempDir()
	run := testRun(t, dir, "critique")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 2, Seed: 11}
	prompts := [][]local.Message{
		{{Role: "user", Content: "How do tides work?"}},
		{{Role: "user", Content: "already perfect?"}},
		{{Role: "user", Content: "mumble?"}},
		{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Why is the sky blue?"}},
	}
	if err := runMethod(env, &Critique{Model: "scripted:latest", Prompts: prompts, Revisions: 3, Constitution: caiConstitution()}); err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	// mumble: every round's critique stays off-format (3 rounds), so the
	// trace has no step and is rejected itself.
	if c.Accepted != 3 || c.Rejected[ReasonCritiqueOffFormat] != 3 || c.Rejected[ReasonCritiqueNoRounds] != 1 {
		t.Fatalf("counts %+v", c)
	}
	// Off-format critiques were asked again (3 good traces × 3 rounds aside) with new seeds before the round gave up.
	if got := m.count("Look back at your last answer") - 3*3; got != 3*(CritiqueRetries+1) {
		t.Fatalf("mumble's critiques asked %d times, want %d", got, 3*(CritiqueRetries+1))
	}
	rows := critiqueRows(t, dir)
	tides := rows[critiqueUnit(0)]
	if tides.Initial != "Answer to How do tides work?" || len(tides.Steps) != 3 {
		t.Fatalf("tides trace %+v", tides)
	}
	seen := map[string]bool{}
	latest := tides.Initial
	for i, s := range tides.Steps {
		// Each round critiques the previous round's revision, under its
		// own principle, and the revision lost its preface line.
		if !strings.Contains(s.Critique, "RULE-"+s.Principle) || !strings.Contains(s.Critique, latest) {
			t.Fatalf("step %d critique %q does not critique %q under %s", i, s.Critique, latest, s.Principle)
		}
		if s.Revision != latest+" +fixed" {
			t.Fatalf("step %d revision %q", i, s.Revision)
		}
		seen[s.Principle] = true
		latest = s.Revision
	}
	if len(seen) != 3 {
		t.Fatalf("3 rounds used principles %v, want 3 distinct", seen)
	}
	if names := tides.Metadata["principles"].([]any); len(names) != 3 || names[0] != tides.Steps[0].Principle {
		t.Fatalf("principles not recorded in order: %v", tides.Metadata)
	}
	perfect := rows[critiqueUnit(1)]
	if perfect.Steps[0].Revision != perfect.Initial || perfect.Metadata["revised"] != false ||
		!reflect.DeepEqual(perfect.Metadata["unchanged_rounds"], []any{1.0, 2.0, 3.0}) {
		t.Fatalf("a critique finding nothing must keep the answer and say so: %+v", perfect)
	}
	sky := rows[critiqueUnit(3)]
	if sky.Prompt[0].Content != "Be brief." || len(sky.Prompt) != 2 {
		t.Fatalf("the record's system turn was not kept: %+v", sky.Prompt)
	}
	for _, r := range m.reqs {
		if strings.Contains(r.Messages[len(r.Messages)-1].Content, "Why is the sky blue") && r.Messages[0].Content != "Be brief." {
			t.Fatalf("system turn not sent")
		}
	}

	// The principles drawn depend on the run seed only: the same seed in
	// a new run draws the same ones.
	dir2 := t.TempDir()
	run2 := testRun(t, dir2, "critique")
	defer run2.Close()
	if err := runMethod(&Env{Model: caiModel(""), Run: run2, Workers: 3, Seed: 11},
		&Critique{Model: "scripted:latest", Prompts: prompts, Revisions: 3, Constitution: caiConstitution()}); err != nil {
		t.Fatal(err)
	}
	if again := critiqueRows(t, dir2)[critiqueUnit(0)]; !reflect.DeepEqual(again.Steps, tides.Steps) {
		t.Fatalf("same seed, different trace:\n%+v\n%+v", again.Steps, tides.Steps)
	}
	// … and other seeds draw other orders.
	o := &Critique{Model: "m", Prompts: prompts, Revisions: 3, Constitution: caiConstitution()}
	o.Prepare(modelInfos([]string{"m"}))
	orders := map[string]bool{}
	for seed := range int64(6) {
		var names []string
		for _, p := range o.principleOrder(&Env{Seed: seed}, 0) {
			names = append(names, p.Name)
		}
		orders[strings.Join(names, ",")] = true
	}
	if len(orders) < 3 {
		t.Fatalf("6 run seeds drew only %d principle orders: %v", len(orders), orders)
	}
}

func TestCritiqueRoundFailuresAreCountedAndSkipped(t *testing.T) {
	m := caiModel("")
	dir := t.TempDir()
	run := testRun(t, dir, "critique")
	defer run.Close()
	// "loops": every revision comes back empty, so each round is rejected
	// and the trace has no step.
	err := runMethod(&Env{Model: m, Run: run, Workers: 1, Seed: 3},
		&Critique{Model: "scripted:latest", Prompts: [][]local.Message{{{Role: "user", Content: "loops"}}}, Revisions: 2, Constitution: caiConstitution()})
	if err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	if c.Rejected[ReasonRevisionOffFormat] != 2 || c.Rejected[ReasonCritiqueNoRounds] != 1 || c.Accepted != 0 {
		t.Fatalf("counts %+v", c)
	}
}

func TestCritiqueGivenResponses(t *testing.T) {
	m := caiModel("")
	dir := t.TempDir()
	run := testRun(t, dir, "critique")
	defer run.Close()
	err := runMethod(&Env{Model: m, Run: run, Workers: 1, Seed: 3},
		&Critique{Model: "scripted:latest", Prompts: [][]local.Message{{{Role: "user", Content: "Name a fruit."}}},
			Responses: []string{"A potato."}, Revisions: 1, Constitution: caiConstitution()})
	if err != nil {
		t.Fatal(err)
	}
	row := critiqueRows(t, dir)[critiqueUnit(0)]
	if row.Initial != "A potato." || row.Steps[0].Revision != "A potato. +fixed" || row.Metadata["initial"] != "given" {
		t.Fatalf("given response not revised: %+v", row)
	}
	if n := m.count("Name a fruit."); n != 0 {
		t.Fatalf("the given answer was generated again (%d requests)", n)
	}
}

// A crash in the middle of a trace loses only the step in flight: the
// resumed run does not ask again for the initial answer or the finished
// rounds, and ends with the same trace as a run that never stopped.
func TestCritiqueResumesMidTrace(t *testing.T) {
	prompts := [][]local.Message{{{Role: "user", Content: "How do tides work?"}}, {{Role: "user", Content: "What is rust?"}}}
	newMethod := func() *Critique {
		return &Critique{Model: "scripted:latest", Prompts: prompts, Revisions: 3, Constitution: caiConstitution()}
	}
	// The reference: no crash.
	refDir := t.TempDir()
	ref := testRun(t, refDir, "critique")
	if err := runMethod(&Env{Model: caiModel(""), Run: ref, Workers: 1, Seed: 5}, newMethod()); err != nil {
		t.Fatal(err)
	}
	ref.Close()
	want := critiqueRows(t, refDir)

	// The crash: the transport fails at round 2's revision of the tides
	// trace (the revision of round 1's revision).
	dir := t.TempDir()
	run := testRun(t, dir, "critique")
	crashing := caiModel("Answer to How do tides work? +fixed")
	if err := runMethod(&Env{Model: crashing, Run: run, Workers: 1, Seed: 5}, newMethod()); err == nil {
		t.Fatal("the transport failure did not stop the run")
	}
	run.Close()
	if got := len(rowsOf(t, dir)); got != 0 {
		t.Fatalf("%d traces journaled before the crash, want none (the trace was half done)", got)
	}

	run = testRun(t, dir, "critique")
	defer run.Close()
	resumed := caiModel("")
	if err := runMethod(&Env{Model: resumed, Run: run, Workers: 1, Seed: 5}, newMethod()); err != nil {
		t.Fatal(err)
	}
	if n := resumed.count("How do tides work?"); n != 0 {
		t.Fatalf("the initial answer was asked again after the crash (%d times)", n)
	}
	// Round 1 of tides is not redone: its critique request is sent once
	// per remaining round (2 and 3) for tides, 3 for rust.
	if n := resumed.count("Look back at your last answer"); n != 2+3 {
		t.Fatalf("%d critiques after resume, want 5 (rounds 2–3 of tides, 1–3 of rust)", n)
	}
	got := critiqueRows(t, dir)
	for unit, w := range want {
		if !reflect.DeepEqual(got[unit].Steps, w.Steps) || got[unit].Initial != w.Initial {
			t.Fatalf("%s after resume:\n%+v\nwant\n%+v", unit, got[unit], w)
		}
	}
}

func TestCleanCritiqueAndRevision(t *testing.T) {
	for in, want := range map[string]bool{
		"Critique: The answer is vague about dates.": true,
		NoIssues:            true,
		"No changes needed": true,
		"no issues found.":  true,
		"ok":                false,
		"Critique: meh":     false,
	} {
		if _, ok := cleanCritique(in); ok != want {
			t.Errorf("cleanCritique(%q) ok = %v, want %v", in, ok, want)
		}
	}
	tests := []struct{ in, want string }{
		{"Revision: The tide rises twice a day.", "The tide rises twice a day."},
		{"Here is the revised answer:\nThe tide rises.", "The tide rises."},
		{"**Revised response:** The tide rises.", "The tide rises."},
		{"The tide rises twice a day.", "The tide rises twice a day."},
	}
	for _, tt := range tests {
		if got, ok := cleanRevision(tt.in, "crit"); !ok || got != tt.want {
			t.Errorf("cleanRevision(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"", "Revision:", "crit", NoIssues} {
		if _, ok := cleanRevision(bad, "crit"); ok {
			t.Errorf("cleanRevision(%q) accepted", bad)
		}
	}
}

func (m *convModel) ProbeFeatures(ctx context.Context, model string) (local.Features, error) {
	if m.feats == nil {
		return local.Features{}, nil
	}
	return *m.feats, nil
}
