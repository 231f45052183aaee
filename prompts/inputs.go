package prompts

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"synthkit/export"
)

// LoadPrompts reads the prompts a method works on from:
//   - a synthkit run directory (its journal): the first user message of
//     every SFT row, so `respond --prompts out/instr` answers a previous
//     run's instructions;
//   - a .jsonl file whose lines have "prompt", "instruction" (plus an
//     optional "input"), or "messages" (the first user turn);
//   - a .csv file with a "prompt" or "instruction" column;
//   - any other file: one prompt per non-empty line.
//
// Errors name the file and line.
func LoadPrompts(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read prompts: %w", err)
	}
	var out []string
	switch {
	case st.IsDir():
		out, err = promptsFromRun(path)
	case strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".json"):
		out, err = promptsFromJSONL(path)
	case strings.HasSuffix(path, ".csv"):
		out, err = promptsFromCSV(path)
	default:
		out, err = promptsFromLines(path)
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts found", path)
	}
	return out, nil
}

func promptsFromRun(dir string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, "journal")); err != nil {
		return nil, fmt.Errorf("%s is a directory but not a synthkit run (no journal/)", dir)
	}
	var out []string
	err := export.ReadRows(dir, func(unit string, rows []export.Row) error {
		for _, r := range rows {
			sft, ok := r.(export.SFT)
			if !ok {
				continue
			}
			for _, m := range sft.Messages {
				if m.Role == "user" {
					out = append(out, m.Content)
					break
				}
			}
			break // the first SFT row of a unit is the prompt's source
		}
		return nil
	})
	return out, err
}

// promptLine is one JSONL line in any of the accepted shapes.
type promptLine struct {
	Prompt      json.RawMessage  `json:"prompt"`
	Instruction string           `json:"instruction"`
	Input       string           `json:"input"`
	Messages    []export.Message `json:"messages"`
}

// eachLine calls fn with every non-blank line (trimmed) and its number.
func eachLine(path string, fn func(n int, line string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read prompts: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			if err := fn(n, line); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

func promptsFromJSONL(path string) ([]string, error) {
	var out []string
	err := eachLine(path, func(n int, line string) error {
		var pl promptLine
		if err := json.Unmarshal([]byte(line), &pl); err != nil {
			return fmt.Errorf("%s:%d: invalid JSON: %v", path, n, err)
		}
		p, err := pl.text()
		if err != nil {
			return fmt.Errorf("%s:%d: %v", path, n, err)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

func (pl promptLine) text() (string, error) {
	if len(pl.Prompt) > 0 {
		var s string
		if err := json.Unmarshal(pl.Prompt, &s); err == nil && strings.TrimSpace(s) != "" {
			return s, nil
		}
		var msgs []export.Message
		if err := json.Unmarshal(pl.Prompt, &msgs); err == nil {
			pl.Messages = msgs
		}
	}
	if strings.TrimSpace(pl.Instruction) != "" {
		if strings.TrimSpace(pl.Input) != "" {
			return pl.Instruction + "\n\n" + pl.Input, nil
		}
		return pl.Instruction, nil
	}
	for _, m := range pl.Messages {
		if m.Role == "user" && strings.TrimSpace(m.Content) != "" {
			return m.Content, nil
		}
	}
	return "", errors.New(`no prompt: want a "prompt", "instruction" or "messages" field`)
}

func promptsFromCSV(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read prompts: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s:1: %v", path, err)
	}
	col := -1
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "prompt" || (h == "instruction" && col < 0) {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf(`%s:1: no "prompt" or "instruction" column in the header`, path)
	}
	var out []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(path, err)
		}
		line, _ := r.FieldPos(0)
		if col >= len(rec) || strings.TrimSpace(rec[col]) == "" {
			return nil, fmt.Errorf("%s:%d: empty prompt", path, line)
		}
		out = append(out, rec[col])
	}
	return out, nil
}

func promptsFromLines(path string) ([]string, error) {
	var out []string
	err := eachLine(path, func(_ int, line string) error {
		out = append(out, line)
		return nil
	})
	return out, err
}
