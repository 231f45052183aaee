package prompts

import (
	"strings"
	"testing"

	"synthkit/diversity"
)

func TestParseAxes(t *testing.T) {
	tests := []struct {
		name, text, want string // want: "" for valid, else the error's start
		cells            int
	}{
		{"valid yaml", "axes:\n  - name: topic\n    description: what it is about\n    labels: [nature, people]\n  - name: level\n    ordinal: true\n    labels: [easy, medium, hard]\n", "", 6},
		{"valid json", `{"axes": [{"name": "tone", "labels": ["dry", "warm", "playful"]}]}`, "", 3},
		{"labels trimmed", "axes:\n  - name: t\n    labels: ['  a   b ', c]\n", "", 2},
		{"empty file", "", "x.yaml: the file is empty", 0},
		{"no axes", "axes: []\n", "x.yaml:1: no axes", 0},
		{"unknown key", "axes:\n  - name: t\n    label: [a, b]\n", "x.yaml:3: unknown key \"label\"", 0},
		{"bad name", "axes:\n  - name: my axis\n    labels: [a, b]\n", "x.yaml:2: axis 1 needs a name", 0},
		{"duplicate axis", "axes:\n  - name: t\n    labels: [a, b]\n  - name: t\n    labels: [c, d]\n", "x.yaml:4: axis \"t\" is named twice", 0},
		{"one label", "axes:\n  - name: t\n    labels: [a]\n", "x.yaml:3: axis \"t\" has 1 labels", 0},
		{"duplicate label", "axes:\n  - name: t\n    labels: [Nature, nature]\n", "x.yaml:3: axis \"t\" has the label \"nature\" twice", 0},
		{"empty label", "axes:\n  - name: t\n    labels: [a, '']\n", "x.yaml:3: axis \"t\" has an empty label", 0},
		{"labels not a list", "axes:\n  - name: t\n    labels: abc\n", "x.yaml:3: abc should be a list", 0},
		{"too many cells", "axes:\n" + strings.Repeat("  - name: a{{i}}\n    labels: [a, b, c, d, e, f, g, h, i, j, k]\n", 4), "x.yaml:", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.text
			for i := 0; strings.Contains(text, "{{i}}"); i++ {
				text = strings.Replace(text, "{{i}}", string(rune('a'+i)), 1)
			}
			axes, err := ParseAxes("x.yaml", []byte(text))
			if tt.want != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Fatalf("err = %v, want one starting %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, err := diversity.NewArchive(axes)
			if err != nil || a.Total() != tt.cells {
				t.Fatalf("archive over %+v: %v cells, %v", axes, a, err)
			}
		})
	}
	axes, _ := ParseAxes("x.yaml", []byte(tests[0].text))
	if !axes[1].Ordinal || axes[0].Ordinal || axes[0].Description != "what it is about" {
		t.Fatalf("axes %+v", axes)
	}
	if axes, _ := ParseAxes("x.yaml", []byte(tests[2].text)); axes[0].Labels[0] != "a b" {
		t.Fatalf("label not trimmed: %q", axes[0].Labels[0])
	}
}

func TestDefaultQDAxes(t *testing.T) {
	a, err := diversity.NewArchive(DefaultQDAxes())
	if err != nil || a.Total() != 144 {
		t.Fatalf("default axes: %v cells, %v", a, err)
	}
	if AxesHash(DefaultQDAxes()) == AxesHash(DefaultQDAxes()[:2]) {
		t.Fatal("other axes hash the same")
	}
}
