package inputs

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

type fileRef struct {
	path string // to open
	rel  string // its name in the hash: relative to the folder, or as given
}

type resolved struct {
	run   string // a synthkit run directory
	files []fileRef
}

// resolve turns the path the user gave into a run directory or a list of
// files: the file itself, the files a glob matches, or a dataset folder's
// files for opts.Config and opts.Split.
func resolve(p string, opts Options) (resolved, error) {
	st, err := os.Stat(p)
	switch {
	case err == nil && st.IsDir():
		if _, err := os.Stat(filepath.Join(p, "journal")); err == nil {
			if opts.Config != "" || opts.Split != "" {
				return resolved{}, inputErrorf(Pos{File: p}, "a config or split chooses files in a dataset folder; %s is a synthkit run (its prompts are read from the journal)", p)
			}
			return resolved{run: p}, nil
		}
		files, err := folderFiles(p, opts)
		return resolved{files: files}, err
	case err == nil:
		if opts.Config != "" || opts.Split != "" {
			return resolved{}, inputErrorf(Pos{File: p}, "a config or split chooses files in a dataset folder; %s is a file", p)
		}
		return resolved{files: []fileRef{{p, filepath.Base(p)}}}, nil
	case strings.ContainsAny(p, "*?["):
		matches, gerr := filepath.Glob(p)
		if gerr != nil {
			return resolved{}, inputErrorf(Pos{File: p}, "bad pattern: %v", gerr)
		}
		var files []fileRef
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && !st.IsDir() {
				files = append(files, fileRef{m, filepath.ToSlash(m)})
			}
		}
		if len(files) == 0 {
			return resolved{}, inputErrorf(Pos{File: p}, "no file matches the pattern")
		}
		return resolved{files: files}, nil
	}
	return resolved{}, openError(p, err)
}

// dataExts are the file names a dataset folder's data files have.
var dataExts = map[string]bool{
	".parquet": true, ".jsonl": true, ".ndjson": true, ".json": true,
	".csv": true, ".tsv": true, ".txt": true,
}

