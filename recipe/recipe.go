// Package recipe reads synthkit recipes: YAML files that chain the
// generating commands (instruct, respond, prefer, critique) as named
// stages, each stage's options spelled like the command's flags. It
// parses and checks a recipe (every error names file:line), orders the
// stages by what they read, remembers which stages finished, and writes
// the combined dataset card over the stages' run directories.
//
// A recipe cannot run shell commands: a stage names a synthkit command
// and its options, nothing else. Turning options into a command's flags
// is the CLI's job (cmd/synthkit), so one set of checks serves both.
package recipe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"synthkit/prompts/yamlfile"
)

// Commands are the commands a stage may run.
var Commands = []string{"instruct", "respond", "prefer", "critique"}

// InputKeys are the options that read records; their value may name an
// earlier stage, which then runs first and feeds its run directory.
var InputKeys = []string{"prompts", "completions", "responses", "label-pairs"}

// pathKeys are options whose value is a file (or a comma list of files):
// relative paths are taken from the recipe's folder, like the inputs.
var pathKeys = map[string]bool{"seeds": true, "rubric": true, "constitution": true, "system-pool": true, "axes": true}

// builtinValues are values of path options that name something built in,
// not a file.
var builtinValues = map[string]bool{"orca": true}

// Recipe is a parsed, checked recipe.
type Recipe struct {
	// File is the recipe's path as given; errors name it.
	File string
	// Dir is the folder relative paths in the recipe are taken from.
	Dir string
	// Name is the dataset's pretty name (default: the file's base name).
	Name string
	// Description is free text for the combined card.
	Description string
	// Out is the output folder: one run directory per stage under it.
	Out string
	// License is the dataset card license every stage defaults to.
	License string
	// Vars are the variables after --set, by name.
	Vars map[string]string
	// Stages are in run order: every stage after the stages it reads.
	Stages []*Stage
	// Source is the recipe file's text.
	Source []byte
}

// Stage is one step: a command with its options.
type Stage struct {
	Name    string
	Command string
	Line    int // the line of the stage's name
	// Options are the stage's keys other than command, in file order.
	Options []Option
	// Reads names the stages whose output this stage reads.
	Reads []string
}

// Option is one key of a stage, its value with variables substituted and
// paths resolved, as the command's flag would be given.
type Option struct {
	Key   string
	Value string
	Line  int
	// List is set when the recipe gave a list (joined with commas).
	List bool
	// Stage is set when the value names a stage (an input key).
	Stage string
}

// Get returns the value of key and whether the stage sets it.
func (s *Stage) Get(key string) (string, bool) {
	for _, o := range s.Options {
		if o.Key == key {
			return o.Value, true
		}
	}
	return "", false
}

// RunDir is the stage's run directory under out.
func (s *Stage) RunDir(out string) string { return filepath.Join(out, s.Name) }

var (
	stageNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	varNameRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	varRefRe    = regexp.MustCompile(`\$\{([^}]*)\}`)
)

// topKeys are the keys a recipe's top level may have.
var topKeys = []string{"name", "description", "out", "license", "vars", "stages"}

// Load reads and checks a recipe file; sets are the --set name=value
// overrides of its variables.
func Load(path string, sets map[string]string) (*Recipe, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &yamlfile.Error{File: path, Msg: fmt.Sprintf("cannot read the recipe: %v", err)}
	}
	return Parse(path, data, sets)
}

// Parse checks a recipe's text; name labels errors and its folder is
// where relative paths start.
func Parse(name string, data []byte, sets map[string]string) (*Recipe, error) {
	doc, err := yamlfile.Node(name, data)
	if err != nil {
		return nil, flowHint(err, data)
	}
	root := deref(doc)
	if root.Kind != yaml.MappingNode {
		return nil, yamlfile.Errorf(name, root.Line, "a recipe is a mapping with stages: (see `synthkit run --help`)")
	}
	p := &parser{file: name, r: &Recipe{File: name, Dir: filepath.Dir(name), Source: data, Vars: map[string]string{}}}
	return p.parse(root, sets)
}

type parser struct {
	file string
	r    *Recipe
}

func (p *parser) errf(line int, format string, args ...any) error {
	return yamlfile.Errorf(p.file, line, format, args...)
}

