package recipe

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"synthkit/prompts/yamlfile"
)

// order resolves what each stage reads (an earlier stage, or a file
// relative to the recipe) and puts the stages in run order: a stage runs
// after every stage it reads, otherwise in file order. A stage reading a
// stage that does not exist, a missing file and a cycle are errors at the
// line that causes them.
func order(r *Recipe) error {
	byName := map[string]*Stage{}
	index := map[string]int{}
	var names []string
	for i, s := range r.Stages {
		byName[s.Name] = s
		index[s.Name] = i
		names = append(names, s.Name)
	}
	for _, s := range r.Stages {
		for i := range s.Options {
			o := &s.Options[i]
			switch {
			case slices.Contains(InputKeys, o.Key):
				if _, ok := byName[o.Value]; ok {
					o.Stage = o.Value
					if !slices.Contains(s.Reads, o.Value) {
						s.Reads = append(s.Reads, o.Value)
					}
					continue
				}
				p, ok := r.resolvePath(o.Value)
				if !ok {
					return yamlfile.Errorf(r.File, o.Line, "stage %s: %s: %q is neither a stage of this recipe (stages: %s) nor a file",
						s.Name, o.Key, o.Value, strings.Join(names, ", "))
				}
				o.Value = p
			case pathKeys[o.Key] && !builtinValues[o.Value]:
				var parts []string
				for _, item := range strings.Split(o.Value, ",") {
					item = strings.TrimSpace(item)
					p, ok := r.resolvePath(item)
					if !ok {
						return yamlfile.Errorf(r.File, o.Line, "stage %s: %s: no file %s", s.Name, o.Key, p)
					}
					parts = append(parts, p)
				}
				o.Value = strings.Join(parts, ",")
			}
		}
	}
	// Depth-first from each stage in file order; a stage on the current
	// path seen again is a cycle.
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var sorted []*Stage
	var visit func(s *Stage, path []string) error
	visit = func(s *Stage, path []string) error {
		switch state[s.Name] {
		case done:
			return nil
		case active:
			// The error points at the option that closes the cycle.
			i := slices.Index(path, s.Name)
			cycle := append(slices.Clone(path[i:]), s.Name)
			reader, line := byName[path[len(path)-1]], s.Line
			for _, o := range reader.Options {
				if o.Stage == s.Name {
					line = o.Line
				}
			}
			return yamlfile.Errorf(r.File, line, "stages read each other in a cycle: %s", strings.Join(cycle, " reads "))
		}
		state[s.Name] = active
		// What a stage reads runs in file order too.
		deps := slices.Clone(s.Reads)
		slices.SortFunc(deps, func(a, b string) int { return index[a] - index[b] })
		for _, dep := range deps {
			if err := visit(byName[dep], append(path, s.Name)); err != nil {
				return err
			}
		}
		state[s.Name] = done
		sorted = append(sorted, s)
		return nil
	}
	for _, s := range r.Stages {
		if err := visit(s, nil); err != nil {
			return err
		}
	}
	r.Stages = sorted
	return nil
}

// resolvePath takes a relative path from the recipe's folder and says
// whether it exists ("-", standard input, always does; a glob must match).
func (r *Recipe) resolvePath(p string) (string, bool) {
	if p == "-" {
		return p, true
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.Dir, p)
	}
	if strings.ContainsAny(p, "*?[") {
		m, err := filepath.Glob(p)
		return p, err == nil && len(m) > 0
	}
	_, err := os.Stat(p)
	return p, err == nil
}

// Stage returns the stage named name (nil if none).
func (r *Recipe) Stage(name string) *Stage {
	for _, s := range r.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}
