// Package yamlfile reads the YAML (or JSON) files users write — rubrics,
// constitutions, axes, recipes — strictly, with errors that name the file
// and line: an unknown key, a wrong type or a syntax error is reported as
// "rubric.yaml:12: …", never as a Go type name.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Error is a problem in a user's file, at a line (0 when unknown).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errorf makes an [*Error] at a line, for checks done after decoding
// (with the line taken from a [yaml.Node]).
func Errorf(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// ReadFile reads and decodes path into v (see [Decode]).
func ReadFile(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return Decode(path, data, v)
}

// Decode decodes data (YAML, or JSON, which is YAML) into v, refusing keys
// v has no field for. name labels errors. An empty file, invalid UTF-8 and
// a document that is not a mapping or list are errors too.
func Decode(name string, data []byte, v any) error {
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalid(data)], []byte{'\n'})
		return &Error{File: name, Line: line, Msg: "not valid UTF-8"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &Error{File: name, Msg: "the file is empty"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{File: name, Msg: "the file holds no document"}
		}
		return translate(name, err)
	}
	return nil
}

// Node parses data into a node tree, for callers that need line numbers
// of their own checks (duplicate names, a missing score). It returns the
// document's top node (the mapping or list itself), which is what every
// such check starts from; an empty document is returned as is.
func Node(name string, data []byte) (*yaml.Node, error) {
	var n yaml.Node
	if err := Decode(name, data, &n); err != nil {
		return nil, err
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0], nil
	}
	return &n, nil
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

var lineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// translate turns yaml's errors ("yaml: line 3: …", a TypeError listing
// several) into one *Error per the first problem, in plain words.
func translate(name string, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msgs = te.Errors
	}
	first := msgs[0]
	if m := lineRe.FindStringSubmatch(first); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return &Error{File: name, Line: line, Msg: plain(m[2])}
	}
	return &Error{File: name, Msg: plain(strings.TrimPrefix(first, "yaml: "))}
}

// plain rewords yaml's messages that name Go types.
func plain(msg string) string {
	if f, ok := strings.CutPrefix(msg, "field "); ok {
		if i := strings.Index(f, " not found in type"); i > 0 {
			return fmt.Sprintf("unknown key %q", f[:i])
		}
	}
	if i := strings.Index(msg, "cannot unmarshal "); i >= 0 {
		rest := msg[i+len("cannot unmarshal "):]
		// "!!str `abc` into int" → "abc is not a number"
		if j := strings.Index(rest, " into "); j > 0 {
			val, typ := rest[:j], rest[j+len(" into "):]
			if w, ok := tagWords[val]; ok {
				val = w // a list or mapping, which yaml names by its tag alone
			} else {
				val = strings.Trim(strings.TrimSpace(val[strings.IndexByte(val, ' ')+1:]), "`")
			}
			want := map[string]string{"int": "a whole number", "float64": "a number", "bool": "true or false",
				"string": "text"}[typ]
			switch {
			case want != "":
				return fmt.Sprintf("%s should be %s", val, want)
			case strings.HasPrefix(typ, "[]"):
				return fmt.Sprintf("%s should be a list", val)
			default:
				return fmt.Sprintf("%s is not the expected kind of value (a key: value mapping?)", val)
			}
		}
	}
	return msg
}

// tagWords names the kinds yaml reports by tag alone ("cannot unmarshal
// !!seq into …").
var tagWords = map[string]string{"!!seq": "a list", "!!map": "a mapping", "!!null": "an empty value"}
