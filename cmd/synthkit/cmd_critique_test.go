package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synthkit/export"
	"synthkit/local/ollamatest"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Bad input stops before anything is written, with one clear message.
func TestCritiqueBadInput(t *testing.T) {
	dir := t.TempDir()
	prompts := writeFile(t, dir, "p.txt", "How do tides work?\n")
	dup := writeFile(t, dir, "dup.yaml", "principles:\n  - name: a\n    critique: Find flaws.\n    revision: Fix them.\n  - name: a\n    critique: Find more.\n    revision: Fix more.\n")
	onlyOne := writeFile(t, dir, "pairs.jsonl", `{"prompt": "q1", "chosen": "good", "rejected": "bad"}`+"\n"+`{"prompt": "q2", "response": "alone"}`+"\n")
	noAnswer := writeFile(t, dir, "noanswer.jsonl", `{"prompt": "q1"}`+"\n")
	overlap := writeFile(t, dir, "overlap.yaml", `principles:
  - {name: a, critique: Point out claims in the answer that are false or too confident., revision: Rewrite the answer to fix them.}
  - {name: b, critique: Point out claims in the answer that are false or too certain., revision: Rewrite the answer to fix them.}
`)
	out := filepath.Join(dir, "out")
	srv := []string{"--ollama", "127.0.0.1:1", "--no-start", "--out", out}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"no mode", nil, exitUsage, "critique needs --prompts"},
		{"two modes", []string{"--prompts", prompts, "--label-pairs", onlyOne}, exitUsage, "give one of"},
		{"no model", []string{"--prompts", prompts}, exitUsage, "critique needs --model"},
		{"broken constitution", []string{"--prompts", prompts, "--model", "m", "--constitution", dup}, exitUsage, `dup.yaml:5: principle "a" is named twice (first on line 2)`},
		{"missing constitution file", []string{"--prompts", prompts, "--model", "m", "--constitution", filepath.Join(dir, "nope.yaml")}, exitUsage, "nope.yaml: couldn't read the constitution"},
		{"pairs with one response", []string{"--label-pairs", onlyOne, "--judge", "j"}, exitUsage, `pairs.jsonl:2: the prompt "q2" has only one answer`},
		{"pairs without judge", []string{"--label-pairs", onlyOne}, exitUsage, "--label-pairs needs --judge"},
		{"bad clamp", []string{"--label-pairs", onlyOne, "--judge", "j", "--clamp", "0.6,0.4"}, exitUsage, "--clamp wants lo,hi"},
		{"bad labels", []string{"--label-pairs", onlyOne, "--judge", "j", "--labels", "psychic"}, exitUsage, "--labels must be"},
		{"responses without answers", []string{"--responses", noAnswer, "--model", "m"}, exitUsage, "noanswer.jsonl:1: the record has no answer to revise"},
		{"strict lint refuses a run", []string{"--prompts", prompts, "--model", "m", "--constitution", overlap, "--strict"}, exitUsage, `principles "a" and "b" overlap`},
		{"strict lint", []string{"--lint", overlap, "--strict"}, exitUsage, "lint warnings (--strict)"},
		{"zero revisions", []string{"--prompts", prompts, "--model", "m", "--revisions", "0"}, exitUsage, "--revisions must be ≥ 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append(append([]string{"critique"}, tt.args...), srv...)...)
			if code != tt.code || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)\nstdout: %s", code, tt.code, stderr, tt.wantErr, stdout)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("bad input wrote %s", out)
			}
		})
	}
}

