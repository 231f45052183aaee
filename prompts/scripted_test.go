package prompts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/local"
)

// scriptedModel answers by matching the request's last message against
// rules, like a fake model that knows the method's prompts. Content logic
// is tested with it; plumbing is tested against the real Ollama.
type scriptedModel struct {
	mu    sync.Mutex
	rules []rule
	calls []string // last message of every request, in order
	raw   []string // raw generate prompts
	chats []local.ChatRequest
	gens  []local.GenerateRequest
}

type rule struct {
	contains string
	reply    func(prompt string, n int) string // n counts matches of this rule
	n        int
}

func (s *scriptedModel) on(contains string, reply func(prompt string, n int) string) *scriptedModel {
	s.rules = append(s.rules, rule{contains: contains, reply: reply})
	return s
}

func (s *scriptedModel) answer(prompt string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, prompt)
	for i := range s.rules {
		r := &s.rules[i]
		if strings.Contains(prompt, r.contains) {
			r.n++
			return r.reply(prompt, r.n), nil
		}
	}
	return "", fmt.Errorf("scripted model has no rule for %.80q", prompt)
}

// truncated marks a scripted reply that stops at num_predict.
const truncated = "\x00truncated:"

// failNow marks a scripted reply that fails the request outright (a
// transport error that stops the run).
const failNow = "\x00fail"

func (s *scriptedModel) Chat(ctx context.Context, r *local.ChatRequest) (*local.Response, error) {
	s.mu.Lock()
	s.chats = append(s.chats, *r)
	s.mu.Unlock()
	text, err := s.answer(r.Messages[len(r.Messages)-1].Content)
	if err != nil {
		return nil, err
	}
	if text == failNow {
		return nil, fmt.Errorf("scripted transport failure")
	}
	reason := "stop"
	if rest, ok := strings.CutPrefix(text, truncated); ok {
		text, reason = rest, "length"
	}
	return &local.Response{Content: text, DoneReason: reason, OutputTokens: len(strings.Fields(text))}, nil
}

func (s *scriptedModel) Generate(ctx context.Context, r *local.GenerateRequest) (*local.Response, error) {
	s.mu.Lock()
	s.raw = append(s.raw, r.Prompt)
	s.gens = append(s.gens, *r)
	s.mu.Unlock()
	text, err := s.answer(r.Prompt)
	if err != nil {
		return nil, err
	}
	return &local.Response{Content: text, DoneReason: "stop"}, nil
}

func (s *scriptedModel) Embed(ctx context.Context, model string, in []string) ([][]float32, error) {
	return nil, fmt.Errorf("not scripted")
}

// runMethod prepares m with the given resolved models (default: its
// model names as given) and runs it, as the lifecycle does.
func runMethod(env *Env, m Method, models ...local.ModelInfo) error {
	if len(models) == 0 {
		for _, r := range m.Models() {
			models = append(models, local.ModelInfo{Name: r.Name})
		}
	}
	if _, err := m.Prepare(models); err != nil {
		return err
	}
	return m.Run(context.Background(), env)
}

func fixed(s string) func(string, int) string { return func(string, int) string { return s } }

