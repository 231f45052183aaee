package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRecipe writes a recipe (and a prompts file beside it) into a new
// folder and returns the recipe's path.
func writeRecipe(t *testing.T, dir, text string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "prompts.txt"), []byte("Name a river.\nDescribe rain.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRecipeErrors: every broken recipe is refused before anything is
// written, with exit status 2 and a message naming file:line.
func TestRecipeErrors(t *testing.T) {
	const head = "out: OUT\nstages:\n" // lines 1-2; stages start on line 3
	tests := []struct {
		name   string
		recipe string
		set    []string
		want   string // in stderr; "r.yaml:N:" pins the line
	}{
		{"unknown top-level key", "out: OUT\nshell: rm -rf /\nstages:\n  a:\n    command: respond\n", nil,
			`r.yaml:2: unknown key "shell" at the top of the recipe`},
		{"syntax error", head + "  a:\n    command: respond\n   prompts: [x\n", nil, "r.yaml:"},
		{"unknown key with a suggestion", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    modle: m\n", nil,
			`r.yaml:6: stage a: unknown key "modle" for respond (did you mean model?)`},
		{"wrong type", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models: m\n    count: many\n", nil,
			`r.yaml:7: stage a: count: "many" should be a whole number`},
		{"a list for a number", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models: m\n    count: [1, 2]\n", nil,
			"r.yaml:7: stage a: count takes one value, not a list"},
		{"a bool that is not", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models: m\n    erase-system: maybe\n", nil,
			`r.yaml:7: stage a: erase-system: "maybe" should be true or false`},
		{"a mapping for a value", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models: {x: 1}\n", nil,
			"r.yaml:6: models takes a value or a list, not a mapping"},
		{"no value", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models:\n", nil,
			"r.yaml:6: models has no value"},
		{"unknown command (no shell)", head + "  a:\n    command: bash -c 'curl evil | sh'\n", nil,
			`r.yaml:4: stage a: unknown command "bash -c 'curl evil | sh'": a stage runs one of instruct, respond, prefer, critique (a recipe cannot run shell commands)`},
		{"missing command", head + "  a:\n    prompts: prompts.txt\n", nil,
			"r.yaml:3: stage a has no command"},
		{"unknown method", head + "  a:\n    command: instruct\n    model: m\n    method: evolve\n", nil,
			`r.yaml:6: stage a: unknown method "evolve" for instruct`},
		{"stage that does not exist", head + "  a:\n    command: respond\n    models: m\n    prompts: instructions\n", nil,
			`r.yaml:6: stage a: prompts: "instructions" is neither a stage of this recipe (stages: a) nor a file`},
		{"cycle", head + "  a:\n    command: respond\n    models: m\n    prompts: b\n  b:\n    command: critique\n    model: m\n    prompts: a\n", nil,
			"r.yaml:10: stages read each other in a cycle: a reads b reads a"},
		{"a stage reading itself", head + "  a:\n    command: respond\n    models: m\n    prompts: a\n", nil,
			"r.yaml:6: stages read each other in a cycle: a reads a"},
		{"undefined variable", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models: ${modle}\n", nil,
			"r.yaml:6: ${modle} is not a variable of the recipe"},
		{"--set of an undeclared variable", "vars:\n  model: m\n" + head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models: ${model}\n",
			[]string{"modle=x"}, "r.yaml: --set modle: the recipe has no such variable (its variables: model)"},
		{"a server flag in a stage", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models: m\n    concurrency: 4\n", nil,
			"r.yaml:7: stage a: concurrency is a setting of the whole run, not of a stage: give it to `synthkit run --concurrency …`"},
		{"a stage's own out", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models: m\n    out: elsewhere\n", nil,
			"r.yaml:7: stage a: out cannot be set in a stage"},
		{"a short flag name", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models: m\n    n: 5\n", nil,
			"r.yaml:7: stage a: use the long name count, not n"},
		{"a stage given twice", head + "  a:\n    command: respond\n  a:\n    command: critique\n", nil,
			`r.yaml:5: "a" is given twice in stages (first on line 3)`},
		{"a stage name that is a path", head + "  ../a:\n    command: respond\n", nil,
			`r.yaml:3: stage name "../a"`},
		{"no stages", "out: OUT\nstages: {}\n", nil, "r.yaml:2: stages is empty"},
		{"a missing file", head + "  a:\n    command: instruct\n    model: m\n    seeds: my-seeds.jsonl\n", nil,
			"r.yaml:6: stage a: seeds: no file"},
		{"the command's own check, at the stage's line", head + "  a:\n    command: respond\n    prompts: prompts.txt\n", nil,
			"r.yaml:3: stage a (respond): respond needs --models"},
		{"a bad flag combination", head + "  a:\n    command: respond\n    prompts: prompts.txt\n    models: m\n    verify: true\n", nil,
			"r.yaml:3: stage a (respond): --verify needs --reference-column"},
		{"not a mapping", "- a\n- b\n", nil, "r.yaml:1: a recipe is a mapping with stages:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			p := writeRecipe(t, dir, strings.ReplaceAll(tt.recipe, "OUT", out))
			args := []string{"run", p, "--ollama", "127.0.0.1:1", "--no-start"}
			for _, s := range tt.set {
				args = append(args, "--set", s)
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout, stderr)
			}
			if want := strings.ReplaceAll(tt.want, "r.yaml", p); !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written for a recipe that was refused", out)
			}
		})
	}
}
