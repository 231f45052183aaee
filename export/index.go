package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// rowIndex locates the journal rows of one config, sorted by unit id, so
// export streams rows in a stable order without holding them: about 32
// bytes plus the unit id per row, whatever the row's size.
type rowIndex struct {
	arena []byte // unit ids, back to back
	ents  []idxEnt
}

type idxEnt struct {
	uoff int64 // unit id in arena
	off  int64 // line offset in its segment
	seg  int32
	n    int32 // line length
	ulen uint16
	row  uint16 // position in the line's rows
}

func (ix *rowIndex) add(unit string, pos linePos, row int) {
	ix.ents = append(ix.ents, idxEnt{uoff: int64(len(ix.arena)), off: pos.off, seg: int32(pos.seg),
		n: int32(pos.n), ulen: uint16(len(unit)), row: uint16(row)})
	ix.arena = append(ix.arena, unit...)
}

func (ix *rowIndex) unit(e *idxEnt) []byte { return ix.arena[e.uoff : e.uoff+int64(e.ulen)] }

// sort orders rows by unit id (bytewise). Journal order breaks no ties:
// replay already kept only the first entry of each unit.
func (ix *rowIndex) sort() {
	slices.SortFunc(ix.ents, func(a, b idxEnt) int { return bytes.Compare(ix.unit(&a), ix.unit(&b)) })
}

// lineReader reads journal lines by position through a read-ahead window,
// so mostly-sorted journals are read sequentially.
type lineReader struct {
	dir    string
	files  map[int32]*os.File
	win    []byte
	winSeg int32
	winOff int64
}

const readWindow = 4 << 20

func newLineReader(dir string) *lineReader {
	return &lineReader{dir: dir, files: map[int32]*os.File{}, winSeg: -1}
}

func (lr *lineReader) read(e *idxEnt) ([]byte, error) {
	end := e.off + int64(e.n)
	if e.seg == lr.winSeg && e.off >= lr.winOff && end <= lr.winOff+int64(len(lr.win)) {
		return lr.win[e.off-lr.winOff : end-lr.winOff], nil
	}
	f, ok := lr.files[e.seg]
	if !ok {
		path := filepath.Join(lr.dir, segmentName(int(e.seg), journalExt))
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("open journal segment %s: %w", path, err)
		}
		lr.files[e.seg] = f
	}
	size := max(readWindow, int(e.n))
	if cap(lr.win) < size {
		lr.win = make([]byte, size)
	}
	lr.win = lr.win[:size]
	n, err := f.ReadAt(lr.win, e.off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read journal %s: %w", f.Name(), err)
	}
	if n < int(e.n) {
		return nil, fmt.Errorf("read journal %s: record at byte %d is truncated (was the journal changed during export?)", f.Name(), e.off)
	}
	lr.win, lr.winSeg, lr.winOff = lr.win[:n], e.seg, e.off
	return lr.win[:e.n], nil
}

func (lr *lineReader) Close() {
	for _, f := range lr.files {
		f.Close()
	}
}
