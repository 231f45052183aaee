package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// renderCard writes README.md: YAML front matter the Hub and `datasets`
// read (configs, features, exact num_examples), then how the data was made.
func renderCard(m *Manifest, res *ExportResult, o *ExportOptions) ([]byte, error) {
	var b strings.Builder
	b.WriteString("---\n")
	fmt.Fprintf(&b, "pretty_name: %s\n", yamlString(o.PrettyName))
	fmt.Fprintf(&b, "license: %s\n", yamlString(o.License))
	if len(o.Language) > 0 {
		yamlList(&b, "language", o.Language)
	}
	yamlList(&b, "task_categories", []string{"text-generation"})
	yamlList(&b, "tags", cardTags(m, res))
	var defRows int64
	for _, c := range res.Configs {
		if c.Default {
			defRows = c.Rows
		}
	}
	yamlList(&b, "size_categories", []string{SizeCategory(defRows)})

	b.WriteString("configs:\n")
	for _, c := range res.Configs {
		fmt.Fprintf(&b, "- config_name: %s\n", yamlString(c.Name))
		if c.Default {
			b.WriteString("  default: true\n")
		}
		b.WriteString("  data_files:\n")
		fmt.Fprintf(&b, "  - split: train\n    path: %s\n", yamlString(c.Dir+"/train-*"))
	}
	b.WriteString("dataset_info:\n")
	for _, c := range res.Configs {
		fmt.Fprintf(&b, "- config_name: %s\n", yamlString(c.Name))
		b.WriteString("  features:\n")
		writeFeaturesYAML(&b, c.features, "  ")
		b.WriteString("  splits:\n")
		fmt.Fprintf(&b, "  - name: train\n    num_bytes: %d\n    num_examples: %d\n", c.NumBytes, c.Rows)
		fmt.Fprintf(&b, "  download_size: %d\n  dataset_size: %d\n", c.DownloadSize, c.NumBytes)
	}
	b.WriteString("---\n\n")

	fmt.Fprintf(&b, "# %s\n\n", mdText(o.PrettyName))
	fmt.Fprintf(&b, "Synthetic data generated locally from Ollama models with synthkit %s (method: %s).\n\n",
		mdText(m.Version), mdCode(m.Method))

	writeConfigsSection(&b, res, o.Repo)
	writeHowMade(&b, withTables(m, o.Tables), res.Counts, exportNotes(res), o.ReasonMeanings)
	writeSamples(&b, res)

	b.WriteString("## Reproduce\n\n")
	if len(m.Command) > 0 {
		fmt.Fprintf(&b, "```sh\n%s\n```\n\n", m.CommandLine())
	}
	b.WriteString("Generation is reproducible on a best-effort basis: the command pins every model by digest and " +
		"every sampling seed, but Ollama is only bit-exact for one request at a time on the same hardware. " +
		"`synthkit export` rebuilds the same Parquet files byte for byte from the run's journal.\n\n")

	b.WriteString("## License\n\n")
	fmt.Fprintf(&b, "This card declares the dataset's own license as `%s` (set it with `--license`). ", o.License)
	b.WriteString("The rows were written by the models listed above, whose licenses and terms of use also apply " +
		"to their outputs; check them (`ollama show --license MODEL`) before you redistribute or train on this data.\n\n")

	texts := []string{m.Method}
	texts = append(texts, m.Notes...)
	for _, c := range res.Configs {
		texts = append(texts, slices.Sorted(maps.Keys(c.methods))...)
	}
	if cites := citationsFor(texts); len(cites) > 0 {
		b.WriteString("## Citations\n\nMethods used to make this dataset:\n\n")
		for _, c := range cites {
			fmt.Fprintf(&b, "- %s\n", c.name)
		}
		b.WriteString("\n```bibtex\n")
		for i, c := range cites {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(c.bibtex + "\n")
		}
		b.WriteString("```\n")
	}
	return []byte(b.String()), nil
}

// withTables returns m with the export-time tables merged into its own:
// one of the same title replaces the run's, the others follow in order.
func withTables(m *Manifest, extra []CardTable) *Manifest {
	if len(extra) == 0 {
		return m
	}
	mm := *m
	mm.Tables = slices.Clone(m.Tables)
	for _, t := range extra {
		if i := slices.IndexFunc(mm.Tables, func(x CardTable) bool { return x.Title == t.Title }); i >= 0 {
			mm.Tables[i] = t
		} else {
			mm.Tables = append(mm.Tables, t)
		}
	}
	return &mm
}

