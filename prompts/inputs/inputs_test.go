package inputs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"synthkit/export"
)

// writeFiles writes name → content under a new temporary folder.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func u(s string) Message   { return Message{"user", s} }
func a(s string) Message   { return Message{"assistant", s} }
func sys(s string) Message { return Message{"system", s} }

// checkRecords compares the shape of records; Fields only for the keys
// want lists, Source only where want sets a line.
func checkRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		gs, ws := g, w
		gs.Fields, ws.Fields, gs.Source, ws.Source = nil, nil, Pos{}, Pos{}
		if !reflect.DeepEqual(gs, ws) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, gs, ws)
		}
		for k, v := range w.Fields {
			if g.Fields[k] != v {
				t.Errorf("record %d: Fields[%q] = %q, want %q (all: %v)", i, k, g.Fields[k], v, g.Fields)
			}
		}
		if w.Source.Line != 0 && (g.Source.Line != w.Source.Line || g.Source.Row != w.Source.Row) {
			t.Errorf("record %d: Source = %v, want line %d", i, g.Source, w.Source.Line)
		}
	}
}

// withWantedFields asks Load to keep the scalar columns the expected
// records name (only those and KeptFields are kept).
func withWantedFields(o Options, want []Record) Options {
	for _, r := range want {
		for k := range r.Fields {
			if !slices.Contains(o.Fields, k) && !slices.Contains(KeptFields, k) {
				o.Fields = append(o.Fields, k)
			}
		}
	}
	return o
}

