package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// ErrLocked is matched by the error OpenRun returns when another process
// has the run open.
var ErrLocked = errLocked

var errLocked = errors.New("run is in use by another synthkit process")

// Run is an open run directory: the journal, the vector store and run.json.
// Its methods are safe for concurrent use by a command's workers.
type Run struct {
	dir      string
	previous string
	lock     *os.File
	journal  *segLog
	vectors  *segLog
	repaired Repair

	mu       sync.Mutex
	manifest Manifest
	st       *replayState
	vecDone  map[unitKey]struct{}
	closed   bool
}

// Repair describes a torn tail OpenRun dropped: bytes of a record that was
// being written when the previous process died and was never acknowledged.
type Repair struct {
	File  string
	Bytes int64
}

// String says what was dropped, for the user: "dropped 4748 bytes of an
// unfinished record at the end of journal/00000003.jsonl".
func (r Repair) String() string {
	if r.Bytes == 0 {
		return "nothing to repair"
	}
	name := filepath.ToSlash(filepath.Join(filepath.Base(filepath.Dir(r.File)), filepath.Base(r.File)))
	unit := "bytes"
	if r.Bytes == 1 {
		unit = "byte"
	}
	return fmt.Sprintf("dropped %d %s of an unfinished record at the end of %s", r.Bytes, unit, name)
}

// unitKey is a 128-bit FNV-1a hash of a unit id: it keeps the done set at a
// fixed 16 bytes per unit whatever the id length; accidental collisions are
// out of reach (≈2⁻⁸⁸ at a billion units).
type unitKey [16]byte

func keyOf(unit string) unitKey {
	h := fnv.New128a()
	io.WriteString(h, unit)
	var k unitKey
	h.Sum(k[:0])
	return k
}

