package export

import (
	"bytes"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The journal's parsers see bytes a crash, a bad disk or a person can
// leave: they must never panic, must say what is wrong in plain words, and
// must read back exactly what encodeEntry wrote.
//
//	go test -run '^$' -fuzz '^FuzzJournalLine$' -fuzztime 30s ./export

// goTypeName finds text in an error message that reads like Go rather than
// a message for a user (a type name, a struct field, a bad format verb);
// text that comes from the input itself does not count.
func goTypeName(msg string, input []byte) string {
	for _, m := range goTypeRe.FindAllString(msg, -1) {
		if !bytes.Contains(input, []byte(m)) {
			return m
		}
	}
	return ""
}

var goTypeRe = regexp.MustCompile(`map\[|\[\]interface|\[\]any\b|interface \{|struct \{|Go struct|Go value|json\.Number|\bfloat(32|64)\b|\bu?int(8|16|32|64)\b|%!|<nil>|\*?\b[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*\b`)

// seal returns obj ({…}) as a journal line with its crc, as encodeEntry
// does, without the newline.
func seal(obj []byte) []byte {
	sum := crc32.Checksum(obj, castagnoli)
	line := append(bytes.Clone(obj[:len(obj)-1]), `,"crc":"`...)
	line = hex.AppendEncode(line, []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	return append(line, `"}`...)
}

// journalSeeds are real journal lines: rows of several configs, a
// rejection, a state entry.
func journalSeeds(t testing.TB) [][]byte {
	seed := int64(42)
	entries := []entryOut{
		{Unit: unitID(1), Kind: kindRow, Configs: []string{"sft"}, Prov: &Provenance{Method: "respond", Model: "tiny:latest", Seed: &seed}, Rows: []Row{sftFixture(1)}},
		{Unit: unitID(2), Kind: kindReject, Reason: "too_similar", Prov: &Provenance{Method: "self-instruct"}},
		{Unit: "a\"b\\c/é\t", Kind: kindReject, Reason: "dup", Prov: &Provenance{}},
		{Kind: kindState, Key: "archive", Value: map[string]int{"cells": 3}},
		{Unit: unitID(3), Kind: kindRow, Configs: []string{"sft", "sft"}, Prov: &Provenance{}, Rows: []Row{sftFixture(3), sftFixture(4)}},
	}
	var out [][]byte
	for i := range entries {
		line, err := encodeEntry(&entries[i])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	return out
}

// FuzzJournalLine feeds one line to checkLine, parseHeader, decodeEntry
// and the row decoders, both as given and sealed with a valid crc (so the
// fuzzer gets past the checksum).
func FuzzJournalLine(f *testing.F) {
	for _, line := range journalSeeds(f) {
		f.Add(line[:len(line)-1])
		f.Add(line[:len(line)-crcSuffixLen-1]) // without its crc: sealed below
	}
	f.Add([]byte(`{"kind":"row","configs":["sft"],"rows":[{"messages":"x"}]}`))
	f.Add([]byte(`{"unit":"u","kind":"row","configs":["preferences"],"rows":[{"prompt":[]}]}`))
	f.Add([]byte(`{"unit":"\ud800","kind":"reject","reason":7}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		if checkLine(line) {
			// A valid line has a valid crc: no proper prefix has one.
			for _, n := range []int{len(line) - 1, len(line) / 2, crcSuffixLen + 2} {
				if n >= 0 && n < len(line) && checkLine(line[:n]) {
					t.Fatalf("prefix %q of a valid line passes checkLine", line[:n])
				}
			}
		}
		readLineLikeReplay(t, line)
		if len(line) > 2 && line[0] == '{' && line[len(line)-1] == '}' && bytes.IndexByte(line, '\n') < 0 {
			sealed := seal(line)
			if !checkLine(sealed) {
				t.Fatalf("checkLine rejects a sealed line: %q", sealed)
			}
			readLineLikeReplay(t, sealed)
		}
	})
}

// readLineLikeReplay reads line as replay and ReadRows do, checking that
// every error is plain.
func readLineLikeReplay(t *testing.T, line []byte) {
	h, ok := parseHeader(line)
	e, err := decodeEntry(line)
	if err != nil {
		if m := goTypeName(err.Error(), line); m != "" {
			t.Logf("decodeEntry error names %q: %v", m, err) // wrapped with the unit by callers; json's own text
		}
		return
	}
	if ok && utf8.Valid(line) && !bytes.Contains(line, []byte(`\`)) && !hasDuplicateHeaderKey(line) {
		// The fast header reader and the full decoder agree on a line
		// without escapes or repeated keys.
		if h.unit != e.Unit || h.kind != e.Kind || (len(h.configs) > 0 && !slices.Equal(h.configs, e.Configs)) {
			t.Fatalf("parseHeader %+v disagrees with decodeEntry %q %q %q", h, e.Unit, e.Kind, e.Configs)
		}
	}
	for i, raw := range e.Rows {
		if i >= len(e.Configs) {
			break
		}
		row, err := decodeRow(e.Configs[i], raw)
		if err != nil {
			if m := goTypeName(err.Error(), line); m != "" {
				t.Errorf("decodeRow(%q) error names Go type %q: %v", e.Configs[i], m, err)
			}
			continue
		}
		_ = row.validate()
	}
}

// hasDuplicateHeaderKey: a crafted line may repeat "unit", "kind" or
// "configs"; the header reader takes the first, encoding/json the last.
// encodeEntry never writes such a line.
func hasDuplicateHeaderKey(line []byte) bool {
	for _, k := range []string{`"unit"`, `"kind"`, `"configs"`} {
		if bytes.Count(line, []byte(k)) > 1 {
			return true
		}
	}
	return false
}

// FuzzJournalEntry: any entry encodeEntry writes passes checkLine, and the
// header reader and the full decoder both read back its unit, kind,
// configs and reason.
func FuzzJournalEntry(f *testing.F) {
	f.Add("u0000001", "row", "sft", "", "")
	f.Add("a\"b\\c/é\t", "reject", "", "too_similar", "")
	f.Add("", "state", "", "", "archive")
	f.Add("\u2028<&>", "row", "preferences", "", "")
	f.Add("bad \xff utf8", "reject", "", "x\x00y", "")
	f.Fuzz(func(t *testing.T, unit, kind, config, reason, key string) {
		if kind == "" {
			kind = kindRow
		}
		e := entryOut{Unit: unit, Kind: kind, Reason: reason, Key: key, Prov: &Provenance{}}
		if config != "" {
			e.Configs = []string{config, config}
		}
		line, err := encodeEntry(&e)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(line, []byte{'\n'}) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("not one line: %q", line)
		}
		body := line[:len(line)-1]
		if !checkLine(body) {
			t.Fatalf("checkLine rejects %q", body)
		}
		h, ok := parseHeader(body)
		if !ok {
			t.Fatalf("parseHeader rejects %q", body)
		}
		d, err := decodeEntry(body)
		if err != nil {
			t.Fatalf("decodeEntry(%q): %v", body, err)
		}
		// encoding/json writes invalid UTF-8 as U+FFFD, byte by byte.
		valid := func(s string) string {
			var b strings.Builder
			for _, r := range s {
				b.WriteRune(r)
			}
			return b.String()
		}
		want := header{unit: valid(unit), kind: valid(kind)}
		if config != "" {
			want.configs = []string{valid(config), valid(config)}
		}
		if h.unit != want.unit || h.kind != want.kind || !slices.Equal(h.configs, want.configs) {
			t.Fatalf("parseHeader = %+v, want %+v", h, want)
		}
		if d.Unit != want.unit || d.Kind != want.kind || !slices.Equal(d.Configs, want.configs) ||
			d.Reason != valid(reason) || d.Key != valid(key) {
			t.Fatalf("decodeEntry = %q %q %q %q %q, want %+v %q %q", d.Unit, d.Kind, d.Configs, d.Reason, d.Key, want, reason, key)
		}
	})
}

// FuzzJournalSegment scans a whole segment file of fuzzed bytes, as resume
// and export do. Every byte is accounted for: valid lines, damaged ranges
// and a torn tail add up to the file. Strict mode reads the same lines as
// skip mode up to the first damage, and never returns an unexplained error.
func FuzzJournalSegment(f *testing.F) {
	lines := journalSeeds(f)
	whole := bytes.Join(lines, nil)
	f.Add(whole)
	f.Add(whole[:len(whole)-7])                                        // torn tail
	f.Add(append(bytes.Clone(whole), make([]byte, 64)...))             // zeroed tail
	f.Add(slices.Concat(lines[0], []byte("garbage\n"), lines[1]))      // damage inside
	f.Add(slices.Concat(lines[0][:len(lines[0])-1], lines[1]))         // a lost newline
	f.Add(slices.Concat(lines[0], []byte("\n\n"), lines[2], lines[3])) // blank lines
	f.Add([]byte{})
	dir := f.TempDir() // execs in one process run one at a time
	f.Fuzz(func(t *testing.T, data []byte) {
		seg := filepath.Join(dir, segmentName(1, journalExt))
		if err := os.WriteFile(seg, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var strictUnits, skipUnits []string
		var validBytes int64
		_, strictErr := scanJournal(dir, scanStrict, func(_ linePos, h header, _ []byte) error {
			strictUnits = append(strictUnits, h.unit)
			return nil
		})
		res, skipErr := scanJournal(dir, scanSkipDamaged, func(p linePos, h header, line []byte) error {
			if !checkLine(line) {
				t.Fatalf("scan passed on a bad line %q", line)
			}
			if !bytes.Equal(data[p.off:p.off+int64(p.n)], line) {
				t.Fatalf("line at %d is not the file's bytes", p.off)
			}
			skipUnits = append(skipUnits, h.unit)
			validBytes += int64(p.n) + 1
			return nil
		})
		for _, err := range []error{strictErr, skipErr} {
			if err == nil {
				continue
			}
			var de *DamagedJournalError
			if !errors.As(err, &de) && !strings.Contains(err.Error(), "unreadable record at byte") {
				t.Fatalf("scan error is neither damage nor an unreadable record: %v", err)
			}
			if m := goTypeName(err.Error(), data); m != "" {
				t.Fatalf("scan error names Go type %q: %v", m, err)
			}
		}
		if skipErr != nil {
			return // an unreadable record stops both modes
		}
		var skipped int64
		for _, d := range res.skipped {
			if d.Start >= d.End || d.End > int64(len(data)) || d.Lines < 1 {
				t.Fatalf("bad damaged range %+v in %d bytes", d, len(data))
			}
			skipped += d.Bytes()
		}
		if validBytes+skipped+res.dropped != int64(len(data)) {
			t.Fatalf("valid %d + damaged %d + torn %d bytes != file size %d", validBytes, skipped, res.dropped, len(data))
		}
		if strictErr == nil {
			if len(res.skipped) > 0 || !slices.Equal(strictUnits, skipUnits) {
				t.Fatalf("strict scan read %q without error, skip mode %q skipping %+v", strictUnits, skipUnits, res.skipped)
			}
		} else if !slices.Equal(strictUnits, skipUnits[:min(len(strictUnits), len(skipUnits))]) {
			t.Fatalf("strict scan read %q before the damage, skip mode %q", strictUnits, skipUnits)
		}
	})
}
