package local

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// legacyValidate is the hand-written subset validator synthkit used before
// santhosh-tekuri/jsonschema. It stays here only so BenchmarkSchemaValidate
// can measure, side by side, what the full validator costs.

func legacyValidate(sch map[string]any, v any, path string) error {
	if t, ok := sch["type"]; ok {
		if err := legacyCheckType(t, v, path); err != nil {
			return err
		}
	}
	if enum, ok := sch["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if legacyJSONEqual(e, v) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", path, legacyShort(v), enum)
		}
	}
	switch x := v.(type) {
	case string:
		n := utf8.RuneCountInString(x)
		if m, ok := legacyNum(sch["minLength"]); ok && float64(n) < m {
			return fmt.Errorf("%s: string shorter than %v", path, m)
		}
		if m, ok := legacyNum(sch["maxLength"]); ok && float64(n) > m {
			return fmt.Errorf("%s: string longer than %v", path, m)
		}
	case float64:
		if m, ok := legacyNum(sch["minimum"]); ok && x < m {
			return fmt.Errorf("%s: %v is below the minimum %v", path, x, m)
		}
		if m, ok := legacyNum(sch["maximum"]); ok && x > m {
			return fmt.Errorf("%s: %v is above the maximum %v", path, x, m)
		}
	case []any:
		if m, ok := legacyNum(sch["minItems"]); ok && float64(len(x)) < m {
			return fmt.Errorf("%s: fewer than %v items", path, m)
		}
		if m, ok := legacyNum(sch["maxItems"]); ok && float64(len(x)) > m {
			return fmt.Errorf("%s: more than %v items", path, m)
		}
		if items, ok := sch["items"].(map[string]any); ok {
			for i, e := range x {
				if err := legacyValidate(items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
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
			if err := legacyValidate(p, x[k], path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func legacyCheckType(t any, v any, path string) error {
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
		if legacyTypeMatches(want, v) {
			return nil
		}
	}
	return fmt.Errorf("%s: want %s, got %s", path, strings.Join(types, " or "), legacyJSONType(v))
}

func legacyTypeMatches(want string, v any) bool {
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

func legacyJSONType(v any) string {
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

func legacyNum(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func legacyJSONEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func legacyShort(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// benchSchema and benchReply are a typical structured reply: an object
// holding an array of 5 objects of 3 string fields (a Self-Instruct batch).
const benchSchema = `{"type":"object","properties":{"tasks":{"type":"array","minItems":5,"maxItems":5,
"items":{"type":"object","properties":{"instruction":{"type":"string","minLength":1,"maxLength":500},
"input":{"type":"string","maxLength":500},"output":{"type":"string","minLength":1,"maxLength":2000}},
"required":["instruction","input","output"],"additionalProperties":false}}},"required":["tasks"],"additionalProperties":false}`

func benchReply() string {
	var b strings.Builder
	b.WriteString(`{"tasks":[`)
	for i := range 5 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"instruction":"Write a short poem about the sea, number %d, in the style of a limerick.",`+
			`"input":"","output":"There once was a wave on the shore, that wanted to see something more; it rose up so high, it touched the grey sky, and fell back to the sea with a roar."}`, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

var benchSink error

// BenchmarkSchemaValidate compares, in one run, the full validator with the
// hand-written subset it replaced, on an already decoded reply, and the
// whole DecodeJSON path (find, parse, validate, decode) a structured call
// runs once per reply. Compare the figures with a model call (~100 ms).
func BenchmarkSchemaValidate(b *testing.B) {
	s := MustCompileSchema(benchSchema)
	var root map[string]any
	if err := json.Unmarshal([]byte(benchSchema), &root); err != nil {
		b.Fatal(err)
	}
	reply := benchReply()
	var v any
	if err := json.Unmarshal([]byte(reply), &v); err != nil {
		b.Fatal(err)
	}
	if err := s.Validate(v); err != nil {
		b.Fatal(err)
	}
	if err := legacyValidate(root, v, "$"); err != nil {
		b.Fatal(err)
	}
	b.Run("jsonschema", func(b *testing.B) {
		for b.Loop() {
			benchSink = s.Validate(v)
		}
	})
	b.Run("legacy-subset", func(b *testing.B) {
		for b.Loop() {
			benchSink = legacyValidate(root, v, "$")
		}
	})
	b.Run("DecodeJSON", func(b *testing.B) {
		var out struct {
			Tasks []struct{ Instruction, Input, Output string } `json:"tasks"`
		}
		for b.Loop() {
			benchSink = DecodeJSON(reply, s, &out)
		}
	})
}
