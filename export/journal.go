package export

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// Journal layout: journal/00000001.jsonl, … Each line is one JSON object:
//
//	{"unit":"sft-000042","kind":"row","configs":["sft"],"prov":{…},"rows":[{…}],"crc":"1a2b3c4d"}
//	{"unit":"sft-000043","kind":"reject","reason":"too similar","prov":{…},"crc":"…"}
//	{"kind":"state","key":"archive","value":{…},"crc":"…"}
//
// crc is the CRC-32C of the line with the crc field removed (the object
// closed right after the preceding field). A line that lacks its newline or
// fails its crc is bad: at the very end of the journal it is a torn write
// from a crash, anywhere else it is damage. The field order is fixed so replay reads
// unit, kind and configs without decoding the rows.
const (
	journalDir = "journal"
	journalExt = ".jsonl"

	kindRow    = "row"
	kindReject = "reject"
	kindState  = "state"

	// maxEntryBytes bounds one journal line, so the torn-tail window below
	// is bounded too.
	maxEntryBytes = 32 << 20
)

// tornWindow: only the last group commit can be torn (every earlier one was
// fsync'd before the next began), and a commit is at most one batch plus
// one entry. A bad tail longer than that is corruption, not a crash, and so
// is a bad line with a valid one after it. A variable so tests can shrink it.
var tornWindow int64 = defaultMaxBatchBytes + maxEntryBytes

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcSuffix is `,"crc":"xxxxxxxx"}`.
const crcSuffixLen = len(`,"crc":"`) + 8 + len(`"}`)

type entryOut struct {
	Unit    string      `json:"unit,omitempty"`
	Kind    string      `json:"kind"`
	Configs []string    `json:"configs,omitempty"`
	Reason  string      `json:"reason,omitempty"`
	Key     string      `json:"key,omitempty"`
	Prov    *Provenance `json:"prov,omitempty"`
	Rows    []Row       `json:"rows,omitempty"`
	Value   any         `json:"value,omitempty"`
}

type entryIn struct {
	Unit    string            `json:"unit"`
	Kind    string            `json:"kind"`
	Configs []string          `json:"configs"`
	Reason  string            `json:"reason"`
	Key     string            `json:"key"`
	Prov    Provenance        `json:"prov"`
	Rows    []json.RawMessage `json:"rows"`
	Value   json.RawMessage   `json:"value"`
}

// encodeEntry returns the journal line for e, newline included.
func encodeEntry(e *entryOut) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // code and markup stay readable in the journal
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	obj := bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
	sum := crc32.Checksum(obj, castagnoli)
	line := make([]byte, 0, len(obj)+crcSuffixLen+1)
	line = append(line, obj[:len(obj)-1]...)
	line = append(line, `,"crc":"`...)
	line = hex.AppendEncode(line, []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	line = append(line, "\"}\n"...)
	return line, nil
}