func TestLoadFormatsAndShapes(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		path   string // relative to the folder; "" = the only file
		opts   Options
		format string
		want   []Record
	}{
		{
			name: "jsonl: prompt, alpaca, messages, prompt list",
			files: map[string]string{"a.jsonl": `{"prompt": "one"}
{"instruction": "two", "input": "in", "output": "out"}

{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "three"}]}
{"prompt": [{"role": "user", "content": "four"}]}
{"instruction": "five", "input": "  "}
`},
			format: "jsonl",
			want: []Record{
				{Prompt: []Message{u("one")}},
				{Prompt: []Message{u("two\n\nin")}, Completion: "out"},
				{Prompt: []Message{sys("s"), u("three")}, Source: Pos{Line: 4}},
				{Prompt: []Message{u("four")}},
				{Prompt: []Message{u("five")}, Source: Pos{Line: 6}},
			},
		},
		{
			name: "alpaca.json: a JSON array, lines where objects start",
			files: map[string]string{"alpaca.json": `[
    {
        "instruction": "Give three tips for staying healthy.",
        "input": "",
        "output": "1. Eat well."
    },
    {
        "instruction": "Translate.",
        "input": "Bonjour",
        "output": "Hello"
    }
]`},
			format: "json",
			want: []Record{
				{Prompt: []Message{u("Give three tips for staying healthy.")}, Completion: "1. Eat well.", Source: Pos{Line: 2},
					Fields: map[string]string{"output": "1. Eat well.", "input": ""}},
				{Prompt: []Message{u("Translate.\n\nBonjour")}, Completion: "Hello", Source: Pos{Line: 7}},
			},
		},
		{
			name:  "ShareGPT conversations: multi-turn, prompt up to the last assistant turn",
			files: map[string]string{"sharegpt.jsonl": `{"id": "x1", "conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}, {"from": "human", "value": "Name a fruit"}, {"from": "gpt", "value": "Apple"}]}` + "\n"},
			want: []Record{{
				Prompt:     []Message{sys("Be brief."), u("Hi"), a("Hello"), u("Name a fruit")},
				Completion: "Apple",
				Fields:     map[string]string{"id": "x1"},
			}},
		},
		{
			name:  "messages ending with a user turn are all prompt; OpenAI content parts",
			files: map[string]string{"m.jsonl": `{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": [{"type": "text", "text": "c"}, {"type": "image_url"}, {"type": "text", "text": "d"}]}]}` + "\n"},
			want:  []Record{{Prompt: []Message{u("a"), a("b"), u("c\nd")}}},
		},
		{
			name:  "question with a reference answer in Fields; numbers keep their text",
			files: map[string]string{"q.jsonl": `{"question": "2+2?", "answer": "4", "id": 12345678901234567890, "hard": false, "score": 0.5, "tags": ["x"], "none": null}` + "\n"},
			want: []Record{{Prompt: []Message{u("2+2?")},
				Fields: map[string]string{"answer": "4", "id": "12345678901234567890", "hard": "false", "score": "0.5", "question": "2+2?"}}},
		},
		{
			name:  "TRL conversational preference, explicit prompt",
			files: map[string]string{"p.jsonl": `{"prompt": [{"role": "user", "content": "Sky?"}], "chosen": [{"role": "assistant", "content": "Blue."}], "rejected": [{"role": "assistant", "content": "Green."}]}` + "\n"},
			want:  []Record{{Prompt: []Message{u("Sky?")}, Chosen: []Message{a("Blue.")}, Rejected: []Message{a("Green.")}}},
		},
		{
			name:  "TRL standard preference: strings",
			files: map[string]string{"p.jsonl": `{"prompt": "Sky?", "chosen": "Blue.", "rejected": "Green."}` + "\n"},
			want:  []Record{{Prompt: []Message{u("Sky?")}, Chosen: []Message{a("Blue.")}, Rejected: []Message{a("Green.")}}},
		},
		{
			name:  "UltraFeedback-binarized: string prompt, chosen/rejected with the prompt in front",
			files: map[string]string{"ufb.jsonl": `{"prompt": "Sky?", "prompt_id": "abc", "chosen": [{"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Blue."}], "rejected": [{"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Green."}], "score_chosen": 8.5, "score_rejected": 3.0}` + "\n"},
			want: []Record{{Prompt: []Message{u("Sky?")}, Chosen: []Message{a("Blue.")}, Rejected: []Message{a("Green.")},
				Fields: map[string]string{"prompt_id": "abc", "score_chosen": "8.5", "score_rejected": "3.0"}}},
		},
		{
			name:  "implicit prompt: chosen and rejected only",
			files: map[string]string{"rm.jsonl": `{"chosen": [{"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Blue."}], "rejected": [{"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Green."}]}` + "\n"},
			want:  []Record{{Prompt: []Message{u("Sky?")}, Chosen: []Message{a("Blue.")}, Rejected: []Message{a("Green.")}}},
		},
		{
			name: "several completions: UltraFeedback objects and a responses list",
			files: map[string]string{"c.jsonl": `{"instruction": "Sky?", "completions": [{"model": "m1", "response": "Blue.", "annotations": {"x": 1}}, {"model_name": "m2", "response": "Green."}]}
{"prompt": "Sea?", "responses": ["Wet.", "Salty."]}
`},
			want: []Record{
				{Prompt: []Message{u("Sky?")}, Completions: []Completion{{"m1", "Blue."}, {"m2", "Green."}}},
				{Prompt: []Message{u("Sea?")}, Completions: []Completion{{"", "Wet."}, {"", "Salty."}}},
			},
		},
		{
			name:   "CSV: quoted fields over lines, instruction + input, extra columns in Fields",
			files:  map[string]string{"d.csv": "id,Instruction,input,answer\n1,\"Say hi, politely\",,hi\n2,\"Count\nto three\",fast,\"1, 2, 3\"\n"},
			format: "csv",
			want: []Record{
				{Prompt: []Message{u("Say hi, politely")}, Fields: map[string]string{"id": "1", "answer": "hi"}, Source: Pos{Line: 2}},
				{Prompt: []Message{u("Count\nto three\n\nfast")}, Fields: map[string]string{"answer": "1, 2, 3"}, Source: Pos{Line: 3}},
			},
		},
		{
			name:   "TSV",
			files:  map[string]string{"d.tsv": "prompt\tresponse\nWhy \"blue\"?\tRayleigh\n"},
			format: "tsv",
			want:   []Record{{Prompt: []Message{u(`Why "blue"?`)}, Completion: "Rayleigh"}},
		},
		{
			name:   "CSV told by its header when the name says nothing",
			files:  map[string]string{"prompts": "prompt,id\nhello,1\n"},
			format: "csv",
			want:   []Record{{Prompt: []Message{u("hello")}, Fields: map[string]string{"id": "1"}}},
		},
		{
			name:   "plain text: BOM, CRLF, blank lines, a comma is not CSV",
			files:  map[string]string{"g.txt": "\ufefffirst, really\r\n\r\n  second  \r\n# third\n"},
			format: "text",
			want:   []Record{{Prompt: []Message{u("first, really")}}, {Prompt: []Message{u("second")}, Source: Pos{Line: 3}}, {Prompt: []Message{u("# third")}}},
		},
		{
			name:   "JSONL without a telling name",
			files:  map[string]string{"data.txt": `{"prompt": "x"}` + "\n"},
			format: "jsonl",
			want:   []Record{{Prompt: []Message{u("x")}}},
		},
		{
			name:  "PromptColumn picks another column",
			files: map[string]string{"o.jsonl": `{"query": "find me", "prompt": "not this"}` + "\n"},
			opts:  Options{PromptColumn: "query"},
			want:  []Record{{Prompt: []Message{u("find me")}}},
		},
		{
			name:  "MessagesColumn picks a conversation column",
			files: map[string]string{"o.jsonl": `{"dialog": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "r"}], "prompt": "not this"}` + "\n"},
			opts:  Options{MessagesColumn: "dialog"},
			want:  []Record{{Prompt: []Message{u("q")}, Completion: "r"}},
		},
		{
			name:   "a glob of files, in name order",
			files:  map[string]string{"s/b.jsonl": `{"prompt": "b"}` + "\n", "s/a.txt": "a\n", "s/c.md": "no\n"},
			path:   "s/[ab].*",
			format: "mixed",
			want:   []Record{{Prompt: []Message{u("a")}}, {Prompt: []Message{u("b")}}},
		},
		{
			name:   "a glob of files of one format",
			files:  map[string]string{"s/b.jsonl": `{"prompt": "b"}` + "\n", "s/a.jsonl": `{"prompt": "a"}` + "\n"},
			path:   "s/*.jsonl",
			format: "jsonl",
			want:   []Record{{Prompt: []Message{u("a")}}, {Prompt: []Message{u("b")}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			path := tt.path
			if path == "" {
				for name := range tt.files {
					path = name
				}
			}
			set, err := Load(filepath.Join(dir, path), withWantedFields(tt.opts, tt.want))
			if err != nil {
				t.Fatal(err)
			}
			if tt.format != "" && set.Format != tt.format {
				t.Errorf("Format = %q, want %q", set.Format, tt.format)
			}
			checkRecords(t, set.Records, tt.want)
		})
	}
}

