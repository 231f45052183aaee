package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synthkit/export"
	"synthkit/local/ollamatest"
	"synthkit/prompts"
)

// journalRows reads every accepted unit's rows.
func journalRows(t *testing.T, dir string) map[string][]export.Row {
	t.Helper()
	out := map[string][]export.Row{}
	if err := export.ReadRows(dir, func(unit string, rows []export.Row) error {
		out[unit] = rows
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// vectorUnits lists the units of a run's stored vectors.
func vectorUnits(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if err := export.ReadVectors(dir, func(unit string, v []float32) error {
		out[unit] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDiversityNoveltyAgainstOllama runs --diversity novelty end to end
// against the real server: respond with the built-in embedder and with
// the server's /api/embed, and instruct (magpie): near-copies in the
// input are rejected, rows carry their nearest neighbour, run.json records
// the settings (and the embedding model with its digest), every accepted
// row has its vector, and a resume keeps the store or refuses other
// settings.
func TestDiversityNoveltyAgainstOllama(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	promptFile := filepath.Join(base, "prompts.txt")
	// Lines 1 and 3 and lines 2 and 5 are near-copies.
	os.WriteFile(promptFile, []byte("Explain how rivers form.\nList 5 facts about honey bees.\nexplain how RIVERS form!\n"+
		"Write a haiku about rain.\nList 7 facts about honey bees.\nGive three uses of copper.\n"), 0o644)

	tests := []struct {
		name       string
		args       []string
		embedder   string // the diversity_embedder option
		embedRole  bool   // run.json lists an embedder model
		minNear    int64
		minAccept  int64
		wantOption string // diversity_on
	}{
		{"respond, built-in embedder, on prompt",
			[]string{"respond", "--prompts", promptFile, "--models", ollamatest.TinyModel, "--diversity", "novelty", "--on", "prompt"},
			"hashed-ngrams-v1/512", false, 2, 4, "prompt"},
		{"respond, embedding model, on prompt",
			// The tiny model's random weights embed every text alike: only
			// an exact copy is above 0.99999.
			[]string{"respond", "--prompts", promptFile, "--models", ollamatest.TinyModel, "--diversity", "novelty", "--on", "prompt",
				"--embed-model", ollamatest.TinyModelB, "--max-similarity", "0.99999"},
			"ollama:" + ollamatest.TinyModelB, true, 0, 1, "prompt"},
		{"magpie, built-in embedder, on both",
			[]string{"instruct", "--method", "magpie", "--model", ollamatest.TinyModel, "-n", "4", "--diversity", "novelty", "--on", "both"},
			"hashed-ngrams-v1/512", false, 0, 4, "both"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(base, string(rune('a'+i)))
			code, stdout, stderr := runCLI(t, append(tt.args, common(host, out)...)...)
			if code != exitOK && code != exitPartial {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			m := manifestOf(t, out)
			if m.Options["diversity"] != "novelty" || m.Options["diversity_embedder"] != tt.embedder || m.Options["diversity_on"] != tt.wantOption {
				t.Fatalf("run.json options %v", m.Options)
			}
			if _, ok := m.Options["diversity_max_similarity"].(float64); !ok {
				t.Fatalf("run.json has no threshold: %v", m.Options)
			}
			roles := map[string]string{}
			for _, mi := range m.Models {
				roles[mi.Role] = mi.Digest
			}
			if d, ok := roles["embedder"]; ok != tt.embedRole || ok && len(d) < 12 {
				t.Fatalf("run.json models %+v: embedder listed %v, want %v with a digest", m.Models, ok, tt.embedRole)
			}
			c := m.Counts
			t.Logf("counts %+v", c)
			if c.Rejected[prompts.ReasonNearDuplicate] < tt.minNear || c.Accepted < tt.minAccept {
				t.Fatalf("counts %+v: want ≥ %d near_duplicate, ≥ %d accepted\nstderr: %s", c, tt.minNear, tt.minAccept, stderr)
			}
			if tt.minNear > 0 && !strings.Contains(stderr, prompts.ReasonNearDuplicate) {
				t.Errorf("the summary does not name near_duplicate: %s", stderr)
			}
			rows := journalRows(t, out)
			vecs := vectorUnits(t, out)
			named := 0
			for unit, rs := range rows {
				if !vecs[unit] {
					t.Errorf("accepted %s has no stored vector", unit)
				}
				if _, ok := rs[0].(export.SFT).Metadata[prompts.MetaNearestID]; ok {
					named++
				}
			}
			if named < len(rows)-1 || len(rows) == 0 {
				t.Errorf("%d of %d rows name their nearest neighbour", named, len(rows))
			}

			// Resume: the same command changes nothing; other settings are
			// refused before anything is written.
			code, _, stderr = runCLI(t, append(tt.args, common(host, out)...)...)
			if code != exitOK && code != exitPartial || !strings.Contains(stderr, "resuming") {
				t.Fatalf("rerun: exit %d, stderr %s", code, stderr)
			}
			if after := manifestOf(t, out).Counts; after.Accepted != c.Accepted {
				t.Fatalf("rerun changed accepted %d → %d", c.Accepted, after.Accepted)
			}
			other := append(append([]string{}, tt.args...), "--on", "response")
			code, _, stderr = runCLI(t, append(other, common(host, out)...)...)
			if code != exitUsage || !strings.Contains(stderr, "--fresh") {
				t.Fatalf("resume with another --on: exit %d, stderr %s", code, stderr)
			}
		})
	}

	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{
			{"--diversity", "qd"}, {"--diversity", "novelty", "--on", "answers"}, {"--diversity", "novelty", "--max-similarity", "1.5"},
		} {
			full := append([]string{"respond", "--prompts", promptFile, "--models", ollamatest.TinyModel}, args...)
			code, _, stderr := runCLI(t, append(full, common(host, filepath.Join(base, "bad"))...)...)
			if code != exitUsage {
				t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr)
			}
		}
	})
}