// folderFiles lists the data files of a dataset folder (relative, slash
// separated, sorted), skipping hidden entries (.git, .cache) and README.md.
func listData(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !dataExts[strings.ToLower(filepath.Ext(p))] {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(out)
	return out, err
}

// folderFiles picks a dataset folder's files: by the card's configs when
// README.md has them, otherwise by sub-folder (config) and file name
// (split), as `datasets` does for a folder without a card.
func folderFiles(dir string, opts Options) ([]fileRef, error) {
	all, err := listData(dir)
	if err != nil {
		return nil, openError(dir, err)
	}
	if len(all) == 0 {
		return nil, inputErrorf(Pos{File: dir}, "a folder with no data files (.parquet, .jsonl, .json, .csv, .tsv, .txt) and no synthkit run (journal/)")
	}
	card := filepath.Join(dir, "README.md")
	configs, err := cardConfigs(card)
	if err != nil {
		return nil, err
	}
	var picked []string
	if len(configs) > 0 {
		picked, err = pickByCard(dir, card, configs, all, opts)
	} else {
		picked, err = pickByLayout(dir, all, opts)
	}
	if err != nil {
		return nil, err
	}
	out := make([]fileRef, len(picked))
	for i, rel := range picked {
		out[i] = fileRef{filepath.Join(dir, filepath.FromSlash(rel)), rel}
	}
	return out, nil
}

// hubConfig is one entry of a card's `configs:`.
type hubConfig struct {
	name    string
	dflt    bool
	dataDir string
	splits  []string            // in card order
	files   map[string][]string // split → patterns
}

func pickByCard(dir, card string, configs []hubConfig, all []string, opts Options) ([]string, error) {
	var c *hubConfig
	names := make([]string, len(configs))
	for i := range configs {
		names[i] = configs[i].name
		if opts.Config != "" && configs[i].name == opts.Config {
			c = &configs[i]
		}
	}
	if opts.Config == "" {
		c = &configs[0]
		for i := range configs {
			if configs[i].dflt || (configs[i].name == "default" && !c.dflt) {
				c = &configs[i]
			}
		}
	}
	if c == nil {
		return nil, inputErrorf(Pos{File: card}, "no config %q; the card has %s", opts.Config, listNames(names))
	}
	split := opts.Split
	if split == "" {
		split = "train"
		if len(c.splits) == 1 {
			split = c.splits[0]
		}
	}
	patterns, ok := c.files[split]
	if !ok && len(c.files) == 0 {
		// data_dir only: the layout rules inside it.
		sub := path.Join(c.dataDir)
		var in []string
		for _, f := range all {
			if sub == "" || sub == "." || strings.HasPrefix(f, sub+"/") {
				in = append(in, f)
			}
		}
		return pickSplit(dir, in, split, opts.Split != "")
	}
	if !ok {
		return nil, inputErrorf(Pos{File: card}, "config %q has no split %q; it has %s", c.name, split, listNames(c.splits))
	}
	var out []string
	for _, pat := range patterns {
		pat = path.Clean(path.Join(c.dataDir, pat))
		for _, f := range all {
			if globMatch(pat, f) && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	if len(out) == 0 {
		return nil, inputErrorf(Pos{File: dir}, "config %q split %q: no file matches %s", c.name, split, listNames(patterns))
	}
	return out, nil
}

// pickByLayout chooses files without a card: Config is a sub-folder;
// otherwise every data file must sit in one folder tree (data/ when there
// is one).
func pickByLayout(dir string, all []string, opts Options) ([]string, error) {
	in := all
	if opts.Config != "" {
		in = under(all, opts.Config)
		if len(in) == 0 {
			return nil, inputErrorf(Pos{File: dir}, "no config %q: the folder has no card with configs and no data files under %s/ (folders: %s)", opts.Config, opts.Config, listNames(topDirs(all)))
		}
	} else if d := under(all, "data"); len(d) > 0 {
		in = d
	}
	return pickSplit(dir, in, opts.Split, opts.Split != "")
}

// pickSplit keeps the files named after split (train-00000-of-00001.parquet,
// train.jsonl, train/…), "train" by default; with no such file and no
// explicit split, all files, provided they are in one folder.
func pickSplit(dir string, files []string, split string, explicit bool) ([]string, error) {
	if split == "" {
		split = "train"
	}
	var out []string
	for _, f := range files {
		if inSplit(f, split) {
			out = append(out, f)
		}
	}
	if len(out) == 0 && explicit {
		return nil, inputErrorf(Pos{File: dir}, "no data file for split %q (files: %s)", split, listNames(files))
	}
	if len(out) == 0 {
		out = files
	}
	if tops := topDirs(out); len(tops) > 1 {
		return nil, inputErrorf(Pos{File: dir}, "data files in several folders (%s) and no card saying which belong together: choose one with a config", strings.Join(tops, ", "))
	}
	return out, nil
}

// inSplit tells whether a file belongs to a split by its name: a folder
// named split, or a base name of split followed by - . _ or a digit.
func inSplit(f, split string) bool {
	parts := strings.Split(f, "/")
	if slices.Contains(parts[:len(parts)-1], split) {
		return true
	}
	base := parts[len(parts)-1]
	if !strings.HasPrefix(base, split) || len(base) == len(split) {
		return false
	}
	c := base[len(split)]
	return c == '-' || c == '.' || c == '_' || (c >= '0' && c <= '9')
}

func under(files []string, dir string) []string {
	var out []string
	for _, f := range files {
		if strings.HasPrefix(f, dir+"/") {
			out = append(out, f)
		}
	}
	return out
}

// topDirs lists the first path element of files in sub-folders, and "."
// for files at the top.
func topDirs(files []string) []string {
	var out []string
	for _, f := range files {
		top := "."
		if i := strings.IndexByte(f, '/'); i >= 0 {
			top = f[:i]
		}
		if !slices.Contains(out, top) {
			out = append(out, top)
		}
	}
	return out
}

// globMatch matches a slash path against a Hub data_files pattern: * and ?
// within one path element, ** across elements.
func globMatch(pattern, name string) bool {
	return matchParts(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchParts(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchParts(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// cardConfigs reads the `configs:` of a dataset card's YAML front matter;
// none without a card or without the key.
func cardConfigs(card string) ([]hubConfig, error) {
	data, err := os.ReadFile(card)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, openError(card, err)
	}
	block, line := configsBlock(data)
	if block == nil {
		return nil, nil
	}
	v, err := parseYAML(block)
	if err != nil {
		return nil, inputErrorf(Pos{File: card, Line: int64(line)}, "couldn't read the card's configs: %v", err)
	}
	list, ok := v.(map[string]any)["configs"].([]any)
	if !ok {
		return nil, inputErrorf(Pos{File: card, Line: int64(line)}, "the card's configs is not a list")
	}
	var out []hubConfig
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, inputErrorf(Pos{File: card, Line: int64(line)}, "configs entry %d is not a mapping", i+1)
		}
		c := hubConfig{files: map[string][]string{}}
		c.name, _ = m["config_name"].(string)
		if c.name == "" {
			c.name = "default"
		}
		c.dflt = m["default"] == true
		c.dataDir, _ = m["data_dir"].(string)
		addFiles := func(split string, v any) {
			if _, ok := c.files[split]; !ok {
				c.splits = append(c.splits, split)
			}
			switch v := v.(type) {
			case string:
				c.files[split] = append(c.files[split], v)
			case []any:
				for _, s := range v {
					if s, ok := s.(string); ok {
						c.files[split] = append(c.files[split], s)
					}
				}
			}
		}
		switch df := m["data_files"].(type) {
		case string:
			addFiles("train", df)
		case []any:
			for _, e := range df {
				switch e := e.(type) {
				case string:
					addFiles("train", e)
				case map[string]any:
					split, _ := e["split"].(string)
					if split == "" {
						split = "train"
					}
					addFiles(split, e["path"])
				}
			}
		case map[string]any:
			for _, split := range sortedKeys(df) {
				addFiles(split, df[split])
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// configsBlock returns the lines of the front matter's top-level
// `configs:` key and the line it starts on; nil when there is none.
func configsBlock(data []byte) ([]string, int) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	var block []string
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if n == 1 {
			if strings.TrimSpace(line) != "---" {
				return nil, 0
			}
			continue
		}
		if strings.TrimSpace(line) == "---" {
			break
		}
		top := line != "" && line[0] != ' ' && line[0] != '-' && line[0] != '#'
		switch {
		case top && strings.HasPrefix(line, "configs:"):
			start = n
			block = append(block, line)
		case top:
			if start > 0 {
				return block, start
			}
		case start > 0:
			block = append(block, line)
		}
	}
	if start == 0 {
		return nil, 0
	}
	return block, start
}