func TestLoadStdin(t *testing.T) {
	old := stdin
	defer func() { stdin = old }()
	stdin = strings.NewReader("{\"prompt\": \"from a pipe\"}\n{\"prompt\": \"\xff\"}\n")
	_, err := Load("-", Options{})
	if err == nil || err.Error() != "stdin:2: invalid UTF-8 (byte 0xff at column 13): the input must be UTF-8 (convert it, e.g. iconv -f latin1 -t utf-8)" {
		t.Fatalf("err = %v", err)
	}
	stdin = strings.NewReader("one\ntwo\n")
	set, err := Load("-", Options{})
	if err != nil || !reflect.DeepEqual(set.Prompts(), []string{"one", "two"}) || set.Format != "text" || set.Files[0] != "stdin" {
		t.Fatalf("Load(-) = %+v, %v", set, err)
	}
}

func TestLoadRun(t *testing.T) {
	dir := t.TempDir()
	run, err := export.OpenRun(dir, export.Manifest{Version: "test", Method: "respond", Seed: 1,
		Models: []export.ModelInfo{{Name: "m:latest", Digest: "sha256:0123"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range []string{"What is rain?", "Name a prime."} {
		row := export.SFT{Messages: []export.Message{{Role: "user", Content: q}, {Role: "assistant", Content: "a" + q}}}
		if err := run.Add("u"+string(rune('0'+i)), export.Provenance{}, row); err != nil {
			t.Fatal(err)
		}
	}
	pref := export.Preference{Prompt: []export.Message{{Role: "user", Content: "Sky?"}},
		Chosen: []export.Message{{Role: "assistant", Content: "Blue."}}, Rejected: []export.Message{{Role: "assistant", Content: "Red."}}}
	if err := run.Add("u2", export.Provenance{}, pref); err != nil {
		t.Fatal(err)
	}
	if err := run.Reject("u9", "too similar", export.Provenance{}); err != nil {
		t.Fatal(err)
	}
	run.Close()
	set, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if set.Format != "run" {
		t.Errorf("Format = %q", set.Format)
	}
	checkRecords(t, set.Records, []Record{
		{Prompt: []Message{u("What is rain?")}, Completion: "aWhat is rain?", Fields: map[string]string{"id": "u0"}},
		{Prompt: []Message{u("Name a prime.")}, Completion: "aName a prime."},
		{Prompt: []Message{u("Sky?")}, Chosen: []Message{a("Blue.")}, Rejected: []Message{a("Red.")}},
	})
	if _, err := Load(dir, Options{Split: "test"}); err == nil {
		t.Error("a split for a run directory: no error")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		path  string
		opts  Options
		want  string // the error after the folder's path and a separator
	}{
		{"invalid JSON names the line", map[string]string{"b.jsonl": "{\"prompt\": \"ok\"}\n{oops\n"}, "b.jsonl", Options{},
			"b.jsonl:2: invalid JSON: invalid character 'o' looking for beginning of object key string"},
		{"an array line in JSON Lines", map[string]string{"b.jsonl": "{\"prompt\": \"ok\"}\n[1]\n"}, "b.jsonl", Options{},
			"b.jsonl:2: expected one JSON object per line, found an array"},
		{"invalid JSON array names the line", map[string]string{"a.json": "[\n{\"prompt\": \"ok\"},\n{\"prompt\" \"x\"}\n]"}, "a.json", Options{},
			"a.json:3: invalid JSON: invalid character '\"' after object key"},
		{"a JSON array of strings", map[string]string{"a.json": "[\"x\"]"}, "a.json", Options{},
			"a.json:1: element 0 of the array is a string, want a JSON object"},
		{"no prompt column lists the columns", map[string]string{"c.jsonl": "{\"text\": \"x\", \"id\": 1}\n"}, "c.jsonl", Options{},
			`c.jsonl:1: no prompt: want a "prompt", "instruction", "messages", "conversations" or "question" column, or name one with --prompt-column or --messages-column (columns: "id" and "text")`},
		{"a named column that does not exist", map[string]string{"c.jsonl": "{\"text\": \"x\", \"id\": 1}\n"}, "c.jsonl", Options{PromptColumn: "query"},
			`c.jsonl:1: no column "query"; the record has "id" and "text"`},
		{"CSV empty prompt", map[string]string{"f.csv": "prompt\nfine\n\"\"\n"}, "f.csv", Options{},
			`f.csv:3: empty prompt ("prompt" is empty)`},
		{"CSV broken quote", map[string]string{"q.csv": "prompt\nfine\n\"unterminated\n"}, "q.csv", Options{},
			`q.csv:3: invalid CSV: extraneous or missing " in quoted-field`},
		{"CSV short row", map[string]string{"s.csv": "prompt,id\nfine,1\nshort\n"}, "s.csv", Options{},
			"s.csv:3: 1 fields, but the header has 2"},
		{"CSV without a prompt column", map[string]string{"e.csv": "id,text\n1,x\n"}, "e.csv", Options{},
			`e.csv:2: no prompt: want a "prompt", "instruction", "messages", "conversations" or "question" column, or name one with --prompt-column or --messages-column (columns: "id" and "text")`},
		{"invalid UTF-8 in text", map[string]string{"g.txt": "fine\nlatin1 caf\xe9\n"}, "g.txt", Options{},
			"g.txt:2: invalid UTF-8 (byte 0xe9 at column 11): the input must be UTF-8 (convert it, e.g. iconv -f latin1 -t utf-8)"},
		{"invalid UTF-8 in CSV", map[string]string{"g.csv": "prompt\nfine\n\"two\nlines \xc3\"\n"}, "g.csv", Options{},
			"g.csv:4: invalid UTF-8 (byte 0xc3 at column 7): the input must be UTF-8 (convert it, e.g. iconv -f latin1 -t utf-8)"},
		{"invalid UTF-8 in JSON Lines is refused, not replaced", map[string]string{"g.jsonl": "{\"prompt\": \"ok\"}\n{\"prompt\": \"caf\xe9\"}\n"}, "g.jsonl", Options{},
			"g.jsonl:2: invalid UTF-8 (byte 0xe9 at column 16): the input must be UTF-8 (convert it, e.g. iconv -f latin1 -t utf-8)"},
		{"invalid UTF-8 in a JSON array", map[string]string{"g.json": "[{\"prompt\": \"ok\"},\n{\"prompt\": \"\xff\"}]"}, "g.json", Options{},
			"g.json:2: invalid UTF-8 (byte 0xff at column 13): the input must be UTF-8 (convert it, e.g. iconv -f latin1 -t utf-8)"},
		{"empty file", map[string]string{"h.txt": "\n\n"}, "h.txt", Options{}, "h.txt: no records: the input is empty"},
		{"binary file", map[string]string{"x.bin": "\x01\x02\x00\x03"}, "x.bin", Options{},
			"x.bin: not a text file (a zero byte at offset 2); want JSON Lines, a JSON array, CSV, TSV, plain text or Parquet"},
		{"gzip", map[string]string{"x.jsonl.gz": "\x1f\x8b\x08\x00"}, "x.jsonl.gz", Options{},
			"x.jsonl.gz: not an input file synthkit reads (a gzip-compressed file: decompress it first (gunzip)); want JSON Lines, a JSON array, CSV, TSV, plain text or Parquet"},
		{"a .parquet that is not", map[string]string{"x.parquet": "id,prompt\n"}, "x.parquet", Options{},
			"x.parquet: not a Parquet file (it does not start with PAR1)"},
		{"missing file", nil, "nope.txt", Options{}, "nope.txt: couldn't read: no such file or directory"},
		{"glob matching nothing", map[string]string{"a.txt": "x\n"}, "*.parquet", Options{}, "*.parquet: no file matches the pattern"},
		{"plain directory", map[string]string{"notes/readme": "x"}, "notes", Options{},
			"notes: a folder with no data files (.parquet, .jsonl, .json, .csv, .tsv, .txt) and no synthkit run (journal/)"},
		{"config for a file", map[string]string{"a.txt": "x\n"}, "a.txt", Options{Config: "sft"},
			"a.txt: a config or split chooses files in a dataset folder; DIR/a.txt is a file"},
		{"unknown role", map[string]string{"r.jsonl": `{"messages": [{"role": "narrator", "content": "x"}]}` + "\n"}, "r.jsonl", Options{},
			`r.jsonl:1: "messages": message 1: unknown role "narrator" (want system, user, assistant or tool, or ShareGPT's human and gpt)`},
		{"messages not a list", map[string]string{"r.jsonl": `{"messages": "hi"}` + "\n"}, "r.jsonl", Options{},
			`r.jsonl:1: "messages": is a string, want a list of messages`},
		{"only an assistant turn", map[string]string{"r.jsonl": `{"messages": [{"role": "assistant", "content": "x"}]}` + "\n"}, "r.jsonl", Options{},
			`r.jsonl:1: no prompt: want a "prompt", "instruction", "messages", "conversations" or "question" column, or name one with --prompt-column or --messages-column (columns: "messages")`},
		{"half a pair", map[string]string{"r.jsonl": `{"prompt": "x", "chosen": "y"}` + "\n"}, "r.jsonl", Options{},
			`r.jsonl:1: a preference pair needs both "chosen" and "rejected"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := Load(filepath.Join(dir, tt.path), tt.opts)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v (%T), want an *InputError", err, err)
			}
			want := filepath.Join(dir, tt.want)
			want = strings.ReplaceAll(want, "DIR", dir)
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "nope"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v does not wrap fs.ErrNotExist", err)
	}
}

func TestHashOfRecords(t *testing.T) {
	load := func(body string) string {
		t.Helper()
		set, err := Load(filepath.Join(writeFiles(t, map[string]string{"p.jsonl": body}), "p.jsonl"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(set.Hash, "sha256:") || len(set.Hash) != 71 {
			t.Fatalf("Hash = %q", set.Hash)
		}
		return set.Hash
	}
	base := load("{\"prompt\": \"a\"}\n{\"prompt\": \"b\"}\n")
	if load("\n{\"prompt\":\"a\"}\n\n{ \"prompt\": \"b\" }\n") != base {
		t.Error("the hash changed with spacing only")
	}
	for name, body := range map[string]string{
		"reordered":      "{\"prompt\": \"b\"}\n{\"prompt\": \"a\"}\n",
		"a field":        "{\"prompt\": \"a\", \"id\": 1}\n{\"prompt\": \"b\"}\n",
		"boundary moved": "{\"prompt\": \"ab\"}\n{\"prompt\": \"\"}\n",
	} {
		if name == "boundary moved" {
			body = "{\"prompt\": \"a\\u0000\"}\n{\"prompt\": \"b\"}\n"
		}
		if load(body) == base {
			t.Errorf("%s: same hash", name)
		}
	}
}

func TestScanKeepsRawValues(t *testing.T) {
	dir := writeFiles(t, map[string]string{"s.jsonl": `{"instruction": "x", "instances": [{"input": "i", "output": "o"}], "n": 7}` + "\n"})
	var rows []Row
	err := Scan(filepath.Join(dir, "s.jsonl"), Options{}, func(r Row) error { rows = append(rows, r); return nil })
	if err != nil || len(rows) != 1 {
		t.Fatalf("Scan = %v, %v", rows, err)
	}
	inst, ok := rows[0].Cols["instances"].([]any)
	if !ok || inst[0].(map[string]any)["output"] != "o" || rows[0].Format != "jsonl" || rows[0].Pos.Line != 1 {
		t.Errorf("row = %+v", rows[0])
	}
	err = Scan(filepath.Join(dir, "s.jsonl"), Options{}, func(r Row) error { return errors.New("mine") })
	if err == nil || err.Error() != filepath.Join(dir, "s.jsonl")+":1: mine" {
		t.Errorf("an error from fn: %v", err)
	}
}