// checkLine verifies a line (without its newline) against its crc.
func checkLine(line []byte) bool {
	n := len(line)
	if n < crcSuffixLen+2 || line[0] != '{' || !bytes.HasSuffix(line, []byte(`"}`)) {
		return false
	}
	suffix := line[n-crcSuffixLen:]
	if !bytes.HasPrefix(suffix, []byte(`,"crc":"`)) {
		return false
	}
	sum := crc32.Update(crc32.Checksum(line[:n-crcSuffixLen], castagnoli), castagnoli, []byte{'}'})
	var want [8]byte
	hex.Encode(want[:], []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	return bytes.Equal(suffix[8:16], want[:])
}

// linePos locates a journal line for a later read.
type linePos struct {
	seg int
	off int64
	n   int // length without the newline
}

type header struct {
	unit    string
	kind    string
	configs []string
}

// journalScan is the result of reading a whole journal.
type journalScan struct {
	lastSeq int
	// dropped is how many bytes of torn tail were found (and, when
	// repairing, truncated).
	dropped     int64
	droppedFile string
	// lastEnd is where the last segment ends on a whole valid record (after
	// a repair, its new size): a resumed log may append to it from there.
	lastEnd int64
	// skipped lists the damaged ranges passed over in scanSkipDamaged mode.
	skipped []DamagedRange
}

// scanMode says what scanJournal does with a bad line.
type scanMode int

const (
	// scanStrict reports damage as a *DamagedJournalError and skips a torn
	// tail without touching it (readers: ReadRows, a plain export).
	scanStrict scanMode = iota
	// scanRepair is scanStrict plus truncating a torn tail (resume).
	scanRepair
	// scanSkipDamaged passes over damaged ranges, recording them, and reads
	// the valid records after them (export --skip-damaged).
	scanSkipDamaged
)

// DamagedRange is a run of journal lines that fail their checksum and are
// followed by valid records, so they are not a torn write from a crash.
type DamagedRange struct {
	// File is the segment's path.
	File string
	// Start and End are byte offsets: the damage is File[Start:End].
	Start, End int64
	// Lines is how many newline-separated lines the range holds.
	Lines int
}

// Bytes is the length of the range.
func (d DamagedRange) Bytes() int64 { return d.End - d.Start }

// DamagedJournalError reports damage inside a journal: a bad line with a
// valid record after it (or bad lines that are not at the end of the last
// segment), which no crash can produce. Resume refuses to truncate the valid
// records after it; export refuses unless told to skip damaged lines.
type DamagedJournalError struct {
	DamagedRange
	// Dir is the run directory.
	Dir string
	// resume is set when OpenRun found it (the hint differs).
	resume bool
}

func (e *DamagedJournalError) Error() string {
	what := "export"
	if e.resume {
		what = "resume"
	}
	lines := "1 line"
	if e.Lines != 1 {
		lines = fmt.Sprintf("%d lines", e.Lines)
	}
	msg := fmt.Sprintf("journal segment %s is damaged at bytes %d-%d (%d bytes in %s that fail their checksum, "+
		"with valid records after them): this is not a torn write from a crash, so %s stops rather than drop records",
		e.File, e.Start, e.End, e.Bytes(), lines, what)
	dir := e.Dir
	if dir == "" {
		dir = "DIR"
	}
	if e.resume {
		return msg + fmt.Sprintf("; run `synthkit export %s --skip-damaged` to export every valid record "+
			"(it skips exactly the damaged lines and says how many); moving the segment aside also drops its valid records", dir)
	}
	return msg + fmt.Sprintf("; run `synthkit export %s --skip-damaged` to skip exactly the damaged lines "+
		"and export every valid record (the card notes what was skipped)", dir)
}

// scanJournal calls fn for each valid line of every segment, in order.
// Only an unfinished last write at the end of the last segment is a torn
// tail: it is truncated in scanRepair mode and skipped otherwise (export
// never writes to the journal). Any other bad line is damage (see
// [DamagedJournalError]).
func scanJournal(dir string, mode scanMode, fn func(pos linePos, h header, line []byte) error) (journalScan, error) {
	var res journalScan
	seqs, err := listSegments(dir, journalExt)
	if err != nil {
		return res, err
	}
	for i, seq := range seqs {
		res.lastSeq = seq
		last := i == len(seqs)-1
		path := filepath.Join(dir, segmentName(seq, journalExt))
		seg, err := scanSegment(path, seq, last, mode, fn)
		if err != nil {
			return res, err
		}
		res.skipped = append(res.skipped, seg.skipped...)
		res.lastEnd = seg.end
		if seg.torn > 0 {
			res.dropped, res.droppedFile = seg.torn, path
			res.lastEnd = seg.end - seg.torn
			if mode == scanRepair {
				if err := truncateTail(path, seg.end-seg.torn); err != nil {
					return res, err
				}
			}
		}
	}
	return res, nil
}

// segmentScan is what scanSegment found: end is the offset after the last
// byte read, torn the length of a torn tail ending there.
type segmentScan struct {
	end, torn int64
	skipped   []DamagedRange
}

func scanSegment(path string, seq int, last bool, mode scanMode, fn func(linePos, header, []byte) error) (segmentScan, error) {
	var res segmentScan
	f, err := os.Open(path)
	if err != nil {
		return res, fmt.Errorf("open journal segment %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var scratch []byte
	// bad is the damaged range being read: bad lines not yet followed by a
	// valid one.
	var bad *DamagedRange
	for {
		line, complete, err := readLine(r, &scratch)
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("read journal segment %s: %w", path, err)
		}
		n := int64(len(line))
		if complete {
			n++
		}
		if !complete || !checkLine(line) {
			if bad == nil {
				bad = &DamagedRange{File: path, Start: off}
			}
			bad.Lines++
			off += n
			continue
		}
		if bad != nil {
			// A valid record after bad lines: damage, not a torn write.
			bad.End = off
			if mode != scanSkipDamaged {
				return res, &DamagedJournalError{DamagedRange: *bad, resume: mode == scanRepair}
			}
			res.skipped = append(res.skipped, *bad)
			bad = nil
		}
		h, ok := parseHeader(line)
		if !ok {
			return res, fmt.Errorf("journal segment %s: unreadable record at byte %d", path, off)
		}
		if err := fn(linePos{seg: seq, off: off, n: len(line)}, h, line); err != nil {
			return res, err
		}
		off += n
	}
	res.end = off
	if bad != nil {
		bad.End = off
		// Only the last group commit can be torn (every earlier one was
		// fsync'd before the next began), and it is bounded by tornWindow.
		if last && bad.Bytes() <= tornWindow {
			res.torn = bad.Bytes()
			return res, nil
		}
		if mode != scanSkipDamaged {
			return res, &DamagedJournalError{DamagedRange: *bad, resume: mode == scanRepair}
		}
		res.skipped = append(res.skipped, *bad)
	}
	return res, nil
}

// readLine returns the next line without its newline; complete is false
// when the file ended before a newline.
func readLine(r *bufio.Reader, scratch *[]byte) (line []byte, complete bool, err error) {
	line, err = r.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], true, nil
	}
	if err == bufio.ErrBufferFull {
		*scratch = append((*scratch)[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = r.ReadSlice('\n')
			*scratch = append(*scratch, line...)
		}
		line = *scratch
		if err == nil {
			return line[:len(line)-1], true, nil
		}
	}
	if err == io.EOF && len(line) > 0 {
		return line, false, nil
	}
	return nil, false, err
}

// parseHeader reads unit, kind and configs from the fixed-order start of a
// line without decoding the rest.
func parseHeader(line []byte) (header, bool) {
	var h header
	p := jsonCursor{b: line}
	if !p.lit(`{`) {
		return h, false
	}
	if p.lit(`"unit":`) {
		var ok bool
		if h.unit, ok = p.str(); !ok || !p.lit(`,`) {
			return h, false
		}
	}
	if !p.lit(`"kind":`) {
		return h, false
	}
	var ok bool
	if h.kind, ok = p.str(); !ok {
		return h, false
	}
	if p.lit(`,"configs":[`) {
		for {
			c, ok := p.str()
			if !ok {
				return h, false
			}
			h.configs = append(h.configs, c)
			if p.lit(`]`) {
				break
			}
			if !p.lit(`,`) {
				return h, false
			}
		}
	}
	return h, true
}

type jsonCursor struct {
	b []byte
	i int
}

func (p *jsonCursor) lit(s string) bool {
	if bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.i += len(s)
		return true
	}
	return false
}

// str reads a JSON string; escapes fall back to encoding/json.
func (p *jsonCursor) str() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	escaped := false
	for j := p.i + 1; j < len(p.b); j++ {
		switch p.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			raw := p.b[p.i : j+1]
			p.i = j + 1
			if !escaped {
				return string(raw[1 : len(raw)-1]), true
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}

// decodeEntry fully decodes a line (rejects, state, rows at export).
func decodeEntry(line []byte) (*entryIn, error) {
	var e entryIn
	if err := json.Unmarshal(line, &e); err != nil {
		return nil, plainJSON(err)
	}
	return &e, nil
}

var errTooLarge = errors.New("entry too large")

// withDir sets the run directory of a *DamagedJournalError in err, so its
// hint names the command to run.
func withDir(err error, dir string) error {
	var de *DamagedJournalError
	if errors.As(err, &de) && de.Dir == "" {
		de.Dir = dir
	}
	return err
}
