package prompts

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"synthkit/diversity"
	"synthkit/prompts/yamlfile"
)

// MaxAxisLabels bounds the labels of one axis: the judge reads them as
// lettered options (A–Z) when labels come from log-probabilities.
const MaxAxisLabels = 26

// MaxAxes bounds how many axes an archive has.
const MaxAxes = 5

// DefaultQDAxes are the built-in axes of an instruction archive: what the
// instruction is about, what kind of task it is, and how hard it is
// (8 × 6 × 3 = 144 cells).
func DefaultQDAxes() []diversity.Axis {
	return []diversity.Axis{
		{Name: "domain", Description: "the field the instruction is about",
			Labels: []string{"science", "technology and computing", "mathematics", "history and society", "arts and literature",
				"health and medicine", "business and finance", "everyday life"}},
		{Name: "task_type", Description: "what the instruction asks the assistant to do",
			Labels: []string{"factual question", "explanation", "creative writing", "editing or rewriting", "problem solving", "advice or planning"}},
		{Name: "difficulty", Description: "how much knowledge and reasoning a good answer takes", Ordinal: true,
			Labels: []string{"easy", "medium", "hard"}},
	}
}

// axesFile is the --axes file:
//
//	axes:
//	  - name: domain
//	    description: the field the instruction is about   # optional, shown to the judge
//	    labels: [science, history, cooking]
//	  - name: difficulty
//	    ordinal: true                                      # labels are in order
//	    labels: [easy, medium, hard]
type axesFile struct {
	Axes []struct {
		Name        string   `yaml:"name"`
		Description string   `yaml:"description"`
		Labels      []string `yaml:"labels"`
		Ordinal     bool     `yaml:"ordinal"`
	} `yaml:"axes"`
}

// LoadAxes reads an --axes file (YAML or JSON). Its errors name the file
// and line ([*yamlfile.Error]).
func LoadAxes(path string) ([]diversity.Axis, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &yamlfile.Error{File: path, Msg: fmt.Sprintf("couldn't read the axes: %v", err)}
	}
	return ParseAxes(path, data)
}

// ParseAxes decodes and checks axes: 1 to [MaxAxes] axes, each named with
// letters, digits and underscores, with 2 to [MaxAxisLabels] distinct
// labels, at most [diversity.MaxArchiveCells] cells in all.
func ParseAxes(name string, data []byte) ([]diversity.Axis, error) {
	var f axesFile
	if err := yamlfile.Decode(name, data, &f); err != nil {
		return nil, err
	}
	top, err := yamlfile.Node(name, data)
	if err != nil {
		return nil, err
	}
	var items []*yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "axes" && top.Content[i+1].Kind == yaml.SequenceNode {
			items = top.Content[i+1].Content
		}
	}
	line := func(i int, key string) int {
		if i >= len(items) {
			return top.Line
		}
		it := items[i]
		for j := 0; j+1 < len(it.Content); j += 2 {
			if it.Content[j].Value == key {
				return it.Content[j].Line
			}
		}
		return it.Line
	}
	switch {
	case len(f.Axes) == 0:
		return nil, yamlfile.Errorf(name, top.Line, "no axes: give a list under axes:, each with a name and labels")
	case len(f.Axes) > MaxAxes:
		return nil, yamlfile.Errorf(name, line(MaxAxes, "name"), "%d axes; at most %d (each one multiplies the cells to fill)", len(f.Axes), MaxAxes)
	}
	out := make([]diversity.Axis, 0, len(f.Axes))
	seen := map[string]bool{}
	cells := 1
	for i, a := range f.Axes {
		if !isAspectName(a.Name) {
			return nil, yamlfile.Errorf(name, line(i, "name"), "axis %d needs a name of letters, digits and underscores (got %q)", i+1, a.Name)
		}
		if seen[a.Name] {
			return nil, yamlfile.Errorf(name, line(i, "name"), "axis %q is named twice", a.Name)
		}
		seen[a.Name] = true
		if len(a.Labels) < 2 || len(a.Labels) > MaxAxisLabels {
			return nil, yamlfile.Errorf(name, line(i, "labels"), "axis %q has %d labels; give 2 to %d", a.Name, len(a.Labels), MaxAxisLabels)
		}
		labels := map[string]bool{}
		ax := diversity.Axis{Name: a.Name, Description: strings.TrimSpace(a.Description), Ordinal: a.Ordinal}
		for _, l := range a.Labels {
			l = strings.Join(strings.Fields(l), " ")
			switch {
			case l == "":
				return nil, yamlfile.Errorf(name, line(i, "labels"), "axis %q has an empty label", a.Name)
			case len(l) > 60:
				return nil, yamlfile.Errorf(name, line(i, "labels"), "axis %q: label %.20q… is longer than 60 characters; a label is a few words", a.Name, l)
			case labels[strings.ToLower(l)]:
				return nil, yamlfile.Errorf(name, line(i, "labels"), "axis %q has the label %q twice", a.Name, l)
			}
			labels[strings.ToLower(l)] = true
			ax.Labels = append(ax.Labels, l)
		}
		if cells *= len(ax.Labels); cells > diversity.MaxArchiveCells {
			return nil, yamlfile.Errorf(name, line(i, "labels"), "the axes make more than %d cells; use fewer axes or labels", diversity.MaxArchiveCells)
		}
		out = append(out, ax)
	}
	return out, nil
}

// AxesHash identifies axes for resume: another set of axes is another
// archive.
func AxesHash(axes []diversity.Axis) string {
	raw, _ := json.Marshal(axes)
	return TextHash(string(raw))
}
