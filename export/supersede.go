package export

import (
	"encoding/json"
	"slices"
	"strings"
)

// supersededPrefix is the run-state key prefix that marks an accepted unit
// as superseded (see [Run.Supersede]).
const supersededPrefix = "superseded/"

// Supersede marks an accepted unit as replaced by a later, better one (a
// QDAIF elite that lost its cell): the journal keeps its rows, so a replay
// sees the whole run, but export leaves them out of the data. Call it after
// the replacing unit is journaled; a crash in between leaves a unit to
// mark again on resume, never one marked without its successor.
func (r *Run) Supersede(unit string) error { return r.SetState(supersededPrefix+unit, true) }

// Superseded reports whether [Run.Supersede] marked unit.
func (r *Run) Superseded(unit string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.st.states[supersededPrefix+unit]
	return ok
}

// dropSuperseded removes the rows of superseded units from the export's
// indexes, and configs left without rows.
func dropSuperseded(sources map[string]*rowIndex, states map[string]json.RawMessage) {
	marked := false
	for k := range states {
		if strings.HasPrefix(k, supersededPrefix) {
			marked = true
			break
		}
	}
	if !marked {
		return
	}
	for c, ix := range sources {
		ix.ents = slices.DeleteFunc(ix.ents, func(e idxEnt) bool {
			_, gone := states[supersededPrefix+string(ix.unit(&e))]
			return gone
		})
		if len(ix.ents) == 0 {
			delete(sources, c)
		}
	}
}

// ReadDataRows is [ReadRows] limited to the rows export writes: units a
// later, better one superseded are skipped. Commands reading a previous
// run as their input use it (a QDAIF run's data is its final archive).
func ReadDataRows(dir string, fn func(unit string, rows []Row) error) error {
	sum, err := ReadSummary(dir)
	if err != nil {
		return err
	}
	return ReadRows(dir, func(unit string, rows []Row) error {
		if _, gone := sum.States[supersededPrefix+unit]; gone {
			return nil
		}
		return fn(unit, rows)
	})
}
