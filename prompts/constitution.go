package prompts

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"synthkit/local"
	"synthkit/prompts/yamlfile"
)

// Constitution is the set of principles the critique method revises
// answers by and the RLAIF judge compares them by.
type Constitution struct {
	Principles []Principle
	// Examples are worked critique→revision traces shown to the model
	// before each round (few-shot), as earlier turns of the conversation.
	Examples []CritiqueExample
	// Comparisons are solved comparisons shown to the RLAIF judge.
	Comparisons []ComparisonExample
	// Sources are the files it was read from ("built-in" for the default).
	Sources []string
}

// Principle is one rule of a constitution.
type Principle struct {
	Name string `json:"name"`
	// Critique asks the model to find where an answer falls short.
	Critique string `json:"critique,omitempty"`
	// Revision asks the model to rewrite the answer accordingly.
	Revision string `json:"revision,omitempty"`
	// Compare is the question a judge answers when it picks the better of
	// two answers; empty means one is phrased from Critique.
	Compare string `json:"compare,omitempty"`
}

// revises reports whether the principle can drive a critique round.
func (p Principle) revises() bool { return p.Critique != "" && p.Revision != "" }

// question is what the RLAIF judge is asked under this principle.
func (p Principle) question() string {
	if p.Compare != "" {
		return p.Compare
	}
	return "A reviewer was given this task: \"" + p.Critique + "\" Which reply would the reviewer find less to fault in?"
}

// CritiqueExample is one worked trace: a conversation, the answer, the
// critique and the revision under a critique and a revision request.
type CritiqueExample struct {
	// Turns is the conversation up to the answer (ends with a user turn).
	Turns                     []local.Message `json:"turns"`
	Response                  string          `json:"response"`
	CritiqueRequest, Critique string
	RevisionRequest, Revision string
}

// ComparisonExample is a solved comparison: the better and the worse reply
// to a conversation.
type ComparisonExample struct {
	Turns         []local.Message `json:"turns"`
	Better, Worse string
}

//go:embed assets/constitution.yaml
var defaultConstitutionYAML []byte

// DefaultConstitutionYAML returns the built-in constitution file as shipped
// (what `synthkit critique --print-constitution` prints).
func DefaultConstitutionYAML() []byte { return append([]byte(nil), defaultConstitutionYAML...) }

// DefaultConstitution is the built-in constitution: sixteen principles on
// harmlessness, honesty and helpfulness, in synthkit's own words.
func DefaultConstitution() *Constitution {
	c, err := ParseConstitution("built-in", defaultConstitutionYAML)
	if err != nil {
		panic("prompts: the built-in constitution is broken: " + err.Error()) // caught by the tests
	}
	return c
}

// Hash identifies the constitution for resume and provenance.
func (c *Constitution) Hash() string {
	raw, _ := json.Marshal(struct {
		P []Principle
		E []CritiqueExample
		C []ComparisonExample
	}{c.Principles, c.Examples, c.Comparisons})
	return TextHash(string(raw))
}

// revising returns the principles that can drive a critique round.
func (c *Constitution) revising() []Principle {
	var out []Principle
	for _, p := range c.Principles {
		if p.revises() {
			out = append(out, p)
		}
	}
	return out
}

// LoadConstitution reads and merges one or more constitution files (see
// [ParseConstitution]); errors name the file and line.
func LoadConstitution(paths ...string) (*Constitution, error) {
	out := &Constitution{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, &yamlfile.Error{File: path, Msg: fmt.Sprintf("couldn't read the constitution: %v", err)}
		}
		c, err := ParseConstitution(path, data)
		if err != nil {
			return nil, err
		}
		if err := out.merge(path, c); err != nil {
			return nil, err
		}
	}
	if len(out.Principles) == 0 {
		return nil, &yamlfile.Error{File: strings.Join(paths, ","), Msg: "no principles: give a constitution with principles, not only examples"}
	}
	return out, nil
}

func (c *Constitution) merge(file string, o *Constitution) error {
	for _, p := range o.Principles {
		for _, q := range c.Principles {
			if q.Name == p.Name {
				return &yamlfile.Error{File: file, Msg: fmt.Sprintf("principle %q is also in %s; names must be unique", p.Name, strings.Join(c.Sources, ","))}
			}
		}
	}
	c.Principles = append(c.Principles, o.Principles...)
	c.Examples = append(c.Examples, o.Examples...)
	c.Comparisons = append(c.Comparisons, o.Comparisons...)
	c.Sources = append(c.Sources, file)
	return nil
}

