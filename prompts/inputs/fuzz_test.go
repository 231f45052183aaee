package inputs

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

// The input loader reads whatever a user points it at. Whatever the bytes,
// it must not panic, every error is an *InputError naming the file in plain
// words, and a loaded set written back as JSON Lines loads to the same
// prompts and completions.
//
//	go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime 30s ./prompts/inputs

// goTypeName finds text in an error message that reads like Go rather than
// words for a user; text taken from the input itself does not count.
func goTypeName(msg string, input []byte) string {
	for _, m := range goTypeRe.FindAllString(msg, -1) {
		if !bytes.Contains(input, []byte(m)) {
			return m
		}
	}
	return ""
}

var goTypeRe = regexp.MustCompile(`map\[|\[\]interface|\[\]any\b|interface \{|struct \{|Go struct|Go value|json\.Number|\bfloat(32|64)\b|\bu?int(8|16|32|64)\b|%!|<nil>|\*?\b[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*\b`)

// fuzzExts are the names the loader tells formats by.
var fuzzExts = []string{".jsonl", ".csv", ".txt", ".json", ".tsv", ""}

// inputSeeds are real inputs of every text format (and broken ones).
var inputSeeds = []struct {
	ext  byte // index into fuzzExts
	data string
}{
	{0, `{"prompt": "one"}
{"instruction": "two", "input": "in", "output": "out"}

{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "three"}, {"role": "assistant", "content": "a"}]}
{"conversations": [{"from": "human", "value": "four"}, {"from": "gpt", "value": "b"}]}
{"prompt": [{"role": "user", "content": [{"type": "text", "text": "five"}]}], "chosen": "c", "rejected": "r"}
{"question": "six", "completions": [{"model": "m", "response": "x"}, "y"], "id": 7, "score": 1.5, "ok": true}
`},
	{0, `{"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "good"}], "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "bad"}]}` + "\n"},
	{1, "instruction,input,output\nSummarize the text.,\"A long, quoted\ntext.\",ok\nName a color.,,blue\n"},
	{4, "prompt\tresponse\nWhat is 2+2?\t4\nA \"quoted\" prompt\tx\n"},
	{2, "\ufeffExplain rivers.\n\n  Write a haiku.  \r\nGive three uses of copper.\n"},
	{3, `[{"instruction": "Give a word.", "output": "word"},
 {"prompt": "Another.", "response": "yes"}]`},
	{5, "prompt,id\nhello,1\n"},
	{2, "A fine prompt.\nA broken \xff\xfe prompt.\n"},
	{0, `{"prompt": 1}` + "\n" + `[1]` + "\n"},
	{0, `{"messages": [{"role": "wizard", "content": "x"}]}`},
	{3, `[{"prompt": "a"}, 2]`},
	{1, "prompt,prompt\na,b\n"},
	{1, "prompt,x\na\n"},
	{0, "\x00\x00\x00\x00binary"},
	{2, "PK\x03\x04zip"},
	{0, ""},
}

// FuzzLoad runs Load on a file of fuzzed bytes named by a fuzzed extension.
func FuzzLoad(f *testing.F) {
	for _, s := range inputSeeds {
		f.Add(s.ext, []byte(s.data))
	}
	dir := f.TempDir() // execs in one process run one at a time
	f.Fuzz(func(t *testing.T, ext byte, data []byte) {
		path := filepath.Join(dir, "in"+fuzzExts[int(ext)%len(fuzzExts)])
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		set, err := Load(path, Options{})
		if err != nil {
			checkInputError(t, err, path, data)
			return
		}
		if len(set.Records) == 0 {
			t.Fatal("Load returned no records and no error")
		}
		for i, r := range set.Records {
			if len(r.Prompt) == 0 || r.PromptText() == "" {
				t.Fatalf("record %d has no prompt: %+v", i, r)
			}
		}
		// Written back as message lists, the set loads to the same
		// prompts and completions.
		var out bytes.Buffer
		for _, r := range set.Records {
			msgs := append(append([]Message(nil), r.Prompt...), Message{Role: "assistant", Content: r.Completion})
			b, err := json.Marshal(map[string]any{"messages": msgs})
			if err != nil {
				t.Fatal(err)
			}
			out.Write(append(b, '\n'))
		}
		back := filepath.Join(dir, "back.jsonl")
		if err := os.WriteFile(back, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := Load(back, Options{})
		if err != nil {
			t.Fatalf("a loaded set written as JSON Lines does not load: %v\n%s", err, out.Bytes())
		}
		if len(again.Records) != len(set.Records) {
			t.Fatalf("%d records, %d after a round trip", len(set.Records), len(again.Records))
		}
		for i := range set.Records {
			a, b := set.Records[i], again.Records[i]
			if !reflect.DeepEqual(a.Prompt, b.Prompt) || a.Completion != b.Completion {
				t.Fatalf("record %d: %+v %q, after a round trip %+v %q", i, a.Prompt, a.Completion, b.Prompt, b.Completion)
			}
		}
		// The hash is a function of the records.
		twice, err := Load(path, Options{})
		if err != nil || twice.Hash != set.Hash {
			t.Fatalf("loading the same file twice: %v, hash %s then %s", err, set.Hash, twice.Hash)
		}
	})
}

// FuzzScanBytes is the loader for embedded files (the built-in seed
// tasks): every row it yields has a position and columns.
func FuzzScanBytes(f *testing.F) {
	for _, s := range inputSeeds {
		f.Add("data"+fuzzExts[int(s.ext)], []byte(s.data))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if name == "" {
			name = "data"
		}
		rows := 0
		err := ScanBytes(name, data, func(r Row) error {
			rows++
			if r.Pos.File != name || r.Cols == nil || r.Format == "" {
				t.Fatalf("row without a place or columns: %+v", r)
			}
			if !r.Pos.Row && r.Pos.Line < 1 {
				t.Fatalf("row at line %d", r.Pos.Line)
			}
			return nil
		})
		if err != nil {
			checkInputError(t, err, name, append([]byte(name+"\x00"), data...))
		}
	})
}

func checkInputError(t *testing.T, err error, path string, data []byte) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error is not an *InputError: %T %v", err, err)
	}
	if ie.File != path {
		t.Fatalf("error names %q, want the file %q: %v", ie.File, path, err)
	}
	if m := goTypeName(err.Error(), data); m != "" {
		t.Fatalf("error names Go type %q: %v", m, err)
	}
}
