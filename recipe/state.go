package recipe

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"synthkit/export"
)

// StateFile is the file under a recipe's out folder that records which
// stages finished, so a rerun skips them without opening their runs.
const StateFile = "recipe-state.json"

// State is what StateFile holds.
type State struct {
	// Stages maps a stage name to its last successful finish.
	Stages map[string]StageState `json:"stages"`
}

// StageState is one finished stage.
type StageState struct {
	// Key is the stage's [Recipe.Key] when it finished: a stage whose
	// options, inputs or upstream stages changed since is run again
	// (and the run directory's own checks decide whether it resumes).
	Key      string    `json:"key"`
	Finished time.Time `json:"finished"`
}

// ReadState reads out's state; a missing file is an empty state.
func ReadState(out string) (*State, error) {
	st := &State{Stages: map[string]StageState{}}
	data, err := os.ReadFile(filepath.Join(out, StateFile))
	if os.IsNotExist(err) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, st); err != nil {
		// A damaged state only costs a rerun of the stages: the run
		// directories resume on their own.
		return &State{Stages: map[string]StageState{}}, nil
	}
	if st.Stages == nil {
		st.Stages = map[string]StageState{}
	}
	return st, nil
}

// Done reports whether stage s finished with the options it has now and
// its run directory still holds the exported dataset.
func (st *State) Done(r *Recipe, s *Stage) bool {
	prev, ok := st.Stages[s.Name]
	if !ok || prev.Key != r.Key(s) {
		return false
	}
	dir := s.RunDir(r.Out)
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		return false
	}
	m, err := export.ReadManifest(dir)
	return err == nil && !m.Finished.IsZero()
}

// MarkDone records that s finished and writes the state (atomically: a
// crash leaves the old state or the new one).
func (st *State) MarkDone(r *Recipe, s *Stage) error {
	st.Stages[s.Name] = StageState{Key: r.Key(s), Finished: time.Now().UTC()}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(r.Out, StateFile), append(data, '\n'))
}

// Key identifies what a stage makes: its command, its options (with the
// size and time of the files they name) and the keys of the stages it
// reads, so a change upstream reruns everything after it.
func (r *Recipe) Key(s *Stage) string {
	h := sha256.New()
	fmt.Fprintf(h, "command=%s\nlicense=%s\n", s.Command, r.License)
	opts := slices.Clone(s.Options)
	slices.SortStableFunc(opts, func(a, b Option) int { return strings.Compare(a.Key, b.Key) })
	for _, o := range opts {
		fmt.Fprintf(h, "%s=%s\n", o.Key, o.Value)
		if o.Stage != "" {
			fmt.Fprintf(h, "  stage %s\n", r.Key(r.Stage(o.Stage)))
			continue
		}
		if slices.Contains(InputKeys, o.Key) || pathKeys[o.Key] {
			for _, p := range strings.Split(o.Value, ",") {
				if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
					fmt.Fprintf(h, "  file %s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// writeAtomic writes a file through a temporary file in the same folder.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
