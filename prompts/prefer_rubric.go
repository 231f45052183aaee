package prompts

import (
	_ "embed"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"synthkit/prompts/yamlfile"
)

// Rubric is what rubric mode grades against (Prometheus-style absolute
// grading): one or more attributes, each with a criterion and a
// description for every score of its scale.
type Rubric struct {
	Name       string
	Attributes []RubricAttribute
	// Reference names the input column holding a reference answer (the
	// answer that earns the top score), shown to the judge; "" for none.
	Reference string
	// Aggregate is the attribute whose score ranks the completions; ""
	// means the mean of all.
	Aggregate string
	// Text is the file's content, hashed into the run's identity.
	Text string
}

// RubricAttribute is one graded attribute.
type RubricAttribute struct {
	Name     string
	Criteria string
	Min, Max int
	// Scores describes each score from Min to Max, in order.
	Scores []string
}

type rubricFile struct {
	Name       string     `yaml:"name"`
	Criteria   string     `yaml:"criteria"`
	Scores     yaml.Node  `yaml:"scores"`
	Reference  string     `yaml:"reference"`
	Aggregate  string     `yaml:"aggregate"`
	Attributes []attrFile `yaml:"attributes"`
}

type attrFile struct {
	Name     string    `yaml:"name"`
	Criteria string    `yaml:"criteria"`
	Scores   yaml.Node `yaml:"scores"`
}

//go:embed assets/helpsteer.yaml
var helpsteerYAML []byte

// HelpSteerRubric is the built-in SteerLM/HelpSteer preset: helpfulness,
// correctness, coherence, complexity and verbosity, each 0–4.
func HelpSteerRubric() *Rubric {
	r, err := ParseRubric("helpsteer.yaml", helpsteerYAML)
	if err != nil {
		panic(err)
	}
	return r
}

// LoadRubric reads a rubric file (YAML or JSON). Its errors name the file
// and line ([*yamlfile.Error]).
func LoadRubric(path string) (*Rubric, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &yamlfile.Error{File: path, Msg: fmt.Sprintf("couldn't read the rubric: %v", err)}
	}
	return ParseRubric(path, data)
}

// ParseRubric decodes a rubric. Two shapes are accepted:
//
//	criteria: Is the answer accurate and brief?   # one attribute, scored 1–5
//	scores: {1: "...", 2: "...", 3: "...", 4: "...", 5: "..."}
//	reference: answer                              # optional input column
//
// or a list of attributes, each with name, criteria and scores (any
// contiguous range such as 0–4). Every score of the range needs a
// description.
func ParseRubric(name string, data []byte) (*Rubric, error) {
	var f rubricFile
	if err := yamlfile.Decode(name, data, &f); err != nil {
		return nil, err
	}
	top, err := yamlfile.Node(name, data)
	if err != nil {
		return nil, err
	}
	keyLine := func(n *yaml.Node, key string) int {
		if n != nil && n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					return n.Content[i].Line
				}
			}
		}
		if n != nil {
			return n.Line
		}
		return 0
	}
	r := &Rubric{Name: f.Name, Reference: f.Reference, Aggregate: f.Aggregate, Text: string(data)}
	if r.Name == "" {
		r.Name = "rubric"
	}
	switch {
	case len(f.Attributes) > 0 && f.Criteria != "":
		return nil, yamlfile.Errorf(name, keyLine(top, "criteria"), "give either criteria and scores (one attribute) or attributes, not both")
	case len(f.Attributes) == 0:
		if strings.TrimSpace(f.Criteria) == "" {
			return nil, yamlfile.Errorf(name, top.Line, "the rubric needs criteria (what is judged) and scores (a description for each score 1–5), or a list of attributes")
		}
		a, err := rubricAttribute(name, r.Name, f.Criteria, &f.Scores, keyLine(top, "criteria"))
		if err != nil {
			return nil, err
		}
		r.Attributes = []RubricAttribute{a}
	default:
		var items []*yaml.Node
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == "attributes" {
				items = top.Content[i+1].Content
			}
		}
		seen := map[string]bool{}
		for i, af := range f.Attributes {
			line := 0
			if i < len(items) {
				line = items[i].Line
			}
			if !isAspectName(af.Name) {
				return nil, yamlfile.Errorf(name, line, "attribute %d needs a name of letters, digits and underscores (got %q)", i+1, af.Name)
			}
			if seen[af.Name] {
				return nil, yamlfile.Errorf(name, line, "attribute %q is named twice", af.Name)
			}
			seen[af.Name] = true
			if strings.TrimSpace(af.Criteria) == "" {
				return nil, yamlfile.Errorf(name, line, "attribute %q needs criteria (what is judged)", af.Name)
			}
			a, err := rubricAttribute(name, af.Name, af.Criteria, &af.Scores, line)
			if err != nil {
				return nil, err
			}
			r.Attributes = append(r.Attributes, a)
		}
	}
	if r.Aggregate != "" {
		ok := false
		for _, a := range r.Attributes {
			ok = ok || a.Name == r.Aggregate
		}
		if !ok {
			return nil, yamlfile.Errorf(name, keyLine(top, "aggregate"), "aggregate %q is not one of the attributes", r.Aggregate)
		}
	}
	return r, nil
}

// rubricAttribute reads one attribute's scores: integer keys forming a
// contiguous range of 2 to 11 values, each with a description.
func rubricAttribute(file, name, criteria string, scores *yaml.Node, line int) (RubricAttribute, error) {
	a := RubricAttribute{Name: name, Criteria: strings.TrimSpace(criteria)}
	if scores.Kind == 0 {
		return a, yamlfile.Errorf(file, line, "%s: scores are missing (a description for each score, e.g. 1: … to 5: …)", name)
	}
	if scores.Kind != yaml.MappingNode {
		return a, yamlfile.Errorf(file, scores.Line, "%s: scores should map each score to its description (1: …, 2: …)", name)
	}
	desc := map[int]string{}
	for i := 0; i+1 < len(scores.Content); i += 2 {
		k, v := scores.Content[i], scores.Content[i+1]
		n, err := strconv.Atoi(k.Value)
		if err != nil || n < 0 || n > 10 {
			return a, yamlfile.Errorf(file, k.Line, "%s: score %q should be a whole number from 0 to 10", name, k.Value)
		}
		if v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "" {
			return a, yamlfile.Errorf(file, v.Line, "%s: score %d needs a description", name, n)
		}
		desc[n] = strings.TrimSpace(v.Value)
	}
	keys := make([]int, 0, len(desc))
	for k := range desc {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	if len(keys) < 2 {
		return a, yamlfile.Errorf(file, scores.Line, "%s: a scale needs at least two scores", name)
	}
	a.Min, a.Max = keys[0], keys[len(keys)-1]
	for s := a.Min; s <= a.Max; s++ {
		d, ok := desc[s]
		if !ok {
			return a, yamlfile.Errorf(file, scores.Line, "%s: score %d is missing (scores run from %d to %d; describe each)", name, s, a.Min, a.Max)
		}
		a.Scores = append(a.Scores, d)
	}
	return a, nil
}

func isAspectName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
