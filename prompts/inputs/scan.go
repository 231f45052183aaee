package inputs

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Row is one record of an input before it is given a shape.
type Row struct {
	Pos    Pos
	Format string // the format of the row's file, as in [Set.Format]
	// Cols are the row's columns, decoded: string, json.Number (JSON),
	// int64, int32, float64, float32, bool, nil, []any and map[string]any.
	// A plain text file has one column, "prompt"; a run has "messages"
	// (or "prompt", "chosen", "rejected", "completions" for other kinds).
	Cols map[string]any
}

// Scan calls fn for every row of the input at path, found and decoded as
// [Load] does (same formats, same UTF-8 and syntax checks), without giving
// the rows a shape: for callers with a record type of their own, such as
// seed tasks. An error from fn stops the scan and is returned as an
// *InputError at the row's position; an empty input is not an error.
func Scan(path string, opts Options, fn func(Row) error) error {
	_, err := scan(path, opts, nil, func(r Row) error {
		if err := fn(r); err != nil {
			return errorAt(r.Pos, err)
		}
		return nil
	})
	if err != nil {
		return errorAt(Pos{File: path}, err)
	}
	return nil
}

// ScanBytes is [Scan] for data already in memory (an embedded file),
// named name in messages and for its format.
func ScanBytes(name string, data []byte, fn func(Row) error) error {
	err := scanFile(name, name, bytes.NewReader(data), int64(len(data)), nil, func(r Row) error {
		if err := fn(r); err != nil {
			return errorAt(r.Pos, err)
		}
		return nil
	}, &scanInfo{})
	if err != nil {
		return errorAt(Pos{File: name}, err)
	}
	return nil
}

// columnSelector chooses the columns of a Parquet file to read from the
// names it has; nil reads all.
type columnSelector func(cols []string) ([]string, error)

type scanInfo struct {
	format  string
	files   []string
	footers hash.Hash // file names, sizes and footers; nil without Parquet
}

func (in *scanInfo) add(file, format string) {
	in.files = append(in.files, file)
	switch in.format {
	case "", format:
		in.format = format
	default:
		in.format = "mixed"
	}
}

// stdin is standard input; tests replace it.
var stdin io.Reader = os.Stdin

func scan(path string, opts Options, sel columnSelector, fn func(Row) error) (*scanInfo, error) {
	info := &scanInfo{}
	if path == "-" {
		if opts.Config != "" || opts.Split != "" {
			return nil, inputErrorf(Pos{File: "stdin"}, "a config or split chooses files in a dataset folder, not standard input")
		}
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, &InputError{Pos: Pos{File: "stdin"}, Msg: "couldn't read: " + err.Error(), Err: err}
		}
		return info, scanFile("stdin", "stdin", bytes.NewReader(data), int64(len(data)), sel, fn, info)
	}
	in, err := resolve(path, opts)
	if err != nil {
		return nil, err
	}
	if in.run != "" {
		info.add(filepath.Join(in.run, "journal"), "run")
		return info, scanRun(in.run, fn)
	}
	for _, f := range in.files {
		if err := scanPath(f.path, f.rel, sel, fn, info); err != nil {
			return nil, err
		}
	}
	return info, nil
}

func scanPath(path, rel string, sel columnSelector, fn func(Row) error, info *scanInfo) error {
	f, err := os.Open(path)
	if err != nil {
		return openError(path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return openError(path, err)
	}
	if st.IsDir() {
		return inputErrorf(Pos{File: path}, "is a directory")
	}
	return scanFile(path, rel, f, st.Size(), sel, fn, info)
}

func openError(path string, err error) error {
	msg := "couldn't read: " + err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = "couldn't read: " + pe.Err.Error()
	}
	return &InputError{Pos: Pos{File: path}, Msg: msg, Err: err}
}

// scanFile detects the format of one file and reads its rows. rel names
// the file in the hash (relative to the folder the user gave).
func scanFile(name, rel string, r io.ReaderAt, size int64, sel columnSelector, fn func(Row) error, info *scanInfo) error {
	head := make([]byte, min(size, 8192))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return &InputError{Pos: Pos{File: name}, Msg: "couldn't read: " + err.Error(), Err: err}
	}
	format, err := sniff(name, head)
	if err != nil {
		return err
	}
	info.add(name, format)
	body := io.NewSectionReader(r, 0, size)
	switch format {
	case "parquet":
		if info.footers == nil {
			info.footers = newFooterHash()
		}
		return scanParquet(name, rel, r, size, sel, fn, info.footers)
	case "jsonl", "text":
		return scanLines(name, format, body, fn)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return &InputError{Pos: Pos{File: name}, Msg: "couldn't read: " + err.Error(), Err: err}
	}
	data = bytes.TrimPrefix(data, bom)
	if err := checkUTF8(name, data); err != nil {
		return err
	}
	switch format {
	case "json":
		return scanJSONArray(name, data, fn)
	case "csv":
		return scanCSV(name, format, data, ',', fn)
	default: // tsv
		return scanCSV(name, format, data, '\t', fn)
	}
}

