package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEntryRoundTrip(t *testing.T) {
	seed := int64(-3)
	tests := []struct {
		name string
		e    entryOut
		want header
	}{
		{"row", entryOut{Unit: "u1", Kind: kindRow, Configs: []string{"sft"}, Prov: &Provenance{Seed: &seed}, Rows: []Row{sftFixture(1)}},
			header{unit: "u1", kind: kindRow, configs: []string{"sft"}}},
		{"escaped unit", entryOut{Unit: "a\"b\\c/é\t", Kind: kindReject, Reason: "dup", Prov: &Provenance{}},
			header{unit: "a\"b\\c/é\t", kind: kindReject}},
		{"two configs", entryOut{Unit: "x", Kind: kindRow, Configs: []string{"ratings", "preferences"}, Prov: &Provenance{}},
			header{unit: "x", kind: kindRow, configs: []string{"ratings", "preferences"}}},
		{"state", entryOut{Kind: kindState, Key: "archive", Value: map[string]int{"cells": 3}},
			header{kind: kindState}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, err := encodeEntry(&tt.e)
			ok(t, err)
			if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
				t.Fatalf("line is not one newline-terminated line: %q", line)
			}
			body := line[:len(line)-1]
			if !checkLine(body) {
				t.Fatalf("checkLine rejects a fresh line: %s", body)
			}
			h, good := parseHeader(body)
			if !good || h.unit != tt.want.unit || h.kind != tt.want.kind || strings.Join(h.configs, ",") != strings.Join(tt.want.configs, ",") {
				t.Fatalf("parseHeader = %+v, %v; want %+v", h, good, tt.want)
			}
			if _, err := decodeEntry(body); err != nil {
				t.Fatalf("line is not valid JSON: %v", err)
			}
			// Any single-byte change must be caught.
			for i := range body {
				bad := bytes.Clone(body)
				bad[i] ^= 0x20
				if checkLine(bad) {
					t.Fatalf("flipping byte %d went unnoticed", i)
				}
			}
			// Any proper prefix is a torn line.
			for n := 0; n < len(body); n++ {
				if checkLine(body[:n]) {
					t.Fatalf("prefix of %d bytes passes checkLine", n)
				}
			}
		})
	}
}

// TestTornTail appends a damaged tail to the last segment and checks that
// resume drops exactly it, truncates the file, and that appends continue.
func TestTornTail(t *testing.T) {
	tests := []struct {
		name string
		tail func(whole []byte) []byte // bytes appended after 5 good units
	}{
		{"half a line", func(w []byte) []byte { return w[:len(w)/2] }},
		{"line without newline", func(w []byte) []byte { return w[:len(w)-1] }},
		{"zeros (power loss)", func(w []byte) []byte { return make([]byte, 4096) }},
		{"bad crc", func(w []byte) []byte { b := bytes.Clone(w); b[10] ^= 1; return b }},
		{"two bad lines", func(w []byte) []byte { return append([]byte("{\"unit\":\"x\n"), w[:len(w)-3]...) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			r := mustOpen(t, dir, testManifest(), false)
			addSFT(t, r, 0, 5)
			ok(t, r.Close())

			seg := filepath.Join(dir, journalDir, segmentName(1, journalExt))
			good, err := os.ReadFile(seg)
			ok(t, err)
			whole, err := encodeEntry(&entryOut{Unit: unitID(5), Kind: kindRow, Configs: []string{"sft"}, Prov: &Provenance{}, Rows: []Row{sftFixture(5)}})
			ok(t, err)
			tail := tt.tail(whole)
			ok(t, os.WriteFile(seg, append(bytes.Clone(good), tail...), 0o644))

			r = mustOpen(t, dir, testManifest(), false)
			if got := r.Repaired(); got.Bytes != int64(len(tail)) || got.File != seg {
				t.Fatalf("Repaired() = %+v, want %d bytes of %s", got, len(tail), seg)
			}
			after, err := os.ReadFile(seg)
			ok(t, err)
			if !bytes.Equal(after, good) {
				t.Fatalf("segment not truncated to its good prefix: %d bytes, want %d", len(after), len(good))
			}
			if r.Done(unitID(5)) {
				t.Fatal("the torn unit counts as done")
			}
			for i := range 5 {
				if !r.Done(unitID(i)) {
					t.Fatalf("unit %d lost", i)
				}
			}
			addSFT(t, r, 5, 8)
			ok(t, r.Close())
			r = mustOpen(t, dir, testManifest(), false)
			defer r.Close()
			if got := r.Counts().Accepted; got != 8 {
				t.Fatalf("accepted = %d after repair and more appends, want 8", got)
			}
			if r.Repaired().Bytes != 0 {
				t.Fatalf("second open found damage again: %+v", r.Repaired())
			}
		})
	}
}

