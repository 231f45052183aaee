package yamlfile

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"
)

// goTypeName finds text in an error message that reads like Go rather than
// words for a user; text taken from the file itself does not count.
func goTypeName(msg string, input []byte) string {
	for _, m := range goTypeRe.FindAllString(msg, -1) {
		if !bytes.Contains(input, []byte(m)) {
			return m
		}
	}
	return ""
}

var goTypeRe = regexp.MustCompile(`map\[|\[\]interface|\[\]any\b|interface \{|struct \{|Go struct|Go value|json\.Number|\bfloat(32|64)\b|\bu?int(8|16|32|64)\b|%!|<nil>|\*?\b[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*\b|!!\w+`)

// fuzzFile has the shapes of the files users write: a rubric's attributes
// with integer-keyed scores (prompts/assets/helpsteer.yaml), a
// constitution's principles (prompts/assets/constitution.yaml), numbers
// and flags.
type fuzzFile struct {
	Name       string `yaml:"name"`
	Aggregate  string `yaml:"aggregate"`
	Attributes []struct {
		Name     string         `yaml:"name"`
		Criteria string         `yaml:"criteria"`
		Scores   map[int]string `yaml:"scores"`
		Weight   float64        `yaml:"weight"`
	} `yaml:"attributes"`
	Principles []struct {
		Name     string `yaml:"name"`
		Critique string `yaml:"critique"`
		Revision string `yaml:"revision"`
		Compare  string `yaml:"compare"`
	} `yaml:"principles"`
	Rounds int      `yaml:"rounds"`
	Strict bool     `yaml:"strict"`
	Tags   []string `yaml:"tags"`
}

// FuzzDecode: whatever a user's YAML or JSON file holds, Decode does not
// panic, refuses with an *Error naming the file in plain words, or decodes
// a value that, written back as YAML, decodes to the same value.
//
//	go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 30s ./prompts/yamlfile
func FuzzDecode(f *testing.F) {
	for _, asset := range []string{"../assets/helpsteer.yaml", "../assets/constitution.yaml"} {
		if b, err := os.ReadFile(asset); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"name: a\nattributes:\n  - name: x\n    criteria: y\n    scores: {1: bad, 5: good}\n    weight: 0.5\n",
		`{"name": "a", "rounds": 2, "strict": true, "tags": ["t"]}`,
		"rounds: two\n",
		"rounds: 99999999999999999999999\n",
		"attributes:\n  - scores:\n      x: bad\n",
		"tags: one\n",
		"colour: red\n",
		"name: [a\n",
		"- a\n- b\n",
		"a: &x [*x]\n",
		"name: !!binary aGVsbG8=\n",
		"---\n...\n",
		"name: a\n---\nname: b\n",
		"\xff\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v fuzzFile
		err := Decode("f.yaml", data, &v)
		if err != nil {
			var ye *Error
			if !errors.As(err, &ye) || ye.File != "f.yaml" {
				t.Fatalf("error is not an *Error naming the file: %T %v", err, err)
			}
			if m := goTypeName(err.Error(), data); m != "" {
				t.Fatalf("error names Go type %q: %v", m, err)
			}
			return
		}
		out, err := yaml.Marshal(&v)
		if err != nil {
			t.Fatalf("accepted value does not encode: %v", err)
		}
		var again fuzzFile
		if err := Decode("f.yaml", out, &again); err != nil {
			t.Fatalf("accepted %q, but its encoding %q is refused: %v", data, out, err)
		}
		if !reflect.DeepEqual(v, again) {
			if out2, _ := yaml.Marshal(&again); !bytes.Equal(out, out2) { // NaN != NaN
				t.Fatalf("round trip changed the value:\n%s\n%s", out, out2)
			}
		}
		// Node accepts what Decode accepts.
		if _, err := Node("f.yaml", data); err != nil {
			t.Fatalf("Decode accepts %q, Node refuses: %v", data, err)
		}
	})
}
