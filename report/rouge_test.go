package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synthkit/prompts"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestRougeToSeeds(t *testing.T) {
	seeds := prompts.DefaultSeeds()
	texts := append(randomTexts(7, 8), seeds[0].Instruction, seeds[1].Instruction)
	si := func(hash string, command []string) fixtureRun {
		return fixtureRun{method: "self-instruct", texts: texts, hashes: map[string]string{"seed tasks": hash}, command: command,
			// Self-Instruct records the task as metadata; the user turn adds the input.
			meta: func(i int) map[string]any { return map[string]any{"instruction": texts[i]} }}
	}
	seedFile := filepath.Join(t.TempDir(), "seeds.txt")
	if err := os.WriteFile(seedFile, []byte(texts[0]+"\n"+texts[1]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fileTasks, err := prompts.LoadSeeds(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		run       fixtureRun
		seedsFlag string
		source    string // "" for none
		exact     int    // records with score 1
		note      string
	}{
		{"built-in seeds", si(seedHash(seeds), nil), "", "built-in seed tasks", 2, ""},
		{"the run's --seeds file", si(seedHash(fileTasks), []string{"synthkit", "instruct", "--seeds", seedFile}), "", seedFile, 2, ""},
		{"seeds changed since the run", si("0000000000000000", nil), "", "", 0, "not the built-in ones"},
		{"the run's file changed", si("0000000000000000", []string{"synthkit", "--seeds=" + seedFile}), "", "", 0, "changed since the run"},
		{"--seeds given", fixtureRun{method: "magpie", texts: texts}, seedFile, seedFile, 2, ""},
		{"not self-instruct", fixtureRun{method: "magpie", texts: texts}, "", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, tt.run.build(t), Options{SeedsFile: tt.seedsFlag})
			if tt.source == "" {
				if r.Rouge != nil {
					t.Fatalf("ROUGE-L from %q, want none", r.Rouge.Source)
				}
				if tt.note != "" && !containsAny(r.Notes, tt.note) {
					t.Fatalf("notes %q lack %q", r.Notes, tt.note)
				}
				return
			}
			if r.Rouge == nil || r.Rouge.Source != tt.source {
				t.Fatalf("rouge %+v, want from %q (notes %q)", r.Rouge, tt.source, r.Notes)
			}
			exact := 0
			for _, s := range r.Rouge.Scores {
				if s == 1 {
					exact++
				}
			}
			if exact != tt.exact || r.Rouge.Above < float64(tt.exact)/float64(len(texts)) {
				t.Fatalf("%d exact matches (above %.2f), want %d", exact, r.Rouge.Above, tt.exact)
			}
		})
	}
}