// TestDamageNotTail: damage far from the end of the last segment, or in
// an earlier segment, is corruption; resume must refuse, not drop data.
func TestDamageNotTail(t *testing.T) {
	t.Run("earlier segment", func(t *testing.T) {
		for _, damage := range []string{"flipped byte", "cut last line"} {
			t.Run(damage, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "run")
				r := mustOpen(t, dir, testManifest(), false)
				r.journal.maxSegBytes = 1 // one segment per unit
				addSFT(t, r, 0, 3)
				ok(t, r.Close())
				seg := filepath.Join(dir, journalDir, segmentName(1, journalExt))
				b, err := os.ReadFile(seg)
				ok(t, err)
				if damage == "flipped byte" {
					b[20] ^= 1
				} else {
					b = b[:len(b)-10] // torn, but not in the last segment
				}
				ok(t, os.WriteFile(seg, b, 0o644))
				if _, err := OpenRun(dir, testManifest(), false); !errors.As(err, new(*DamagedJournalError)) {
					t.Fatalf("OpenRun = %v, want a *DamagedJournalError", err)
				}
				if _, err := Export(context.Background(), dir, ExportOptions{}); !errors.As(err, new(*DamagedJournalError)) {
					t.Fatalf("Export = %v, want a *DamagedJournalError", err)
				}
				res, err := Export(context.Background(), dir, ExportOptions{SkipDamaged: true})
				ok(t, err)
				if res.Configs[0].Rows != 2 || res.SkippedLines != 1 {
					t.Fatalf("skip-damaged export: %d rows, %d lines skipped; want 2 and 1", res.Configs[0].Rows, res.SkippedLines)
				}
			})
		}
	})
	t.Run("bad tail longer than one commit", func(t *testing.T) {
		defer func(w int64) { tornWindow = w }(tornWindow)
		tornWindow = 4 << 10
		dir := filepath.Join(t.TempDir(), "run")
		r := mustOpen(t, dir, testManifest(), false)
		addSFT(t, r, 0, 10)
		ok(t, r.Close())
		seg := filepath.Join(dir, journalDir, segmentName(1, journalExt))
		b, err := os.ReadFile(seg)
		ok(t, err)
		cut := bytes.IndexByte(b, '\n') + 1 // the first line stays good
		for i := cut; i < len(b); i++ {
			b[i] = 0 // zeroed blocks: no valid line after the first
		}
		ok(t, os.WriteFile(seg, b, 0o644))
		_, err = OpenRun(dir, testManifest(), false)
		var de *DamagedJournalError
		if !errors.As(err, &de) || de.Start != int64(cut) || de.End != int64(len(b)) {
			t.Fatalf("OpenRun = %v, want a *DamagedJournalError for bytes %d-%d", err, cut, len(b))
		}
		after, err := os.ReadFile(seg)
		ok(t, err)
		if !bytes.Equal(after, b) {
			t.Fatal("OpenRun changed a damaged segment")
		}
	})
	t.Run("far from the end", func(t *testing.T) {
		defer func(w int64) { tornWindow = w }(tornWindow)
		tornWindow = 4 << 10
		dir := filepath.Join(t.TempDir(), "run")
		r := mustOpen(t, dir, testManifest(), false)
		addSFT(t, r, 0, 10)
		ok(t, r.Close())
		seg := filepath.Join(dir, journalDir, segmentName(1, journalExt))
		b, err := os.ReadFile(seg)
		ok(t, err)
		b[20] ^= 1
		ok(t, os.WriteFile(seg, b, 0o644))
		if _, err := OpenRun(dir, testManifest(), false); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("OpenRun = %v, want a damaged-segment error", err)
		}
	})
}