// OpenRun creates the run directory dir, or resumes the run in it.
//
// A new run needs dir to be absent or empty. Resuming needs the same method,
// seed, models (names and digests) and template hashes as run.json records;
// otherwise OpenRun returns an [*IncompatibleError] (errors.Is
// [ErrIncompatible]) naming what differs. With fresh, an existing run is
// renamed to dir.old-<UTC time> (see [Run.Previous]) and a new run starts;
// nothing is deleted. A directory that holds other files is never touched.
//
// On resume, a torn journal tail left by a crash (an unfinished last write)
// is truncated ([Run.Repaired]). Damage anywhere else, such as a bad line
// with valid records after it, is never truncated: OpenRun returns a
// [*DamagedJournalError] and leaves the journal as it is.
func OpenRun(dir string, m Manifest, fresh bool) (*Run, error) {
	dir = filepath.Clean(dir)
	r := &Run{
		dir:     dir,
		st:      newReplayState(),
		vecDone: make(map[unitKey]struct{}),
	}
	kind, err := classifyDir(dir)
	if err != nil {
		return nil, err
	}
	var old *Manifest
	switch {
	case kind == dirOther:
		return nil, fmt.Errorf("%s is not empty and is not a synthkit run (no %s): choose a new or empty --out directory", dir, manifestFile)
	case kind == dirRun && fresh:
		if r.previous, err = moveAside(dir); err != nil {
			return nil, err
		}
	case kind == dirRun:
		if old, err = ReadManifest(dir); err != nil {
			return nil, fmt.Errorf("%w; pass --fresh to start a new run (the old one is moved aside)", err)
		}
		if diffs := compatible(old, &m); len(diffs) > 0 {
			return nil, &IncompatibleError{Dir: dir, Diffs: diffs}
		}
	}
	jdir, vdir := filepath.Join(dir, journalDir), filepath.Join(dir, vectorsDir)
	for _, d := range []string{dir, jdir, vdir} {
		if err := mkdirAll(d); err != nil {
			return nil, err
		}
	}
	if r.lock, err = lockDir(jdir); err != nil {
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("open run %s: %w", dir, errLocked)
		}
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			r.lock.Close()
		}
	}()
	// One strict pass first: a torn tail is cut only once it is clear it
	// holds no acknowledged record (run.json's counts only ever include
	// synced ones), so damage that looks torn never costs data.
	scan, err := scanJournal(jdir, scanStrict, func(_ linePos, h header, line []byte) error {
		_, err := r.st.apply(h, line)
		return err
	})
	var dj *DamagedJournalError
	if errors.As(err, &dj) {
		dj.resume = true // the message says what moving a segment aside costs
	}
	if err != nil {
		return nil, fmt.Errorf("replay journal of %s: %w", dir, withDir(err, dir))
	}
	if got := r.st.snapshot().Accepted; old != nil && got < old.Counts.Accepted {
		return nil, fmt.Errorf("resume %s: the journal holds %d accepted records but run.json recorded %d: records were lost "+
			"(the end of the last journal segment is unreadable, or a segment is missing); nothing was changed. "+
			"`synthkit export %s --skip-damaged` exports what is left; --fresh starts over (the old run is moved aside)",
			dir, got, old.Counts.Accepted, dir)
	}
	if scan.dropped > 0 {
		st, err := os.Stat(scan.droppedFile)
		if err != nil {
			return nil, fmt.Errorf("replay journal of %s: %w", dir, err)
		}
		if err := truncateTail(scan.droppedFile, st.Size()-scan.dropped); err != nil {
			return nil, err
		}
	}
	r.repaired = Repair{File: scan.droppedFile, Bytes: scan.dropped}
	lastVec, lastVecEnd, err := scanVectors(vdir, true, func(unit string, _ []float32) error {
		r.vecDone[keyOf(unit)] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replay vectors of %s: %w", dir, err)
	}

	if old != nil {
		m.Started = old.Started
		m.Resumes = old.Resumes + 1
		m.Notes = mergeNotes(old.Notes, m.Notes)
		m.Tables = old.Tables
	} else if m.Started.IsZero() {
		m.Started = time.Now().UTC()
	}
	m.Finished = time.Time{}
	m.Counts = r.countsLocked()
	r.manifest = m
	// run.json is durable before the first new journal line, so a journal
	// never exists without the manifest that labels it.
	if err := writeManifest(dir, &m); err != nil {
		return nil, err
	}
	r.journal = openSegLog(jdir, journalExt, scan.lastSeq, scan.lastEnd)
	r.vectors = openSegLog(vdir, vectorsExt, lastVec, lastVecEnd)
	ok = true
	return r, nil
}

type dirKind int

const (
	dirNew dirKind = iota
	dirRun
	dirOther
)

func classifyDir(dir string) (dirKind, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return dirNew, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", dir, diskHint(err))
	}
	if len(ents) == 0 {
		return dirNew, nil
	}
	for _, e := range ents {
		if e.Name() == manifestFile || e.Name() == journalDir {
			return dirRun, nil
		}
	}
	return dirOther, nil
}

