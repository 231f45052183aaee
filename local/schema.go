package local

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// Schema is a compiled JSON Schema of the subset synthkit's methods use:
// type (one or a list), properties, required, additionalProperties: false,
// items, enum, minLength/maxLength, minimum/maximum, minItems/maxItems.
// Ollama turns the same schema into a grammar; validating again here
// catches servers that ignore it and replies cut off mid-object.
type Schema struct {
	raw  json.RawMessage
	root map[string]any
}

// CompileSchema parses a JSON Schema object.
func CompileSchema(raw json.RawMessage) (*Schema, error) {
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("schema is not a JSON object: %w", err)
	}
	return &Schema{raw: raw, root: root}, nil
}

// MustCompileSchema is CompileSchema for schemas built into the program.
func MustCompileSchema(raw string) *Schema {
	s, err := CompileSchema(json.RawMessage(raw))
	if err != nil {
		panic(err)
	}
	return s
}

// Raw returns the schema as sent to the server.
func (s *Schema) Raw() json.RawMessage { return s.raw }

// Validate checks a decoded JSON value (from encoding/json into any).
func (s *Schema) Validate(v any) error { return validate(s.root, v, "$") }

func validate(sch map[string]any, v any, path string) error {
	if t, ok := sch["type"]; ok {
		if err := checkType(t, v, path); err != nil {
			return err
		}
	}
	if enum, ok := sch["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if jsonEqual(e, v) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", path, short(v), enum)
		}
	}
	switch x := v.(type) {
	case string:
		n := utf8.RuneCountInString(x)
		if m, ok := num(sch["minLength"]); ok && float64(n) < m {
			return fmt.Errorf("%s: string shorter than %v", path, m)
		}
		if m, ok := num(sch["maxLength"]); ok && float64(n) > m {
			return fmt.Errorf("%s: string longer than %v", path, m)
		}
	case float64:
		if m, ok := num(sch["minimum"]); ok && x < m {
			return fmt.Errorf("%s: %v is below the minimum %v", path, x, m)
		}
		if m, ok := num(sch["maximum"]); ok && x > m {
			return fmt.Errorf("%s: %v is above the maximum %v", path, x, m)
		}
	case []any:
		if m, ok := num(sch["minItems"]); ok && float64(len(x)) < m {
			return fmt.Errorf("%s: fewer than %v items", path, m)
		}
		if m, ok := num(sch["maxItems"]); ok && float64(len(x)) > m {
			return fmt.Errorf("%s: more than %v items", path, m)
		}
		if items, ok := sch["items"].(map[string]any); ok {
			for i, e := range x {
				if err := validate(items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		props, _ := sch["properties"].(map[string]any)
		if req, ok := sch["required"].([]any); ok {
			for _, r := range req {
				name, _ := r.(string)
				if _, present := x[name]; !present {
					return fmt.Errorf("%s: missing required field %q", path, name)
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p, ok := props[k].(map[string]any)
			if !ok {
				if ap, isBool := sch["additionalProperties"].(bool); isBool && !ap {
					return fmt.Errorf("%s: unexpected field %q", path, k)
				}
				continue
			}
			if err := validate(p, x[k], path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkType(t any, v any, path string) error {
	var types []string
	switch tt := t.(type) {
	case string:
		types = []string{tt}
	case []any:
		for _, e := range tt {
			if s, ok := e.(string); ok {
				types = append(types, s)
			}
		}
	}
	for _, want := range types {
		if typeMatches(want, v) {
			return nil
		}
	}
	return fmt.Errorf("%s: want %s, got %s", path, strings.Join(types, " or "), jsonType(v))
}

func typeMatches(want string, v any) bool {
	switch want {
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "null":
		return v == nil
	}
	return false
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func num(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}
