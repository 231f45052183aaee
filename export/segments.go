package export

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// segLog is an append-only log split into numbered segment files
// (00000001.jsonl, 00000002.jsonl, …) in one directory. It is shared by the
// journal and the vector store.
//
// Append returns only after the record is written and fsync'd. A single
// committer goroutine takes every record queued while the previous fsync
// ran, writes them with one write and syncs once (group commit): the window
// is bounded by one fsync and by maxBatchBytes, and adds no timer latency.
//
// A reopened log appends to its last segment when that segment ends on a
// whole valid record (after a torn tail was truncated and synced, too), so
// resumes do not pile up segments; it starts a new segment when the file is
// not the size the scan found, and whenever one reaches maxSegmentBytes.
type segLog struct {
	dir, ext      string
	maxSegBytes   int64
	maxBatchBytes int

	// Committer-owned.
	f    *os.File
	seq  int   // number of the current (or next, when f is nil) segment
	size int64 // bytes of f known to end on a whole record
	// reuse is set until the first commit when segment seq exists and its
	// first reuseSize bytes are whole valid records (what the scan found).
	reuse     bool
	reuseSize int64

	reqs chan *appendReq
	done chan struct{}

	mu     sync.RWMutex // held for reading while sending on reqs
	closed bool

	errMu sync.Mutex
	err   error // sticky: once a write failed the log accepts nothing more

	stats logStats
}

type logStats struct {
	mu       sync.Mutex
	records  int64
	commits  int64
	syncTime time.Duration
}

type appendReq struct {
	data []byte
	done chan error
}

var errLogClosed = errors.New("log is closed")

const (
	defaultMaxSegmentBytes = 256 << 20
	defaultMaxBatchBytes   = 4 << 20
)

// openSegLog starts a log after segment lastSeq, whose scan found whole
// valid records up to byte lastEnd (and nothing after them, or a torn tail
// already truncated). The first append goes to that segment if the file
// still has exactly lastEnd bytes and room to grow, else to a new segment
// lastSeq+1; nothing is opened or created before it.
func openSegLog(dir, ext string, lastSeq int, lastEnd int64) *segLog {
	l := &segLog{
		dir:           dir,
		ext:           ext,
		maxSegBytes:   defaultMaxSegmentBytes,
		maxBatchBytes: defaultMaxBatchBytes,
		seq:           lastSeq + 1,
		reqs:          make(chan *appendReq, 256),
		done:          make(chan struct{}),
	}
	if lastSeq > 0 {
		l.seq, l.reuse, l.reuseSize = lastSeq, true, lastEnd
	}
	go l.commitLoop()
	return l
}

// Append writes data (one or more whole records) durably.
func (l *segLog) Append(data []byte) error {
	req := &appendReq{data: data, done: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return errLogClosed
	}
	if err := l.stickyErr(); err != nil {
		l.mu.RUnlock()
		return err
	}
	l.reqs <- req
	l.mu.RUnlock()
	return <-req.done
}

// Close waits for queued appends and closes the current segment.
func (l *segLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.reqs)
	l.mu.Unlock()
	<-l.done
	if l.f != nil {
		if err := l.f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", l.f.Name(), err)
		}
	}
	return nil
}

func (l *segLog) stickyErr() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.err
}

func (l *segLog) setErr(err error) error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if l.err == nil {
		l.err = err
	}
	return l.err
}

func (l *segLog) commitLoop() {
	defer close(l.done)
	var batch []*appendReq
	var buf []byte
	for req := range l.reqs {
		batch = append(batch[:0], req)
		buf = append(buf[:0], req.data...)
	drain:
		for len(buf) < l.maxBatchBytes {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				buf = append(buf, r.data...)
			default:
				break drain
			}
		}
		err := l.commit(buf, len(batch))
		for _, r := range batch {
			r.done <- err
		}
		if cap(buf) > 4*l.maxBatchBytes {
			buf = nil // one huge record should not pin memory
		}
	}
}

func (l *segLog) commit(buf []byte, records int) error {
	if err := l.stickyErr(); err != nil {
		return err
	}
	if l.f == nil {
		if err := l.startSegment(); err != nil {
			return l.setErr(err)
		}
	}
	name := l.f.Name()
	n, err := fileWrite(l.f, buf)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		// Cut a partial write so the segment still ends on a whole record;
		// if even that fails, the next open drops the torn tail.
		if n > 0 {
			if terr := l.f.Truncate(l.size); terr == nil {
				_ = l.f.Sync()
			}
		}
		return l.setErr(fmt.Errorf("append to %s: %w", name, diskHint(err)))
	}
	start := time.Now()
	if err := fileSync(l.f); err != nil {
		// After a failed fsync the page cache state is unknown: stop.
		return l.setErr(fmt.Errorf("sync %s: %w", name, diskHint(err)))
	}
	l.stats.mu.Lock()
	l.stats.records += int64(records)
	l.stats.commits++
	l.stats.syncTime += time.Since(start)
	l.stats.mu.Unlock()
	l.size += int64(len(buf))
	if l.size >= l.maxSegBytes {
		if err := l.f.Close(); err != nil {
			return l.setErr(fmt.Errorf("close %s: %w", name, err))
		}
		l.f = nil
		l.seq++
	}
	return nil
}

func (l *segLog) startSegment() error {
	if l.reuse {
		l.reuse = false
		ok, err := l.reopenSegment()
		if ok || err != nil {
			return err
		}
		l.seq++
	}
	path := filepath.Join(l.dir, segmentName(l.seq, l.ext))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create segment %s: %w", path, diskHint(err))
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, 0
	return nil
}

// reopenSegment opens segment seq for appending if it is safe: the file
// has exactly the bytes the scan checked (so it ends on a whole record) and
// room to grow. ok is false when a new segment should be started instead.
func (l *segLog) reopenSegment() (ok bool, err error) {
	if l.reuseSize >= l.maxSegBytes {
		return false, nil
	}
	path := filepath.Join(l.dir, segmentName(l.seq, l.ext))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("open segment %s: %w", path, diskHint(err))
	}
	st, err := f.Stat()
	if err != nil || st.Size() != l.reuseSize {
		// Changed since the scan (or unknown): leave it as it is.
		f.Close()
		return false, nil
	}
	l.f, l.size = f, l.reuseSize
	return true, nil
}

// fileSync makes a segment's written bytes durable: commit acknowledges no
// record before it returned. A variable so a test can check exactly that,
// which killing the process cannot show (the page cache survives a kill).
var fileSync = func(f *os.File) error { return f.Sync() }

func segmentName(seq int, ext string) string { return fmt.Sprintf("%08d%s", seq, ext) }

// listSegments returns the segment numbers in dir, ascending.
func listSegments(dir, ext string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var seqs []int
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ext)
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.Atoi(name)
		if err != nil || n <= 0 {
			continue
		}
		seqs = append(seqs, n)
	}
	slices.Sort(seqs)
	return seqs, nil
}

// truncateTail cuts path to size and makes it durable: the bytes after size
// are a torn write that was never acknowledged.
func truncateTail(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s to drop its torn tail: %w", path, diskHint(err))
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("drop torn tail of %s: %w", path, diskHint(err))
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, diskHint(err))
	}
	return nil
}
