package export

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// syncRecorder swaps fileSync for one that remembers, per file, how many
// bytes the file had when it was synced: what a power cut cannot take.
type syncRecorder struct {
	mu     sync.Mutex
	synced map[string]int64
	fail   error // returned instead of syncing, when set
}

func recordSyncs(t *testing.T) *syncRecorder {
	t.Helper()
	rec := &syncRecorder{synced: map[string]int64{}}
	orig := fileSync
	fileSync = func(f *os.File) error {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.fail != nil {
			return rec.fail
		}
		st, err := f.Stat() // before the sync: only these bytes are covered
		if err != nil {
			return err
		}
		if err := orig(f); err != nil {
			return err
		}
		rec.synced[f.Name()] = st.Size()
		return nil
	}
	t.Cleanup(func() { fileSync = orig })
	return rec
}

// durable reports whether line lies, whole, in the synced part of one of
// the journal's segments.
func (rec *syncRecorder) durable(t *testing.T, jdir string, line []byte) bool {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	segs, _ := filepath.Glob(filepath.Join(jdir, "*"+journalExt))
	for _, seg := range segs {
		data, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(data, line); i >= 0 {
			return int64(i+len(line)) <= rec.synced[seg]
		}
	}
	return false
}

// TestAppendIsSyncedBeforeAck: every unit Add acknowledged was fsync'd
// (its whole line, in its segment) before Add returned, with appends from
// many goroutines grouped into shared commits and segments rolling over.
// A failed fsync fails the append and stops the journal.
func TestAppendIsSyncedBeforeAck(t *testing.T) {
	rec := recordSyncs(t)
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	r.journal.maxSegBytes = 8 << 10 // several segments
	jdir := filepath.Join(dir, journalDir)

	const workers, per = 8, 25
	errs := make(chan error, workers*per)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range per {
				i := w*per + k
				if err := r.Add(unitID(i), Provenance{}, sftFixture(i)); err != nil {
					errs <- err
					return
				}
				// Acknowledged: the unit's line must already be durable.
				if !rec.durable(t, jdir, []byte(`{"unit":"`+unitID(i)+`"`)) {
					errs <- errors.New(unitID(i) + " was acknowledged before its line was synced")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if segs, _ := filepath.Glob(filepath.Join(jdir, "*"+journalExt)); len(segs) < 2 {
		t.Fatalf("%d segments; the test needs the journal to roll over", len(segs))
	}
	st := &r.journal.stats
	st.mu.Lock()
	t.Logf("%d records in %d commits", st.records, st.commits)
	st.mu.Unlock()

	// A failed fsync: the append fails, the unit is not done, and the
	// journal accepts nothing more.
	rec.mu.Lock()
	rec.fail = &os.PathError{Op: "sync", Path: "segment", Err: syscall.EIO}
	rec.mu.Unlock()
	if err := r.Add(unitID(1000), Provenance{}, sftFixture(1000)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Add with a failing fsync = %v, want EIO", err)
	}
	if r.Done(unitID(1000)) {
		t.Fatal("a unit whose fsync failed counts as done")
	}
	rec.mu.Lock()
	rec.fail = nil
	rec.mu.Unlock()
	if err := r.Add(unitID(1001), Provenance{}, sftFixture(1001)); err == nil {
		t.Fatal("the journal accepted an append after a failed fsync")
	}
	r.Close()
}