// constitutionFile is synthkit's own format.
type constitutionFile struct {
	Principles []struct {
		Name     string `yaml:"name"`
		Critique string `yaml:"critique"`
		Revision string `yaml:"revision"`
		Compare  string `yaml:"compare"`
	} `yaml:"principles"`
	Examples []struct {
		Principle string `yaml:"principle"`
		Prompt    string `yaml:"prompt"`
		Response  string `yaml:"response"`
		Critique  string `yaml:"critique"`
		Revision  string `yaml:"revision"`
	} `yaml:"examples"`
	Comparisons []struct {
		Prompt string `yaml:"prompt"`
		Better string `yaml:"better"`
		Worse  string `yaml:"worse"`
	} `yaml:"comparisons"`
}

// ParseConstitution decodes a constitution file. It reads synthkit's own
// format (YAML or JSON):
//
//	principles:
//	  - name: honest
//	    critique: Point out claims that are likely false …
//	    revision: Rewrite the answer so that …
//	    compare: Which reply is more truthful?     # optional, for RLAIF
//	examples:                                      # optional few-shot traces
//	  - {principle: honest, prompt: …, response: …, critique: …, revision: …}
//	comparisons:                                   # optional, for RLAIF
//	  - {prompt: …, better: …, worse: …}
//
// and, unchanged, the files published with the Constitutional AI paper:
// the critique/revision instructions (a JSON object of named principles,
// each {"prompt": [critique requests], "edit_request": revision request};
// one principle per critique request), the RL comparison principles (a
// JSON list of instructions), and the two few-shot files (a list of
// Human/Assistant transcripts with CritiqueRequest/Critique/
// RevisionRequest/Revision sections, and a list of {prompt, corrects,
// incorrects}). Their "CritiqueRequest:"-style labels, leading newlines and
// trailing "Options:" are stripped: synthkit puts the requests into chat
// turns of its own.
func ParseConstitution(name string, data []byte) (*Constitution, error) {
	top, err := yamlfile.Node(name, data)
	if err != nil {
		return nil, err
	}
	if c, ok, err := parsePaperFormat(name, top); ok || err != nil {
		if err != nil {
			return nil, err
		}
		c.Sources = []string{name}
		return c, nil
	}
	var f constitutionFile
	if err := yamlfile.Decode(name, data, &f); err != nil {
		return nil, err
	}
	if top.Kind != yaml.MappingNode {
		return nil, yamlfile.Errorf(name, top.Line, "a constitution is a mapping with a principles: list")
	}
	c := &Constitution{Sources: []string{name}}
	plist := nodeValue(top, "principles")
	if plist == nil || len(f.Principles) == 0 {
		return nil, yamlfile.Errorf(name, top.Line, "no principles: the file needs a principles: list, each with name, critique and revision")
	}
	seen := map[string]int{}
	for i, p := range f.Principles {
		item := plist.Content[i]
		line := func(key string) int {
			if v := nodeValue(item, key); v != nil {
				return v.Line
			}
			return item.Line
		}
		pr := Principle{Name: strings.TrimSpace(p.Name), Critique: strings.TrimSpace(p.Critique),
			Revision: strings.TrimSpace(p.Revision), Compare: strings.TrimSpace(p.Compare)}
		label := fmt.Sprintf("principle %d", i+1)
		if pr.Name != "" {
			label = fmt.Sprintf("principle %q", pr.Name)
		}
		switch {
		case pr.Name == "":
			return nil, yamlfile.Errorf(name, line("name"), "principle %d has no name (name:)", i+1)
		case seen[pr.Name] > 0:
			return nil, yamlfile.Errorf(name, line("name"), "principle %q is named twice (first on line %d); names must be unique", pr.Name, seen[pr.Name])
		case pr.Critique == "" && pr.Revision == "" && pr.Compare == "":
			return nil, yamlfile.Errorf(name, item.Line, "%s has no requests: give critique and revision (and optionally compare)", label)
		case pr.Critique == "" && pr.Revision != "":
			return nil, yamlfile.Errorf(name, line("critique"), "%s has an empty or missing critique request (critique:)", label)
		case pr.Revision == "" && pr.Critique != "":
			return nil, yamlfile.Errorf(name, line("revision"), "%s has an empty or missing revision request (revision:)", label)
		}
		seen[pr.Name] = line("name")
		c.Principles = append(c.Principles, pr)
	}
	if elist := nodeValue(top, "examples"); elist != nil {
		for i, e := range f.Examples {
			line := elist.Content[i].Line
			p, ok := c.principle(strings.TrimSpace(e.Principle))
			switch {
			case !ok:
				return nil, yamlfile.Errorf(name, line, "example %d names principle %q, which is not in the file", i+1, e.Principle)
			case !p.revises():
				return nil, yamlfile.Errorf(name, line, "example %d uses principle %q, which has no critique and revision requests", i+1, p.Name)
			case strings.TrimSpace(e.Prompt) == "" || strings.TrimSpace(e.Response) == "" ||
				strings.TrimSpace(e.Critique) == "" || strings.TrimSpace(e.Revision) == "":
				return nil, yamlfile.Errorf(name, line, "example %d needs prompt, response, critique and revision, none empty", i+1)
			}
			c.Examples = append(c.Examples, CritiqueExample{Turns: []local.Message{{Role: "user", Content: strings.TrimSpace(e.Prompt)}},
				Response: strings.TrimSpace(e.Response), CritiqueRequest: p.Critique, Critique: strings.TrimSpace(e.Critique),
				RevisionRequest: p.Revision, Revision: strings.TrimSpace(e.Revision)})
		}
	}
	if clist := nodeValue(top, "comparisons"); clist != nil {
		for i, e := range f.Comparisons {
			if strings.TrimSpace(e.Prompt) == "" || strings.TrimSpace(e.Better) == "" || strings.TrimSpace(e.Worse) == "" {
				return nil, yamlfile.Errorf(name, clist.Content[i].Line, "comparison %d needs prompt, better and worse, none empty", i+1)
			}
			c.Comparisons = append(c.Comparisons, ComparisonExample{Turns: []local.Message{{Role: "user", Content: strings.TrimSpace(e.Prompt)}},
				Better: strings.TrimSpace(e.Better), Worse: strings.TrimSpace(e.Worse)})
		}
	}
	return c, nil
}

