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
// fails its crc is a torn write. The field order is fixed so replay reads
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
// one entry. Damage further from the end is corruption, not a crash.
// A variable so tests can shrink it.
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
}

// scanJournal calls fn for each valid line of every segment, in order.
// A torn tail at the end of the last segment is truncated when repair is
// set and skipped otherwise (export never writes to the journal).
func scanJournal(dir string, repair bool, fn func(pos linePos, h header, line []byte) error) (journalScan, error) {
	var res journalScan
	seqs, err := listSegments(dir, journalExt)
	if err != nil {
		return res, err
	}
	for i, seq := range seqs {
		res.lastSeq = seq
		last := i == len(seqs)-1
		path := filepath.Join(dir, segmentName(seq, journalExt))
		torn, err := scanSegment(path, seq, last, fn)
		if err != nil {
			return res, err
		}
		if torn.bytes > 0 {
			res.dropped, res.droppedFile = torn.bytes, path
			if repair {
				if err := truncateTail(path, torn.at); err != nil {
					return res, err
				}
			}
		}
	}
	return res, nil
}

type tornTail struct{ at, bytes int64 }

func scanSegment(path string, seq int, last bool, fn func(linePos, header, []byte) error) (tornTail, error) {
	f, err := os.Open(path)
	if err != nil {
		return tornTail{}, fmt.Errorf("open journal segment %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return tornTail{}, fmt.Errorf("stat journal segment %s: %w", path, err)
	}
	size := st.Size()
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var scratch []byte
	for {
		line, complete, err := readLine(r, &scratch)
		if err == io.EOF {
			return tornTail{}, nil
		}
		if err != nil {
			return tornTail{}, fmt.Errorf("read journal segment %s: %w", path, err)
		}
		if !complete || !checkLine(line) {
			if last && size-off <= tornWindow {
				return tornTail{at: off, bytes: size - off}, nil
			}
			return tornTail{}, fmt.Errorf("journal segment %s is damaged at byte %d (this is not a torn write from a crash): "+
				"move the segment aside to continue without the records from that point on", path, off)
		}
		h, ok := parseHeader(line)
		if !ok {
			return tornTail{}, fmt.Errorf("journal segment %s: unreadable record at byte %d", path, off)
		}
		if err := fn(linePos{seg: seq, off: off, n: len(line)}, h, line); err != nil {
			return tornTail{}, err
		}
		off += int64(len(line)) + 1
	}
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
		return nil, err
	}
	return &e, nil
}

var errTooLarge = errors.New("entry too large")
