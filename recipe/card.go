package recipe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"synthkit/export"
)

// CardConfig is one config (Hub subset) of the combined card: a config of
// one stage, under the name <stage>_<config>.
type CardConfig struct {
	Name    string
	Stage   string
	Config  string // the config's name in the stage's own card
	Default bool
	Rows    int64
	// Paths are the data_files patterns, relative to the out folder.
	Paths map[string]string // split → pattern
}

// stageCard is what the combined card takes from a stage's own card
// (README.md front matter) and run.json.
type stageCard struct {
	stage    *Stage
	man      *export.Manifest
	configs  []cardConfigEntry
	info     map[string]*yaml.Node // config name → its dataset_info entry
	tags     []string
	defaultC string
}

type cardConfigEntry struct {
	Name      string `yaml:"config_name"`
	Default   bool   `yaml:"default"`
	DataFiles []struct {
		Split string `yaml:"split"`
		Path  string `yaml:"path"`
	} `yaml:"data_files"`
}

// frontMatter is the part of a stage card the combined card uses (other
// keys are ignored).
type frontMatter struct {
	Tags        []string          `yaml:"tags"`
	Configs     []cardConfigEntry `yaml:"configs"`
	DatasetInfo []yaml.Node       `yaml:"dataset_info"`
}

// readStageCard reads a finished stage's card; ok is false when the stage
// has none (not exported).
func readStageCard(r *Recipe, s *Stage) (*stageCard, bool, error) {
	dir := s.RunDir(r.Out)
	data, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	fm, ok := frontMatterOf(data)
	if !ok {
		return nil, false, fmt.Errorf("%s: the card has no YAML front matter", filepath.Join(dir, "README.md"))
	}
	var f frontMatter
	if err := yaml.Unmarshal(fm, &f); err != nil {
		return nil, false, fmt.Errorf("%s: %w", filepath.Join(dir, "README.md"), err)
	}
	man, err := export.ReadManifest(dir)
	if err != nil {
		return nil, false, err
	}
	sc := &stageCard{stage: s, man: man, configs: f.Configs, info: map[string]*yaml.Node{}, tags: f.Tags}
	for i := range f.DatasetInfo {
		n := &f.DatasetInfo[i]
		var head struct {
			Name string `yaml:"config_name"`
		}
		if err := n.Decode(&head); err == nil {
			sc.info[head.Name] = n
		}
	}
	for _, c := range f.Configs {
		if c.Default {
			sc.defaultC = c.Name
		}
	}
	return sc, true, nil
}

// frontMatterOf returns the YAML between a card's leading --- lines.
func frontMatterOf(card []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(card, []byte("---\n"))
	if !ok {
		return nil, false
	}
	i := bytes.Index(rest, []byte("\n---\n"))
	if i < 0 {
		return nil, false
	}
	return rest[:i+1], true
}

// rowsOf reads num_examples of the train split from a dataset_info entry.
func rowsOf(n *yaml.Node) int64 {
	if n == nil {
		return 0
	}
	var v struct {
		Splits []struct {
			Name     string `yaml:"name"`
			Examples int64  `yaml:"num_examples"`
		} `yaml:"splits"`
	}
	if n.Decode(&v) != nil {
		return 0
	}
	var total int64
	for _, s := range v.Splits {
		total += s.Examples
	}
	return total
}

// WriteCard writes the combined dataset card, README.md in the out
// folder: one config per config of every exported stage, named
// <stage>_<config> and pointing at the stage's own Parquet files, so the
// whole folder loads (and uploads) as one Hub dataset. The default config
// is the default config of the last stage: the recipe's end product.
// sets are the --set values, for the reproduce line.
func WriteCard(r *Recipe, sets map[string]string) ([]CardConfig, error) {
	var cards []*stageCard
	var missing []string
	for _, s := range r.Stages {
		sc, ok, err := readStageCard(r, s)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, s.Name)
			continue
		}
		cards = append(cards, sc)
	}
	var configs []CardConfig
	var info []*yaml.Node
	tags := []string{"synthetic", "synthkit", "ollama", "recipe"}
	for i, sc := range cards {
		for _, c := range sc.configs {
			cc := CardConfig{Name: sc.stage.Name + "_" + c.Name, Stage: sc.stage.Name, Config: c.Name,
				Default: i == len(cards)-1 && c.Name == sc.defaultC, Rows: rowsOf(sc.info[c.Name]), Paths: map[string]string{}}
			for _, df := range c.DataFiles {
				cc.Paths[df.Split] = path.Join(sc.stage.Name, df.Path)
			}
			configs = append(configs, cc)
			if n := sc.info[c.Name]; n != nil {
				info = append(info, renamed(n, cc.Name))
			}
		}
		for _, t := range sc.tags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
	}
	if len(configs) == 0 {
		return nil, fmt.Errorf("no stage of %s has exported data to describe", r.File)
	}
	data, err := renderCard(r, cards, configs, info, tags, missing, sets)
	if err != nil {
		return nil, err
	}
	return configs, writeAtomic(filepath.Join(r.Out, "README.md"), data)
}

