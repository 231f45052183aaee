package inputs

import (
	"path/filepath"

	"synthkit/export"
)

// scanRun reads a synthkit run directory through its journal: one row per
// accepted unit, from the unit's first row (later rows of a unit are
// derived from it), with the unit id in an "id" column.
func scanRun(dir string, fn func(Row) error) error {
	name := filepath.Join(dir, "journal")
	var n int64
	err := export.ReadDataRows(dir, func(unit string, rows []export.Row) error {
		if len(rows) == 0 {
			return nil
		}
		cols := map[string]any{"id": unit}
		switch r := rows[0].(type) {
		case export.SFT:
			cols["messages"] = messageValues(r.Messages)
		case export.Preference:
			cols["prompt"] = messageValues(r.Prompt)
			cols["chosen"] = messageValues(r.Chosen)
			cols["rejected"] = messageValues(r.Rejected)
		case export.Rating:
			cols["prompt"] = messageValues(r.Prompt)
			cs := make([]any, len(r.Completions))
			for i, c := range r.Completions {
				cs[i] = map[string]any{"model": c.Model, "response": c.Response}
			}
			cols["completions"] = cs
		case export.Critique:
			cols["prompt"] = messageValues(r.Prompt)
			cols["response"] = r.Initial
		default:
			return nil
		}
		p := Pos{File: name, Line: n, Row: true}
		n++
		return fn(Row{Pos: p, Format: "run", Cols: cols})
	})
	if err != nil {
		return errorAt(Pos{File: dir}, err)
	}
	return nil
}

func messageValues(ms []export.Message) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	return out
}