func TestSegmentsRoll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	r.journal.maxSegBytes = 4 << 10
	addSFT(t, r, 0, 50)
	ok(t, r.Close())
	seqs, err := listSegments(filepath.Join(dir, journalDir), journalExt)
	ok(t, err)
	if len(seqs) < 5 {
		t.Fatalf("%d segments, want several at 4 KiB each", len(seqs))
	}
	r = mustOpen(t, dir, testManifest(), false)
	defer r.Close()
	if got := r.Counts().Accepted; got != 50 {
		t.Fatalf("accepted = %d after replaying %d segments, want 50", got, len(seqs))
	}
}

// flipMiddle flips 4 bytes in the middle of the line that holds the middle
// of path (never a newline), and returns the file before and after, and the
// damaged line's range.
func flipMiddle(t *testing.T, path string) (before, after []byte, start, end int64) {
	t.Helper()
	before, err := os.ReadFile(path)
	ok(t, err)
	mid := len(before) / 2
	s := bytes.LastIndexByte(before[:mid], '\n') + 1
	e := mid + bytes.IndexByte(before[mid:], '\n') + 1
	at := (s + e) / 2
	after = bytes.Clone(before)
	for i := at; i < at+4; i++ {
		after[i] ^= 0x20
	}
	ok(t, os.WriteFile(path, after, 0o644))
	return before, after, int64(s), int64(e)
}

// TestDamageInsideJournal is issue 12's repro: a 20-row run with 4 bytes
// flipped in the middle of its only segment. Damage with valid records after
// it is not a torn tail: export refuses (or skips exactly the bad line when
// asked), and resume refuses without touching the file.
func TestDamageInsideJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 20)
	ok(t, r.Close())
	seg := filepath.Join(dir, journalDir, segmentName(1, journalExt))
	_, damaged, start, end := flipMiddle(t, seg)

	checkErr := func(t *testing.T, what string, err error, hints ...string) {
		t.Helper()
		var de *DamagedJournalError
		if !errors.As(err, &de) {
			t.Fatalf("%s = %v, want a *DamagedJournalError", what, err)
		}
		if de.File != seg || de.Start != start || de.End != end || de.Lines != 1 || de.Dir != dir {
			t.Fatalf("%s: damage %+v, want %s bytes %d-%d, 1 line, dir %s", what, *de, seg, start, end, dir)
		}
		msg := err.Error()
		for _, h := range append(hints, seg, fmt.Sprintf("bytes %d-%d", start, end), "synthkit export "+dir+" --skip-damaged") {
			if !strings.Contains(msg, h) {
				t.Errorf("%s: message lacks %q:\n%s", what, h, msg)
			}
		}
	}

	_, err := Export(context.Background(), dir, ExportOptions{})
	checkErr(t, "Export", err)
	if _, err := os.Stat(filepath.Join(dir, "README.md")); !os.IsNotExist(err) {
		t.Fatalf("Export of a damaged journal wrote a card: %v", err)
	}

	_, err = OpenRun(dir, testManifest(), false)
	checkErr(t, "OpenRun", err, "moving the segment aside also drops its valid records")
	got, err2 := os.ReadFile(seg)
	ok(t, err2)
	if !bytes.Equal(got, damaged) {
		t.Fatalf("OpenRun changed the damaged segment: %d bytes, was %d", len(got), len(damaged))
	}

	checkErr(t, "ReadRows", ReadRows(dir, func(string, []Row) error { return nil }))

	res, err := Export(context.Background(), dir, ExportOptions{SkipDamaged: true})
	ok(t, err)
	if res.Configs[0].Rows != 19 || res.Counts.Accepted != 19 {
		t.Fatalf("skip-damaged export: %d rows, %d accepted; want 19", res.Configs[0].Rows, res.Counts.Accepted)
	}
	if res.SkippedLines != 1 || res.SkippedBytes != end-start || len(res.Skipped) != 1 || res.Skipped[0].Start != start {
		t.Fatalf("skipped = %d lines, %d bytes, %+v; want 1 line, %d bytes at %d", res.SkippedLines, res.SkippedBytes, res.Skipped, end-start, start)
	}
	card, err := os.ReadFile(filepath.Join(dir, "README.md"))
	ok(t, err)
	if want := fmt.Sprintf("skipped 1 damaged line(s) (%d bytes) in journal/00000001.jsonl", end-start); !strings.Contains(string(card), want) {
		t.Fatalf("card does not note the skipped damage (%q)", want)
	}
	got, err = os.ReadFile(seg)
	ok(t, err)
	if !bytes.Equal(got, damaged) {
		t.Fatal("export changed the journal")
	}
}

