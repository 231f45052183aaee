package yamlfile

import (
	"strings"
	"testing"
)

type rubric struct {
	Name     string            `yaml:"name"`
	Criteria string            `yaml:"criteria"`
	Scores   map[string]string `yaml:"scores"`
	Weight   float64           `yaml:"weight"`
	Tags     []string          `yaml:"tags"`
}

func TestDecodeErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"empty", "  \n", "r.yaml: the file is empty"},
		{"unknown key", "name: a\ncriteria: b\ncolour: red\n", `r.yaml:3: unknown key "colour"`},
		{"wrong type", "name: a\nweight: heavy\n", "r.yaml:2: heavy should be a number"},
		{"list expected", "tags: one\n", "r.yaml:1: one should be a list"},
		{"syntax", "name: a\n  criteria: : b\n", "r.yaml:2:"},
		{"invalid utf-8", "name: a\ncriteria: \xff\n", "r.yaml:2: not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r rubric
			err := Decode("r.yaml", []byte(tt.data), &r)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestDecodeYAMLAndJSON(t *testing.T) {
	for _, data := range []string{
		"name: a\ncriteria: b\nscores:\n  1: bad\n  5: great\n",
		`{"name": "a", "criteria": "b", "scores": {"1": "bad", "5": "great"}}`,
	} {
		var r rubric
		if err := Decode("r", []byte(data), &r); err != nil {
			t.Fatal(err)
		}
		if r.Name != "a" || r.Scores["5"] != "great" {
			t.Fatalf("decoded %+v", r)
		}
	}
}
