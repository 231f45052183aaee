package export

import (
	"encoding/json"
	"fmt"
	"maps"
)

// replayState is what a journal replay rebuilds: which units are done, the
// counts and the latest run state. OpenRun and Export share it, so resume
// and the card agree on what counts.
type replayState struct {
	done   map[unitKey]bool
	counts Counts
	states map[string]json.RawMessage
}

func newReplayState() *replayState {
	return &replayState{
		done:   make(map[unitKey]bool),
		counts: Counts{Rejected: map[string]int64{}, Rows: map[string]int64{}},
		states: make(map[string]json.RawMessage),
	}
}

// apply folds one journal line in. first is true for the first row or
// rejection of a unit: later ones are duplicates (a redo after a crash, or
// two workers racing) and are ignored.
func (s *replayState) apply(h header, line []byte) (first bool, err error) {
	switch h.kind {
	case kindRow, kindReject:
		k := keyOf(h.unit)
		if _, dup := s.done[k]; dup {
			return false, nil
		}
		if h.kind == kindReject {
			e, err := decodeEntry(line)
			if err != nil {
				return false, fmt.Errorf("decode rejection of %q: %w", h.unit, err)
			}
			s.counts.Rejected[e.Reason]++
		} else {
			s.counts.Accepted++
			for _, c := range h.configs {
				s.counts.Rows[c]++
			}
		}
		s.done[k] = h.kind == kindRow
		return true, nil
	case kindState:
		e, err := decodeEntry(line)
		if err != nil {
			return false, fmt.Errorf("decode state: %w", err)
		}
		s.states[e.Key] = e.Value
	}
	return false, nil
}

func (s *replayState) snapshot() Counts {
	c := Counts{Accepted: s.counts.Accepted, Rejected: maps.Clone(s.counts.Rejected), Rows: maps.Clone(s.counts.Rows)}
	c.Generated = c.Accepted + c.RejectedTotal()
	return c
}
