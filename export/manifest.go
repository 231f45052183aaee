package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Manifest is what run.json holds: the resolved config and provenance of a
// run. Generating commands fill it before [OpenRun]; export reads it for the
// dataset card.
type Manifest struct {
	// Version is the synthkit version that generated the run.
	Version string `json:"synthkit_version"`
	// Command is the command line (os.Args) of the latest invocation; the
	// card prints it as the command that reproduces the dataset.
	Command []string `json:"command"`
	// Method is the generating method, e.g. "self-instruct".
	Method string `json:"method"`
	// Models lists every model the run uses, generator first.
	Models []ModelInfo `json:"models"`
	// Options are the resolved generation options (temperature, num_ctx, …).
	Options map[string]any `json:"options,omitempty"`
	// Seed is the run seed; per-unit seeds derive from it.
	Seed int64 `json:"seed"`
	// TemplateHashes maps each prompt template name to a hash of its text.
	TemplateHashes map[string]string `json:"template_hashes,omitempty"`
	// Configs names the configs the run writes (informational).
	Configs []string `json:"configs,omitempty"`
	// Notes records degraded features and other facts for the card, e.g.
	// "server has no logprobs: soft labels from 5 samples".
	Notes []string `json:"notes,omitempty"`
	// Tables are tables a method adds to the card (a score histogram, a
	// principle stability table); the latest of each title wins.
	Tables []CardTable `json:"tables,omitempty"`
	// Started is set by OpenRun on a new run and kept on resume.
	Started time.Time `json:"started"`
	// Finished is set by [Run.Finish].
	Finished time.Time `json:"finished,omitzero"`
	// Resumes counts how many times the run was continued.
	Resumes int `json:"resumes,omitempty"`
	// Counts is a snapshot of the journal's counts, written by Finish and
	// Close. The journal stays the source of truth.
	Counts Counts `json:"counts"`
}

// CardTable is a small table for the dataset card.
type CardTable struct {
	Title  string     `json:"title"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
}

// ModelInfo describes one model as Ollama reports it.
type ModelInfo struct {
	Name string `json:"name"`
	// Role is what the run uses the model for: "generator", "judge",
	// "embedder", … (free text, shown in the card).
	Role          string `json:"role,omitempty"`
	Digest        string `json:"digest"`
	Family        string `json:"family,omitempty"`
	ParameterSize string `json:"parameter_size,omitempty"`
	Quantization  string `json:"quantization,omitempty"`
	ContextLength int    `json:"context_length,omitempty"`
}

// Counts are the run's unit counts. Generated = Accepted + Σ Rejected.
type Counts struct {
	Generated int64            `json:"generated"`
	Accepted  int64            `json:"accepted"`
	Rejected  map[string]int64 `json:"rejected,omitempty"`
	// Rows counts journal rows per config (derived configs not included).
	Rows map[string]int64 `json:"rows,omitempty"`
}

// RejectedTotal sums the rejections over all reasons.
func (c Counts) RejectedTotal() int64 {
	var n int64
	for _, v := range c.Rejected {
		n += v
	}
	return n
}

// CommandLine returns Command as one shell-quoted line.
func (m *Manifest) CommandLine() string {
	parts := make([]string, len(m.Command))
	for i, a := range m.Command {
		parts[i] = shellQuote(a)
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ErrIncompatible is matched (errors.Is) by the error OpenRun returns when
// the existing run was made with other models, method, seed or templates.
var ErrIncompatible = errors.New("incompatible run")

// IncompatibleError lists what differs between the run on disk and the
// command that tried to resume it.
type IncompatibleError struct {
	Dir   string
	Diffs []string
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("cannot resume the run in %s: %s; a dataset is tied to one exact model version, method, seed and "+
		"set of templates, so either run the original command again or pass --fresh to start over "+
		"(the old run is moved aside, not deleted)", e.Dir, strings.Join(e.Diffs, "; "))
}

func (e *IncompatibleError) Is(target error) bool { return target == ErrIncompatible }

// compatible reports what prevents resuming old with cur.
func compatible(old, cur *Manifest) []string {
	var diffs []string
	if old.Method != cur.Method {
		diffs = append(diffs, fmt.Sprintf("method was %q, now %q", old.Method, cur.Method))
	}
	if old.Seed != cur.Seed {
		diffs = append(diffs, fmt.Sprintf("seed was %d, now %d", old.Seed, cur.Seed))
	}
	oldModels, curModels := modelDigests(old), modelDigests(cur)
	for _, name := range slices.Sorted(maps.Keys(oldModels)) {
		d, ok := curModels[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("model %q is no longer used", name))
		case d != oldModels[name]:
			diffs = append(diffs, fmt.Sprintf("model %q digest was %s, now %s", name, short(oldModels[name]), short(d)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(curModels)) {
		if _, ok := oldModels[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("model %q was not used before", name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(old.TemplateHashes)) {
		h, ok := cur.TemplateHashes[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("template %q is no longer used", name))
		case h != old.TemplateHashes[name]:
			diffs = append(diffs, fmt.Sprintf("template %q changed (hash %s, now %s)", name, short(old.TemplateHashes[name]), short(h)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cur.TemplateHashes)) {
		if _, ok := old.TemplateHashes[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("template %q was not used before", name))
		}
	}
	return diffs
}

func modelDigests(m *Manifest) map[string]string {
	out := make(map[string]string, len(m.Models))
	for _, mi := range m.Models {
		out[mi.Name] = mi.Digest
	}
	return out
}

// short abbreviates a digest for messages: "sha256:0123456789ab".
func short(d string) string {
	if d == "" {
		return "(none)"
	}
	prefix := ""
	if i := strings.IndexByte(d, ':'); i >= 0 {
		prefix, d = d[:i+1], d[i+1:]
	}
	if len(d) > 12 {
		d = d[:12]
	}
	return prefix + d
}

const manifestFile = "run.json"

// ReadManifest reads run.json from a run directory.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, manifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		if line := jsonLine(b, err); line > 0 {
			path = fmt.Sprintf("%s:%d", path, line)
		}
		return nil, fmt.Errorf("parse manifest %s: %w", path, plainJSON(err))
	}
	return &m, nil
}

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	b = append(b, '\n')
	return writeFileAtomic(filepath.Join(dir, manifestFile), b)
}