var bom = []byte("\ufeff")

// sniff tells the format of a file from its first bytes, and its name
// where the content cannot (CSV and TSV against plain text).
func sniff(name string, head []byte) (string, error) {
	for _, m := range []struct{ magic, what string }{
		{"\x1f\x8b", "a gzip-compressed file: decompress it first (gunzip)"},
		{"\x28\xb5\x2f\xfd", "a zstd-compressed file: decompress it first (zstd -d)"},
		{"PK\x03\x04", "a zip archive: extract it first"},
		{"ARROW1", "an Arrow IPC file: convert it to Parquet or JSON Lines"},
		{"\x00\x00\x00\x00", "binary data"},
	} {
		if bytes.HasPrefix(head, []byte(m.magic)) {
			return "", inputErrorf(Pos{File: name}, "not an input file synthkit reads (%s); want JSON Lines, a JSON array, CSV, TSV, plain text or Parquet", m.what)
		}
	}
	if bytes.HasPrefix(head, []byte("PAR1")) {
		return "parquet", nil
	}
	ext := strings.ToLower(filepath.Ext(name))
	if ext == ".parquet" || ext == ".pq" {
		return "", inputErrorf(Pos{File: name}, "not a Parquet file (it does not start with PAR1)")
	}
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return "", inputErrorf(Pos{File: name}, "not a text file (a zero byte at offset %d); want JSON Lines, a JSON array, CSV, TSV, plain text or Parquet", i)
	}
	text := bytes.TrimLeft(bytes.TrimPrefix(head, bom), " \t\r\n")
	switch {
	case len(text) > 0 && text[0] == '{':
		return "jsonl", nil
	case len(text) > 0 && text[0] == '[':
		return "json", nil
	case ext == ".jsonl" || ext == ".ndjson" || ext == ".json":
		return "jsonl", nil // an error with a line, or empty
	case ext == ".csv":
		return "csv", nil
	case ext == ".tsv" || ext == ".tab":
		return "tsv", nil
	case ext == ".txt" || ext == ".text" || ext == ".md":
		return "text", nil
	}
	// No telling extension: a first line that is a header naming a known
	// column, with tabs or commas, is TSV or CSV.
	first, _, _ := bytes.Cut(text, []byte("\n"))
	for _, c := range []struct {
		sep    string
		format string
	}{{"\t", "tsv"}, {",", "csv"}} {
		if !bytes.Contains(first, []byte(c.sep)) {
			continue
		}
		for _, f := range strings.Split(strings.TrimSpace(string(first)), c.sep) {
			if knownColumns[strings.ToLower(strings.Trim(strings.TrimSpace(f), `"`))] {
				return c.format, nil
			}
		}
	}
	return "text", nil
}

// knownColumns are the column names that make a header line CSV or TSV.
var knownColumns = map[string]bool{
	"prompt": true, "instruction": true, "messages": true, "conversations": true,
	"question": true, "input": true, "output": true, "response": true, "completion": true,
	"chosen": true, "rejected": true,
}

// checkUTF8 refuses data that is not UTF-8, naming the line.
func checkUTF8(name string, data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	off := 0
	for off < len(data) {
		r, size := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		off += size
	}
	line := int64(bytes.Count(data[:off], []byte("\n")) + 1)
	col := off - (bytes.LastIndexByte(data[:off], '\n') + 1)
	return utf8Error(Pos{File: name, Line: line}, data[off], col)
}

func utf8Error(p Pos, b byte, col int) error {
	return inputErrorf(p, "invalid UTF-8 (byte 0x%02x at column %d): the input must be UTF-8 (convert it, e.g. iconv -f latin1 -t utf-8)", b, col+1)
}

