package inputs

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

func newFooterHash() hash.Hash { return sha256.New() }

// scanParquet streams the rows of one Parquet file, reading only the
// columns sel picks: row groups are read one after the other and pages
// are decoded as the rows need them, so memory follows the row group and
// the selected columns, not the file. It also adds the file's name, size
// and footer to footers.
func scanParquet(name, rel string, r io.ReaderAt, size int64, sel columnSelector, fn func(Row) error, footers hash.Hash) error {
	if err := hashFooter(footers, rel, r, size); err != nil {
		return inputErrorf(Pos{File: name}, "not a valid Parquet file: %v", err)
	}
	f, err := parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		return inputErrorf(Pos{File: name}, "not a valid Parquet file: %v", err)
	}
	fields := f.Schema().Fields()
	names := make([]string, len(fields))
	for i, fl := range fields {
		names[i] = fl.Name()
	}
	keep := names
	if sel != nil {
		if keep, err = sel(names); err != nil {
			return errorAt(Pos{File: name}, err)
		}
	}
	group := parquet.Group{}
	for _, fl := range fields {
		for _, k := range keep {
			if fl.Name() == k {
				group[k] = fl
			}
		}
	}
	if len(group) == 0 {
		return inputErrorf(Pos{File: name}, "no column to read (columns: %s)", listNames(names))
	}
	rd := parquet.NewReader(f, parquet.NewSchema("input", group))
	defer rd.Close()
	for row := int64(0); ; row++ {
		m := map[string]any{}
		err := rd.Read(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		p := Pos{File: name, Line: row, Row: true}
		if err != nil {
			return inputErrorf(p, "couldn't read the row: %v", err)
		}
		for k, v := range m {
			if m[k], err = textValues(v); err != nil {
				return inputErrorf(p, "column %q: %v", k, err)
			}
		}
		if err := fn(Row{Pos: p, Format: "parquet", Cols: m}); err != nil {
			return err
		}
	}
}

// textValues checks the strings in v are UTF-8 and turns byte arrays that
// are UTF-8 into strings (files that mark no String type on text).
func textValues(v any) (any, error) {
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			return nil, invalidUTF8(v)
		}
	case []byte:
		if utf8.Valid(v) {
			return string(v), nil
		}
		return v, nil // binary data: no scalar text, left out of Fields
	case []any:
		for i, e := range v {
			var err error
			if v[i], err = textValues(e); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
	case map[string]any:
		for k, e := range v {
			var err error
			if v[k], err = textValues(e); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	return v, nil
}

func invalidUTF8(s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return fmt.Errorf("invalid UTF-8 (byte 0x%02x at offset %d of the value): the input must be UTF-8", s[i], i)
		}
		i += size
	}
	return nil
}

// hashFooter writes the file's name, size and footer (Thrift metadata)
// to h.
func hashFooter(h hash.Hash, rel string, r io.ReaderAt, size int64) error {
	if size < 12 {
		return errors.New("too short")
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("no PAR1 at the end (a truncated file?)")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 {
		return fmt.Errorf("footer of %d bytes in a file of %d", n, size)
	}
	footer := make([]byte, n)
	if _, err := r.ReadAt(footer, size-8-n); err != nil {
		return err
	}
	fmt.Fprintf(h, "file\x00%s\x00%s\x00%d\x00", rel, strconv.FormatInt(size, 10), n)
	h.Write(footer)
	return nil
}
