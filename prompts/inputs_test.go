package prompts

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"synthkit/export"
)

func TestLoadPrompts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		want    []string
		wantErr string
	}{
		{"jsonl shapes", write("a.jsonl", `{"prompt": "one"}
{"instruction": "two", "input": "in"}

{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "three"}]}
{"prompt": [{"role": "user", "content": "four"}]}
`), []string{"one", "two\n\nin", "three", "four"}, ""},
		{"jsonl bad json names the line", write("b.jsonl", "{\"prompt\": \"ok\"}\n{oops\n"), nil, "b.jsonl:2: invalid JSON"},
		{"jsonl no prompt field", write("c.jsonl", "{\"text\": \"x\"}\n"), nil, `c.jsonl:1: no prompt: want a "prompt"`},
		{"csv", write("d.csv", "id,instruction\n1,\"Say hi, politely\"\n2,Count to three\n"), []string{"Say hi, politely", "Count to three"}, ""},
		{"csv without column", write("e.csv", "id,text\n1,x\n"), nil, `e.csv:2: no prompt: want a "prompt"`},
		{"csv empty prompt", write("f.csv", "prompt\nfine\n\"\"\n"), nil, "f.csv:3: empty prompt"},
		{"csv broken quote names the line", write("q.csv", "prompt\nfine\n\"unterminated\n"), nil, "q.csv:3"},
		{"text lines", write("g.txt", "first\n\n  second  \n"), []string{"first", "second"}, ""},
		{"empty file", write("h.txt", "\n\n"), nil, "h.txt: no records: the input is empty"},
		{"json array", write("alpaca.json", `[{"instruction": "Say hi.", "input": "", "output": "Hi"}, {"instruction": "Add", "input": "2+2"}]`), []string{"Say hi.", "Add\n\n2+2"}, ""},
		{"sharegpt", write("sg.jsonl", `{"conversations": [{"from": "human", "value": "q1"}, {"from": "gpt", "value": "a1"}]}`+"\n"), []string{"q1"}, ""},
		{"invalid UTF-8 in a text file names the line", write("bad.txt", "ok\ncaf\xe9\n"), nil, "bad.txt:2: invalid UTF-8"},
		{"invalid UTF-8 in a CSV file names the line", write("bad.csv", "prompt\nok\ncaf\xe9\n"), nil, "bad.csv:3: invalid UTF-8"},
		{"invalid UTF-8 in JSON Lines is refused", write("bad.jsonl", "{\"prompt\": \"caf\xe9\"}\n"), nil, "bad.jsonl:1: invalid UTF-8"},
		{"missing file", filepath.Join(dir, "nope.txt"), nil, "no such file"},
		{"directory without data", filepath.Dir(write("notes/readme", "x")), nil, "a folder with no data files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadPrompts(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("LoadPrompts = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLoadPromptsFromRun(t *testing.T) {
	dir := t.TempDir()
	run := testRun(t, dir, "self-instruct")
	for i, q := range []string{"What is rain?", "Name a prime."} {
		row := export.SFT{Messages: []export.Message{{Role: "user", Content: q}, {Role: "assistant", Content: "a"}}}
		if err := run.Add(siInstanceUnit(i, 0, 0), export.Provenance{}, row); err != nil {
			t.Fatal(err)
		}
	}
	if err := run.Reject("si-000009-0", ReasonTooSimilar, export.Provenance{}); err != nil {
		t.Fatal(err)
	}
	run.Close()
	got, err := LoadPrompts(dir)
	if err != nil || !reflect.DeepEqual(got, []string{"What is rain?", "Name a prime."}) {
		t.Fatalf("LoadPrompts(run) = %q, %v", got, err)
	}
}