func configUseOf(name string) string {
	if s := specOf(name); s != nil {
		return s.use
	}
	return ""
}

func writeConfigsSection(b *strings.Builder, res *ExportResult, repo string) {
	b.WriteString("## Configs\n\n| config | folder | rows | files | contents |\n|---|---|---:|---:|---|\n")
	for _, c := range res.Configs {
		name := mdCode(c.Name)
		if c.Default {
			name += " (default)"
		}
		fmt.Fprintf(b, "| %s | `%s/` | %d | %d | %s |\n", name, c.Dir, c.Rows, len(c.Files), configUseOf(c.Name))
	}
	b.WriteString("\nEvery row carries its unit id (`id`) and provenance: `method`, `model`, `model_digest`, `seed`, " +
		"`template_hash`; `metadata` is a JSON object with method-specific details. Rows are sorted by `id`.\n\n")
	b.WriteString("```python\nfrom datasets import load_dataset\n\n")
	for _, c := range res.Configs {
		fmt.Fprintf(b, "%s = load_dataset(%q, %q, split=\"train\")\n", pyIdent(c.Name), repo, c.Name)
	}
	b.WriteString("```\n\n")
}

// exportNotes are facts about this export the card adds to the run's notes.
func exportNotes(res *ExportResult) []string {
	if len(res.Skipped) == 0 {
		return nil
	}
	var files []string
	for _, d := range res.Skipped {
		f := filepath.ToSlash(filepath.Join(journalDir, filepath.Base(d.File)))
		if !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	return []string{fmt.Sprintf("The journal was damaged: this export skipped %d damaged line(s) (%d bytes) in %s "+
		"(--skip-damaged); the units on those lines are in no config and no count.",
		res.SkippedLines, res.SkippedBytes, strings.Join(files, ", "))}
}

func writeHowMade(b *strings.Builder, m *Manifest, c Counts, extra []string, meanings map[string]string) {
	b.WriteString("## How it was made\n\n")
	fmt.Fprintf(b, "- **Method:** %s\n", mdCode(m.Method))
	fmt.Fprintf(b, "- **Seed:** %d (per-unit seeds derive from it and are in the `seed` column)\n", m.Seed)
	fmt.Fprintf(b, "- **Counts:** %d generated, %d accepted, %d rejected", c.Generated, c.Accepted, c.RejectedTotal())
	if len(c.Rejected) > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(c.Rejected)) {
			parts = append(parts, fmt.Sprintf("%s: %d", mdText(r), c.Rejected[r]))
		}
		fmt.Fprintf(b, " (%s)", strings.Join(parts, "; "))
	}
	b.WriteString("\n")
	if len(c.Rejected) > 0 && len(meanings) > 0 {
		b.WriteString("\n| rejected because | units | meaning |\n|---|---:|---|\n")
		for _, r := range slices.Sorted(maps.Keys(c.Rejected)) {
			fmt.Fprintf(b, "| %s | %d | %s |\n", mdCode(r), c.Rejected[r], mdText(meanings[r]))
		}
		b.WriteString("\n")
	}
	if !m.Started.IsZero() {
		fmt.Fprintf(b, "- **Run:** started %s", m.Started.UTC().Format(time.RFC3339))
		if !m.Finished.IsZero() {
			fmt.Fprintf(b, ", finished %s", m.Finished.UTC().Format(time.RFC3339))
		}
		if m.Resumes > 0 {
			fmt.Fprintf(b, ", resumed %d time(s)", m.Resumes)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n### Models\n\n| role | model | digest | family | parameters | quantization | context |\n|---|---|---|---|---|---|---:|\n")
	for _, mi := range m.Models {
		ctx := ""
		if mi.ContextLength > 0 {
			ctx = fmt.Sprint(mi.ContextLength)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", mdText(mi.Role), mdCode(mi.Name), mdCode(mi.Digest),
			mdText(mi.Family), mdText(mi.ParameterSize), mdText(mi.Quantization), ctx)
	}
	b.WriteString("\n")
	if len(m.Options) > 0 {
		b.WriteString("### Options\n\n| option | value |\n|---|---|\n")
		for _, k := range slices.Sorted(maps.Keys(m.Options)) {
			v, _ := json.Marshal(m.Options[k])
			fmt.Fprintf(b, "| %s | %s |\n", mdCode(k), mdCode(string(v)))
		}
		b.WriteString("\n")
	}
	if len(m.TemplateHashes) > 0 {
		b.WriteString("### Prompt templates\n\n| template | hash |\n|---|---|\n")
		for _, k := range slices.Sorted(maps.Keys(m.TemplateHashes)) {
			fmt.Fprintf(b, "| %s | %s |\n", mdCode(k), mdCode(m.TemplateHashes[k]))
		}
		b.WriteString("\n")
	}
	if notes := append(slices.Clone(m.Notes), extra...); len(notes) > 0 {
		b.WriteString("### Notes\n\n")
		for _, n := range notes {
			fmt.Fprintf(b, "- %s\n", mdText(n))
		}
		b.WriteString("\n")
	}
	for _, t := range m.Tables {
		if len(t.Header) == 0 {
			continue
		}
		fmt.Fprintf(b, "### %s\n\n|", mdText(t.Title))
		for _, h := range t.Header {
			fmt.Fprintf(b, " %s |", mdText(h))
		}
		b.WriteString("\n|" + strings.Repeat("---|", len(t.Header)) + "\n")
		for _, row := range t.Rows {
			b.WriteString("|")
			for i := range t.Header {
				cell := ""
				if i < len(row) {
					cell = row[i]
				}
				fmt.Fprintf(b, " %s |", mdText(cell))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
}

func writeSamples(b *strings.Builder, res *ExportResult) {
	b.WriteString("## Sample rows\n\nThe first row of each config (long texts cut).\n\n")
	for _, c := range res.Configs {
		raw, err := json.Marshal(c.sample)
		if err != nil {
			continue
		}
		cut, err := cutJSON(raw, 300)
		if err != nil {
			continue
		}
		var out bytes.Buffer
		if json.Indent(&out, cut, "", "  ") != nil {
			continue
		}
		fmt.Fprintf(b, "### %s\n\n```json\n%s\n```\n\n", c.Name, strings.ReplaceAll(out.String(), "```", "'''"))
	}
}

// cutJSON re-encodes a JSON document with every string value longer than n
// runes cut, keeping the key order (the column order).
func cutJSON(raw []byte, n int) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out bytes.Buffer
	type frame struct {
		obj bool
		n   int
	}
	var st []frame
	// sep writes what goes before the next token and reports whether the
	// token is an object key.
	sep := func() (key bool) {
		if len(st) == 0 {
			return false
		}
		f := &st[len(st)-1]
		switch {
		case f.obj && f.n%2 == 1:
			out.WriteByte(':')
		case f.n > 0:
			out.WriteByte(',')
		}
		key = f.obj && f.n%2 == 0
		f.n++
		return key
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				sep()
				st = append(st, frame{obj: t == '{'})
			} else {
				st = st[:len(st)-1]
			}
			out.WriteString(t.String())
		case string:
			if !sep() && utf8.RuneCountInString(t) > n {
				t = string([]rune(t)[:n]) + "…"
			}
			out.WriteString(yamlString(t)) // JSON string syntax
		default:
			sep()
			v, err := json.Marshal(t)
			if err != nil {
				return nil, err
			}
			out.Write(v)
		}
	}
}

func cardTags(m *Manifest, res *ExportResult) []string {
	tags := []string{"synthetic", "synthkit", "ollama"}
	add := func(t string) {
		if t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	for _, c := range res.Configs {
		if spec := specOf(c.Name); spec != nil {
			for _, t := range spec.tags {
				add(t)
			}
		}
	}
	add(tagOf(m.Method))
	return tags
}

func tagOf(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == '_' || r == ' ':
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// SizeCategory maps a row count to the Hub's size_categories value.
func SizeCategory(n int64) string {
	bounds := []struct {
		max   int64
		label string
	}{
		{1_000, "n<1K"}, {10_000, "1K<n<10K"}, {100_000, "10K<n<100K"}, {1_000_000, "100K<n<1M"},
		{10_000_000, "1M<n<10M"}, {100_000_000, "10M<n<100M"}, {1_000_000_000, "100M<n<1B"},
	}
	for _, bd := range bounds {
		if n < bd.max {
			return bd.label
		}
	}
	return "1B<n<10B"
}

// yamlString quotes s as a YAML double-quoted scalar (JSON string syntax is
// valid YAML), so no value is ever misread as a number, bool or alias.
func yamlString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func yamlList(b *strings.Builder, key string, vals []string) {
	fmt.Fprintf(b, "%s:\n", key)
	for _, v := range vals {
		fmt.Fprintf(b, "- %s\n", yamlString(v))
	}
}

// mdText makes free text safe inside a Markdown table cell or list item.
func mdText(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	return s
}

func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(mdText(s), "`", "'")
	return "`" + s + "`"
}

func pyIdent(s string) string {
	return strings.ReplaceAll(s, "-", "_")
}
