package local

import (
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
