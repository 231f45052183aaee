package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"synthkit/export"
	"synthkit/local/ollamatest"
)

// These run the real commands against the real test Ollama with the tiny
// fixture model: its text is gibberish, so they check plumbing (a run
// directory with a journal, Parquet and a card; resume; interrupt), not
// content, which the prompts package tests with a scripted model.

func common(host, out string) []string {
	return []string{"--ollama", host, "--out", out, "--concurrency", "4", "--num-predict", "256", "--seed", "5"}
}

// parquetRows counts the rows of a run's default config as parquet-go reads them.
func parquetRows(t *testing.T, dir string) int64 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "data", "train-*.parquet"))
	if len(files) == 0 {
		t.Fatalf("no Parquet in %s/data", dir)
	}
	var n int64
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := fh.Stat()
		pf, err := parquet.OpenFile(fh, st.Size())
		if err != nil {
			t.Fatalf("open %s: %v", f, err)
		}
		n += pf.NumRows()
		fh.Close()
	}
	return n
}

func manifestOf(t *testing.T, dir string) *export.Manifest {
	t.Helper()
	m, err := export.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInstructMethodsAgainstOllama(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	promptFile := filepath.Join(base, "prompts.txt")
	os.WriteFile(promptFile, []byte("Explain how rivers form.\nGive three uses of copper.\nWrite a haiku about rain.\n"), 0o644)

	tests := []struct {
		name     string
		args     []string
		method   string
		minRows  int64
		maxCount int64
		wantCode int
	}{
		{"self-instruct", []string{"instruct", "--method", "self-instruct", "--model", "synthkit-tiny", "-n", "3", "--max-requests", "300"}, "self-instruct", 3, 0, exitOK},
		// 3 prompts × 2 rounds can never reach -n 100: exit 5, what was made kept.
		{"evol", []string{"instruct", "--method", "evol", "--model", "synthkit-tiny", "--prompts", promptFile, "--rounds", "2", "-n", "100"}, "evol-instruct", 0, 6, exitPartial},
		{"magpie", []string{"instruct", "--method", "magpie", "--model", "synthkit-tiny", "-n", "3", "--turns", "2"}, "magpie", 3, 0, exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(base, tt.name)
			code, stdout, stderr := runCLI(t, append(tt.args, common(host, out)...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			m := manifestOf(t, out)
			if m.Method != tt.method || len(m.Models) != 1 || !strings.HasPrefix(m.Models[0].Digest, "sha256:") && len(m.Models[0].Digest) < 12 {
				t.Fatalf("run.json provenance: %+v", m)
			}
			if len(m.TemplateHashes) == 0 && tt.method != "magpie" {
				t.Errorf("run.json has no template hashes")
			}
			c := m.Counts
			if c.Accepted < tt.minRows || tt.maxCount > 0 && c.Generated != tt.maxCount {
				t.Fatalf("counts %+v (want ≥ %d accepted, %d generated)", c, tt.minRows, tt.maxCount)
			}
			if c.Accepted > 0 {
				if got := parquetRows(t, out); got != c.Accepted {
					t.Fatalf("Parquet has %d rows, journal accepted %d", got, c.Accepted)
				}
				card, err := os.ReadFile(filepath.Join(out, "README.md"))
				if err != nil || !strings.Contains(string(card), "synthkit") {
					t.Fatalf("dataset card missing or bare: %v", err)
				}
			}
			if !strings.Contains(stderr, "done in") || !strings.Contains(stderr, "generated") {
				t.Errorf("no summary on stderr: %s", stderr)
			}
		})
	}

	t.Run("respond to a previous run with two models", func(t *testing.T) {
		out := filepath.Join(base, "respond")
		args := append([]string{"respond", "--prompts", filepath.Join(base, "self-instruct"),
			"--models", ollamatest.TinyModel + "," + ollamatest.TinyModelB}, common(host, out)...)
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		m := manifestOf(t, out)
		if len(m.Models) != 2 || m.Counts.Generated == 0 || m.Counts.Generated%2 != 0 {
			t.Fatalf("respond manifest %+v", m)
		}
	})

	t.Run("resume adds only what is missing", func(t *testing.T) {
		out := filepath.Join(base, "self-instruct")
		before := manifestOf(t, out).Counts
		args := []string{"instruct", "--method", "self-instruct", "--model", "synthkit-tiny", "-n", "3", "--max-requests", "300"}
		code, _, stderr := runCLI(t, append(args, common(host, out)...)...)
		if code != exitOK || !strings.Contains(stderr, "resuming") {
			t.Fatalf("rerun: exit %d, stderr %s", code, stderr)
		}
		if after := manifestOf(t, out).Counts; after.Accepted != before.Accepted || after.Generated != before.Generated {
			t.Fatalf("a finished run changed on rerun: %+v → %+v", before, after)
		}
		// Another seed is another dataset: refused without --fresh.
		args = append(args, common(host, out)...)
		args = append(args, "--seed", "6")
		code, _, stderr = runCLI(t, args...)
		if code == exitOK || !strings.Contains(stderr, "--fresh") {
			t.Fatalf("resume with another seed: exit %d, stderr %s", code, stderr)
		}
	})
}

func TestInterruptedRunResumes(t *testing.T) {
	host := ollamatest.Host(t)
	out := filepath.Join(t.TempDir(), "magpie")
	args := append([]string{"instruct", "--method", "magpie", "--model", "synthkit-tiny", "-n", "40"}, common(host, out)...)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel (as Ctrl-C does) once some units are journaled.
		for ctx.Err() == nil {
			if m, err := export.ReadManifest(out); err == nil && m != nil {
				n := 0
				export.ReadRows(out, func(string, []export.Row) error { n++; return nil })
				if n >= 3 {
					cancel()
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var so, se strings.Builder
	code := run(ctx, args, &so, &se)
	cancel()
	if code != exitInterrupted {
		t.Fatalf("interrupted run: exit %d, want %d\n%s", code, exitInterrupted, se.String())
	}
	kept := 0
	export.ReadRows(out, func(string, []export.Row) error { kept++; return nil })
	if kept < 3 {
		t.Fatalf("only %d rows kept after the interrupt", kept)
	}
	code, stdout, stderr := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	m := manifestOf(t, out)
	if m.Counts.Accepted != 40 || parquetRows(t, out) != 40 {
		t.Fatalf("after resume: %+v", m.Counts)
	}
	raw, _ := json.Marshal(m.Counts)
	t.Logf("counts after resume: %s", raw)
}

func TestExportAndPushCommands(t *testing.T) {
	host := ollamatest.Host(t)
	out := filepath.Join(t.TempDir(), "run")
	args := append([]string{"instruct", "--method", "magpie", "--model", "synthkit-tiny", "-n", "4"}, common(host, out)...)
	if code, so, se := runCLI(t, args...); code != exitOK {
		t.Fatalf("magpie: exit %d\n%s\n%s", code, so, se)
	}
	shard := filepath.Join(out, "data", "train-00000-of-00001.parquet")
	before, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(shard)
	code, stdout, stderr := runCLI(t, "export", out, "--license", "cc-by-4.0")
	if code != exitOK || !strings.Contains(stdout, "train-00000-of-00001.parquet") {
		t.Fatalf("export: exit %d\n%s\n%s", code, stdout, stderr)
	}
	after, err := os.ReadFile(shard)
	if err != nil || string(before) != string(after) {
		t.Fatalf("re-export is not byte-identical (%d vs %d bytes, %v)", len(before), len(after), err)
	}
	card, _ := os.ReadFile(filepath.Join(out, "README.md"))
	if !strings.Contains(string(card), `license: "cc-by-4.0"`) {
		t.Fatalf("card does not carry --license:\n%.400s", card)
	}
	if code, _, stderr := runCLI(t, "export", filepath.Join(out, "missing")); code == exitOK || !strings.Contains(stderr, "missing") {
		t.Fatalf("export of a missing dir: exit %d, %s", code, stderr)
	}

	// Push with no token fails before any network use, with the fix.
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HOME", t.TempDir())
	code, _, stderr = runCLI(t, "push", out, "--repo", "me/data")
	if code != exitError || !strings.Contains(stderr, "HF_TOKEN") {
		t.Fatalf("push without a token: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "push", out); code != exitUsage || !strings.Contains(stderr, "--repo") {
		t.Fatalf("push without --repo: exit %d, %s", code, stderr)
	}
}

func TestBudgetStopsEarlyButExports(t *testing.T) {
	host := ollamatest.Host(t)
	out := filepath.Join(t.TempDir(), "budget")
	args := []string{"instruct", "--method", "magpie", "--model", "synthkit-tiny", "-n", "50", "--max-requests", "6",
		"--ollama", host, "--out", out, "--concurrency", "auto", "--num-predict", "256"}
	code, stdout, stderr := runCLI(t, args...)
	if code != exitPartial || !strings.Contains(stderr, "--max-requests") {
		t.Fatalf("exit %d, want %d with a hint\n%s\n%s", code, exitPartial, stdout, stderr)
	}
	m := manifestOf(t, out)
	if m.Counts.Accepted == 0 || m.Counts.Accepted >= 50 {
		t.Fatalf("counts %+v: want some rows, fewer than -n", m.Counts)
	}
	if got := parquetRows(t, out); got != m.Counts.Accepted {
		t.Fatalf("Parquet has %d rows, journal %d", got, m.Counts.Accepted)
	}
	if !strings.Contains(strings.Join(m.Notes, "\n"), "request budget") {
		t.Fatalf("run.json notes do not say why it stopped: %v", m.Notes)
	}
}