func (c *Constitution) principle(name string) (Principle, bool) {
	for _, p := range c.Principles {
		if p.Name == name {
			return p, true
		}
	}
	return Principle{}, false
}

// nodeValue returns the value of key in mapping n, or nil.
func nodeValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// scaffoldRe matches the paper's plain-text labels around a request.
var scaffoldRe = regexp.MustCompile(`^(?i:(critique|revision|edit)\s*request|critique|revision)\s*:\s*`)

// stripScaffold removes the paper's layout from a request: surrounding
// newlines, a leading "CritiqueRequest:"-style label, a trailing "Options:".
func stripScaffold(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(scaffoldRe.ReplaceAllString(s, ""))
	if t, ok := strings.CutSuffix(s, "Options:"); ok {
		s = strings.TrimSpace(t)
	}
	return s
}

// parsePaperFormat recognises the paper's published files by shape; ok is
// false for anything else (synthkit's own format).
func parsePaperFormat(name string, top *yaml.Node) (*Constitution, bool, error) {
	switch top.Kind {
	case yaml.MappingNode:
		// {"harmful0": {"prompt": [...], "edit_request": "..."}, ...}
		if len(top.Content) == 0 || nodeValue(top.Content[1], "edit_request") == nil {
			return nil, false, nil
		}
		c := &Constitution{}
		seen := map[string]bool{}
		for i := 0; i+1 < len(top.Content); i += 2 {
			key, val := top.Content[i], top.Content[i+1]
			edit := nodeValue(val, "edit_request")
			reqs := nodeValue(val, "prompt")
			if edit == nil || edit.Kind != yaml.ScalarNode || stripScaffold(edit.Value) == "" {
				return nil, true, yamlfile.Errorf(name, val.Line, "principle %q has an empty or missing edit_request", key.Value)
			}
			var list []*yaml.Node
			switch {
			case reqs != nil && reqs.Kind == yaml.SequenceNode:
				list = reqs.Content
			case reqs != nil && reqs.Kind == yaml.ScalarNode:
				list = []*yaml.Node{reqs}
			}
			if len(list) == 0 {
				return nil, true, yamlfile.Errorf(name, val.Line, "principle %q has no critique request (prompt: [...])", key.Value)
			}
			if seen[key.Value] {
				return nil, true, yamlfile.Errorf(name, key.Line, "principle %q is named twice", key.Value)
			}
			seen[key.Value] = true
			for j, r := range list {
				crit := stripScaffold(r.Value)
				if crit == "" {
					return nil, true, yamlfile.Errorf(name, r.Line, "principle %q has an empty critique request", key.Value)
				}
				n := key.Value
				if len(list) > 1 {
					n = fmt.Sprintf("%s-%d", key.Value, j+1)
				}
				c.Principles = append(c.Principles, Principle{Name: n, Critique: crit, Revision: stripScaffold(edit.Value)})
			}
		}
		return c, true, nil
	case yaml.SequenceNode:
		if len(top.Content) == 0 {
			return nil, true, yamlfile.Errorf(name, top.Line, "the list is empty")
		}
		first := top.Content[0]
		c := &Constitution{}
		switch {
		case first.Kind == yaml.ScalarNode && strings.Contains(first.Value, "CritiqueRequest:"):
			for _, n := range top.Content {
				ex, err := parsePaperTranscript(n.Value)
				if err != nil {
					return nil, true, yamlfile.Errorf(name, n.Line, "few-shot transcript: %v", err)
				}
				c.Examples = append(c.Examples, ex)
			}
		case first.Kind == yaml.ScalarNode:
			for i, n := range top.Content {
				q := stripScaffold(n.Value)
				if n.Kind != yaml.ScalarNode || q == "" {
					return nil, true, yamlfile.Errorf(name, n.Line, "comparison principle %d is empty", i+1)
				}
				c.Principles = append(c.Principles, Principle{Name: fmt.Sprintf("rl%d", i), Compare: q})
			}
		case first.Kind == yaml.MappingNode && nodeValue(first, "corrects") != nil:
			for i, n := range top.Content {
				turns, _, err := parseHH(nodeValue(n, "prompt").Value)
				good, bad := nodeValue(n, "corrects"), nodeValue(n, "incorrects")
				if err != nil || good == nil || bad == nil || len(good.Content) == 0 || len(bad.Content) == 0 {
					return nil, true, yamlfile.Errorf(name, n.Line, "comparison example %d needs a Human turn, corrects and incorrects", i+1)
				}
				c.Comparisons = append(c.Comparisons, ComparisonExample{Turns: turns,
					Better: strings.TrimSpace(good.Content[0].Value), Worse: strings.TrimSpace(bad.Content[0].Value)})
			}
		default:
			return nil, false, nil
		}
		return c, true, nil
	}
	return nil, false, nil
}

