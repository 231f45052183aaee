package export

import (
	"encoding/json"
	"fmt"
	"path/filepath"
)

// ReadRows calls fn for every accepted unit of the run in dir, in journal
// order, with its rows decoded (the first entry of a unit wins, as in
// export). Methods use it to rebuild in-memory state on resume, and
// commands to read a previous run's output as their input.
func ReadRows(dir string, fn func(unit string, rows []Row) error) error {
	st := newReplayState()
	_, err := scanJournal(filepath.Join(dir, journalDir), scanStrict, func(_ linePos, h header, line []byte) error {
		// Same rule as Done and export: a unit's first entry wins, even
		// when it is a rejection.
		first, err := st.apply(h, line)
		if err != nil || !first || h.kind != kindRow {
			return err
		}
		e, err := decodeEntry(line)
		if err != nil {
			return fmt.Errorf("decode unit %q: %w", h.unit, err)
		}
		if len(e.Configs) != len(e.Rows) {
			return fmt.Errorf("unit %q: %d configs for %d rows", h.unit, len(e.Configs), len(e.Rows))
		}
		rows := make([]Row, 0, len(e.Rows))
		for i, raw := range e.Rows {
			row, err := decodeRow(e.Configs[i], raw)
			if err != nil {
				return fmt.Errorf("unit %q row %d: %w", h.unit, i, err)
			}
			rows = append(rows, row)
		}
		return fn(h.unit, rows)
	})
	if err != nil {
		return fmt.Errorf("read rows of %s: %w", dir, withDir(err, dir))
	}
	return nil
}

// Rows is [ReadRows] on this run.
func (r *Run) Rows(fn func(unit string, rows []Row) error) error { return ReadRows(r.dir, fn) }

func decodeRow(config string, raw json.RawMessage) (Row, error) {
	if s := specOf(config); s != nil && s.decode != nil {
		return s.decode(raw)
	}
	return nil, fmt.Errorf("unknown config %q", config)
}