// testRun opens a run in a temp dir.
func testRun(t *testing.T, dir, method string) *export.Run {
	t.Helper()
	r, err := export.OpenRun(dir, export.Manifest{Version: "test", Method: method, Seed: 1,
		Models: []export.ModelInfo{{Name: "scripted:latest", Digest: "sha256:0123456789abcdef"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func rowsOf(t *testing.T, dir string) map[string][]export.Row {
	t.Helper()
	out := map[string][]export.Row{}
	if err := export.ReadRows(dir, func(unit string, rows []export.Row) error {
		if _, dup := out[unit]; dup {
			t.Errorf("unit %s journaled twice", unit)
		}
		out[unit] = rows
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckTask(t *testing.T) {
	tests := []struct {
		task, reason string
	}{
		{"Summarize the following news article in two sentences.", ""},
		{"3. Explain why the sky looks blue to a child.", ""},
		{"5 ways to save water at home, explained for students.", ""},
		{"Sort these numbers.", ReasonLength},
		{strings.Repeat("word ", 151), ReasonLength},
		{"Describe the image of a sunset over the ocean.", ReasonBlacklist},
		{"Draw a flowchart of the login process for a website.", ReasonBlacklist},
		{"Open the attached file and count the rows in it.", ReasonBlacklist},
		{"Write a program that prints the first ten primes.", ReasonProgram},
		{"\"Quote\" the most famous line of Hamlet and explain it.", ReasonBadStart},
		{"Écris un poème sur la mer et le vent du soir.", ReasonBadStart},
		{"Explain how graphite and diamond differ in structure.", ""}, // "graph" inside a word is fine
	}
	for _, tt := range tests {
		t.Run(tt.task[:min(30, len(tt.task))], func(t *testing.T) {
			if _, got := CheckTask(tt.task); got != tt.reason {
				t.Fatalf("CheckTask(%q) reason %q, want %q", tt.task, got, tt.reason)
			}
		})
	}
	for in, want := range map[string]string{
		"3. Explain why the sky looks blue to a child.":         "Explain why the sky looks blue to a child.",
		"5 ways to save water at home, explained for students.": "5 ways to save water at home, explained for students.",
		"12) Name three rivers in Africa and their lengths.":    "Name three rivers in Africa and their lengths.",
	} {
		if got, _ := CheckTask(in); got != want {
			t.Errorf("CheckTask(%q) cleaned to %q, want %q", in, got, want)
		}
	}
}

func TestCleanInstances(t *testing.T) {
	tests := []struct {
		name     string
		in       []Instance
		clf      bool
		want     int
		conflict bool
	}{
		{"valid kept", []Instance{{"a", "b"}, {"", "c"}}, false, 2, false},
		{"empty output dropped", []Instance{{"a", ""}, {"b", "c"}}, false, 1, false},
		{"input equals output dropped", []Instance{{"same", "same"}}, false, 0, false},
		{"trailing colon dropped", []Instance{{"Input:", "x"}, {"y", "Output:"}}, false, 0, false},
		{"exact duplicates merged", []Instance{{"a", "b"}, {"a", "b"}}, false, 1, false},
		{"conflicting outputs", []Instance{{"a", "b"}, {"a", "c"}}, false, 0, true},
		// Every row needs a distinct prompt: a task without input has one output.
		{"no input: one output", []Instance{{"", "b"}, {"", "c"}}, false, 1, false},
		{"classification without input: two labels conflict", []Instance{{"", "yes"}, {"", "no"}}, true, 0, true},
		{"classification: same label twice merged", []Instance{{"", "yes"}, {"", "yes"}}, true, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, conflict := CleanInstances(tt.in, tt.clf)
			if len(got) != tt.want || conflict != tt.conflict {
				t.Fatalf("CleanInstances = %v, conflict %v; want %d kept, conflict %v", got, conflict, tt.want, tt.conflict)
			}
		})
	}
}

func TestCheckEvolution(t *testing.T) {
	long := strings.Repeat("The answer explains each step with care. ", 20)
	tests := []struct {
		name, instruction, response, want string
	}{
		{"survives", "Explain photosynthesis in three steps for a 10-year-old.", long, ""},
		{"apology and short", "Explain X in detail.", "I'm sorry, but I can't help with that.", ElimApology},
		{"apology but long is fine", "Explain X in detail.", "Sorry for the long answer. " + long, ""},
		{"empty response", "Explain X in detail.", "   ", ElimTooShort},
		{"only stop words and punctuation", "Explain X in detail.", "Well, yes... and so it is, of the, to!", ElimOnlyStopWords},
		{"leak: rewritten prompt marker", "#Rewritten Prompt#: explain X with an example", long, ElimLeak},
		{"leak: given prompt words", "Rewrite the given prompt so it asks about X", long, ElimLeak},
		{"leak: new prompt prefix", "New prompt: explain X", long, ElimLeak},
		{"prompt as a word is fine", "Write a prompt for a poetry contest about rivers.", long, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckEvolution(tt.instruction, tt.response); got != tt.want {
				t.Fatalf("CheckEvolution(%q, %.30q) = %q, want %q", tt.instruction, tt.response, got, tt.want)
			}
		})
	}
}

func TestSelfInstructFiltersAndResumes(t *testing.T) {
	seeds := []SeedTask{
		{Instruction: "Summarize the following paragraph in one sentence."},
		{Instruction: "Classify the sentiment of the review as positive or negative.", IsClassification: true},
		{Instruction: "Give three tips for staying focused while studying at home."},
	}
	steps := 0
	m := (&scriptedModel{}).
		on("Reply with JSON only: {\"tasks\"", func(p string, n int) string {
			steps = n
			return fmt.Sprintf(`{"tasks": [
				"Summarize the following paragraph in one sentence please.",
				"Plot the sales numbers of the last year.",
				"Too short.",
				"Label whether the email number %d is spam or not spam.",
				"Suggest a name for a bakery that sells bread number %d.",
				"List the planets of the solar system in order %d."]}`, n, n, n)
		}).
		on("Decide whether the following task", func(p string, n int) string {
			return fmt.Sprintf(`{"is_classification": %v}`, strings.Contains(p, "spam"))
		}).
		on("First list the labels", fixed(`{"labels": ["spam", "not spam"], "instances": [{"label": "spam", "input": "Win a free cruise now"}, {"label": "not spam", "input": "Lunch at noon?"}]}`)).
		on("Task: Suggest a name", fixed(`{"instances": [{"input": "", "output": "Crumb & Co."}]}`)).
		on("Task: List the planets", fixed(`{"instances": [{"input": "x", "output": "Mercury"}, {"input": "x", "output": "Venus"}]}`))

	dir := t.TempDir()
	run := testRun(t, dir, "self-instruct")
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 1, Retries: 1}
	err := runMethod(env, &SelfInstruct{Model: "scripted:latest", Count: 2, Seeds: seeds, Pool: diversity.NewPool()})
	if err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	// Step 1: the near-copy of a seed, the blacklisted and the too-short
	// task are rejected, the planets conflict, spam and bakery pass; spam's
	// two instances fill -n 2, so the bakery's row is dropped.
	want := map[string]int64{ReasonTooSimilar: 1, ReasonBlacklist: 1, ReasonLength: 1, ReasonConflicting: 1}
	for reason, n := range want {
		if c.Rejected[reason] != n {
			t.Errorf("rejected[%s] = %d, want %d (all: %v)", reason, c.Rejected[reason], n, c.Rejected)
		}
	}
	// Rows are instances: 2 for spam; -n is exact.
	if c.Accepted != 2 || steps != 1 {
		t.Fatalf("accepted %d rows in %d steps, want 2 in 1", c.Accepted, steps)
	}
	rows := rowsOf(t, dir)
	if _, ok := rows[siInstanceUnit(0, 3, 1)]; !ok {
		t.Fatalf("spam task's second instance missing: %v", rows)
	}
	first := rows[siInstanceUnit(0, 3, 0)][0].(export.SFT)
	if first.Metadata["is_classification"] != true || first.Messages[1].Content != "spam" ||
		!strings.HasSuffix(first.Messages[0].Content, "Win a free cruise now") {
		t.Fatalf("classification row wrong (label must be the answer): %+v", first)
	}
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}

	// Resume asking for more: the accepted tasks rejoin the pool from the
	// journal, so the model repeating one is now rejected as too similar,
	// and finished units are not redone.
	m2 := (&scriptedModel{}).
		on("Reply with JSON only: {\"tasks\"", fixed(`{"tasks": [
			"Label whether the email number 1 is spam or not spam.",
			"Translate the greeting into formal German for a business letter.",
			"Estimate how many minutes a commute of twelve kilometres takes by bicycle."]}`)).
		on("Decide whether the following task", fixed(`{"is_classification": false}`)).
		on("Write examples of it", fixed(`{"instances": [{"input": "", "output": "An answer."}]}`))
	run = testRun(t, dir, "self-instruct")
	defer run.Close()
	env = &Env{Model: m2, Run: run, Workers: 1, Seed: 1, Retries: 1}
	if err := runMethod(env, &SelfInstruct{Model: "scripted:latest", Count: 4, Seeds: seeds, Pool: diversity.NewPool()}); err != nil {
		t.Fatal(err)
	}
	c2 := run.Counts()
	if c2.Accepted != 4 || c2.Rejected[ReasonTooSimilar] != c.Rejected[ReasonTooSimilar]+1 {
		t.Fatalf("after resume: accepted %d (want 4), too_similar %d (want %d)", c2.Accepted, c2.Rejected[ReasonTooSimilar], c.Rejected[ReasonTooSimilar]+1)
	}
	if len(rowsOf(t, dir)) != 4 {
		t.Fatalf("journal has %d accepted units, want 4", len(rowsOf(t, dir)))
	}
}

func TestSelfInstructStallsInsteadOfLooping(t *testing.T) {
	m := (&scriptedModel{}).
		on("Reply with JSON only: {\"tasks\"", fixed(`{"tasks": ["Summarize the following paragraph in one sentence."]}`))
	run := testRun(t, t.TempDir(), "self-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 2, Seed: 1}
	err := runMethod(env, &SelfInstruct{Model: "scripted:latest", Count: 1,
		Seeds: []SeedTask{{Instruction: "Summarize the following paragraph in one sentence."}}, Pool: diversity.NewPool()})
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("err = %v, want ErrStalled", err)
	}
	if got := run.Counts().Rejected[ReasonTooSimilar]; got < StallSteps {
		t.Fatalf("%d too_similar rejections before stalling, want ≥ %d", got, StallSteps)
	}
}

func TestSelfInstructGarbageIsRejectedNotFatal(t *testing.T) {
	m := (&scriptedModel{}).on("Reply with JSON only", fixed("I like turtles"))
	run := testRun(t, t.TempDir(), "self-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 1, Retries: 2, MaxRequests: 9}
	err := runMethod(env, &SelfInstruct{Model: "scripted:latest", Count: 1,
		Seeds: []SeedTask{{Instruction: "Summarize the paragraph in one sentence."}}, Pool: diversity.NewPool()})
	if err != ErrBudget {
		t.Fatalf("err = %v, want the budget to stop a model that only returns garbage", err)
	}
	if got := run.Counts().Rejected[ReasonInvalid]; got != 3 {
		t.Fatalf("invalid_output rejections = %d, want 3 (9 requests / 3 attempts)", got)
	}
}

func TestEvolEliminationAndLineage(t *testing.T) {
	long := strings.Repeat("Here is a careful, complete answer with reasons. ", 12)
	m := (&scriptedModel{}).
		// Evolution requests: the prompt text ends with the instruction.
		on("Reply with JSON only: {\"prompt\"", func(p string, n int) string {
			switch {
			case strings.Contains(p, "apology-bait"):
				return `{"prompt": "Explain apology-bait thing in more depth, with two examples."}`
			case strings.Contains(p, "leaky"):
				return `{"prompt": "#Rewritten Prompt#: leaky task with one more constraint"}`
			case strings.Contains(p, "stale"):
				return `{"prompt": "stale task, same as before"}`
			}
			return fmt.Sprintf(`{"prompt": "Describe rivers in detail, round %d, with constraint %d."}`, n, n)
		}).
		on("Compare the two prompts", func(p string, n int) string {
			if strings.Contains(p, "stale task, same as before") {
				return `{"verdict": "equal"}`
			}
			return `{"verdict": "not_equal"}`
		}).
		on("apology-bait", fixed("Sorry, I cannot answer that.")).
		on("Describe rivers", fixed(long))

	dir := t.TempDir()
	run := testRun(t, dir, "evol-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 2, Seed: 7, Retries: 1}
	err := runMethod(env, &Evol{Model: "scripted:latest", Rounds: 2,
		Prompts: []string{"Describe rivers.", "apology-bait", "leaky task", "stale task"}})
	if err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	if c.Generated != 8 {
		t.Fatalf("generated %d evolutions, want 4 prompts × 2 rounds", c.Generated)
	}
	for reason, want := range map[string]int64{ElimApology: 2, ElimLeak: 2, ElimNoGain: 2} {
		if c.Rejected[reason] != want {
			t.Errorf("rejected[%s] = %d, want %d (all %v)", reason, c.Rejected[reason], want, c.Rejected)
		}
	}
	rows := rowsOf(t, dir)
	r2, ok := rows[evolUnit(0, 2)]
	if !ok || c.Accepted != 2 {
		t.Fatalf("rivers chain: accepted %d, rows %v", c.Accepted, rows)
	}
	meta := r2[0].(export.SFT).Metadata
	if meta["round"] != float64(2) || len(meta["lineage"].([]any)) != 2 || meta["root"] != "Describe rivers." {
		t.Fatalf("lineage missing: %v", meta)
	}
}

func TestMagpieUsesTemplatePrefix(t *testing.T) {
	const chatml = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
	m := (&scriptedModel{}).
		on("<|im_start|>user\n", func(p string, n int) string {
			return fmt.Sprintf("How do tides work, question %d?<|im_end|>", n)
		}).
		on("How do tides work", fixed("The moon pulls the oceans."))
	dir := t.TempDir()
	run := testRun(t, dir, "magpie")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 3}
	if err := runMethod(env, &Magpie{Model: "scripted:latest", Count: 2, Turns: 2}, local.ModelInfo{Name: "scripted:latest", Template: chatml}); err != nil {
		t.Fatal(err)
	}
	if m.raw[0] != "<|im_start|>user\n" {
		t.Fatalf("first raw prompt %q, want the chatml user prefix", m.raw[0])
	}
	// The second turn's prefix carries the first exchange.
	if !strings.HasSuffix(m.raw[1], "The moon pulls the oceans.<|im_end|>\n<|im_start|>user\n") {
		t.Fatalf("second-turn prefix %q", m.raw[1])
	}
	rows := rowsOf(t, dir)
	conv := rows[magpieUnit(0)][0].(export.SFT).Messages
	if len(conv) != 4 || conv[0].Content != "How do tides work, question 1?" {
		t.Fatalf("conversation %+v", conv)
	}
	if err := runMethod(env, &Magpie{Model: "x", Count: 1}, local.ModelInfo{Name: "x", Template: "{{ .Prompt }}"}); err == nil {
		t.Fatal("a template without a user turn was accepted")
	}
}

func TestRespondSeveralModels(t *testing.T) {
	m := (&scriptedModel{}).on("capital", fixed("Paris.")).on("empty please", fixed("   "))
	dir := t.TempDir()
	run := testRun(t, dir, "respond")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 3, Seed: 3}
	err := runMethod(env, &Respond{Responders: []string{"a:1", "b:1"}, System: "Be brief.",
		Prompts: []string{"What is the capital of France?", "empty please"}})
	if err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	if c.Accepted != 2 || c.Rejected["empty_response"] != 2 {
		t.Fatalf("counts %+v", c)
	}
	rows := rowsOf(t, dir)
	msgs := rows[respondUnit(0, 1)][0].(export.SFT).Messages
	if len(msgs) != 3 || msgs[0].Role != "system" || msgs[2].Content != "Paris." {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestSelfInstructStopsAtExactlyCount(t *testing.T) {
	subjects := strings.Fields("rivers volcanoes taxes gardens violins satellites bridges vaccines glaciers markets " +
		"poetry chess bees deserts robots coffee tides forests comets bakeries")
	verbs := strings.Fields("Explain Compare Summarize Critique Describe Plan Rank Outline")
	m := (&scriptedModel{}).
		on("Reply with JSON only: {\"tasks\"", func(p string, n int) string {
			// Two fresh tasks per call, far apart in wording.
			a := fmt.Sprintf("%s how %s shape daily life in %d small towns.", verbs[n%len(verbs)], subjects[(2*n)%len(subjects)], n)
			b := fmt.Sprintf("List %d surprising facts a child could learn about %s.", n+2, subjects[(2*n+1)%len(subjects)])
			return fmt.Sprintf(`{"tasks": [%q, %q]}`, a, b)
		}).
		on("Decide whether the following task", fixed(`{"is_classification": false}`)).
		on("Write examples of it", fixed(`{"instances": [{"input": "a", "output": "x"}, {"input": "b", "output": "y"}, {"input": "c", "output": "z"}]}`))
	dir := t.TempDir()
	run := testRun(t, dir, "self-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 4, Seed: 9}
	err := runMethod(env, &SelfInstruct{Model: "scripted:latest", Count: 10,
		Seeds: []SeedTask{{Instruction: "Translate the sentence into French."}}, Pool: diversity.NewPool()})
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Counts().Accepted; got != 10 {
		t.Fatalf("accepted %d rows with 4 workers, want exactly 10", got)
	}
	if got := len(rowsOf(t, dir)); got != 10 {
		t.Fatalf("journal has %d rows, want 10", got)
	}
}

func TestEvolStopsAtExactlyCount(t *testing.T) {
	long := strings.Repeat("A full answer with several careful steps. ", 12)
	m := (&scriptedModel{}).
		on("Reply with JSON only: {\"prompt\"", func(p string, n int) string {
			return fmt.Sprintf(`{"prompt": "Describe rivers in detail, round %d, with constraint %d."}`, n, n)
		}).
		on("Compare the two prompts", fixed(`{"verdict": "not_equal"}`)).
		on("Describe rivers", fixed(long))
	dir := t.TempDir()
	run := testRun(t, dir, "evol-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 3, Seed: 2}
	err := runMethod(env, &Evol{Model: "scripted:latest", Rounds: 2, Count: 3,
		Prompts: []string{"one", "two", "three", "four", "five"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Counts().Accepted; got != 3 {
		t.Fatalf("accepted %d evolutions, want exactly 3", got)
	}
}

// modelInfos stands in for resolved models when a method runs without the
// lifecycle (tests): the names as given.
func modelInfos(names []string) []local.ModelInfo {
	out := make([]local.ModelInfo, len(names))
	for i, n := range names {
		out[i] = local.ModelInfo{Name: n}
	}
	return out
}
