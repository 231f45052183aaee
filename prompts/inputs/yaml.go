package inputs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The YAML a dataset card's `configs:` uses is small: block mappings and
// sequences, flow [lists] and {maps}, plain and quoted scalars, comments.
// parseYAML reads that subset, which is all synthkit needs from a card,
// rather than adding a YAML dependency. Scalars stay strings except true
// and false.

type yamlLine struct {
	indent int
	text   string
}

func parseYAML(lines []string) (any, error) {
	var ls []yamlLine
	for _, l := range lines {
		l = stripComment(l)
		t := strings.TrimLeft(l, " ")
		if strings.TrimSpace(t) == "" {
			continue
		}
		if strings.HasPrefix(t, "\t") {
			return nil, fmt.Errorf("a tab in indentation")
		}
		ls = append(ls, yamlLine{len(l) - len(t), strings.TrimRight(t, " \t")})
	}
	if len(ls) == 0 {
		return nil, nil
	}
	p := &yamlParser{lines: ls}
	v, err := p.block(ls[0].indent)
	if err == nil && p.i < len(p.lines) {
		err = fmt.Errorf("unexpected indentation at %q", p.lines[p.i].text)
	}
	return v, err
}

// stripComment drops a # comment that is outside quotes.
func stripComment(l string) string {
	var quote byte
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t'):
			return l[:i]
		}
	}
	return l
}

type yamlParser struct {
	lines []yamlLine
	i     int
}

func (p *yamlParser) block(indent int) (any, error) {
	if strings.HasPrefix(p.lines[p.i].text, "- ") || p.lines[p.i].text == "-" {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) sequence(indent int) (any, error) {
	var out []any
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent != indent || !(strings.HasPrefix(l.text, "- ") || l.text == "-") {
			break
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if rest == "" {
			p.i++
			if p.i < len(p.lines) && p.lines[p.i].indent > indent {
				v, err := p.block(p.lines[p.i].indent)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			} else {
				out = append(out, nil)
			}
			continue
		}
		if _, _, isKey := splitKey(rest); isKey && rest[0] != '{' && rest[0] != '[' {
			// "- key: value" opens a mapping indented past the dash.
			inner := indent + len(l.text) - len(rest)
			p.lines[p.i] = yamlLine{inner, rest}
			v, err := p.mapping(inner)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		v, err := flowValue(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.i++
	}
	return out, nil
}

func (p *yamlParser) mapping(indent int) (any, error) {
	out := map[string]any{}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("unexpected indentation at %q", l.text)
		}
		if strings.HasPrefix(l.text, "- ") || l.text == "-" {
			break // a sequence at the parent key's indentation
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, fmt.Errorf("want key: value, found %q", l.text)
		}
		p.i++
		if rest != "" {
			v, err := flowValue(rest)
			if err != nil {
				return nil, err
			}
			out[key] = v
			continue
		}
		out[key] = nil
		if p.i < len(p.lines) {
			next := p.lines[p.i]
			seqHere := next.indent == indent && (strings.HasPrefix(next.text, "- ") || next.text == "-")
			if next.indent > indent || seqHere {
				v, err := p.block(next.indent)
				if err != nil {
					return nil, err
				}
				out[key] = v
			}
		}
	}
	return out, nil
}

// splitKey splits "key: rest" (the key possibly quoted).
func splitKey(s string) (key, rest string, ok bool) {
	if s != "" && (s[0] == '"' || s[0] == '\'') {
		end := strings.IndexByte(s[1:], s[0])
		if end < 0 {
			return "", "", false
		}
		after := s[end+2:]
		if !strings.HasPrefix(after, ":") {
			return "", "", false
		}
		return s[1 : end+1], strings.TrimSpace(after[1:]), true
	}
	i := strings.Index(s, ": ")
	if i < 0 {
		if strings.HasSuffix(s, ":") {
			return s[:len(s)-1], "", true
		}
		return "", "", false
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+2:]), true
}

// flowValue parses a scalar or a flow collection that fills the rest of a line.
func flowValue(s string) (any, error) {
	f := &flowParser{s: s}
	v, err := f.value()
	if err != nil {
		return nil, err
	}
	f.space()
	if f.i < len(f.s) {
		return nil, fmt.Errorf("unexpected %q after a value", f.s[f.i:])
	}
	return v, nil
}

type flowParser struct {
	s string
	i int
}

func (f *flowParser) space() {
	for f.i < len(f.s) && (f.s[f.i] == ' ' || f.s[f.i] == '\t') {
		f.i++
	}
}

func (f *flowParser) value() (any, error) {
	f.space()
	if f.i >= len(f.s) {
		return "", nil
	}
	switch f.s[f.i] {
	case '[':
		f.i++
		var out []any
		for {
			f.space()
			if f.i < len(f.s) && f.s[f.i] == ']' {
				f.i++
				return out, nil
			}
			v, err := f.value()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			if err := f.sep(']'); err != nil {
				return nil, err
			}
		}
	case '{':
		f.i++
		out := map[string]any{}
		for {
			f.space()
			if f.i < len(f.s) && f.s[f.i] == '}' {
				f.i++
				return out, nil
			}
			k, err := f.scalar(true)
			if err != nil {
				return nil, err
			}
			f.space()
			if f.i >= len(f.s) || f.s[f.i] != ':' {
				return nil, fmt.Errorf("want ':' after key %q", k)
			}
			f.i++
			v, err := f.value()
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = v
			if err := f.sep('}'); err != nil {
				return nil, err
			}
		}
	}
	return f.scalar(false)
}

// sep consumes a comma, or sees the closing bracket.
func (f *flowParser) sep(end byte) error {
	f.space()
	if f.i < len(f.s) && f.s[f.i] == ',' {
		f.i++
		return nil
	}
	if f.i < len(f.s) && f.s[f.i] == end {
		return nil
	}
	return fmt.Errorf("want ',' or %q in %q", end, f.s)
}

func (f *flowParser) scalar(key bool) (any, error) {
	if f.i < len(f.s) && (f.s[f.i] == '"' || f.s[f.i] == '\'') {
		q := f.s[f.i]
		j := f.i + 1
		for j < len(f.s) {
			if f.s[j] == '\\' && q == '"' {
				j += 2
				continue
			}
			if f.s[j] == q {
				if q == '\'' && j+1 < len(f.s) && f.s[j+1] == '\'' {
					j += 2
					continue
				}
				break
			}
			j++
		}
		if j >= len(f.s) {
			return nil, fmt.Errorf("unterminated quote in %q", f.s)
		}
		raw := f.s[f.i : j+1]
		f.i = j + 1
		if q == '\'' {
			return strings.ReplaceAll(raw[1:len(raw)-1], "''", "'"), nil
		}
		s, err := strconv.Unquote(raw)
		if err != nil {
			return nil, fmt.Errorf("bad quoted string %s", raw)
		}
		return s, nil
	}
	start := f.i
	inFlow := f.s[0] == '[' || f.s[0] == '{'
	for f.i < len(f.s) {
		c := f.s[f.i]
		if inFlow && (c == ',' || c == ']' || c == '}') {
			break
		}
		if key && c == ':' {
			break
		}
		f.i++
	}
	s := strings.TrimSpace(f.s[start:f.i])
	switch s {
	case "true", "True":
		return true, nil
	case "false", "False":
		return false, nil
	}
	return s, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
