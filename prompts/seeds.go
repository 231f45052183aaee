package prompts

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	tasks, err := parseSeeds("assets/seed_tasks.jsonl", defaultSeedsJSONL, parseSeedsJSONL)
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

// LoadSeeds reads seed tasks from a file, choosing the format by the
// extension:
//
//   - .jsonl, .ndjson or .json: one JSON object per line, either the seed
//     format {"id", "instruction", "instances": [{"input", "output"}],
//     "is_classification"} or just {"instruction": …}, optionally with
//     top-level "input" and "output" for a single instance;
//   - .csv (or .tsv): a header row with an "instruction" column and
//     optional "id", "input", "output" and "is_classification" columns;
//   - anything else: plain text, one instruction per line; blank lines
//     and lines starting with # are skipped.
//
// Tasks without an id are numbered seed_task_0, seed_task_1, … in file
// order. Errors name the file and line ("tasks.jsonl:17: missing
// \"instruction\""); an empty file and repeated instructions are errors.
func LoadSeeds(path string) ([]SeedTask, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read seed tasks: %w", err)
	}
	parse := parseSeedsText
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		parse = parseSeedsJSONL
	case ".csv":
		parse = func(name string, data []byte) ([]seedAt, error) { return parseSeedsCSV(name, data, ',') }
	case ".tsv":
		parse = func(name string, data []byte) ([]seedAt, error) { return parseSeedsCSV(name, data, '\t') }
	}
	return parseSeeds(path, data, parse)
}

// seedAt is a parsed task and the line it starts on, for error messages.
type seedAt struct {
	task SeedTask
	line int
}

// parseSeeds runs a format's parser and the checks common to all formats.
func parseSeeds(name string, data []byte, parse func(string, []byte) ([]seedAt, error)) ([]SeedTask, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // editors on Windows add a BOM
	seeds, err := parse(name, data)
	if err != nil {
		return nil, err
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("%s: empty file: no seed tasks", name)
	}
	byInstruction := make(map[string]int, len(seeds))
	byID := make(map[string]int, len(seeds))
	tasks := make([]SeedTask, len(seeds))
	for i, s := range seeds {
		if s.task.ID == "" {
			s.task.ID = "seed_task_" + strconv.Itoa(i)
		}
		// Case and spacing differences still make the same task.
		key := strings.ToLower(strings.Join(strings.Fields(s.task.Instruction), " "))
		if first, dup := byInstruction[key]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate instruction (first on line %d)", name, s.line, first)
		}
		byInstruction[key] = s.line
		if first, dup := byID[s.task.ID]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate id %q (first on line %d)", name, s.line, s.task.ID, first)
		}
		byID[s.task.ID] = s.line
		tasks[i] = s.task
	}
	return tasks, nil
}

// seedLines splits data into lines, numbered from 1, without a length limit.
func seedLines(data []byte, fn func(line int, text string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for n := 1; sc.Scan(); n++ {
		if err := fn(n, strings.TrimSuffix(sc.Text(), "\r")); err != nil {
			return err
		}
	}
	return sc.Err()
}

func parseSeedsText(name string, data []byte) ([]seedAt, error) {
	var seeds []seedAt
	err := seedLines(data, func(n int, text string) error {
		text = strings.TrimSpace(text)
		if text != "" && !strings.HasPrefix(text, "#") {
			seeds = append(seeds, seedAt{SeedTask{Instruction: text}, n})
		}
		return nil
	})
	return seeds, err
}

// seedJSON is one JSONL line; fields that take several types are decoded
// by hand to give errors in the user's terms.
type seedJSON struct {
	ID               json.RawMessage `json:"id"`
	Instruction      *string         `json:"instruction"`
	Input            string          `json:"input"`
	Output           string          `json:"output"`
	Instances        []SeedInstance  `json:"instances"`
	IsClassification json.RawMessage `json:"is_classification"`
}

func parseSeedsJSONL(name string, data []byte) ([]seedAt, error) {
	var seeds []seedAt
	err := seedLines(data, func(n int, text string) error {
		text = strings.TrimSpace(text)
		switch {
		case text == "":
			return nil
		case strings.HasPrefix(text, "["):
			return fmt.Errorf("%s:%d: expected one JSON object per line, found an array", name, n)
		case !strings.HasPrefix(text, "{"):
			if !json.Valid([]byte(text)) {
				var v any
				err := json.Unmarshal([]byte(text), &v)
				return fmt.Errorf("%s:%d: invalid JSON: %s", name, n, strings.TrimPrefix(err.Error(), "json: "))
			}
			return fmt.Errorf("%s:%d: expected a JSON object, found %.20q", name, n, text)
		}
		var raw seedJSON
		if err := json.Unmarshal([]byte(text), &raw); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return fmt.Errorf("%s:%d: %q must be %s, not %s", name, n, te.Field, jsonKind(te.Type.Kind().String()), te.Value)
			}
			return fmt.Errorf("%s:%d: invalid JSON: %s", name, n, strings.TrimPrefix(err.Error(), "json: "))
		}
		task, err := raw.task()
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
		seeds = append(seeds, seedAt{task, n})
		return nil
	})
	return seeds, err
}

