package prompts

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"synthkit/prompts/inputs"
)

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

var goTypeRe = regexp.MustCompile(`map\[|\[\]interface|\[\]any\b|interface \{|struct \{|Go struct|Go value|json\.Number|\bfloat(32|64)\b|\bu?int(8|16|32|64)\b|\bnot (string|bool)\b|%!|<nil>|\*?\b[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*\b`)

// FuzzLoadSeeds: whatever the seed file holds, LoadSeeds does not panic,
// its errors are *inputs.InputError in plain words naming the file, and
// the tasks it accepts, written back in the seed format, load to the same
// tasks.
//
//	go test -run '^$' -fuzz '^FuzzLoadSeeds$' -fuzztime 30s ./prompts
func FuzzLoadSeeds(f *testing.F) {
	exts := []string{".jsonl", ".csv", ".txt", ".json", ".tsv"}
	f.Add(byte(0), defaultSeedsJSONL[:bytes.IndexByte(defaultSeedsJSONL, '\n')+1])
	for _, s := range []struct {
		ext  byte
		data string
	}{
		{0, `{"id": "t1", "instruction": "Classify the sentiment.", "instances": [{"input": "I love it", "output": "positive"}], "is_classification": true}
{"instruction": "Write a haiku.", "input": "", "output": "leaves"}
{"instruction": "Name a prime.", "id": 7}
`},
		{1, "id,instruction,input,output,is_classification\na,Sort the list.,\"3,1,2\",\"1,2,3\",no\nb,Is it a fruit?,apple,yes,Yes\n"},
		{4, "instruction\tis_classification\nTranslate to French.\tfalse\n"},
		{2, "# comment\nWrite a poem about the sea.\n\nList three colors.\n"},
		{3, `[{"instruction": "Explain tides."}, {"instruction": "explain   TIDES."}]`},
		{0, `{"instruction": 3}` + "\n"},
		{0, `{"instruction": "x", "instances": "abc"}` + "\n"},
		{0, `{"instruction": "x", "instances": [1]}` + "\n"},
		{0, `{"instruction": "x", "is_classification": 2}` + "\n"},
		{0, `{"instruction": "x", "id": [1]}` + "\n"},
		{1, "id,input\n1,2\n"},
		{0, `{"instruction": "  "}` + "\n"},
	} {
		f.Add(s.ext, []byte(s.data))
	}
	dir := f.TempDir() // execs in one process run one at a time
	f.Fuzz(func(t *testing.T, ext byte, data []byte) {
		path := filepath.Join(dir, "seeds"+exts[int(ext)%len(exts)])
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tasks, err := LoadSeeds(path)
		if err != nil {
			var ie *inputs.InputError
			if !errors.As(err, &ie) || ie.File != path {
				t.Fatalf("error is not an *inputs.InputError naming %s: %T %v", path, err, err)
			}
			if m := goTypeName(err.Error(), data); m != "" {
				t.Fatalf("error names Go type %q: %v", m, err)
			}
			return
		}
		var out bytes.Buffer
		for _, task := range tasks {
			if task.ID == "" || task.Instruction == "" {
				t.Fatalf("accepted a task without id or instruction: %+v", task)
			}
			b, err := json.Marshal(task)
			if err != nil {
				t.Fatal(err)
			}
			out.Write(append(b, '\n'))
		}
		back := filepath.Join(dir, "back.jsonl")
		if err := os.WriteFile(back, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := LoadSeeds(back)
		if err != nil {
			t.Fatalf("accepted seeds written in the seed format do not load: %v\n%s", err, out.Bytes())
		}
		norm := func(ts []SeedTask) []SeedTask {
			for i := range ts {
				if len(ts[i].Instances) == 0 {
					ts[i].Instances = nil
				}
			}
			return ts
		}
		if !reflect.DeepEqual(norm(tasks), norm(again)) {
			t.Fatalf("round trip changed the tasks:\n%+v\n%+v", tasks, again)
		}
	})
}
