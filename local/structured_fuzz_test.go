package local

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// goTypeName finds text in an error message that reads like Go rather than
// words for a user; text taken from the reply itself does not count.
func goTypeName(msg string, input []byte) string {
	for _, m := range goTypeRe.FindAllString(msg, -1) {
		if !bytes.Contains(input, []byte(m)) {
			return m
		}
	}
	return ""
}

var goTypeRe = regexp.MustCompile(`map\[|\[\]interface|\[\]any\b|interface \{|struct \{|Go struct|Go value|json\.Number|\bfloat(32|64)\b|\bu?int(8|16|32|64)\b|%!|<nil>|\*?\b[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*\b`)

// The schemas and result types the methods use (prompts/selfinstruct.go,
// evol.go, prefer_judge.go), copied so this package's fuzz test needs none
// of them.
type fuzzTasks struct {
	Tasks []string `json:"tasks"`
}

type fuzzInstances struct {
	Labels    []string `json:"labels"`
	Instances []struct {
		Label string `json:"label"`
		Input string `json:"input"`
	} `json:"instances"`
}

type fuzzClf struct {
	IsClassification bool `json:"is_classification"`
}

type fuzzVerdict struct {
	Explanation string `json:"explanation"`
	Verdict     string `json:"verdict"`
}

type fuzzRatings struct {
	Answers []map[string]struct {
		Rationale string  `json:"rationale"`
		Rating    float64 `json:"rating"`
	} `json:"answers"`
}

// fuzzScore has an integer field with no bound in its schema: a huge
// number passes the schema but not the Go type.
type fuzzScore struct {
	Score int    `json:"score"`
	Notes string `json:"notes"`
}

var fuzzSchemas = []struct {
	schema *Schema
	out    func() any
}{
	{MustCompileSchema(`{"type":"object","properties":{"tasks":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":8}},"required":["tasks"]}`),
		func() any { return new(fuzzTasks) }},
	{MustCompileSchema(`{"type":"object","properties":{"labels":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":10},"instances":{"type":"array","items":{"type":"object","properties":{"label":{"type":"string"},"input":{"type":"string"}},"required":["label","input"]},"minItems":1,"maxItems":5}},"required":["labels","instances"]}`),
		func() any { return new(fuzzInstances) }},
	{MustCompileSchema(`{"type":"object","properties":{"is_classification":{"type":"boolean"}},"required":["is_classification"]}`),
		func() any { return new(fuzzClf) }},
	{MustCompileSchema(`{"type": "object", "properties": {"explanation": {"type": "string", "maxLength": 800}, "verdict": {"enum": ["A", "B", "tie"]}}, "required": ["explanation", "verdict"], "additionalProperties": false}`),
		func() any { return new(fuzzVerdict) }},
	{MustCompileSchema(`{"type": "object", "properties": {"answers": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "object", "properties": {"helpfulness": {"type": "object", "properties": {"rationale": {"type": "string", "maxLength": 400}, "rating": {"type": "integer", "enum": [1,2,3,4,5]}}, "required": ["rationale", "rating"], "additionalProperties": false}}, "required": ["helpfulness"], "additionalProperties": false}}}, "required": ["answers"], "additionalProperties": false}`),
		func() any { return new(fuzzRatings) }},
	{MustCompileSchema(`{"type":"object","properties":{"score":{"type":"integer"},"notes":{"type":"string"}},"required":["score"]}`),
		func() any { return new(fuzzScore) }},
}

// FuzzDecodeJSON: a model reply, whatever it holds, is either decoded into
// a value the schema accepts or refused with a plain error (never a Go type
// name: the reason is shown to users and counted in the card). An accepted
// value, encoded again, decodes to the same value.
//
//	go test -run '^$' -fuzz '^FuzzDecodeJSON$' -fuzztime 30s ./local
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []struct {
		schema byte
		reply  string
	}{
		{0, `{"tasks": ["Write a poem.", "List primes."]}`},
		{0, "Sure! Here you go:\n```json\n{\"tasks\": [\"Sort a list.\"]}\n```\nHope it helps."},
		{0, `{"tasks": []}`},
		{0, `{"tasks": ["a"`},
		{1, `{"labels": ["yes", "no"], "instances": [{"label": "yes", "input": "x"}]}`},
		{2, `{"is_classification": "yes"}`},
		{2, `{"is_classification": true} trailing {`},
		{3, `{"explanation": "A is clearer.", "verdict": "A"}`},
		{3, `{"explanation": "x", "verdict": "C", "extra": 1}`},
		{4, `{"answers": [{"helpfulness": {"rationale": "ok", "rating": 4}}, {"helpfulness": {"rationale": "bad", "rating": 1}}]}`},
		{4, `{"answers": [{"helpfulness": {"rationale": "ok", "rating": 4.5}}]}`},
		{5, `{"score": 7, "notes": "fine"}`},
		{5, `{"score": 1e400}`},
		{5, `{"score": 99999999999999999999}`},
		{5, `[1, 2]`},
		{5, "no json here"},
		{5, `{"score": 1, "notes": "\ud800"}`},
	} {
		f.Add(s.schema, s.reply)
	}
	f.Fuzz(func(t *testing.T, which byte, reply string) {
		s := fuzzSchemas[int(which)%len(fuzzSchemas)]
		out := s.out()
		err := DecodeJSON(reply, s.schema, out)
		if err != nil {
			if m := goTypeName(err.Error(), []byte(reply)); m != "" {
				t.Fatalf("error names Go type %q: %v", m, err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error")
			}
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("accepted value does not encode: %v", err)
		}
		again := s.out()
		if err := DecodeJSON(string(b), s.schema, again); err != nil {
			t.Fatalf("accepted %q, but its encoding %s is refused: %v", reply, b, err)
		}
		if !reflect.DeepEqual(out, again) {
			t.Fatalf("round trip changed the value: %+v then %+v", out, again)
		}
	})
}
