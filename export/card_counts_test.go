package export

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCardCountsLine pins the card's count line: generated is accepted
// plus rejected, rejections are listed by reason in name order, and a
// unit journaled twice (a redo after a crash) counts once, across a resume.
func TestCardCountsLine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 5)
	for i, reason := range []string{"too_similar", "invalid_output", "too_similar"} {
		ok(t, r.Reject(unitID(100+i), reason, Provenance{}))
	}
	ok(t, r.Close())
	// Resume: two more rows and rejections, and a unit journaled again.
	r = mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 5, 7)
	ok(t, r.Reject(unitID(103), "too_similar", Provenance{}))
	ok(t, r.Reject(unitID(104), "empty_output", Provenance{}))
	if err := r.Reject(unitID(100), "invalid_output", Provenance{}); err == nil && r.Counts().Rejected["invalid_output"] != 1 {
		t.Fatalf("a second entry for a done unit counted: %+v", r.Counts())
	}
	ok(t, r.Close())
	// A redo after a crash journals a unit a second time: copy the lines of
	// one rejected and one accepted unit to the end of the journal.
	seg := filepath.Join(dir, journalDir, segmentName(1, journalExt))
	data, err := os.ReadFile(seg)
	ok(t, err)
	var redo []string
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if strings.Contains(l, `"unit":"`+unitID(101)+`"`) || strings.Contains(l, `"unit":"`+unitID(2)+`"`) {
			redo = append(redo, l)
		}
	}
	if len(redo) != 2 {
		t.Fatalf("found %d lines to redo", len(redo))
	}
	ok(t, os.WriteFile(seg, append(data, strings.Join(redo, "")...), 0o644))

	res, err := Export(context.Background(), dir, ExportOptions{})
	ok(t, err)
	card, err := os.ReadFile(filepath.Join(dir, "README.md"))
	ok(t, err)
	const want = "- **Counts:** 12 generated, 7 accepted, 5 rejected (empty_output: 1; invalid_output: 1; too_similar: 3)\n"
	var got string
	for _, l := range strings.SplitAfter(string(card), "\n") {
		if strings.HasPrefix(l, "- **Counts:**") {
			got = l
		}
	}
	if got != want {
		t.Fatalf("card count line\n got %q\nwant %q", got, want)
	}
	if c := res.Counts; c.Generated != 12 || c.Accepted != 7 || c.RejectedTotal() != 5 || res.Configs[0].Rows != 7 {
		t.Fatalf("export counts %+v, %d rows", c, res.Configs[0].Rows)
	}
}
