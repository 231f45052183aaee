package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"synthkit/local/ollamatest"
)

// TestCrashCampaign runs a reduced campaign in CI (SYNTHKIT_CRASH_KILLS
// kills per scenario, default 5; SYNTHKIT_CRASH_SCENARIOS to pick some);
// scripts/crash-campaign.sh runs the full one.
func TestCrashCampaign(t *testing.T) {
	host := ollamatest.Host(t)
	kills := 5
	if v, err := strconv.Atoi(os.Getenv("SYNTHKIT_CRASH_KILLS")); err == nil && v > 0 {
		kills = v
	}
	work := t.TempDir()
	bin := filepath.Join(work, "synthkit")
	build := exec.Command("go", "build", "-o", bin, "synthkit/cmd/synthkit")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build synthkit: %v\n%s", err, out)
	}
	c := &Config{Bin: bin, Ollama: host, Models: [2]string{ollamatest.TinyModel, ollamatest.TinyModelB},
		Work: work, Kills: kills, Seed: 11, Log: testWriter{t}}
	want := 8
	if v := os.Getenv("SYNTHKIT_CRASH_SCENARIOS"); v != "" {
		c.Scenarios = strings.Split(v, ",")
		want = len(c.Scenarios)
	}
	results, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != want {
		t.Fatalf("%d scenarios ran, want %d", len(results), want)
	}
	for _, r := range results {
		if r.Kills < kills {
			t.Errorf("%s: only %d of %d kills landed", r.Scenario, r.Kills, kills)
		}
		if r.Units == 0 {
			t.Errorf("%s: nothing compared", r.Scenario)
		}
		for _, p := range r.Problems {
			t.Errorf("%s: %s", r.Scenario, p)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
