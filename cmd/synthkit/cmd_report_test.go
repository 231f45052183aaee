package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synthkit/export"
	"synthkit/local/ollamatest"
)

func TestReportBadInput(t *testing.T) {
	base := t.TempDir()
	plain := filepath.Join(base, "plain")
	os.Mkdir(plain, 0o755)
	os.WriteFile(filepath.Join(plain, "notes.txt"), []byte("x"), 0o644)
	empty := filepath.Join(base, "empty")
	r, err := export.OpenRun(empty, export.Manifest{Method: "magpie", Models: []export.ModelInfo{{Name: "m", Digest: "d"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	r.Reject("u1", "empty_query", export.Provenance{})
	r.Reject("u2", "empty_query", export.Provenance{})
	r.Close()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing directory", []string{"report", filepath.Join(base, "nope")}, "does not exist"},
		{"not a run", []string{"report", plain}, "is not a synthkit run directory (no run.json)"},
		{"nothing accepted", []string{"report", empty}, "nothing to report"},
		{"two directories", []string{"report", plain, empty}, "exactly one run directory"},
		{"bad --on", []string{"report", empty, "--on", "title"}, "--on must be prompt, response or both"},
		{"bad --sample", []string{"report", empty, "--sample", "1"}, "--sample must be at least 2"},
		{"missing --seeds file", []string{"report", empty, "--seeds", filepath.Join(base, "seeds.jsonl")}, "seeds.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("exit %d, want %d with %q; stderr: %s", code, exitUsage, tt.wantErr, stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Fatalf("stack trace: %s", stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(empty, "report.html")); err == nil {
		t.Fatal("an empty run got a report.html")
	}
}

// TestReportAgainstOllama: a real run whose novelty filter embedded with
// the server's /api/embed; the report measures those stored vectors (the
// built-in embedder could not produce them) and the card carries the same
// figures.
func TestReportAgainstOllama(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	prompts := filepath.Join(base, "prompts.txt")
	os.WriteFile(prompts, []byte("Explain how rivers form.\nList 5 facts about honey bees.\nWrite a haiku about rain.\n"+
		"Give three uses of copper.\nDescribe a busy market.\nWhy is the sky blue?\n"), 0o644)
	out := filepath.Join(base, "run")
	args := append([]string{"respond", "--prompts", prompts, "--models", ollamatest.TinyModel, "--diversity", "novelty",
		"--embed-model", ollamatest.TinyModelB, "--max-similarity", "0.99999"}, common(host, out)...)
	if code, stdout, stderr := runCLI(t, args...); code != exitOK && code != exitPartial {
		t.Fatalf("respond: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr := runCLI(t, "report", out)
	if code != exitOK {
		t.Fatalf("report: exit %d\n%s\n%s", code, stdout, stderr)
	}
	embedder := "ollama:" + ollamatest.TinyModelB
	for _, s := range []string{"Vendi score", "distinct-2", embedder + " (the run's stored vectors)", "report.html"} {
		if !strings.Contains(stdout, s) {
			t.Fatalf("report output lacks %q:\n%s", s, stdout)
		}
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !strings.Contains(string(html), "data:image/png;base64,") {
		t.Fatalf("report.html: %v (%d bytes)", err, len(html))
	}
	for _, name := range []string{"nearest.png", "pca.png"} {
		if _, err := os.Stat(filepath.Join(out, "report_files", name)); err != nil {
			t.Fatal(err)
		}
	}
	card, _ := os.ReadFile(filepath.Join(out, "README.md"))
	if !strings.Contains(string(card), "### Diversity") || !strings.Contains(string(card), embedder+" (the run's stored vectors)") {
		t.Fatalf("card lacks the diversity table from the run's vectors:\n%s", card)
	}
}
