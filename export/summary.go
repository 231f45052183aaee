package export

import (
	"encoding/json"
	"fmt"
	"path/filepath"
)

// Summary is what a journal replay tells without the rows: the counts (as
// the card reports them) and the latest value of every run state key.
type Summary struct {
	Counts Counts
	States map[string]json.RawMessage
}

// ReadSummary replays the journal of the run in dir read-only (no lock, no
// repair, so it works while a command is still appending) and returns its
// counts and run state. Reports use it; a torn tail is skipped, damage is
// a [*DamagedJournalError].
func ReadSummary(dir string) (*Summary, error) {
	jdir := filepath.Join(dir, journalDir)
	if !dirExists(jdir) {
		return nil, fmt.Errorf("%s has no %s/ directory: is it a synthkit run?", dir, journalDir)
	}
	st := newReplayState()
	_, err := scanJournal(jdir, scanStrict, func(_ linePos, h header, line []byte) error {
		_, err := st.apply(h, line)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read journal of %s: %w", dir, withDir(err, dir))
	}
	return &Summary{Counts: st.snapshot(), States: st.states}, nil
}
