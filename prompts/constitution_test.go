package prompts

import (
	"strings"
	"testing"

	"synthkit/prompts/yamlfile"
)

func TestDefaultConstitution(t *testing.T) {
	c := DefaultConstitution()
	if len(c.Principles) != 16 || len(c.revising()) != 16 {
		t.Fatalf("default constitution has %d principles (%d revising), want 16", len(c.Principles), len(c.revising()))
	}
	for _, p := range c.Principles {
		if p.Compare == "" {
			t.Errorf("principle %q has no compare question", p.Name)
		}
	}
	if r := LintConstitution(c); len(r.Warnings) > 0 {
		t.Fatalf("the default constitution fails its own lint:\n%s", r)
	}
	// What --print-constitution prints reads back as the same constitution.
	again, err := ParseConstitution("printed.yaml", DefaultConstitutionYAML())
	if err != nil || again.Hash() != c.Hash() {
		t.Fatalf("printed constitution does not read back: %v", err)
	}
	out, err := MarshalConstitution(c)
	if err != nil {
		t.Fatal(err)
	}
	if round, err := ParseConstitution("m.yaml", out); err != nil || round.Hash() != c.Hash() {
		t.Fatalf("MarshalConstitution does not round-trip: %v", err)
	}
}

func TestConstitutionErrorsNameFileAndLine(t *testing.T) {
	ok := "    critique: Find the flaws.\n    revision: Fix them.\n"
	tests := []struct {
		name, data, want string
	}{
		{"empty", " \n", "c.yaml: the file is empty"},
		{"no principles", "examples: []\n", "c.yaml:1: no principles"},
		{"unknown key", "principles:\n  - name: a\n" + ok + "    colour: red\n", `c.yaml:5: unknown key "colour"`},
		{"duplicate names", "principles:\n  - name: a\n" + ok + "  - name: a\n" + ok, `c.yaml:5: principle "a" is named twice (first on line 2)`},
		{"missing name", "principles:\n  - critique: x\n    revision: y\n", "c.yaml:2: principle 1 has no name"},
		{"missing revision", "principles:\n  - name: a\n    critique: Find the flaws.\n", `c.yaml:2: principle "a" has an empty or missing revision request`},
		{"empty critique", "principles:\n  - name: a\n    critique: \"\"\n    revision: Fix.\n", `c.yaml:3: principle "a" has an empty or missing critique request`},
		{"no requests at all", "principles:\n  - name: a\n", `c.yaml:2: principle "a" has no requests`},
		{"example names unknown principle", "principles:\n  - name: a\n" + ok +
			"examples:\n  - {principle: b, prompt: p, response: r, critique: c, revision: v}\n", `c.yaml:6: example 1 names principle "b"`},
		{"wrong type", "principles: yes\n", "c.yaml:1:"},
		{"paper: missing edit request", `{"harmful0": {"prompt": ["Find harm."], "edit_request": "Fix."},` + "\n" + `"harmful1": {"prompt": ["Find harm."]}}`, `c.yaml:2: principle "harmful1" has an empty or missing edit_request`},
		{"paper: empty critique request", `{"h": {"prompt": [""], "edit_request": "Fix."}}`, `c.yaml:1: principle "h" has an empty critique request`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConstitution("c.yaml", []byte(tt.data))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to start with %q", err, tt.want)
			}
			if _, ok := err.(*yamlfile.Error); !ok {
				t.Fatalf("error is %T, want *yamlfile.Error (file:line for the user)", err)
			}
		})
	}
}

