package prompts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synthkit/local"
)

func TestRespondSystemPoolIsSeededRecordedAndErasable(t *testing.T) {
	prompts := []string{"Question one?", "Question two?", "Question three?", "Question four?"}
	runOnce := func(erase bool) (*scriptedModel, map[string]map[string]any, map[string][]string) {
		m := (&scriptedModel{}).on("Question", fixed("An answer."))
		dir := t.TempDir()
		run := testRun(t, dir, "respond")
		defer run.Close()
		env := &Env{Model: m, Run: run, Workers: 2, Seed: 9}
		if err := runMethod(env, &Respond{Responders: []string{"a:1", "b:1"}, Prompts: prompts, SystemPool: OrcaPool, EraseSystem: erase}); err != nil {
			t.Fatal(err)
		}
		meta := map[string]map[string]any{}
		roles := map[string][]string{}
		for unit, r := range sftRows(t, dir) {
			meta[unit] = r.Metadata
			for _, msg := range r.Messages {
				roles[unit] = append(roles[unit], msg.Role)
			}
		}
		return m, meta, roles
	}
	m, meta, roles := runOnce(false)
	_, again, _ := runOnce(false)
	texts := map[string]string{}
	for _, p := range OrcaPool {
		texts[p.ID] = p.Text
	}
	distinct := map[any]bool{}
	for p := range prompts {
		a, b := meta[respondUnit(p, 0)]["system_id"], meta[respondUnit(p, 1)]["system_id"]
		if a == nil || a != b {
			t.Fatalf("prompt %d: system_id %v and %v: want one recorded per prompt, the same for every model", p, a, b)
		}
		if again[respondUnit(p, 0)]["system_id"] != a {
			t.Fatalf("prompt %d: the same seed drew %v, then %v", p, a, again[respondUnit(p, 0)]["system_id"])
		}
		if roles[respondUnit(p, 0)][0] != "system" {
			t.Fatalf("row without its system prompt: %v", roles[respondUnit(p, 0)])
		}
		distinct[a] = true
	}
	if len(distinct) < 2 {
		t.Errorf("4 prompts all drew %v: the pool is not sampled", distinct)
	}
	for _, c := range m.chats {
		if c.Messages[0].Role != "system" || !strings.Contains(strings.Join(mapValues(texts), "\n"), c.Messages[0].Content) {
			t.Fatalf("request system prompt %q is not from the pool", c.Messages[0].Content)
		}
	}

	m, meta, roles = runOnce(true)
	for unit, md := range meta {
		if roles[unit][0] == "system" {
			t.Fatalf("%s: erased row still holds the system prompt: %v", unit, roles[unit])
		}
		if md["erased_system"] != texts[md["system_id"].(string)] {
			t.Fatalf("%s: erased_system %q, want the text of %v", unit, md["erased_system"], md["system_id"])
		}
	}
	if m.chats[0].Messages[0].Role != "system" {
		t.Fatalf("erasure must not change what the model was asked")
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestRespondVerifiesAgainstReferencesWithAJudge(t *testing.T) {
	m := (&scriptedModel{}).
		on("Known correct answer", func(p string, n int) string {
			switch {
			case strings.Contains(p, "Known correct answer:\nParis"):
				return `{"verdict": "agrees", "reason": "both say Paris"}`
			case strings.Contains(p, "Known correct answer:\nRome"):
				return `{"verdict": "disagrees", "reason": "the answer says Milan"}`
			}
			return "I am not sure what you mean."
		}).
		on("capital", func(p string, n int) string {
			return map[bool]string{true: "Paris.", false: "Milan or Lima."}[strings.Contains(p, "France")]
		})
	dir := t.TempDir()
	run := testRun(t, dir, "respond")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 2, Seed: 3, Retries: 1}
	r := &Respond{Responders: []string{"a:1"}, Judge: "judge:1", Verify: true,
		Prompts:    []string{"What is the capital of France?", "What is the capital of Italy?", "What is the capital of Peru?"},
		References: []string{"Paris", "Rome", "Lima"}}
	if err := runMethod(env, r); err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	if c.Accepted != 1 || c.Rejected[ReasonDisagreesWithReference] != 1 || c.Rejected[ReasonVerifyUnparseable] != 1 {
		t.Fatalf("counts %+v: want one agreeing row, one disagreement, one unparseable verdict", c)
	}
	row := sftRows(t, dir)[respondUnit(0, 0)]
	if row.Metadata["reference_verdict"] != VerdictAgrees || row.Metadata["verified_by"] != "judge:1" {
		t.Fatalf("row metadata %v", row.Metadata)
	}
	// The judge ran after every answer (model by model), and the
	// unparseable verdict was asked again before it counted.
	var order []string
	asked := 0
	for _, c := range m.chats {
		if len(order) == 0 || order[len(order)-1] != c.Model {
			order = append(order, c.Model)
		}
		if strings.Contains(c.Messages[len(c.Messages)-1].Content, "Known correct answer:\nLima") {
			asked++
		}
	}
	if strings.Join(order, ",") != "a:1,judge:1" || asked != 2 {
		t.Fatalf("request order %v, unparseable verdict asked %d times (want responder then judge, 2 asks)", order, asked)
	}
}

func TestMatchReference(t *testing.T) {
	tests := []struct{ ref, answer, want string }{
		{"positive", "The review praises the food.\nSentiment: Positive.", VerdictAgrees},
		{"positive", "The review is harsh.\nSentiment: negative", VerdictDisagrees},
		{"42", "6 times 7 is 42.", VerdictAgrees},
		{"42", "First 6, then 7, so the answer is 41.", VerdictDisagrees},
		{"3.5", "It takes 3,5 hours.", VerdictAgrees},
		{"New York City", "It is New York City.", VerdictAgrees},
		{"a long reference answer with many more than five words in it", "anything", VerdictCannotTell},
		{"Paris", "paris", VerdictAgrees},
	}
	for _, tt := range tests {
		if got, _ := MatchReference(tt.ref, tt.answer); got != tt.want {
			t.Errorf("MatchReference(%q, %q) = %s, want %s", tt.ref, tt.answer, got, tt.want)
		}
	}
}

func TestRespondVerifiesWithoutAJudge(t *testing.T) {
	m := (&scriptedModel{}).on("capital", func(p string, n int) string {
		if strings.Contains(p, "France") {
			return "The capital is Paris."
		}
		return "The capital is Milan."
	})
	run := testRun(t, t.TempDir(), "respond")
	defer run.Close()
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 3}
	r := &Respond{Responders: []string{"a:1"}, Verify: true, Prompts: []string{"The capital of France?", "The capital of Italy?"},
		References: []string{"Paris", "Rome"}}
	if err := runMethod(env, r); err != nil {
		t.Fatal(err)
	}
	if c := run.Counts(); c.Accepted != 1 || c.Rejected[ReasonDisagreesWithReference] != 1 {
		t.Fatalf("counts %+v", c)
	}
}

