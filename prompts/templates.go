package prompts

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// Template is one prompt template with the hash recorded in provenance:
// a change of wording changes the hash, and a resume refuses to mix them.
type Template struct {
	Name string
	Hash string
	t    *template.Template
}

var funcs = template.FuncMap{"add": func(a, b int) int { return a + b }}

// LoadTemplate parses an embedded template by name ("evol_depth").
func LoadTemplate(name string) (*Template, error) {
	raw, err := templateFS.ReadFile("templates/" + name + ".tmpl")
	if err != nil {
		return nil, fmt.Errorf("no template %q: %w", name, err)
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	sum := sha256.Sum256(raw)
	return &Template{Name: name, Hash: hex.EncodeToString(sum[:])[:16], t: t}, nil
}

func mustTemplate(name string) *Template {
	t, err := LoadTemplate(name)
	if err != nil {
		panic(err)
	}
	return t
}

// Render fills the template.
func (t *Template) Render(data any) (string, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render template %s: %w", t.Name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// Hashes maps template names to hashes, for run.json.
func Hashes(ts ...*Template) map[string]string {
	out := map[string]string{}
	for _, t := range ts {
		out[t.Name] = t.Hash
	}
	return out
}

// CombinedHash is one hash over several templates, for the per-row
// template_hash column of a method that uses several templates.
func CombinedHash(ts ...*Template) string {
	names := make([]string, 0, len(ts))
	byName := map[string]string{}
	for _, t := range ts {
		names = append(names, t.Name)
		byName[t.Name] = t.Hash
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s=%s\n", n, byName[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// TextHash hashes a text that is not one of our templates (a model's
// chat template, a user's system prompt) for provenance.
func TextHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}
