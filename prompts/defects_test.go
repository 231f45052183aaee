package prompts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/local"
)

// These pin the instruction-data defects fixed with the method contract;
// each failed against the code before the fix.

func sftRows(t *testing.T, dir string) map[string]export.SFT {
	t.Helper()
	out := map[string]export.SFT{}
	for unit, rows := range rowsOf(t, dir) {
		out[unit] = rows[0].(export.SFT)
	}
	return out
}

// seedOf reads the provenance seed of unit straight from the journal files.
func seedOf(t *testing.T, dir, unit string) int64 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "journal", "*.jsonl"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			var e struct {
				Unit string `json:"unit"`
				Prov struct {
					Seed *int64 `json:"seed"`
				} `json:"prov"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Unit == unit && e.Prov.Seed != nil {
				return *e.Prov.Seed
			}
		}
	}
	t.Fatalf("no journal entry with a seed for %s", unit)
	return 0
}

func TestSelfInstructRowsHaveDistinctPromptsAndTheirOwnSeeds(t *testing.T) {
	m := (&scriptedModel{}).
		on(`Reply with JSON only: {"tasks"`, fixed(`{"tasks": ["Tell a short joke about cats and dogs please.", "Give the capital city of the country named below."]}`)).
		on("Decide whether the following task", fixed(`{"is_classification": false}`)).
		on("Task: Tell a short joke", fixed(`{"instances": [{"input": "", "output": "Joke A"}, {"input": "", "output": "Joke B"}, {"input": "", "output": "Joke C"}]}`)).
		on("Task: Give the capital", fixed(`{"instances": [{"input": "France", "output": "Paris"}, {"input": "Spain", "output": "Madrid"}]}`))
	dir := t.TempDir()
	run := testRun(t, dir, "self-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 4}
	if err := runMethod(env, &SelfInstruct{Model: "scripted:latest", Count: 3,
		Seeds: []SeedTask{{Instruction: "Translate the sentence into French."}}}); err != nil {
		t.Fatal(err)
	}
	rows := sftRows(t, dir)
	seen := map[string]string{}
	for unit, r := range rows {
		if prev, dup := seen[r.Messages[0].Content]; dup {
			t.Fatalf("units %s and %s share the prompt %q", prev, unit, r.Messages[0].Content)
		}
		seen[r.Messages[0].Content] = unit
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3 (one joke without input, two capitals)", len(rows))
	}
	// Each candidate's rows carry the seed its own calls used.
	for k := 0; k < 2; k++ {
		if got, want := seedOf(t, dir, siInstanceUnit(0, k, 0)), UnitSeed(4, siUnit(0, k)); got != want {
			t.Errorf("candidate %d: row seed %d, want %d", k, got, want)
		}
	}
	// Every array in the step's schemas is bounded.
	for _, c := range m.chats {
		if strings.Contains(string(c.Schema), `"type":"array"`) && !strings.Contains(string(c.Schema), "maxItems") {
			t.Errorf("unbounded array in schema %s", c.Schema)
		}
	}
}

func TestSelfInstructCountsCandidatesCutAtTheTarget(t *testing.T) {
	m := (&scriptedModel{}).
		on(`Reply with JSON only: {"tasks"`, fixed(`{"tasks": ["Tell a short joke about cats and dogs please.", "Give the capital city of the country named below."]}`)).
		on("Decide whether the following task", fixed(`{"is_classification": false}`)).
		on("Task: Tell a short joke", fixed(`{"instances": [{"input": "", "output": "Joke A"}]}`)).
		on("Task: Give the capital", fixed(`{"instances": [{"input": "France", "output": "Paris"}]}`))
	dir := t.TempDir()
	run := testRun(t, dir, "self-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 4}
	if err := runMethod(env, &SelfInstruct{Model: "scripted:latest", Count: 1,
		Seeds: []SeedTask{{Instruction: "Translate the sentence into French."}}}); err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	if c.Accepted != 1 || c.Rejected[ReasonOverTarget] != 1 || c.Generated != 2 {
		t.Fatalf("counts %+v: want 1 accepted and the second task counted as %s", c, ReasonOverTarget)
	}
}

func TestSelfInstructPoolHoldsOnlyTasksWithRows(t *testing.T) {
	// Step 1: the water-cycle task passes ROUGE but gets no usable example;
	// step 2 proposes it again. A resumed run never saw it in the pool, so
	// neither may a fresh one.
	m := (&scriptedModel{}).
		on(`Reply with JSON only: {"tasks"`, func(p string, n int) string {
			switch n {
			case 1:
				return `{"tasks": ["Describe the water cycle for a young student.", "Name three famous painters of the Renaissance."]}`
			case 2:
				// The painters task made a row, so its near-copy is too similar.
				return `{"tasks": ["Describe the water cycle for a young student.", "Name three famous painters of the Renaissance period."]}`
			}
			return `{"tasks": ["List five fruits that are rich in vitamin C."]}`
		}).
		on("Decide whether the following task", fixed(`{"is_classification": false}`)).
		on("Task: Describe the water cycle", func(p string, n int) string {
			if n == 1 {
				return `{"instances": [{"input": "x", "output": ""}]}`
			}
			return `{"instances": [{"input": "", "output": "Water evaporates, condenses and falls."}]}`
		}).
		on("Task: Name three famous painters", fixed(`{"instances": [{"input": "", "output": "Leonardo, Michelangelo, Raphael."}]}`)).
		on("Task: List five fruits", fixed(`{"instances": [{"input": "", "output": "Oranges, kiwis, strawberries, guavas, papayas."}]}`))
	run := testRun(t, t.TempDir(), "self-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 4}
	if err := runMethod(env, &SelfInstruct{Model: "scripted:latest", Count: 3,
		Seeds: []SeedTask{{Instruction: "Translate the sentence into French."}}, Pool: diversity.NewPool()}); err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	if c.Accepted != 3 || c.Rejected[ReasonTooSimilar] != 1 || c.Rejected[ReasonNoInstances] != 1 {
		t.Fatalf("counts %+v: want the retried task accepted (it never made a row) and the near-copy of an accepted one too similar", c)
	}
}

func TestEvolLineageListsSurvivingRoundsAndParent(t *testing.T) {
	long := strings.Repeat("A careful, complete answer with reasons. ", 12)
	m := (&scriptedModel{}).
		on(`Reply with JSON only: {"prompt"`, func(p string, n int) string {
			return fmt.Sprintf(`{"prompt": "Describe rivers in detail, version %d."}`, n)
		}).
		on("Compare the two prompts", func(p string, n int) string {
			if n == 2 {
				return `{"verdict": "equal"}`
			}
			return `{"verdict": "not_equal"}`
		}).
		on("Describe rivers", fixed(long))
	dir := t.TempDir()
	run := testRun(t, dir, "evol-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 3}
	if err := runMethod(env, &Evol{Model: "scripted:latest", Rounds: 3, Prompts: []string{"Describe rivers."}}); err != nil {
		t.Fatal(err)
	}
	rows := sftRows(t, dir)
	r3, ok := rows[evolUnit(0, 3)]
	if !ok || len(rows) != 2 {
		t.Fatalf("want rounds 1 and 3 kept, got %v", rows)
	}
	lin, _ := r3.Metadata["lineage"].([]any)
	if len(lin) != 2 || r3.Metadata["parent"] != evolUnit(0, 1) {
		t.Fatalf("round 3 lineage %v parent %v: want the 2 surviving operations and round 1 as parent", lin, r3.Metadata["parent"])
	}
	if rows[evolUnit(0, 1)].Metadata["parent"] != "" {
		t.Fatalf("round 1's parent is the root: %v", rows[evolUnit(0, 1)].Metadata["parent"])
	}
}

func TestEvolResumesInTheMiddleOfAChain(t *testing.T) {
	long := strings.Repeat("A careful, complete answer with reasons. ", 12)
	rewrite := func(p string, n int) string {
		return fmt.Sprintf(`{"prompt": "Describe rivers in detail, version %d."}`, n)
	}
	m := (&scriptedModel{}).
		on(`Reply with JSON only: {"prompt"`, func(p string, n int) string {
			if n == 2 {
				return failNow // the process dies in round 2
			}
			return rewrite(p, n)
		}).
		on("Compare the two prompts", fixed(`{"verdict": "not_equal"}`)).
		on("Describe rivers", fixed(long))
	dir := t.TempDir()
	run := testRun(t, dir, "evol-instruct")
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 3}
	ev := &Evol{Model: "scripted:latest", Rounds: 3, Prompts: []string{"Describe rivers."}}
	if err := runMethod(env, ev); err == nil {
		t.Fatal("the transport failure did not stop the run")
	}
	if got := run.Counts().Accepted; got != 1 {
		t.Fatalf("round 1 must be journaled before round 2 starts; accepted %d", got)
	}
	run.Close()

	m2 := (&scriptedModel{}).
		on(`Reply with JSON only: {"prompt"`, func(p string, n int) string { return rewrite(p, n+10) }).
		on("Compare the two prompts", fixed(`{"verdict": "not_equal"}`)).
		on("Describe rivers", fixed(long))
	run = testRun(t, dir, "evol-instruct")
	defer run.Close()
	env = &Env{Model: m2, Run: run, Workers: 1, Seed: 3}
	if err := runMethod(env, &Evol{Model: "scripted:latest", Rounds: 3, Prompts: []string{"Describe rivers."}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m2.calls[0], "Describe rivers in detail, version 1.") {
		t.Fatalf("the resumed chain did not continue from round 1's prompt: %.200q", m2.calls[0])
	}
	rows := sftRows(t, dir)
	if len(rows) != 3 {
		t.Fatalf("%d rows after resume, want 3", len(rows))
	}
	if lin, _ := rows[evolUnit(0, 3)].Metadata["lineage"].([]any); len(lin) != 3 {
		t.Fatalf("lineage across the resume: %v", lin)
	}
}

func TestEvolAsksAgainForATruncatedAnswer(t *testing.T) {
	long := strings.Repeat("A careful, complete answer with reasons. ", 12)
	m := (&scriptedModel{}).
		on(`Reply with JSON only: {"prompt"`, fixed(`{"prompt": "Describe rivers in detail, with two examples."}`)).
		on("Compare the two prompts", fixed(`{"verdict": "not_equal"}`)).
		on("Describe rivers", func(p string, n int) string {
			if n == 1 {
				return truncated + "A careful answer that runs"
			}
			return long
		})
	dir := t.TempDir()
	run := testRun(t, dir, "evol-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 3, Options: map[string]any{"num_predict": 300}}
	if err := runMethod(env, &Evol{Model: "scripted:latest", Rounds: 1, Prompts: []string{"Describe rivers."}}); err != nil {
		t.Fatal(err)
	}
	row, ok := sftRows(t, dir)[evolUnit(0, 1)]
	if !ok || row.Metadata["answer_retried"] != true {
		t.Fatalf("the evolution was lost to a truncated answer: %v", run.Counts())
	}
	last := m.chats[len(m.chats)-1]
	if got := intOption(last.Options, "num_predict"); got < 600 {
		t.Fatalf("second answer asked with num_predict %d, want at least twice 300", got)
	}
}

func TestEvolRejectsAnAnswerInsteadOfARewrite(t *testing.T) {
	m := (&scriptedModel{}).
		on(`Reply with JSON only: {"prompt"`, fixed(`{"prompt": "Rivers form when rain collects in channels and flows downhill."}`)).
		on("Compare the two prompts", fixed(`{"verdict": "answer"}`))
	run := testRun(t, t.TempDir(), "evol-instruct")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 3}
	if err := runMethod(env, &Evol{Model: "scripted:latest", Rounds: 1, Prompts: []string{"How do rivers form?"}}); err != nil {
		t.Fatal(err)
	}
	if got := run.Counts().Rejected[ElimAnswered]; got != 1 {
		t.Fatalf("rejections %v, want one %s", run.Counts().Rejected, ElimAnswered)
	}
}

func TestEvolTemplatesAndLeakRule(t *testing.T) {
	for _, op := range EvolOps {
		if op.Method == "" {
			continue
		}
		text, err := evolDepth.Render(map[string]any{"Instruction": "x", "Method": op.Method, "WordLimit": !op.NoWordLimit})
		if err != nil {
			t.Fatal(err)
		}
		limited := strings.Contains(text, "10 to 20 words")
		if limited == (op.Name == "complicate_input") {
			t.Errorf("%s: word limit %v; complicate_input must be exempt (a table takes more words), the others bounded", op.Name, limited)
		}
	}
	leaks := []string{"#Rewritten Prompt#: Describe rivers.", "Rewritten prompt: Describe rivers.", "Describe rivers. # The Given Prompt #",
		"Original: Describe rivers.", "Improve the rewritten prompt so it is harder."}
	fine := []string{"Write a new prompt for an image generator that shows a river delta.",
		"Explain what a system prompt is and how it differs from a user prompt.",
		"Given a prompt for a chatbot, list three ways to make it clearer."}
	for _, s := range leaks {
		if !LeakedWording(s) {
			t.Errorf("not caught as leaked scaffolding: %q", s)
		}
	}
	for _, s := range fine {
		if LeakedWording(s) {
			t.Errorf("a legitimate prompt about prompts counted as leaked: %q", s)
		}
	}
}

const chatmlTemplate = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"

func TestMagpieStopsFollowUpsBudgetAndDuplicates(t *testing.T) {
	m := (&scriptedModel{}).
		on("follow-up questions", fixed("And why does that happen?<|im_end|>")).
		on("<|im_start|>user\n", func(p string, n int) string {
			if n == 2 {
				return "  How do tides WORK, question 1? " // the first query again
			}
			return fmt.Sprintf("How do tides work, question %d?", n)
		}).
		on("tides", fixed("The moon pulls the oceans.")).
		on("why does that happen", fixed("Gravity."))
	dir := t.TempDir()
	run := testRun(t, dir, "magpie")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 3}
	if err := runMethod(env, &Magpie{Model: "scripted:latest", Count: 2, Turns: 2, QueryMaxTokens: 77},
		local.ModelInfo{Name: "scripted:latest", Template: chatmlTemplate}); err != nil {
		t.Fatal(err)
	}
	if got := run.Counts().Rejected[ReasonDuplicateQuery]; got != 1 {
		t.Fatalf("rejections %v, want the repeated query rejected once", run.Counts().Rejected)
	}
	q := m.gens[0]
	stops, _ := q.Options["stop"].([]string)
	if !slices.Contains(stops, "<|im_end|>") || !slices.Contains(stops, "<|im_start|>assistant") {
		t.Errorf("query stops %v: want the end-of-turn marker and the next turn's header", stops)
	}
	if q.Options["num_predict"] != 77 {
		t.Errorf("query num_predict %v, want its own budget 77", q.Options["num_predict"])
	}
	var followUp bool
	for _, g := range m.gens {
		followUp = followUp || strings.Contains(g.Prompt, "<|im_start|>system\n") && strings.Contains(g.Prompt, "follow-up questions")
	}
	if !followUp {
		t.Errorf("no follow-up turn was written under the follow-up system prompt")
	}
	for _, r := range sftRows(t, dir) {
		if r.Messages[0].Role == "system" {
			t.Errorf("the follow-up system prompt leaked into the stored row: %+v", r.Messages)
		}
	}
}

func TestModelfileSystemIsExplicitAndStored(t *testing.T) {
	const sys = "You are terse."
	models := []local.ModelInfo{{Name: "a:1", System: sys, Template: chatmlTemplate}}
	m := (&scriptedModel{}).on("capital", fixed("Paris.")).
		on("<|im_start|>user\n", fixed("What is the capital of Peru?")).
		on("Peru", fixed("Lima."))

	dir := t.TempDir()
	run := testRun(t, dir, "respond")
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 3, Models: models}
	if err := runMethod(env, &Respond{Responders: []string{"a:1"}, Prompts: []string{"What is the capital of France?"}}, models...); err != nil {
		t.Fatal(err)
	}
	run.Close()
	if msgs := m.chats[0].Messages; msgs[0].Role != "system" || msgs[0].Content != sys {
		t.Fatalf("respond request %+v: the Modelfile SYSTEM must be sent explicitly", msgs)
	}
	if msgs := sftRows(t, dir)[respondUnit(0, 0)].Messages; msgs[0].Content != sys {
		t.Fatalf("respond row %+v does not store the system prompt the model saw", msgs)
	}

	dir = t.TempDir()
	run = testRun(t, dir, "magpie")
	defer run.Close()
	env = &Env{Model: m, Run: run, Workers: 1, Seed: 3, Models: models}
	if err := runMethod(env, &Magpie{Model: "a:1", Count: 1}, models...); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.gens[0].Prompt, sys) {
		t.Fatalf("magpie prefix %q lacks the system prompt its answer is written under", m.gens[0].Prompt)
	}
	if msgs := sftRows(t, dir)[magpieUnit(0)].Messages; msgs[0].Content != sys {
		t.Fatalf("magpie row %+v does not store the system prompt", msgs)
	}
}

func TestUserTemperatureOnlyWhereTheMethodHasNone(t *testing.T) {
	m := (&scriptedModel{}).on("capital", fixed("Paris.")).
		on("<|im_start|>user\n", fixed("What is the capital of Peru?")).
		on("Peru", fixed("Lima."))
	user := map[string]any{"temperature": 0.3, "num_ctx": 4096}
	run := testRun(t, t.TempDir(), "respond")
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 3, Options: user}
	if err := runMethod(env, &Respond{Responders: []string{"a:1"}, Prompts: []string{"What is the capital of France?"}}); err != nil {
		t.Fatal(err)
	}
	run.Close()
	if got := m.chats[0].Options["temperature"]; got != 0.3 {
		t.Errorf("respond answer temperature %v, want the user's 0.3", got)
	}
	run = testRun(t, t.TempDir(), "magpie")
	defer run.Close()
	env = &Env{Model: m, Run: run, Workers: 1, Seed: 3, Options: user}
	if err := runMethod(env, &Magpie{Model: "a:1", Count: 1}, local.ModelInfo{Name: "a:1", Template: chatmlTemplate}); err != nil {
		t.Fatal(err)
	}
	if got := m.gens[0].Options["temperature"]; got != 1.0 {
		t.Errorf("magpie query temperature %v, want the method's 1.0", got)
	}
	if got := m.chats[len(m.chats)-1].Options["temperature"]; got != 0 {
		t.Errorf("magpie answer temperature %v, want the method's greedy 0", got)
	}
}

func TestRespondRetriesAnEmptyAnswer(t *testing.T) {
	m := (&scriptedModel{}).on("capital", func(p string, n int) string {
		if n == 1 {
			return "  "
		}
		return "Paris."
	})
	run := testRun(t, t.TempDir(), "respond")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 3}
	if err := runMethod(env, &Respond{Responders: []string{"a:1"}, Prompts: []string{"What is the capital of France?"}}); err != nil {
		t.Fatal(err)
	}
	if c := run.Counts(); c.Accepted != 1 {
		t.Fatalf("counts %+v: an empty answer must be asked again before it counts", c)
	}
	if *m.chats[0].Seed == *m.chats[1].Seed {
		t.Fatalf("the retry used the same seed")
	}
}

func TestRespondRunsModelByModel(t *testing.T) {
	m := (&scriptedModel{}).on("Question", fixed("An answer."))
	dir := t.TempDir()
	run := testRun(t, dir, "respond")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 3, Seed: 3}
	var ps []string
	for i := 0; i < 6; i++ {
		ps = append(ps, fmt.Sprintf("Question %d?", i))
	}
	if err := runMethod(env, &Respond{Responders: []string{"a:1", "b:1", "c:1"}, Prompts: ps, Count: 7}); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range m.chats {
		if len(order) == 0 || order[len(order)-1] != c.Model {
			order = append(order, c.Model)
		}
	}
	if !slices.Equal(order, []string{"a:1", "b:1", "c:1"}) {
		t.Fatalf("models in request order %v: want each model's work together", order)
	}
	// -n 7 is the first 7 units of the prompt-major order.
	rows := rowsOf(t, dir)
	if len(rows) != 7 {
		t.Fatalf("%d rows, want 7", len(rows))
	}
	for u := 0; u < 7; u++ {
		if _, ok := rows[respondUnit(u/3, u%3)]; !ok {
			t.Errorf("missing %s", respondUnit(u/3, u%3))
		}
	}
}

// TestEngineExactTargetWithRejections: units that reject are replaced
// until exactly Target are accepted, with many workers and no unit
// started past the target.
func TestEngineExactTargetWithRejections(t *testing.T) {
	run := testRun(t, t.TempDir(), "test")
	defer run.Close()
	env := &Env{Run: run, Workers: 8, Seed: 1}
	started := 0
	err := env.RunPhases(context.Background(), &Phase{Target: 20,
		Next: seqUnits(-1, func(int) bool { return false }, func(i int) Unit {
			started++
			id := fmt.Sprintf("u-%04d", i)
			return Unit{ID: id, Do: func(ctx context.Context, w *Work) error {
				if i%3 == 0 {
					return reject("every_third")
				}
				return w.Commit(Entry{Unit: id, Rows: []export.Row{export.SFT{Messages: []export.Message{{Role: "user", Content: id}}}}})
			}}
		})})
	if err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	if c.Accepted != 20 || c.Rejected[ReasonOverTarget] != 0 || int64(started) != c.Generated {
		t.Fatalf("counts %+v after %d units started: want exactly 20 accepted and no wasted unit", c, started)
	}
}

// slowModel delays requests whose last message contains a marker, outside
// any lock, so two workers' steps overlap.
type slowModel struct {
	local.Model
	marker string
	delay  time.Duration
}

func (s slowModel) Chat(ctx context.Context, r *local.ChatRequest) (*local.Response, error) {
	if strings.Contains(r.Messages[len(r.Messages)-1].Content, s.marker) {
		time.Sleep(s.delay)
	}
	return s.Model.Chat(ctx, r)
}

func TestSelfInstructConcurrentStepsDoNotAcceptTheSameTask(t *testing.T) {
	m := (&scriptedModel{}).
		on(`Reply with JSON only: {"tasks"`, func(p string, n int) string {
			if n <= 2 {
				return `{"tasks": ["Describe the water cycle for a young student."]}`
			}
			return `{"tasks": ["List five fruits that are rich in vitamin C."]}`
		}).
		on("Decide whether the following task", fixed(`{"is_classification": false}`)).
		on("Task: Describe the water cycle", fixed(`{"instances": [{"input": "", "output": "Water evaporates, condenses and falls."}]}`)).
		on("Task: List five fruits", fixed(`{"instances": [{"input": "", "output": "Oranges, kiwis, strawberries, guavas, papayas."}]}`))
	dir := t.TempDir()
	run := testRun(t, dir, "self-instruct")
	defer run.Close()
	env := &Env{Model: slowModel{m, "Decide whether", 150 * time.Millisecond}, Run: run, Workers: 2, Seed: 4}
	if err := runMethod(env, &SelfInstruct{Model: "scripted:latest", Count: 2,
		Seeds: []SeedTask{{Instruction: "Translate the sentence into French."}}}); err != nil {
		t.Fatal(err)
	}
	if c := run.Counts(); c.Rejected[ReasonTooSimilar] != 1 {
		t.Fatalf("counts %+v: the task two steps wrote at once must be accepted once", c)
	}
}