func (p *parser) parse(root *yaml.Node, sets map[string]string) (*Recipe, error) {
	fields, err := p.mapping(root, "the recipe")
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if !slices.Contains(topKeys, f.key) {
			return nil, p.errf(f.line, "unknown key %q at the top of the recipe (keys: %s)", f.key, strings.Join(topKeys, ", "))
		}
	}
	// Variables come first: every other value may use them.
	if v := find(fields, "vars"); v != nil {
		if err := p.vars(v, sets); err != nil {
			return nil, err
		}
	} else if len(sets) > 0 {
		return nil, p.unknownSet(sets)
	}
	base := strings.TrimSuffix(filepath.Base(p.file), filepath.Ext(p.file))
	p.r.Name, p.r.Out = base, filepath.Join("out", base)
	for _, f := range fields {
		var dst *string
		switch f.key {
		case "name":
			dst = &p.r.Name
		case "description":
			dst = &p.r.Description
		case "out":
			dst = &p.r.Out
		case "license":
			dst = &p.r.License
		default:
			continue
		}
		s, err := p.scalar(f, f.key)
		if err != nil {
			return nil, err
		}
		*dst = s
	}
	st := find(fields, "stages")
	if st == nil {
		return nil, p.errf(root.Line, "the recipe has no stages: add a stages: mapping of name → {command: …, options}")
	}
	if err := p.stages(st); err != nil {
		return nil, err
	}
	return p.r, order(p.r)
}

// field is a key of a mapping with its value.
type field struct {
	key  string
	line int
	val  *yaml.Node
}

func find(fs []field, key string) *field {
	for i := range fs {
		if fs[i].key == key {
			return &fs[i]
		}
	}
	return nil
}

// mapping lists a mapping's keys in order, refusing a key given twice.
func (p *parser) mapping(n *yaml.Node, what string) ([]field, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n.Line, "%s should be a mapping of key: value", what)
	}
	var out []field
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			return nil, p.errf(k.Line, "a key in %s should be a plain name", what)
		}
		if prev, dup := seen[k.Value]; dup {
			return nil, p.errf(k.Line, "%q is given twice in %s (first on line %d)", k.Value, what, prev)
		}
		seen[k.Value] = k.Line
		out = append(out, field{key: k.Value, line: k.Line, val: n.Content[i+1]})
	}
	return out, nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (p *parser) vars(f *field, sets map[string]string) error {
	fields, err := p.mapping(f.val, "vars")
	if err != nil {
		return err
	}
	for _, v := range fields {
		if !varNameRe.MatchString(v.key) {
			return p.errf(v.line, "variable name %q: use letters, digits and _", v.key)
		}
		n := deref(v.val)
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			return p.errf(v.line, "variable %s should have one value (its default)", v.key)
		}
		if strings.Contains(n.Value, "${") {
			return p.errf(v.line, "variable %s: a default cannot use other variables", v.key)
		}
		p.r.Vars[v.key] = n.Value
	}
	unknown := map[string]string{}
	for k, v := range sets {
		if _, ok := p.r.Vars[k]; !ok {
			unknown[k] = v
			continue
		}
		p.r.Vars[k] = v
	}
	if len(unknown) > 0 {
		return p.unknownSet(unknown)
	}
	return nil
}

func (p *parser) unknownSet(sets map[string]string) error {
	var names []string
	for k := range sets {
		names = append(names, k)
	}
	slices.Sort(names)
	have := make([]string, 0, len(p.r.Vars))
	for k := range p.r.Vars {
		have = append(have, k)
	}
	slices.Sort(have)
	list := "it declares none (add a vars: mapping)"
	if len(have) > 0 {
		list = "its variables: " + strings.Join(have, ", ")
	}
	return &yamlfile.Error{File: p.file, Msg: fmt.Sprintf("--set %s: the recipe has no such variable (%s)", strings.Join(names, ", "), list)}
}