func TestLoadSystemPool(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(data), 0o644)
		return p
	}
	if pool, err := LoadSystemPool("orca"); err != nil || len(pool) < 12 {
		t.Fatalf("built-in pool: %d entries, %v", len(pool), err)
	}
	pool, err := LoadSystemPool(write("mine.txt", "Be brief.\n\nExplain step by step.\n"))
	if err != nil || len(pool) != 2 || pool[1].ID != "line-3" {
		t.Fatalf("text pool %+v, %v", pool, err)
	}
	pool, err = LoadSystemPool(write("w.yaml", "- id: brief\n  text: Be brief.\n  weight: 3\n- text: Explain.\n"))
	if err != nil || pool[0].Weight != 3 || pool[1].ID != "entry-2" {
		t.Fatalf("yaml pool %+v, %v", pool, err)
	}
	for name, tc := range map[string]struct{ file, data, want string }{
		"empty":     {"e.txt", "\n  \n", "e.txt: the system-prompt pool is empty"},
		"duplicate": {"d.txt", "Be brief.\nExplain.\nBe brief.\n", "d.txt:3: the same system prompt as line 1"},
		"yaml key":  {"k.yaml", "- text: a\n  colour: red\n", `k.yaml:2: unknown key "colour"`},
	} {
		_, err := LoadSystemPool(write(tc.file, tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
	// Weights steer the draw.
	heavy := []SystemPrompt{{ID: "a", Text: "a", Weight: 99}, {ID: "b", Text: "b", Weight: 1}}
	n := 0
	for s := int64(0); s < 200; s++ {
		if pickSystem(heavy, s).ID == "a" {
			n++
		}
	}
	if n < 180 {
		t.Fatalf("weight 99 of 100 drawn %d/200 times", n)
	}
}

var _ = local.Message{}
