package export

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportTimeTables: ExportOptions.Tables reach the card, replace a run
// table of the same title and add the others after the run's own.
func TestExportTimeTables(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 3)
	r.SetTable(CardTable{Title: "Diversity", Header: []string{"metric", "value"}, Rows: [][]string{{"stale", "1"}}})
	r.SetTable(CardTable{Title: "Judge", Header: []string{"score", "n"}, Rows: [][]string{{"5", "3"}}})
	ok(t, r.Close())
	tables := []CardTable{
		{Title: "Diversity", Header: []string{"metric", "value"}, Rows: [][]string{{"Vendi score", "2.9"}}},
		{Title: "Extra", Header: []string{"a"}, Rows: [][]string{{"b"}}},
	}
	_, err := Export(context.Background(), dir, ExportOptions{Tables: tables})
	ok(t, err)
	card, err := os.ReadFile(filepath.Join(dir, "README.md"))
	ok(t, err)
	s := string(card)
	if strings.Contains(s, "stale") || !strings.Contains(s, "| Vendi score | 2.9 |") {
		t.Fatalf("the export-time Diversity table did not replace the run's:\n%s", s)
	}
	div, judge, extra := strings.Index(s, "### Diversity"), strings.Index(s, "### Judge"), strings.Index(s, "### Extra")
	if div < 0 || judge < div || extra < judge || strings.Count(s, "### Diversity") != 1 {
		t.Fatalf("table order: Diversity at %d, Judge at %d, Extra at %d", div, judge, extra)
	}
	// run.json keeps the run's own tables: the export does not write them back.
	m, err := ReadManifest(dir)
	ok(t, err)
	if len(m.Tables) != 2 || m.Tables[0].Rows[0][0] != "stale" {
		t.Fatalf("run.json tables changed: %+v", m.Tables)
	}
}