// TestResumeAppendsToLastSegment: resuming appends to the last segment when
// it ends on a whole record (also right after a torn tail was dropped), so
// five resumes leave one segment, and replay sees every record.
func TestResumeAppendsToLastSegment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	jdir, vdir := filepath.Join(dir, journalDir), filepath.Join(dir, vectorsDir)
	n := 0
	for open := range 5 {
		r := mustOpen(t, dir, testManifest(), false)
		if open == 3 && r.Repaired().Bytes == 0 {
			t.Fatal("the torn tail was not dropped")
		}
		for range 4 {
			ok(t, r.AddVector(unitID(n), []float32{float32(n), 1}))
			addSFT(t, r, n, n+1)
			n++
		}
		ok(t, r.Close())
		if open == 2 {
			// A crash in the middle of a write: the next open truncates
			// the tail and appends right after the last whole record.
			seg := filepath.Join(jdir, segmentName(1, journalExt))
			f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
			ok(t, err)
			_, err = f.WriteString(`{"unit":"torn","kind":"row","con`)
			ok(t, err)
			ok(t, f.Close())
		}
	}
	for _, d := range []struct{ dir, ext string }{{jdir, journalExt}, {vdir, vectorsExt}} {
		seqs, err := listSegments(d.dir, d.ext)
		ok(t, err)
		if len(seqs) != 1 {
			t.Fatalf("%s: segments %v after 5 opens, want one", d.dir, seqs)
		}
	}
	var units []string
	ok(t, ReadRows(dir, func(unit string, _ []Row) error { units = append(units, unit); return nil }))
	if len(units) != n {
		t.Fatalf("replay read %d units, want %d", len(units), n)
	}
	for i, u := range units {
		if u != unitID(i) {
			t.Fatalf("unit %d is %s, want %s", i, u, unitID(i))
		}
	}
	vecs := 0
	ok(t, ReadVectors(dir, func(string, []float32) error { vecs++; return nil }))
	r := mustOpen(t, dir, testManifest(), false)
	defer r.Close()
	if got := r.Counts().Accepted; got != int64(n) || vecs != n {
		t.Fatalf("accepted = %d, vectors = %d; want %d", got, vecs, n)
	}
}

// TestSegmentReuseNeedsExactSize: a last segment that is not the size the
// scan found (it changed since) is left alone and a new one is started.
func TestSegmentReuseNeedsExactSize(t *testing.T) {
	dir := t.TempDir()
	seg := filepath.Join(dir, segmentName(1, journalExt))
	ok(t, os.WriteFile(seg, []byte("whole records\n"), 0o644))
	for _, tt := range []struct {
		name    string
		scanned int64
		maxSeg  int64
		wantSeq int
	}{
		{"same size", 14, defaultMaxSegmentBytes, 1},
		{"grew since the scan", 10, defaultMaxSegmentBytes, 2},
		{"full", 14, 14, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, err := os.ReadFile(seg)
			ok(t, err)
			l := openSegLog(dir, journalExt, 1, tt.scanned)
			l.maxSegBytes = tt.maxSeg
			ok(t, l.Append([]byte("x\n")))
			ok(t, l.Close())
			if l.seq != tt.wantSeq {
				t.Fatalf("appended to segment %d, want %d", l.seq, tt.wantSeq)
			}
			if tt.wantSeq != 1 {
				after, err := os.ReadFile(seg)
				ok(t, err)
				if !bytes.Equal(after, before) {
					t.Fatal("a segment that was not reused changed")
				}
				ok(t, os.Remove(filepath.Join(dir, segmentName(2, journalExt))))
			}
		})
	}
}