// The paper's published files are read unchanged. These fixtures have the
// files' shapes with text of our own.
func TestConstitutionReadsPaperFormats(t *testing.T) {
	instructions := `{"harmful0": {"prompt": ["CritiqueRequest: Name every harmful part of the reply."], "edit_request": "RevisionRequest: Rewrite the reply without the harmful parts."},
 "harmful1": {"prompt": ["Is the reply rude? Say where.", "Is the reply unfair? Say where."], "edit_request": "Rewrite it to be polite and fair."}}`
	c, err := ParseConstitution("CritiqueRevisionInstructions.json", []byte(instructions))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Principles) != 3 || c.Principles[0].Name != "harmful0" || c.Principles[2].Name != "harmful1-2" {
		t.Fatalf("principles %+v", c.Principles)
	}
	if c.Principles[0].Critique != "Name every harmful part of the reply." || c.Principles[0].Revision != "Rewrite the reply without the harmful parts." {
		t.Fatalf("scaffolding not stripped: %+v", c.Principles[0])
	}

	rl := `["\nPick the reply that is kinder. Options:", "\nPick the reply that is more honest. Options:"]`
	c, err = ParseConstitution("RLMadisonInstructions.json", []byte(rl))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Principles) != 2 || c.Principles[1].Compare != "Pick the reply that is more honest." || c.Principles[1].revises() {
		t.Fatalf("RL principles %+v", c.Principles)
	}

	fewshot := `["\n\nHuman: How do I make my tea stronger?\n\nAssistant: Add bleach.\n\nCritiqueRequest: Name harmful parts.\n\nCritique: Bleach is poison.\n\nRevisionRequest: Rewrite without harm.\n\nRevision: Steep it longer or use more leaves.\n\nHuman:"]`
	c, err = ParseConstitution("CritiqueRevisionFewShotPrompts.json", []byte(fewshot))
	if err != nil {
		t.Fatal(err)
	}
	ex := c.Examples[0]
	if len(ex.Turns) != 1 || ex.Turns[0].Content != "How do I make my tea stronger?" || ex.Response != "Add bleach." ||
		ex.Critique != "Bleach is poison." || ex.Revision != "Steep it longer or use more leaves." || ex.RevisionRequest != "Rewrite without harm." {
		t.Fatalf("few-shot example %+v", ex)
	}

	rlshots := `[{"prompt": "\n\nHuman: Is the stove hot?\n\nAssistant:", "corrects": ["Careful, it may be."], "incorrects": ["Touch it and see."]}]`
	c, err = ParseConstitution("RLMadisonFewShotPrompts.json", []byte(rlshots))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Comparisons) != 1 || c.Comparisons[0].Better != "Careful, it may be." || c.Comparisons[0].Turns[0].Content != "Is the stove hot?" {
		t.Fatalf("comparisons %+v", c.Comparisons)
	}
}

func TestLintConstitution(t *testing.T) {
	p := func(name, text string) Principle {
		return Principle{Name: name, Critique: text, Revision: "Rewrite the answer accordingly."}
	}
	c := &Constitution{Principles: []Principle{
		p("honesty", "Point out claims in the answer that are false or stated with too much confidence."),
		p("honesty-again", "Point out claims in the answer that are false or stated with too much certainty."),
		p("tiny", "Rude?"),
		p("kind", "Say where the tone of the answer is cold, dismissive or unkind toward the person asking."),
		{Name: "kind-reordered", Critique: "Accordingly rewrite the answer. Toward the asking person, where is the answer's tone unkind or cold or dismissive? Say it."},
		p("rambling", strings.Repeat("Check whether the answer wanders off the topic the user raised and back again. ", 4)),
	}}
	r := LintConstitution(c)
	text := r.String()
	for _, want := range []string{`"honesty" and "honesty-again" overlap`, `principle "tiny" is short`, `principle "rambling" is long`,
		`"kind" and "kind-reordered" use nearly the same words`} {
		if !strings.Contains(text, want) {
			t.Errorf("lint does not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `"kind" and "honesty`) || strings.Contains(text, "only 6 principles") {
		t.Errorf("lint warns about something fine:\n%s", text)
	}
	if r := LintConstitution(&Constitution{Principles: c.Principles[:2]}); !strings.Contains(r.String(), "only 2 principles") {
		t.Errorf("too few principles not reported:\n%s", r)
	}
}