// renamed copies a dataset_info entry with another config_name.
func renamed(n *yaml.Node, name string) *yaml.Node {
	var c yaml.Node
	b, _ := yaml.Marshal(n)
	_ = yaml.Unmarshal(b, &c)
	m := &c
	if m.Kind == yaml.DocumentNode {
		m = m.Content[0]
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "config_name" {
			m.Content[i+1].Value = name
			m.Content[i+1].Style = yaml.DoubleQuotedStyle
		}
	}
	return m
}

func renderCard(r *Recipe, cards []*stageCard, configs []CardConfig, info []*yaml.Node, tags, missing []string, sets map[string]string) ([]byte, error) {
	license := r.License
	if license == "" {
		license = "apache-2.0"
	}
	var defRows int64
	for _, c := range configs {
		if c.Default {
			defRows = c.Rows
		}
	}
	type dataFile struct {
		Split string `yaml:"split"`
		Path  string `yaml:"path"`
	}
	type config struct {
		Name      string     `yaml:"config_name"`
		Default   bool       `yaml:"default,omitempty"`
		DataFiles []dataFile `yaml:"data_files"`
	}
	front := struct {
		PrettyName     string       `yaml:"pretty_name"`
		License        string       `yaml:"license"`
		TaskCategories []string     `yaml:"task_categories"`
		Tags           []string     `yaml:"tags"`
		SizeCategories []string     `yaml:"size_categories"`
		Configs        []config     `yaml:"configs"`
		DatasetInfo    []*yaml.Node `yaml:"dataset_info,omitempty"`
	}{PrettyName: r.Name, License: license, TaskCategories: []string{"text-generation"}, Tags: tags,
		SizeCategories: []string{export.SizeCategory(defRows)}, DatasetInfo: info}
	for _, c := range configs {
		cf := config{Name: c.Name, Default: c.Default}
		for _, split := range slices.Sorted(maps.Keys(c.Paths)) {
			cf.DataFiles = append(cf.DataFiles, dataFile{split, c.Paths[split]})
		}
		front.Configs = append(front.Configs, cf)
	}
	var b bytes.Buffer
	b.WriteString("---\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(front); err != nil {
		return nil, err
	}
	enc.Close()
	b.WriteString("---\n\n")

	fmt.Fprintf(&b, "# %s\n\n", r.Name)
	if r.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(r.Description))
	}
	fmt.Fprintf(&b, "Synthetic data made locally with Ollama models by `synthkit run` from a recipe of %d stages. "+
		"Each stage is a synthkit run in its own folder, with its own card (models and their digests, options, "+
		"prompt-template hashes, counts and rejection reasons) and run.json.\n\n", len(r.Stages))

	b.WriteString("## Stages\n\n| stage | command | method | models | reads | rows | card |\n|---|---|---|---|---|---:|---|\n")
	for _, sc := range cards {
		var models []string
		for _, m := range sc.man.Models {
			models = append(models, fmt.Sprintf("`%s` (%s)", m.Name, m.Role))
		}
		reads := strings.Join(sc.stage.Reads, ", ")
		if reads == "" {
			reads = "—"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s | %d | [%s/README.md](%s/README.md) |\n", sc.stage.Name, sc.stage.Command,
			sc.man.Method, strings.Join(models, ", "), reads, sc.man.Counts.Accepted, sc.stage.Name, sc.stage.Name)
	}
	for _, m := range missing {
		fmt.Fprintf(&b, "| `%s` | | | | | | not exported yet |\n", m)
	}

	b.WriteString("\n## Configs\n\n| config | stage | folder | rows |\n|---|---|---|---:|\n")
	for _, c := range configs {
		name := "`" + c.Name + "`"
		if c.Default {
			name += " (default)"
		}
		fmt.Fprintf(&b, "| %s | `%s` (its `%s`) | `%s` | %d |\n", name, c.Stage, c.Config, path.Dir(c.Paths["train"]), c.Rows)
	}
	b.WriteString("\n```python\nfrom datasets import load_dataset\n\n")
	for _, c := range configs {
		fmt.Fprintf(&b, "%s = load_dataset(\"USER/NAME\", %q, split=\"train\")\n", strings.ReplaceAll(c.Name, "-", "_"), c.Name)
	}
	b.WriteString("```\n\n")

	b.WriteString("## Recipe\n\n")
	if len(r.Vars) > 0 {
		b.WriteString("Variables as run:\n\n| variable | value |\n|---|---|\n")
		for _, k := range slices.Sorted(maps.Keys(r.Vars)) {
			v, _ := json.Marshal(r.Vars[k])
			fmt.Fprintf(&b, "| `%s` | `%s` |\n", k, strings.ReplaceAll(string(v), "`", "'"))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "````yaml\n%s\n````\n\n", strings.TrimRight(string(r.Source), "\n"))
	b.WriteString("## Reproduce\n\n```sh\nsynthkit run " + filepath.Base(r.File))
	for _, k := range slices.Sorted(maps.Keys(sets)) {
		fmt.Fprintf(&b, " --set %s", shellWord(k+"="+sets[k]))
	}
	b.WriteString("\n```\n\nRunning the same command again resumes every stage that did not finish.\n\n")
	b.WriteString("## License\n\n")
	fmt.Fprintf(&b, "This card declares the dataset's license as `%s`. The rows were written by the models listed in "+
		"each stage's card, whose licenses and terms of use also apply to their outputs.\n", license)
	return b.Bytes(), nil
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=:./,@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
