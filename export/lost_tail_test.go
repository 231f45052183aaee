package export

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A last segment that is all garbage looks like a torn tail line by line;
// run.json's counts show that acknowledged records were lost, so export
// refuses unless told to skip.
func TestExportRefusesWhenRunJSONCountsMore(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 10)
	ok(t, r.Finish())
	ok(t, r.Close())
	segs, _ := filepath.Glob(filepath.Join(dir, journalDir, "*"+journalExt))
	last := segs[len(segs)-1]
	info, err := os.Stat(last)
	ok(t, err)
	// Zero the whole segment, as a lost write-back can.
	ok(t, os.WriteFile(last, make([]byte, info.Size()), 0o644))

	_, err = Export(context.Background(), dir, ExportOptions{})
	if err == nil || !strings.Contains(err.Error(), "run.json recorded 10") {
		t.Fatalf("export of a journal that lost its records: %v", err)
	}
	// Told to skip, it goes on; nothing is left, so it says so rather
	// than writing an empty dataset.
	if _, err := Export(context.Background(), dir, ExportOptions{SkipDamaged: true}); err == nil || strings.Contains(err.Error(), "run.json recorded") {
		t.Fatalf("export --skip-damaged of an emptied journal: %v", err)
	}
}

// Resume refuses the same journal and changes nothing: cutting the
// "torn" tail would drop acknowledged records.
func TestResumeRefusesWhenRunJSONCountsMore(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 10)
	ok(t, r.Close())
	segs, _ := filepath.Glob(filepath.Join(dir, journalDir, "*"+journalExt))
	last := segs[len(segs)-1]
	info, err := os.Stat(last)
	ok(t, err)
	zeros := make([]byte, info.Size())
	ok(t, os.WriteFile(last, zeros, 0o644))
	if _, err := OpenRun(dir, testManifest(), false); err == nil || !strings.Contains(err.Error(), "run.json recorded 10") {
		t.Fatalf("resume of a journal that lost its records: %v", err)
	}
	after, err := os.ReadFile(last)
	ok(t, err)
	if len(after) != len(zeros) {
		t.Fatalf("resume cut the segment to %d bytes (was %d)", len(after), len(zeros))
	}
}
