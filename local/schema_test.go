package local

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testSchema = `{
  "type": "object",
  "properties": {
    "instruction": {"type": "string", "minLength": 3},
    "score": {"type": "integer", "minimum": 1, "maximum": 5},
    "label": {"type": "string", "enum": ["yes", "no"]},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}
  },
  "required": ["instruction", "score"],
  "additionalProperties": false
}`

func TestDecodeJSON(t *testing.T) {
	s := MustCompileSchema(testSchema)
	tests := []struct {
		name    string
		reply   string
		wantErr string // empty: valid
	}{
		{"plain", `{"instruction":"Write a poem","score":4}`, ""},
		{"fenced with chatter", "Sure!\n```json\n{\"instruction\":\"Sum it\",\"score\":1}\n```\nDone.", ""},
		{"all fields", `{"instruction":"abc","score":5,"label":"no","tags":["a","b"]}`, ""},
		{"not json", `I cannot do that`, "no JSON object"},
		{"cut off", `{"instruction":"Write a po`, "not valid JSON"},
		{"missing required", `{"instruction":"Write"}`, `missing required field "score"`},
		{"wrong type", `{"instruction":"Write","score":"4"}`, "want integer"},
		{"not integer", `{"instruction":"Write","score":4.5}`, "want integer"},
		{"below minimum", `{"instruction":"Write","score":0}`, "below the minimum"},
		{"above maximum", `{"instruction":"Write","score":9}`, "above the maximum"},
		{"too short", `{"instruction":"ab","score":2}`, "shorter than"},
		{"not in enum", `{"instruction":"abc","score":2,"label":"maybe"}`, "is not one of"},
		{"too many items", `{"instruction":"abc","score":2,"tags":["a","b","c"]}`, "more than 2 items"},
		{"extra field", `{"instruction":"abc","score":2,"extra":1}`, `unexpected field "extra"`},
		{"item type", `{"instruction":"abc","score":2,"tags":[1]}`, "$.tags[0]: want string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out struct {
				Instruction string `json:"instruction"`
				Score       int    `json:"score"`
			}
			err := DecodeJSON(tt.reply, s, &out)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeJSON(%q) = %v, want nil", tt.reply, err)
				}
				if out.Instruction == "" || out.Score == 0 {
					t.Fatalf("decoded %+v, want fields filled", out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("DecodeJSON(%q) = %v, want error containing %q", tt.reply, err, tt.wantErr)
			}
		})
	}
}

func TestCompileSchemaRejectsNonObject(t *testing.T) {
	if _, err := CompileSchema([]byte(`"json"`)); err == nil {
		t.Fatal("CompileSchema accepted a string")
	}
}

// Keywords users' own schemas (rubrics, axes, recipes) rely on, beyond the
// subset synthkit's built-in schemas use.
func TestSchemaKeywords(t *testing.T) {
	tests := []struct {
		name    string
		schema  string
		value   string
		wantErr string // empty: valid
	}{
		{"maxItems ok", `{"type":"array","maxItems":2}`, `[1,2]`, ""},
		{"maxItems", `{"type":"array","maxItems":2}`, `[1,2,3]`, "$: more than 2 items"},
		{"minItems", `{"type":"array","minItems":1}`, `[]`, "$: fewer than 1 items"},
		{"enum ok", `{"enum":["A","B",3]}`, `3`, ""},
		{"enum", `{"enum":["A","B"]}`, `"C"`, `"C" is not one of ["A","B"]`},
		{"enum mixed types", `{"enum":["1"]}`, `1`, "is not one of"},
		{"const", `{"const":"yes"}`, `"no"`, `"no" is not "yes"`},
		{"minimum edge ok", `{"type":"number","minimum":1,"maximum":10}`, `1`, ""},
		{"maximum edge ok", `{"type":"number","minimum":1,"maximum":10}`, `10`, ""},
		{"minimum", `{"type":"number","minimum":1}`, `0.5`, "below the minimum 1"},
		{"maximum", `{"type":"integer","maximum":10}`, `11`, "above the maximum 10"},
		{"exclusiveMaximum", `{"type":"number","exclusiveMaximum":10}`, `10`, "exclusiveMaximum"},
		{"pattern ok", `{"type":"string","pattern":"^[A-E]$"}`, `"C"`, ""},
		{"pattern", `{"type":"string","pattern":"^[A-E]$"}`, `"F"`, `"F" does not match the pattern "^[A-E]$"`},
		{"maxLength counts characters", `{"type":"string","maxLength":2}`, `"éé"`, ""},
		{"nested required ok", `{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}},"required":["a"]}`,
			`{"a":{"b":"x"}}`, ""},
		{"nested required", `{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}},"required":["a"]}`,
			`{"a":{}}`, `$.a: missing required field "b"`},
		{"required in array items", `{"type":"array","items":{"type":"object","required":["k"]}}`, `[{"k":1},{"j":2}]`,
			`$[1]: missing required field "k"`},
		{"$ref to $defs ok", `{"$defs":{"score":{"type":"integer","minimum":1,"maximum":5}},"type":"object","properties":{"s":{"$ref":"#/$defs/score"}}}`,
			`{"s":3}`, ""},
		{"$ref to $defs", `{"$defs":{"score":{"type":"integer","minimum":1,"maximum":5}},"type":"object","properties":{"s":{"$ref":"#/$defs/score"}}}`,
			`{"s":7}`, "$.s: 7 is above the maximum 5"},
		{"draft-07 definitions", `{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"n":{"type":"string"}},"items":{"$ref":"#/definitions/n"}}`,
			`["a",1]`, "$[1]: want string, got number"},
		{"recursive $ref", `{"$defs":{"node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["kids"]}},"$ref":"#/$defs/node"}`,
			`{"kids":[{"kids":[]},{"kid":[]}]}`, `$.kids[1]: missing required field "kids"`},
		{"anyOf", `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `true`, "want"},
		{"type list", `{"type":["string","null"]}`, `null`, ""},
		{"several errors, first three named", `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string"},"d":{"type":"string"}}}`,
			`{"a":1,"b":1,"c":1,"d":1}`, "$.a: want string, got number; $.b: want string, got number; $.c: want string, got number; and 1 more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := CompileSchema([]byte(tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal([]byte(tt.value), &v); err != nil {
				t.Fatal(err)
			}
			err = s.Validate(v)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want nil", tt.value, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate(%s) = %v, want error containing %q", tt.value, err, tt.wantErr)
			}
		})
	}
}

func TestCompileSchemaRefusesBadSchemas(t *testing.T) {
	dir := t.TempDir()
	ext := filepath.Join(dir, "ext.json")
	if err := os.WriteFile(ext, []byte(`{"type":"string"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, schema := range map[string]string{
		"file $ref":     `{"$ref":"file://` + ext + `"}`,
		"http $ref":     `{"$ref":"http://127.0.0.1:1/schema.json"}`,
		"dangling $ref": `{"$ref":"#/$defs/missing"}`,
		"bad keyword":   `{"type":"strin"}`,
		"bad pattern":   `{"pattern":"(["}`,
		"not JSON":      `{"type":`,
		"array":         `[{"type":"string"}]`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := CompileSchema([]byte(schema)); err == nil {
				t.Fatalf("CompileSchema(%s) accepted it", schema)
			}
		})
	}
}
