package prompts

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"synthkit/export"
)

// recordingGate rejects rows whose text contains "dup" and records what it
// was told.
type recordingGate struct {
	mu      sync.Mutex
	admits  []string
	settled map[string]bool
}

func (g *recordingGate) Admit(ctx context.Context, unit string, rows []export.Row) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.admits = append(g.admits, unit)
	if strings.Contains(rows[0].(export.SFT).Messages[0].Content, "dup") {
		return "near_duplicate", nil
	}
	return "", nil
}

func (g *recordingGate) Settle(unit string, kept bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.settled[unit] = kept
}

func TestGateSeesEveryAcceptedEntryAndHearsTheOutcome(t *testing.T) {
	run := testRun(t, t.TempDir(), "test")
	defer run.Close()
	g := &recordingGate{settled: map[string]bool{}}
	env := &Env{Run: run, Workers: 1, Seed: 1, Gate: g}
	row := func(text string) []export.Row {
		return []export.Row{export.SFT{Messages: []export.Message{{Role: "user", Content: text}}}}
	}
	// One unit with three entries: a near-duplicate, then two fresh ones of
	// which only one fits under the target of 1.
	err := env.RunPhases(context.Background(), &Phase{Target: 1, Next: seqUnits(1, func(int) bool { return false }, func(i int) Unit {
		return Unit{ID: "u", Do: func(ctx context.Context, w *Work) error {
			return w.Commit(Entry{Unit: "u-dup", Rows: row("a dup")}, Entry{Unit: "u-a", Rows: row("fresh a")},
				Entry{Unit: "u-b", Rows: row("fresh b")}, Entry{Unit: "u-r", Reason: "some_reason"})
		}}
	})})
	if err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	if c.Accepted != 1 || c.Rejected["near_duplicate"] != 1 || c.Rejected[ReasonOverTarget] != 1 {
		t.Fatalf("counts %+v", c)
	}
	if fmt.Sprint(g.admits) != "[u-dup u-a u-b]" {
		t.Fatalf("gate asked about %v: want every accepted entry, never a rejected one", g.admits)
	}
	if kept, ok := g.settled["u-a"]; !ok || !kept {
		t.Errorf("u-a: settled %v %v, want kept", kept, ok)
	}
	if kept, ok := g.settled["u-b"]; !ok || kept {
		t.Errorf("u-b: settled %v %v, want dropped (over the target)", kept, ok)
	}
	if _, ok := g.settled["u-dup"]; ok {
		t.Errorf("a refused entry was settled")
	}
}