func TestCritiqueConstitutionCommands(t *testing.T) {
	dir := t.TempDir()
	code, stdout, _ := runCLI(t, "critique", "--print-constitution")
	if code != exitOK || !strings.Contains(stdout, "name: no-dangerous-help") {
		t.Fatalf("--print-constitution: exit %d\n%s", code, stdout)
	}
	// What it prints is a valid constitution that lints clean.
	mine := writeFile(t, dir, "mine.yaml", stdout)
	code, stdout, stderr := runCLI(t, "critique", "--lint", mine, "--strict")
	if code != exitOK || !strings.Contains(stdout, "16 principles") || !strings.Contains(stdout, "no problems found") {
		t.Fatalf("--lint: exit %d\n%s%s", code, stdout, stderr)
	}
	// The paper's RL principles convert to synthkit's format.
	rl := writeFile(t, dir, "RLMadisonInstructions.json", `["\nPick the kinder reply. Options:", "\nPick the more honest reply. Options:"]`)
	code, stdout, _ = runCLI(t, "critique", "--print-constitution", "--constitution", rl)
	if code != exitOK || !strings.Contains(stdout, "compare: Pick the kinder reply.") || strings.Contains(stdout, "Options:") {
		t.Fatalf("converted: exit %d\n%s", code, stdout)
	}
	// Lint without --strict warns and succeeds.
	code, stdout, _ = runCLI(t, "critique", "--lint", rl)
	if code != exitOK || !strings.Contains(stdout, "only 2 principles") {
		t.Fatalf("lint of 2 principles: exit %d\n%s", code, stdout)
	}
	_, help, _ := runCLI(t, "critique", "--help")
	for _, want := range []string{"CritiqueRevisionInstructions.json", "stripped", "--drop-unstable", "--label-pairs", "EXIT STATUS"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// Against the real Ollama with the tiny model: plumbing, not content.
func TestCritiqueAgainstOllama(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	prompts := writeFile(t, base, "p.txt", "Explain how rivers form.\nGive three uses of copper.\n")

	t.Run("supervised", func(t *testing.T) {
		out := filepath.Join(base, "cai")
		args := append([]string{"critique", "--prompts", prompts, "--model", ollamatest.TinyModel, "--revisions", "2"}, common(host, out)...)
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		m := manifestOf(t, out)
		if m.Method != "critique" || m.Counts.Accepted != 2 || m.TemplateHashes["critique_request"] == "" || m.TemplateHashes["constitution"] == "" {
			t.Fatalf("run.json: %+v", m)
		}
		for _, cfg := range []string{"critiques", "critiques_sft", "critiques_preferences"} {
			if !strings.Contains(stdout, cfg) {
				t.Errorf("config %s not exported:\n%s", cfg, stdout)
			}
		}
		var steps int
		export.ReadRows(out, func(unit string, rows []export.Row) error {
			c := rows[0].(export.Critique)
			steps += len(c.Steps)
			if c.Initial == "" || c.Metadata["revisions"] != 2.0 {
				t.Errorf("%s: %+v", unit, c)
			}
			return nil
		})
		if steps == 0 {
			t.Fatal("no critique step journaled")
		}
		// The same command again has nothing left to do.
		code, _, stderr = runCLI(t, args...)
		if code != exitOK || !strings.Contains(stderr, "resuming") || manifestOf(t, out).Counts.Generated != m.Counts.Generated {
			t.Fatalf("rerun: exit %d, counts %+v then %+v\n%s", code, m.Counts, manifestOf(t, out).Counts, stderr)
		}
	})

	t.Run("rlaif falls back to votes", func(t *testing.T) {
		pairs := writeFile(t, base, "pairs.jsonl", `{"prompt": "Name a metal.", "chosen": "Copper.", "rejected": "A banana."}
{"prompt": "Say hello.", "completions": ["Hello!", "Goodbye."]}
`)
		out := filepath.Join(base, "rlaif")
		args := append([]string{"critique", "--label-pairs", pairs, "--judge", ollamatest.TinyModel, "--votes", "2", "--drop-unstable", "0.9", "--cot", "--clamp", "0.4,0.6"}, common(host, out)...)
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK && code != exitPartial {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		m := manifestOf(t, out)
		notes := strings.Join(m.Notes, "\n")
		if m.Method != "rlaif" || m.Models[0].Role != "judge" || !strings.Contains(notes, "2 sampled verdicts per order") ||
			len(m.Tables) == 0 || !strings.HasPrefix(m.Tables[0].Title, "Principle stability") {
			t.Fatalf("run.json: %+v\nnotes: %s", m, notes)
		}
		if m.Counts.Rows["ratings"] != 2 || m.Counts.Rows["preferences"]+m.Counts.Rejected["label_tie"]+m.Counts.Rejected["unstable_principle"] != 2 {
			t.Fatalf("counts %+v", m.Counts)
		}
		if !strings.Contains(stderr, "principle stability (labelled with votes") {
			t.Fatalf("no stability table:\n%s", stderr)
		}
		if m.Counts.Rows["preferences"] == 0 {
			t.Fatalf("no preference row to check (counts %+v)", m.Counts)
		}
		export.ReadRows(out, func(unit string, rows []export.Row) error {
			if p, ok := rows[0].(export.Preference); ok && (*p.ScoreChosen > 0.6 || p.Metadata["cot"] != true || p.Metadata["label_method"] != "votes") {
				t.Errorf("%s: clamp or cot not applied: %v %v", unit, *p.ScoreChosen, p.Metadata)
			}
			return nil
		})
		card, _ := os.ReadFile(filepath.Join(out, "README.md"))
		if !strings.Contains(string(card), "### Principle stability (RLAIF labels)\n\n| principle | labels | flip rate when the answers swap |") {
			t.Errorf("stability table not in the card:\n%s", card)
		}
	})

	t.Run("missing judge", func(t *testing.T) {
		pairs := writeFile(t, base, "pairs2.jsonl", `{"prompt": "q", "chosen": "a", "rejected": "b"}`+"\n")
		out := filepath.Join(base, "nojudge")
		code, _, stderr := runCLI(t, append([]string{"critique", "--label-pairs", pairs, "--judge", "absent-model:1b"}, common(host, out)...)...)
		if code != exitNoModel || !strings.Contains(stderr, "absent-model:1b") {
			t.Fatalf("exit %d, want %d\n%s", code, exitNoModel, stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("a missing judge wrote %s", out)
		}
	})
}
