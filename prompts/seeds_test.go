package prompts

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"synthkit/diversity"
)

func TestDefaultSeeds(t *testing.T) {
	tasks := DefaultSeeds()
	if len(tasks) < 120 {
		t.Errorf("%d seed tasks, want at least 120", len(tasks))
	}
	clf := 0
	// The words Self-Instruct's filter rejects in generated tasks (with
	// Alpaca's additions): seeds using them would teach the model to
	// write tasks that are then thrown away.
	blacklist := regexp.MustCompile(`(?i)\b(images?|graphs?|pictures?|files?|maps?|draw|plot|go to|videos?|audio|music|flowchart|diagram)\b`)
	pool := diversity.NewPool()
	for i, task := range tasks {
		if task.IsClassification {
			clf++
		}
		if len(task.Instances) == 0 || strings.TrimSpace(task.Instances[0].Output) == "" {
			t.Errorf("%s has no worked instance", task.ID)
		}
		if task.ID != "seed_task_"+strconv.Itoa(i) {
			t.Errorf("task %d has id %q", i, task.ID)
		}
		if w := len(strings.Fields(task.Instruction)); w <= 3 || w > 150 {
			t.Errorf("%s: %d words, outside Self-Instruct's bounds (4..150)", task.ID, w)
		}
		if m := blacklist.FindString(task.Instruction); m != "" {
			t.Errorf("%s uses %q, a word the Self-Instruct filter rejects: %s", task.ID, m, task.Instruction)
		}
		if j, dup := pool.AddIfDistinct(task.Instruction, diversity.DefaultRougeThreshold); !dup {
			t.Errorf("%s is a near duplicate (ROUGE-L %.2f) of %s:\n  %s\n  %s", task.ID,
				diversity.RougeL(task.Instruction, tasks[j].Instruction), tasks[j].ID, task.Instruction, tasks[j].Instruction)
		}
	}
	if clf < 25 {
		t.Errorf("%d classification tasks, want at least 25", clf)
	}
	t.Logf("%d tasks, %d classification", len(tasks), clf)

	// Callers get their own copy.
	tasks[0].Instruction = "changed"
	tasks[0].Instances[0].Output = "changed"
	if again := DefaultSeeds(); again[0].Instruction == "changed" || again[0].Instances[0].Output == "changed" {
		t.Error("DefaultSeeds shares memory between calls")
	}
}

func writeSeedFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadSeeds(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                []SeedTask
	}{
		{
			name: "seed format",
			file: "tasks.jsonl",
			content: `{"id": "t1", "instruction": "Classify the review.", "instances": [{"input": "Great!", "output": "Positive"}], "is_classification": true}` + "\n" +
				`{"id": 7, "instruction": "Write a haiku about rain.", "instances": [], "is_classification": false}` + "\n",
			want: []SeedTask{
				{ID: "t1", Instruction: "Classify the review.", Instances: []SeedInstance{{"Great!", "Positive"}}, IsClassification: true},
				{ID: "7", Instruction: "Write a haiku about rain.", Instances: []SeedInstance{}},
			},
		},
		{
			name: "instruction only, blank lines, CRLF, BOM",
			file: "tasks.jsonl",
			content: "\ufeff{\"instruction\": \"Name three rivers.\"}\r\n\r\n" +
				`{"instruction": "  Explain tides.  ", "input": "", "output": "The Moon pulls the oceans.", "is_classification": "no"}` + "\r\n",
			want: []SeedTask{
				{ID: "seed_task_0", Instruction: "Name three rivers."},
				{ID: "seed_task_1", Instruction: "Explain tides.", Instances: []SeedInstance{{"", "The Moon pulls the oceans."}}},
			},
		},
		{
			name:    "csv with optional columns",
			file:    "tasks.csv",
			content: "Instruction,input,output,is_classification\nSort the numbers.,\"3, 1, 2\",\"1, 2, 3\",\nIs it spam?,Win money now,Spam,yes\n\"Write a poem\nin two lines.\",,,\n",
			want: []SeedTask{
				{ID: "seed_task_0", Instruction: "Sort the numbers.", Instances: []SeedInstance{{"3, 1, 2", "1, 2, 3"}}},
				{ID: "seed_task_1", Instruction: "Is it spam?", Instances: []SeedInstance{{"Win money now", "Spam"}}, IsClassification: true},
				{ID: "seed_task_2", Instruction: "Write a poem\nin two lines."},
			},
		},
		{
			name: "a JSON array (Alpaca)",
			file: "alpaca.json",
			content: `[
  {"instruction": "Sort the numbers.", "input": "3, 1, 2", "output": "1, 2, 3"},
  {"instruction": "Name a planet.", "input": "", "output": "Mars"}
]`,
			want: []SeedTask{
				{ID: "seed_task_0", Instruction: "Sort the numbers.", Instances: []SeedInstance{{"3, 1, 2", "1, 2, 3"}}},
				{ID: "seed_task_1", Instruction: "Name a planet.", Instances: []SeedInstance{{"", "Mars"}}},
			},
		},
		{
			name:    "csv with only an instruction column",
			file:    "tasks.csv",
			content: "instruction\nList four seasons.\n",
			want:    []SeedTask{{ID: "seed_task_0", Instruction: "List four seasons."}},
		},
		{
			name:    "plain text",
			file:    "tasks.txt",
			content: "# my tasks\nName a color.\n\n  Describe a sunset.  \n",
			want: []SeedTask{
				{ID: "seed_task_0", Instruction: "Name a color."},
				{ID: "seed_task_1", Instruction: "Describe a sunset."},
			},
		},
		{
			name:    "no extension is plain text",
			file:    "tasks",
			content: "Name a color.\n",
			want:    []SeedTask{{ID: "seed_task_0", Instruction: "Name a color."}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadSeeds(writeSeedFile(t, tt.file, tt.content))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d tasks, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.ID != w.ID || g.Instruction != w.Instruction || g.IsClassification != w.IsClassification ||
					len(g.Instances) != len(w.Instances) {
					t.Errorf("task %d = %+v, want %+v", i, g, w)
					continue
				}
				for j := range g.Instances {
					if g.Instances[j] != w.Instances[j] {
						t.Errorf("task %d instance %d = %+v, want %+v", i, j, g.Instances[j], w.Instances[j])
					}
				}
			}
		})
	}
}

