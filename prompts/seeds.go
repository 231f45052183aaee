package prompts

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"synthkit/prompts/inputs"
)

// SeedTask is one human-written task that Self-Instruct bootstraps from,
// in the seed format of the Self-Instruct paper.
type SeedTask struct {
	ID          string `json:"id"`
	Instruction string `json:"instruction"`
	// Instances are worked examples; only the instruction drives the
	// generation of new tasks, the instances join the final data set.
	Instances []SeedInstance `json:"instances"`
	// IsClassification marks tasks with a small, fixed set of answers;
	// Self-Instruct writes their instances label first.
	IsClassification bool `json:"is_classification"`
}

// SeedInstance is one input/output example of a [SeedTask]; Input may be
// empty when the instruction stands on its own.
type SeedInstance struct {
	Input  string `json:"input"`
	Output string `json:"output"`
}

//go:embed assets/seed_tasks.jsonl
var defaultSeedsJSONL []byte

var defaultSeeds = sync.OnceValue(func() []SeedTask {
	tasks, err := seedsFrom("assets/seed_tasks.jsonl", func(fn func(inputs.Row) error) error {
		return inputs.ScanBytes("assets/seed_tasks.jsonl", defaultSeedsJSONL, fn)
	})
	if err != nil {
		panic("prompts: embedded seed tasks are broken: " + err.Error()) // caught by the tests
	}
	return tasks
})

// DefaultSeeds returns the built-in seed tasks: tasks across many domains
// and task types, classification among them, written for synthkit. The
// slice is a fresh copy the caller may change.
func DefaultSeeds() []SeedTask {
	src := defaultSeeds()
	out := make([]SeedTask, len(src))
	for i, t := range src {
		t.Instances = append([]SeedInstance(nil), t.Instances...)
		out[i] = t
	}
	return out
}

// LoadSeeds reads seed tasks from a file through the one input loader
// ([inputs.Scan]: the format is told by the content):
//
//   - JSON Lines or a JSON array of objects, either the seed format
//     {"id", "instruction", "instances": [{"input", "output"}],
//     "is_classification"} or just {"instruction": …}, optionally with
//     top-level "input" and "output" for a single instance (Alpaca);
//   - CSV or TSV: a header row with an "instruction" column and optional
//     "id", "input", "output" and "is_classification" columns;
//   - Parquet with the same columns;
//   - plain text, one instruction per line; blank lines and lines
//     starting with # are skipped.
//
// Tasks without an id are numbered seed_task_0, seed_task_1, … in file
// order. Errors name the file and line ("tasks.jsonl:17: missing
// \"instruction\""); an empty file and repeated instructions are errors.
func LoadSeeds(path string) ([]SeedTask, error) {
	return seedsFrom(path, func(fn func(inputs.Row) error) error {
		return inputs.Scan(path, inputs.Options{}, fn)
	})
}

