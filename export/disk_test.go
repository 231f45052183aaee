package export

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// failWritesAfter makes every write fail with ENOSPC once budget bytes
// have been written (the failing write is partial), like a disk that fills.
func failWritesAfter(t *testing.T, budget int64) {
	t.Helper()
	var mu sync.Mutex
	orig := fileWrite
	fileWrite = func(f *os.File, b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if int64(len(b)) <= budget {
			budget -= int64(len(b))
			return orig(f, b)
		}
		n, err := orig(f, b[:budget])
		budget = 0
		if err != nil {
			return n, err
		}
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	t.Cleanup(func() { fileWrite = orig })
}

func TestDiskFullDuringAppend(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 10)
	journal := filepath.Join(dir, journalDir)
	before := hashTree(t, journal)

	failWritesAfter(t, 100) // the next line is written in part
	err := r.Add(unitID(10), Provenance{}, sftFixture(10))
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk is full") {
		t.Fatalf("Add on a full disk = %v, want ENOSPC with a hint", err)
	}
	if err := r.Add(unitID(11), Provenance{}, sftFixture(11)); err == nil {
		t.Fatal("Add after a failed write succeeded; the journal must stop")
	}
	if r.Done(unitID(10)) {
		t.Fatal("failed unit counts as done")
	}
	ok(t, r.Close())
	equalMaps(t, "journal after a failed append", hashTree(t, journal), before)

	fileWrite = func(f *os.File, b []byte) (int, error) { return f.Write(b) }
	r = mustOpen(t, dir, testManifest(), false)
	defer r.Close()
	if r.Repaired().Bytes != 0 {
		t.Fatalf("the partial write was left in the journal: %+v", r.Repaired())
	}
	if c := r.Counts(); c.Accepted != 10 || r.Done(unitID(10)) {
		t.Fatalf("after resume: %+v, unit 10 done=%v", c, r.Done(unitID(10)))
	}
	addSFT(t, r, 10, 12)
}

func TestDiskFullDuringExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 300)
	ok(t, r.Close())
	_, err := Export(context.Background(), dir, ExportOptions{MaxShardBytes: 64 << 10})
	ok(t, err)
	before := hashTree(t, dir)

	// More rows, then an export that runs out of space midway.
	r = mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 300, 600)
	ok(t, r.Close())
	withJournal := hashTree(t, dir)
	failWritesAfter(t, 10<<10)
	_, err = Export(context.Background(), dir, ExportOptions{MaxShardBytes: 64 << 10})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk is full") {
		t.Fatalf("Export on a full disk = %v, want ENOSPC with a hint", err)
	}
	after := hashTree(t, dir)
	for k, v := range withJournal {
		if strings.HasPrefix(k, journalDir+"/") && after[k] != v {
			t.Fatalf("journal file %s changed by a failed export", k)
		}
	}
	// The previous export is untouched and nothing is left half-written.
	for k, v := range before {
		if !strings.HasPrefix(k, journalDir+"/") && k != manifestFile && after[k] != v {
			t.Fatalf("previous export's %s changed by a failed export", k)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, stagingDir)); !os.IsNotExist(err) {
		t.Fatalf("staging left behind after a failed export: %v", err)
	}
}

func TestDiskFullWritingManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	failWritesAfter(t, 10)
	_, err := OpenRun(dir, testManifest(), false)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("OpenRun = %v, want ENOSPC", err)
	}
	if _, err := os.Stat(filepath.Join(dir, manifestFile)); !os.IsNotExist(err) {
		t.Fatalf("a half-written run.json exists: %v", err)
	}
}

// TestReadOnlyDir uses a real read-only directory. Root ignores directory
// permissions, so as root the same check runs in a private mount namespace
// on a read-only bind mount instead (see TestReadOnlyMount).
func TestReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root, which ignores directory permissions; TestReadOnlyMount covers this with a read-only mount")
	}
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 20)
	ok(t, r.Close())
	before := hashTree(t, dir)
	ok(t, os.Chmod(dir, 0o555))
	defer os.Chmod(dir, 0o755)

	_, err := Export(context.Background(), dir, ExportOptions{})
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "writable --out") {
		t.Fatalf("Export into a read-only dir = %v", err)
	}
	_, err = OpenRun(dir, testManifest(), false)
	if err == nil || !strings.Contains(err.Error(), "writable --out") {
		t.Fatalf("OpenRun on a read-only dir = %v", err)
	}
	equalMaps(t, "run after failures in a read-only dir", hashTree(t, dir), before)
}