// scalar returns a one-value field with variables substituted.
func (p *parser) scalar(f field, what string) (string, error) {
	n := deref(f.val)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return "", p.errf(f.line, "%s has no value", what)
	case n.Kind == yaml.SequenceNode:
		return "", p.errf(f.line, "%s takes one value, not a list", what)
	case n.Kind != yaml.ScalarNode:
		return "", p.errf(f.line, "%s takes one value, not a mapping", what)
	}
	return p.expand(n.Value, n.Line)
}

// expand substitutes ${name} with the variable's value.
func (p *parser) expand(s string, line int) (string, error) {
	var bad error
	out := varRefRe.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := p.r.Vars[name]
		if !ok && bad == nil {
			bad = p.errf(line, "${%s} is not a variable of the recipe (declare it under vars:)", name)
		}
		return v
	})
	return out, bad
}

func (p *parser) stages(f *field) error {
	fields, err := p.mapping(f.val, "stages")
	if err != nil {
		return err
	}
	if len(fields) == 0 {
		return p.errf(f.line, "stages is empty: add at least one stage")
	}
	for _, sf := range fields {
		s, err := p.stage(sf)
		if err != nil {
			return err
		}
		p.r.Stages = append(p.r.Stages, s)
	}
	return nil
}

func (p *parser) stage(sf field) (*Stage, error) {
	if !stageNameRe.MatchString(sf.key) || sf.key == "." || sf.key == ".." {
		return nil, p.errf(sf.line, "stage name %q: use letters, digits, - and _ (it names the stage's folder and its configs)", sf.key)
	}
	s := &Stage{Name: sf.key, Line: sf.line}
	fields, err := p.mapping(sf.val, fmt.Sprintf("stage %s", sf.key))
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if f.key == "command" {
			if s.Command, err = p.scalar(f, "command"); err != nil {
				return nil, err
			}
			if !slices.Contains(Commands, s.Command) {
				return nil, p.errf(f.line, "stage %s: unknown command %q: a stage runs one of %s (a recipe cannot run shell commands)",
					s.Name, s.Command, strings.Join(Commands, ", "))
			}
			continue
		}
		o, err := p.option(f)
		if err != nil {
			return nil, err
		}
		s.Options = append(s.Options, o)
	}
	if s.Command == "" {
		return nil, p.errf(sf.line, "stage %s has no command: add command: %s", s.Name, strings.Join(Commands, "|"))
	}
	return s, nil
}

// option reads one option: a value, or a list of values (given to the
// flag with commas, as on the command line).
func (p *parser) option(f field) (Option, error) {
	n := deref(f.val)
	o := Option{Key: f.key, Line: f.line}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return o, p.errf(f.line, "%s has no value", f.key)
	case n.Kind == yaml.ScalarNode:
		v, err := p.expand(n.Value, n.Line)
		if err != nil {
			return o, err
		}
		o.Value = v
	case n.Kind == yaml.SequenceNode:
		var vals []string
		for _, it := range n.Content {
			it = deref(it)
			if it.Kind != yaml.ScalarNode || it.Tag == "!!null" {
				return o, p.errf(it.Line, "%s: a list of plain values, please", f.key)
			}
			v, err := p.expand(it.Value, it.Line)
			if err != nil {
				return o, err
			}
			if strings.Contains(v, ",") {
				return o, p.errf(it.Line, "%s: %q has a comma, which separates list items", f.key, v)
			}
			vals = append(vals, v)
		}
		if len(vals) == 0 {
			return o, p.errf(f.line, "%s is an empty list", f.key)
		}
		o.Value, o.List = strings.Join(vals, ","), true
	default:
		return o, p.errf(f.line, "%s takes a value or a list, not a mapping", f.key)
	}
	return o, nil
}

// flowHint adds the likely fix to a syntax error on a line that puts a
// ${variable} inside a [flow, list], where YAML reads { as a mapping.
func flowHint(err error, data []byte) error {
	var ye *yamlfile.Error
	if !errors.As(err, &ye) || ye.Line < 1 {
		return err
	}
	// yaml may report the line before the one at fault.
	lines := strings.Split(string(data), "\n")
	for _, l := range lines[ye.Line-1 : min(ye.Line+1, len(lines))] {
		if strings.Contains(l, "[") && strings.Contains(l, "${") {
			ye.Msg += ` (inside [ ], quote variables: ["${model}", other])`
			break
		}
	}
	return ye
}