// seedsFrom turns the rows scan yields into seed tasks, with the checks
// common to all formats.
func seedsFrom(name string, scan func(func(inputs.Row) error) error) ([]SeedTask, error) {
	type seedAt struct {
		task SeedTask
		pos  inputs.Pos
	}
	var seeds []seedAt
	err := scan(func(r inputs.Row) error {
		t, skip, err := seedTask(r)
		if err != nil || skip {
			return err
		}
		seeds = append(seeds, seedAt{t, r.Pos})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(seeds) == 0 {
		return nil, &inputs.InputError{Pos: inputs.Pos{File: name}, Msg: "empty file: no seed tasks"}
	}
	byInstruction := make(map[string]inputs.Pos, len(seeds))
	byID := make(map[string]inputs.Pos, len(seeds))
	tasks := make([]SeedTask, len(seeds))
	for i, s := range seeds {
		if s.task.ID == "" {
			s.task.ID = "seed_task_" + strconv.Itoa(i)
		}
		// Case and spacing differences still make the same task.
		key := strings.ToLower(strings.Join(strings.Fields(s.task.Instruction), " "))
		if first, dup := byInstruction[key]; dup {
			return nil, &inputs.InputError{Pos: s.pos, Msg: fmt.Sprintf("duplicate instruction (first on %s)", where(first))}
		}
		byInstruction[key] = s.pos
		if first, dup := byID[s.task.ID]; dup {
			return nil, &inputs.InputError{Pos: s.pos, Msg: fmt.Sprintf("duplicate id %q (first on %s)", s.task.ID, where(first))}
		}
		byID[s.task.ID] = s.pos
		tasks[i] = s.task
	}
	return tasks, nil
}

// where names a place in the same file: "line 3" or "row 2".
func where(p inputs.Pos) string {
	if p.Row {
		return "row " + strconv.FormatInt(p.Line, 10)
	}
	return "line " + strconv.FormatInt(p.Line, 10)
}

// seedTask reads one row; skip is set for a comment line of a text file.
func seedTask(r inputs.Row) (t SeedTask, skip bool, err error) {
	if r.Format == "text" {
		text, _ := r.Cols["prompt"].(string)
		return SeedTask{Instruction: text}, strings.HasPrefix(text, "#"), nil
	}
	tabular := r.Format == "csv" || r.Format == "tsv"
	col := func(key string) (any, bool) {
		if v, ok := r.Cols[key]; ok {
			return v, true
		}
		for k, v := range r.Cols {
			if strings.EqualFold(strings.TrimSpace(k), key) {
				return v, true
			}
		}
		return nil, false
	}
	text := func(key string) (string, error) {
		v, _ := col(key)
		switch v := v.(type) {
		case nil:
			return "", nil
		case string:
			if tabular {
				return strings.TrimSpace(v), nil
			}
			return v, nil
		}
		return "", fmt.Errorf("%q must be a string, not %s", key, inputs.JSONKind(v))
	}
	if _, ok := col("instruction"); !ok && tabular {
		cols := make([]string, 0, len(r.Cols))
		for k := range r.Cols {
			cols = append(cols, k)
		}
		sort.Strings(cols)
		return t, false, &inputs.InputError{Pos: inputs.Pos{File: r.Pos.File, Line: 1},
			Msg: fmt.Sprintf(`no "instruction" column in the header (found %s)`, strings.Join(cols, ", "))}
	}
	if t.Instruction, err = text("instruction"); err != nil {
		return t, false, err
	}
	if t.Instruction = strings.TrimSpace(t.Instruction); t.Instruction == "" {
		return t, false, errors.New(`missing "instruction"`)
	}
	switch id, _ := col("id"); id := id.(type) {
	case nil:
	case string:
		t.ID = strings.TrimSpace(id)
	case json.Number:
		t.ID = id.String()
	case int64, int32:
		t.ID = fmt.Sprint(id)
	default:
		return t, false, errors.New(`"id" must be a string or a number`)
	}
	switch list, _ := col("instances"); list := list.(type) {
	case nil:
	case []any:
		t.Instances = make([]SeedInstance, 0, len(list))
		for i, e := range list {
			m, ok := e.(map[string]any)
			in, okIn := m["input"].(string)
			out, okOut := m["output"].(string)
			if !ok || (!okIn && m["input"] != nil) || (!okOut && m["output"] != nil) {
				return t, false, fmt.Errorf(`"instances" element %d must be {"input": string, "output": string}`, i+1)
			}
			t.Instances = append(t.Instances, SeedInstance{Input: in, Output: out})
		}
	default:
		return t, false, fmt.Errorf(`"instances" must be an array, not %s`, inputs.JSONKind(list))
	}
	in, err := text("input")
	if err != nil {
		return t, false, err
	}
	out, err := text("output")
	if err != nil {
		return t, false, err
	}
	if len(t.Instances) == 0 && (in != "" || out != "") {
		t.Instances = []SeedInstance{{Input: in, Output: out}}
	}
	switch c, _ := col("is_classification"); c := c.(type) {
	case nil:
	case bool:
		t.IsClassification = c
	case string:
		if t.IsClassification, err = parseYesNo(c); err != nil {
			return t, false, fmt.Errorf(`"is_classification": %w`, err)
		}
	default:
		return t, false, errors.New(`"is_classification" must be true or false`)
	}
	return t, false, nil
}

// parseYesNo reads the yes/no spellings people put in spreadsheets, and
// the "Yes"/"No" that Self-Instruct's classification step records.
func parseYesNo(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "1":
		return true, nil
	case "false", "no", "n", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("expected yes/no or true/false, not %q", s)
}
