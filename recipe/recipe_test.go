package recipe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synthkit/export"
)

func parse(t *testing.T, dir, text string, sets map[string]string) *Recipe {
	t.Helper()
	r, err := Parse(filepath.Join(dir, "r.yaml"), []byte(text), sets)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func names(r *Recipe) string {
	var out []string
	for _, s := range r.Stages {
		out = append(out, s.Name)
	}
	return strings.Join(out, ",")
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name, stages, want string
	}{
		{"file order when independent", "  b: {command: respond}\n  a: {command: respond}\n", "b,a"},
		{"a reader after what it reads", "  c: {command: critique, prompts: b}\n  b: {command: respond, prompts: a}\n  a: {command: instruct}\n", "a,b,c"},
		{"two inputs", "  p: {command: prefer, prompts: a, completions: b}\n  b: {command: respond}\n  a: {command: instruct}\n", "b,a,p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(t, t.TempDir(), "stages:\n"+tt.stages, nil)
			if got := names(r); got != tt.want {
				t.Errorf("order %s, want %s", got, tt.want)
			}
		})
	}
}

func TestValues(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.txt"), []byte("a prompt\n"), 0o644)
	r := parse(t, dir, `vars:
  model: small
  n: 5
stages:
  a:
    command: respond
    prompts: p.txt
    models: ["${model}", big]
    count: ${n}
    system: "say ${model} twice: ${model}"
`, map[string]string{"model": "m:1b"})
	want := map[string]string{"prompts": filepath.Join(dir, "p.txt"), "models": "m:1b,big", "count": "5", "system": "say m:1b twice: m:1b"}
	for k, v := range want {
		if got, _ := r.Stages[0].Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !r.Stages[0].Options[1].List || r.Stages[0].Options[2].List {
		t.Errorf("List marks: %+v", r.Stages[0].Options)
	}
	if r.Out != filepath.Join("out", "r") || r.Name != "r" {
		t.Errorf("defaults: out %q, name %q", r.Out, r.Name)
	}
}

// TestKey: a stage's key changes with its options, with the files it
// reads and with any stage upstream; not with an unrelated stage.
func TestKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.txt")
	os.WriteFile(file, []byte("one\n"), 0o644)
	text := "stages:\n  a: {command: respond, prompts: p.txt, models: A}\n  b: {command: critique, prompts: a, model: B}\n  c: {command: respond, prompts: p.txt, models: C}\n"
	base := parse(t, dir, text, nil)
	key := func(r *Recipe, s string) string { return r.Key(r.Stage(s)) }
	if key(base, "b") != key(parse(t, dir, text, nil), "b") {
		t.Fatal("the same recipe gives another key")
	}
	changedA := parse(t, dir, strings.Replace(text, "models: A", "models: A2", 1), nil)
	if key(changedA, "a") == key(base, "a") || key(changedA, "b") == key(base, "b") {
		t.Error("a change in a did not change a's and b's keys")
	}
	if key(changedA, "c") != key(base, "c") {
		t.Error("a change in a changed c, which does not read it")
	}
	before := key(base, "a")
	os.WriteFile(file, []byte("one\ntwo\n"), 0o644)
	if key(parse(t, dir, text, nil), "a") == before {
		t.Error("a changed input file did not change the key")
	}
}

// TestStateDone: a stage counts as finished only with the same key, a
// finished run.json and a card; the state survives a reread.
func TestStateDone(t *testing.T) {
	dir := t.TempDir()
	text := "out: " + filepath.Join(dir, "out") + "\nstages:\n  a: {command: instruct, model: m}\n"
	r := parse(t, dir, text, nil)
	s := r.Stages[0]
	st, _ := ReadState(r.Out)
	run := s.RunDir(r.Out)
	os.MkdirAll(run, 0o755)
	man := export.Manifest{Method: "self-instruct", Finished: time.Now()}
	if err := writeJSON(filepath.Join(run, "run.json"), man); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkDone(r, s); err != nil {
		t.Fatal(err)
	}
	if st.Done(r, s) {
		t.Error("done without a card")
	}
	os.WriteFile(filepath.Join(run, "README.md"), []byte("---\n---\n"), 0o644)
	man.Finished = time.Time{}
	writeJSON(filepath.Join(run, "run.json"), man)
	if st.Done(r, s) {
		t.Error("done although run.json says the run did not finish")
	}
	man.Finished = time.Now()
	writeJSON(filepath.Join(run, "run.json"), man)
	again, _ := ReadState(r.Out)
	if !again.Done(r, s) {
		t.Error("not done after MarkDone, with a card and a finished run")
	}
	changed := parse(t, dir, strings.Replace(text, "model: m", "model: m2", 1), nil)
	if again.Done(changed, changed.Stages[0]) {
		t.Error("done although the stage's options changed")
	}
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