var hhRe = regexp.MustCompile(`\n\n(Human|Assistant|CritiqueRequest|Critique|RevisionRequest|Revision):`)

// parseHH splits a "\n\nHuman: …\n\nAssistant: …" transcript into chat
// turns and the labelled sections that follow them.
func parseHH(s string) (turns []local.Message, sections map[string]string, err error) {
	s = "\n\n" + strings.TrimLeft(s, "\n")
	locs := hhRe.FindAllStringSubmatchIndex(s, -1)
	sections = map[string]string{}
	for i, l := range locs {
		label := s[l[2]:l[3]]
		end := len(s)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		text := strings.TrimSpace(s[l[1]:end])
		switch label {
		case "Human":
			if text != "" {
				turns = append(turns, local.Message{Role: "user", Content: text})
			}
		case "Assistant":
			if text != "" {
				turns = append(turns, local.Message{Role: "assistant", Content: text})
			}
		default:
			sections[label] = text
		}
	}
	if len(turns) == 0 || turns[0].Role != "user" {
		return nil, nil, fmt.Errorf("no Human turn")
	}
	return turns, sections, nil
}

// parsePaperTranscript reads one critique→revision few-shot transcript.
func parsePaperTranscript(s string) (CritiqueExample, error) {
	turns, sec, err := parseHH(s)
	if err != nil {
		return CritiqueExample{}, err
	}
	if len(turns) < 2 || turns[len(turns)-1].Role != "assistant" {
		return CritiqueExample{}, fmt.Errorf("no Assistant answer before the critique")
	}
	ex := CritiqueExample{Turns: turns[:len(turns)-1], Response: turns[len(turns)-1].Content,
		CritiqueRequest: sec["CritiqueRequest"], Critique: sec["Critique"],
		RevisionRequest: sec["RevisionRequest"], Revision: sec["Revision"]}
	if ex.CritiqueRequest == "" || ex.Critique == "" || ex.RevisionRequest == "" || ex.Revision == "" {
		return CritiqueExample{}, fmt.Errorf("needs CritiqueRequest, Critique, RevisionRequest and Revision sections")
	}
	return ex, nil
}

// MarshalConstitution writes c in synthkit's own format (YAML).
func MarshalConstitution(c *Constitution) ([]byte, error) {
	type p struct {
		Name     string `yaml:"name"`
		Critique string `yaml:"critique,omitempty"`
		Revision string `yaml:"revision,omitempty"`
		Compare  string `yaml:"compare,omitempty"`
	}
	var f struct {
		Principles []p `yaml:"principles"`
	}
	for _, q := range c.Principles {
		f.Principles = append(f.Principles, p(q))
	}
	return yaml.Marshal(f)
}