// scanLines reads JSON Lines or plain text, one line at a time, with no
// limit on a line's length.
func scanLines(name, format string, r io.Reader, fn func(Row) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := int64(1); ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return &InputError{Pos: Pos{File: name, Line: n}, Msg: "couldn't read: " + err.Error(), Err: err}
		}
		if n == 1 {
			line = bytes.TrimPrefix(line, bom)
		}
		if !utf8.Valid(line) {
			if e := checkUTF8(name, line); e != nil {
				ie := e.(*InputError)
				ie.Line = n
				return ie
			}
		}
		if text := bytes.TrimSpace(line); len(text) > 0 {
			p := Pos{File: name, Line: n}
			var cols map[string]any
			if format == "text" {
				cols = map[string]any{"prompt": string(text)}
			} else if cols, err = decodeObject(text); err != nil {
				return errorAt(p, err)
			}
			if err := fn(Row{Pos: p, Format: format, Cols: cols}); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// decodeObject decodes one JSON object, numbers as json.Number.
func decodeObject(text []byte) (map[string]any, error) {
	if !json.Valid(text) {
		var v any
		err := json.Unmarshal(text, &v)
		return nil, fmt.Errorf("invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	switch text[0] {
	case '{':
	case '[':
		return nil, errors.New("expected one JSON object per line, found an array")
	default:
		return nil, fmt.Errorf("expected a JSON object, found %.20q", text)
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return m, nil
}

// scanJSONArray reads a JSON array of objects (Alpaca's alpaca.json); rows
// are numbered by the line their object starts on.
func scanJSONArray(name string, data []byte, fn func(Row) error) error {
	lineAt := lineCounter(data)
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		var se *json.SyntaxError
		p := Pos{File: name}
		if errors.As(err, &se) {
			p.Line = lineAt(int(se.Offset))
		}
		return inputErrorf(p, "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '['
		return inputErrorf(Pos{File: name}, "invalid JSON: %v", err)
	}
	for i := 0; dec.More(); i++ {
		start := int(dec.InputOffset())
		for start < len(data) && strings.IndexByte(" \t\r\n,", data[start]) >= 0 {
			start++
		}
		p := Pos{File: name, Line: lineAt(start)}
		var v any
		if err := dec.Decode(&v); err != nil {
			return inputErrorf(p, "invalid JSON: %v", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return inputErrorf(p, "element %d of the array is %s, want a JSON object", i, jsonKind(v))
		}
		if err := fn(Row{Pos: p, Format: "json", Cols: m}); err != nil {
			return err
		}
	}
	return nil
}

// lineCounter returns a function from byte offsets, asked in increasing
// order, to line numbers.
func lineCounter(data []byte) func(off int) int64 {
	line, at := int64(1), 0
	return func(off int) int64 {
		off = min(off, len(data))
		if off < at {
			line, at = 1, 0
		}
		line += int64(bytes.Count(data[at:off], []byte("\n")))
		at = off
		return line
	}
}

// JSONKind names a decoded value's kind the way a file's author thinks of
// it ("a string", "an array"), for messages about user files.
func JSONKind(v any) string { return jsonKind(v) }

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, int64, int32, float64, float32:
		return "a number"
	case bool:
		return "true or false"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// scanCSV reads CSV or TSV with a header row; every row must have as many
// fields as the header.
func scanCSV(name, format string, data []byte, comma rune, fn func(Row) error) error {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = comma
	r.FieldsPerRecord = -1 // a short row is reported below with its line
	if comma == '\t' {
		r.LazyQuotes = true // TSV exports rarely quote; a stray " is text
	}
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return csvError(name, err)
	}
	seen := map[string]bool{}
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
		if seen[header[i]] {
			return inputErrorf(Pos{File: name, Line: 1}, "column %q appears twice in the header", header[i])
		}
		seen[header[i]] = true
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return csvError(name, err)
		}
		line, _ := r.FieldPos(0)
		p := Pos{File: name, Line: int64(line)}
		if len(rec) != len(header) {
			return inputErrorf(p, "%d fields, but the header has %d", len(rec), len(header))
		}
		cols := make(map[string]any, len(header))
		for i, h := range header {
			cols[h] = rec[i]
		}
		if err := fn(Row{Pos: p, Format: format, Cols: cols}); err != nil {
			return err
		}
	}
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &InputError{Pos: Pos{File: name, Line: int64(pe.Line)}, Msg: "invalid CSV: " + pe.Err.Error(), Err: err}
	}
	return &InputError{Pos: Pos{File: name}, Msg: "invalid CSV: " + err.Error(), Err: err}
}