// moveAside renames an existing run out of the way for --fresh.
func moveAside(dir string) (string, error) {
	if jd := filepath.Join(dir, journalDir); dirExists(jd) {
		l, err := lockDir(jd)
		if err != nil {
			return "", fmt.Errorf("cannot start fresh in %s: %w", dir, err)
		}
		defer l.Close()
	}
	base := dir + ".old-" + time.Now().UTC().Format("20060102T150405Z")
	dst := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(dir, dst); err != nil {
		if errors.Is(err, syscall.EBUSY) {
			return "", fmt.Errorf("move old run %s aside for --fresh: %w (it is a mount point: empty it yourself or choose another --out)", dir, err)
		}
		return "", fmt.Errorf("move old run %s aside for --fresh: %w", dir, diskHint(err))
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return "", err
	}
	return dst, nil
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func mergeNotes(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Dir returns the run directory.
func (r *Run) Dir() string { return r.dir }

// Previous returns where --fresh moved the old run, or "".
func (r *Run) Previous() string { return r.previous }

// Repaired reports the torn journal tail OpenRun dropped, if any.
func (r *Run) Repaired() Repair { return r.repaired }

// Done reports whether unit already has a journal entry (accepted or
// rejected). Commands skip done units on resume.
func (r *Run) Done(unit string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.st.done[keyOf(unit)]
	return ok
}

// Status reports whether unit has a journal entry and, if so, whether it
// was accepted (has rows) rather than rejected.
func (r *Run) Status(unit string) (done, accepted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	accepted, done = r.st.done[keyOf(unit)]
	return done, accepted
}

// Add journals the rows of one finished unit and returns once they are
// durable. Rows of one unit are written atomically (one journal line), so a
// unit that writes, say, a rating and the preference pair binarized from it
// never ends up with only one of them. Adding a unit that is already done
// is a no-op: the first entry wins.
func (r *Run) Add(unit string, p Provenance, rows ...Row) error {
	if err := validUnit(unit); err != nil {
		return fmt.Errorf("couldn't add unit: %w", err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("couldn't add unit %q: no rows", unit)
	}
	e := &entryOut{Unit: unit, Kind: kindRow, Rows: rows}
	for i, row := range rows {
		if row == nil {
			return fmt.Errorf("couldn't add unit %q: row %d is nil", unit, i)
		}
		if err := row.validate(); err != nil {
			return fmt.Errorf("couldn't add unit %q: %s row: %w", unit, row.Config(), err)
		}
		if slices.Contains(e.Configs, row.Config()) {
			// One id per row and config: the id column stays a key.
			return fmt.Errorf("couldn't add unit %q: two %s rows; use one unit per row", unit, row.Config())
		}
		e.Configs = append(e.Configs, row.Config())
	}
	return r.write(unit, p, e, func() {
		r.st.counts.Accepted++
		for _, c := range e.Configs {
			r.st.counts.Rows[c]++
		}
	})
}

// Reject journals that unit finished without a row, for the given reason
// ("too similar", "unparseable judge output", …). The unit counts as done,
// so a resumed run does not redo it, and the card reports the counts.
func (r *Run) Reject(unit, reason string, p Provenance) error {
	if err := validUnit(unit); err != nil {
		return fmt.Errorf("couldn't reject unit: %w", err)
	}
	if reason == "" {
		reason = "unspecified"
	}
	e := &entryOut{Unit: unit, Kind: kindReject, Reason: reason}
	return r.write(unit, p, e, func() { r.st.counts.Rejected[reason]++ })
}

func (r *Run) write(unit string, p Provenance, e *entryOut, count func()) error {
	if r.Done(unit) {
		return nil
	}
	r.mu.Lock()
	p = p.fill(&r.manifest)
	r.mu.Unlock()
	e.Prov = &p
	line, err := encodeEntry(e)
	if err != nil {
		return fmt.Errorf("couldn't encode unit %q: %w", unit, err)
	}
	if len(line) > maxEntryBytes {
		return fmt.Errorf("couldn't add unit %q: %w (%d bytes, limit %d)", unit, errTooLarge, len(line), maxEntryBytes)
	}
	if err := r.journal.Append(line); err != nil {
		return fmt.Errorf("couldn't journal unit %q: %w", unit, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := keyOf(unit)
	if _, dup := r.st.done[k]; dup {
		return nil // a concurrent Add of the same unit won; export keeps the first
	}
	r.st.done[k] = e.Kind == kindRow
	count()
	return nil
}

// SetState journals a named piece of run state (for example the QDAIF
// archive) as JSON; the latest value wins on resume.
func (r *Run) SetState(key string, v any) error {
	if key == "" {
		return errors.New("couldn't save state: empty key")
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("couldn't encode state %q: %w", key, err)
	}
	line, err := encodeEntry(&entryOut{Kind: kindState, Key: key, Value: json.RawMessage(raw)})
	if err != nil {
		return fmt.Errorf("couldn't encode state %q: %w", key, err)
	}
	if len(line) > maxEntryBytes {
		return fmt.Errorf("couldn't save state %q: %w", key, errTooLarge)
	}
	if err := r.journal.Append(line); err != nil {
		return fmt.Errorf("couldn't journal state %q: %w", key, err)
	}
	r.mu.Lock()
	r.st.states[key] = raw
	r.mu.Unlock()
	return nil
}

// State decodes the latest value saved under key into v; ok is false when
// there is none.
func (r *Run) State(key string, v any) (ok bool, err error) {
	r.mu.Lock()
	raw, ok := r.st.states[key]
	r.mu.Unlock()
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("couldn't decode state %q: %w", key, err)
	}
	return true, nil
}

// AddVector stores the embedding of unit durably. Call it before [Run.Add]
// for the same unit: then every done unit has its vector after a crash (a
// vector without a row is harmless). A unit's second vector is ignored.
func (r *Run) AddVector(unit string, v []float32) error {
	if err := validUnit(unit); err != nil {
		return fmt.Errorf("couldn't add vector: %w", err)
	}
	if len(v) == 0 || len(v) > maxVectorDim {
		return fmt.Errorf("couldn't add vector of %q: dimension %d out of range 1..%d", unit, len(v), maxVectorDim)
	}
	k := keyOf(unit)
	r.mu.Lock()
	_, dup := r.vecDone[k]
	r.mu.Unlock()
	if dup {
		return nil
	}
	if err := r.vectors.Append(encodeVector(unit, v)); err != nil {
		return fmt.Errorf("couldn't store vector of %q: %w", unit, err)
	}
	r.mu.Lock()
	r.vecDone[k] = struct{}{}
	r.mu.Unlock()
	return nil
}

// Vectors calls fn for every stored embedding (first per unit wins), to
// rebuild an in-memory index on resume. fn must not keep v.
func (r *Run) Vectors(fn func(unit string, v []float32) error) error {
	return ReadVectors(r.dir, fn)
}

// Counts returns the run's counts so far, resumed ones included.
func (r *Run) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.countsLocked()
}

func (r *Run) countsLocked() Counts { return r.st.snapshot() }

// Manifest returns a copy of the run's manifest as run.json has it.
func (r *Run) Manifest() Manifest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.manifest
}

// Note records a fact for the card (a degraded feature, a fallback taken);
// it is written to run.json by Finish or Close.
func (r *Run) Note(note string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.manifest.Notes = mergeNotes(r.manifest.Notes, []string{note})
}

// SetTable records a table for the card (written to run.json by Finish or
// Close); a table with the same title is replaced, so a resumed run shows
// the latest figures.
func (r *Run) SetTable(t CardTable) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.manifest.Tables {
		if r.manifest.Tables[i].Title == t.Title {
			r.manifest.Tables[i] = t
			return
		}
	}
	r.manifest.Tables = append(r.manifest.Tables, t)
}

// Finish marks the run complete in run.json (finish time and counts). The
// run stays open; call Close afterwards.
func (r *Run) Finish() error {
	r.mu.Lock()
	r.manifest.Finished = time.Now().UTC()
	r.mu.Unlock()
	return r.saveManifest()
}

func (r *Run) saveManifest() error {
	r.mu.Lock()
	r.manifest.Counts = r.countsLocked()
	m := r.manifest
	r.mu.Unlock()
	return writeManifest(r.dir, &m)
}

// Close waits for pending appends, writes the counts to run.json and
// releases the run. Everything acknowledged before is already durable.
func (r *Run) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	errs := []error{r.journal.Close(), r.vectors.Close()}
	if r.journal.stickyErr() == nil {
		// After a write error the disk is likely full or read-only; the
		// journal has the counts, run.json can wait for the next open.
		errs = append(errs, r.saveManifest())
	}
	errs = append(errs, r.lock.Close())
	return errors.Join(errs...)
}