// jsonKind names a Go kind the way a JSON file's author thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	}
	return kind
}

func (raw *seedJSON) task() (SeedTask, error) {
	var t SeedTask
	if raw.Instruction == nil || strings.TrimSpace(*raw.Instruction) == "" {
		return t, errors.New(`missing "instruction"`)
	}
	t.Instruction = strings.TrimSpace(*raw.Instruction)
	if len(raw.ID) > 0 && string(raw.ID) != "null" {
		var s string
		var num json.Number
		switch {
		case json.Unmarshal(raw.ID, &s) == nil:
			t.ID = s
		case json.Unmarshal(raw.ID, &num) == nil:
			t.ID = num.String()
		default:
			return t, errors.New(`"id" must be a string or a number`)
		}
	}
	t.Instances = raw.Instances
	if len(t.Instances) == 0 && (raw.Input != "" || raw.Output != "") {
		t.Instances = []SeedInstance{{Input: raw.Input, Output: raw.Output}}
	}
	if len(raw.IsClassification) > 0 && string(raw.IsClassification) != "null" {
		var b bool
		var s string
		switch {
		case json.Unmarshal(raw.IsClassification, &b) == nil:
			t.IsClassification = b
		case json.Unmarshal(raw.IsClassification, &s) == nil:
			v, err := parseYesNo(s)
			if err != nil {
				return t, fmt.Errorf(`"is_classification": %w`, err)
			}
			t.IsClassification = v
		default:
			return t, errors.New(`"is_classification" must be true or false`)
		}
	}
	return t, nil
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

func parseSeedsCSV(name string, data []byte, comma rune) ([]seedAt, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = comma
	r.FieldsPerRecord = -1 // a short row is reported below with its line
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	if _, ok := col["instruction"]; !ok {
		return nil, fmt.Errorf(`%s:1: no "instruction" column in the header (found %s)`, name, strings.Join(header, ", "))
	}
	var seeds []seedAt
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return seeds, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := r.FieldPos(0)
		field := func(key string) string {
			if i, ok := col[key]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%s:%d: %d fields, but the header has %d", name, line, len(rec), len(header))
		}
		t := SeedTask{ID: field("id"), Instruction: field("instruction")}
		if t.Instruction == "" {
			return nil, fmt.Errorf(`%s:%d: missing "instruction"`, name, line)
		}
		if in, out := field("input"), field("output"); in != "" || out != "" {
			t.Instances = []SeedInstance{{Input: in, Output: out}}
		}
		if t.IsClassification, err = parseYesNo(field("is_classification")); err != nil {
			return nil, fmt.Errorf(`%s:%d: "is_classification": %w`, name, line, err)
		}
		seeds = append(seeds, seedAt{t, line})
	}
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: invalid CSV: %w", name, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: invalid CSV: %w", name, err)
}