func TestLoadSeedsErrors(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                string // the error, after the file's directory
	}{
		{"invalid JSON", "my-tasks.jsonl", "{\"instruction\": \"ok\"}\n{\"instruction\": \"broken\"\n",
			"my-tasks.jsonl:2: invalid JSON: unexpected end of JSON input"},
		{"not JSON at all", "my-tasks.jsonl", "{\"instruction\": \"ok\"}\n\nhello\n",
			"my-tasks.jsonl:3: invalid JSON: invalid character 'h' looking for beginning of value"},
		{"array line", "my-tasks.jsonl", "{\"instruction\": \"ok\"}\n[{\"instruction\": \"ok\"}]\n",
			"my-tasks.jsonl:2: expected one JSON object per line, found an array"},
		{"invalid UTF-8", "my-tasks.txt", "Name a fish.\nName a caf\xe9.\n",
			"my-tasks.txt:2: invalid UTF-8 (byte 0xe9 at column 11): the input must be UTF-8 (convert it, e.g. iconv -f latin1 -t utf-8)"},
		{"bad instances", "my-tasks.json", `[{"instruction": "ok", "instances": [{"input": 1}]}]`,
			`my-tasks.json:1: "instances" element 1 must be {"input": string, "output": string}`},
		{"missing instruction", "my-tasks.jsonl", "{\"instruction\": \"ok\"}\n{\"input\": \"x\"}\n",
			`my-tasks.jsonl:2: missing "instruction"`},
		{"blank instruction", "my-tasks.jsonl", "{\"instruction\": \"  \"}\n",
			`my-tasks.jsonl:1: missing "instruction"`},
		{"instruction of the wrong type", "my-tasks.jsonl", "{\"instruction\": 42}\n",
			`my-tasks.jsonl:1: "instruction" must be a string, not a number`},
		{"bad is_classification", "my-tasks.jsonl", "{\"instruction\": \"ok\", \"is_classification\": \"maybe\"}\n",
			`my-tasks.jsonl:1: "is_classification": expected yes/no or true/false, not "maybe"`},
		{"bad id", "my-tasks.jsonl", "{\"instruction\": \"ok\", \"id\": [1]}\n",
			`my-tasks.jsonl:1: "id" must be a string or a number`},
		{"duplicate instruction", "my-tasks.jsonl", "{\"instruction\": \"Name a bird.\"}\n{\"instruction\": \"x y\"}\n{\"instruction\": \"name  a BIRD.\"}\n",
			"my-tasks.jsonl:3: duplicate instruction (first on line 1)"},
		{"duplicate id", "my-tasks.jsonl", "{\"id\": \"a\", \"instruction\": \"one\"}\n{\"id\": \"a\", \"instruction\": \"two\"}\n",
			`my-tasks.jsonl:2: duplicate id "a" (first on line 1)`},
		{"empty jsonl", "my-tasks.jsonl", "\n\n", "my-tasks.jsonl: empty file: no seed tasks"},
		{"empty text", "my-tasks.txt", "# only a comment\n", "my-tasks.txt: empty file: no seed tasks"},
		{"empty csv", "my-tasks.csv", "", "my-tasks.csv: empty file: no seed tasks"},
		{"csv header only", "my-tasks.csv", "instruction,input\n", "my-tasks.csv: empty file: no seed tasks"},
		{"csv without instruction column", "my-tasks.csv", "task,input\nx,y\n",
			`my-tasks.csv:1: no "instruction" column in the header (found input, task)`},
		{"csv missing instruction", "my-tasks.csv", "instruction,output\nName a fish.,Trout\n,Carp\n",
			`my-tasks.csv:3: missing "instruction"`},
		{"csv short row", "my-tasks.csv", "instruction,output\nName a fish.,Trout\nName a tree.\n",
			"my-tasks.csv:3: 1 fields, but the header has 2"},
		{"csv bad quote", "my-tasks.csv", "instruction\nok\nbad \"quote\n",
			`my-tasks.csv:3: invalid CSV: bare " in non-quoted-field`},
		{"csv bad is_classification", "my-tasks.csv", "instruction,is_classification\nName a fish.,perhaps\n",
			`my-tasks.csv:2: "is_classification": expected yes/no or true/false, not "perhaps"`},
		{"text duplicate", "my-tasks.txt", "Name a fish.\n# comment\nName a fish.\n",
			"my-tasks.txt:3: duplicate instruction (first on line 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSeedFile(t, tt.file, tt.content)
			_, err := LoadSeeds(path)
			if err == nil {
				t.Fatal("no error")
			}
			want := filepath.Join(filepath.Dir(path), tt.want)
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
		})
	}

	_, err := LoadSeeds(filepath.Join(t.TempDir(), "missing.jsonl"))
	if err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("missing file: err = %v, want one naming the file", err)
	}
}
