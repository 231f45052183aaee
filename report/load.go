package report

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/prompts"
)

// ErrEmptyRun is matched (errors.Is) when a run has no accepted record
// with text to measure.
var ErrEmptyRun = errors.New("the run has no accepted record to measure")

// NotRunError is a directory that is not a synthkit run.
type NotRunError struct{ Dir, Why string }

func (e *NotRunError) Error() string {
	return fmt.Sprintf("%s is not a synthkit run directory (%s): give the --out directory of a generating command", e.Dir, e.Why)
}

// supersededPrefix is the run-state key prefix export.Run.Supersede marks
// a replaced unit with.
const supersededPrefix = "superseded/"

// record is one sampled accepted unit: its text as the run's novelty
// filter embeds it (--on), and the task text ROUGE-L compares with seeds.
type record struct {
	key  uint64
	unit string
	text string
	task string
}

// sampleHeap keeps the k records with the smallest keys (a max-heap on
// key): bottom-k sampling by a seeded hash of the unit id picks the same
// records whatever order the journal holds them in.
type sampleHeap []record

func (h sampleHeap) Len() int { return len(h) }
func (h sampleHeap) Less(i, j int) bool {
	if h[i].key != h[j].key {
		return h[i].key > h[j].key
	}
	return h[i].unit > h[j].unit
}
func (h sampleHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sampleHeap) Push(x any)   { *h = append(*h, x.(record)) }
func (h *sampleHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func sampleKey(seed int64, unit string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte(unit))
	return h.Sum64()
}

// run is what a report reads from a run directory.
type run struct {
	dir      string
	manifest *export.Manifest
	summary  *export.Summary
	on       string
	// population counts accepted units with text; sample holds up to
	// Options.SampleSize of them, sorted by unit id.
	population int
	sample     []record
	qd         []qdPoint
	qdBad      int // rows with some qd_ keys that do not follow the contract
}

// loadRun reads the manifest, the journal (counts, state, a seeded sample
// of records, QD metadata) of the run in dir.
func loadRun(ctx context.Context, dir string, o *Options) (*run, error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, &NotRunError{Dir: dir, Why: "it does not exist"}
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", dir, err)
	case !st.IsDir():
		return nil, &NotRunError{Dir: dir, Why: "it is a file"}
	}
	if _, err := os.Stat(filepath.Join(dir, "run.json")); errors.Is(err, os.ErrNotExist) {
		return nil, &NotRunError{Dir: dir, Why: "no run.json"}
	}
	m, err := export.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "journal")); errors.Is(err, os.ErrNotExist) {
		return nil, &NotRunError{Dir: dir, Why: "no journal/"}
	}
	sum, err := export.ReadSummary(dir)
	if err != nil {
		return nil, err
	}
	r := &run{dir: dir, manifest: m, summary: sum, on: o.On}
	if r.on == "" {
		r.on, _ = m.Options["diversity_on"].(string)
	}
	if r.on == "" {
		r.on = prompts.OnPrompt
	}
	// A QD elite that lost its cell is marked in the run state (see
	// export.Run.Supersede): export leaves it out, so the figures do too.
	superseded := map[string]bool{}
	for key := range sum.States {
		if unit, ok := strings.CutPrefix(key, supersededPrefix); ok {
			superseded[unit] = true
		}
	}
	k := o.sampleSize()
	h := &sampleHeap{}
	n := 0
	err = export.ReadRows(dir, func(unit string, rows []export.Row) error {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if p, ok, bad := qdPointOf(unit, rows); ok {
			r.qd = append(r.qd, p)
		} else if bad {
			r.qdBad++
		}
		if superseded[unit] {
			return nil // replayed above, but not in the exported data
		}
		text := recordText(rows, r.on)
		if strings.TrimSpace(text) == "" {
			return nil
		}
		r.population++
		rec := record{key: sampleKey(m.Seed, unit), unit: unit}
		if h.Len() == k && !lessKey(rec, (*h)[0]) {
			return nil
		}
		rec.text, rec.task = text, taskText(rows)
		heap.Push(h, rec)
		if h.Len() > k {
			heap.Pop(h)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.sample = []record(*h)
	sortRecords(r.sample)
	return r, nil
}

// lessKey orders records by sample key, then unit id.
func lessKey(a, b record) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return a.unit < b.unit
}

// sortRecords puts records in unit order, the order they are measured
// and plotted in.
func sortRecords(rs []record) {
	slices.SortFunc(rs, func(a, b record) int { return strings.Compare(a.unit, b.unit) })
}

// recordText is the text of a unit's rows as the novelty filter embeds it
// (see [prompts.NoveltyText]); for ratings, which it does not read, the
// prompt.
func recordText(rows []export.Row, on string) string {
	if t := prompts.NoveltyText(rows, on); t != "" {
		return t
	}
	for _, row := range rows {
		if rt, ok := row.(export.Rating); ok {
			var parts []string
			for _, m := range rt.Prompt {
				if m.Role == "user" {
					parts = append(parts, m.Content)
				}
			}
			return strings.Join(parts, "\n")
		}
	}
	return ""
}

// taskText is what ROUGE-L compares with seed tasks: the task a method
// recorded as "instruction" metadata (Self-Instruct), else the prompt.
func taskText(rows []export.Row) string {
	for _, row := range rows {
		if t, ok := metadataOf(row)["instruction"].(string); ok && t != "" {
			return t
		}
	}
	return prompts.NoveltyText(rows, prompts.OnPrompt)
}

func metadataOf(row export.Row) map[string]any {
	switch r := row.(type) {
	case export.SFT:
		return r.Metadata
	case *export.SFT:
		return r.Metadata
	case export.Preference:
		return r.Metadata
	case *export.Preference:
		return r.Metadata
	case export.Critique:
		return r.Metadata
	case *export.Critique:
		return r.Metadata
	case export.Rating:
		return r.Metadata
	case *export.Rating:
		return r.Metadata
	}
	return nil
}

// sampleVectors returns the run's stored vector of every sampled record,
// or ok=false when some sampled record has none (the run did not use the
// novelty filter on that text, or used it only for part of the run): one
// embedder for all, or none. A unit redone after a crash has its vector
// under "unit#N"; the last attempt is the one its record was checked with.
func (r *run) sampleVectors() (vs [][]float32, ok bool, err error) {
	if _, err := os.Stat(filepath.Join(r.dir, "vectors")); errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	want := make(map[string]int, len(r.sample))
	for i, rec := range r.sample {
		want[rec.unit] = i
	}
	got := make([][]float32, len(r.sample))
	attempt := make([]int, len(r.sample))
	dim := 0
	err = export.ReadVectors(r.dir, func(key string, v []float32) error {
		unit, n := key, 0
		i, hit := want[unit]
		if !hit {
			if j := strings.LastIndexByte(key, '#'); j > 0 {
				if a, err := strconv.Atoi(key[j+1:]); err == nil && a > 0 {
					unit, n = key[:j], a
					i, hit = want[unit]
				}
			}
		}
		if !hit || (got[i] != nil && n < attempt[i]) {
			return nil
		}
		if dim == 0 {
			dim = len(v)
		}
		if len(v) != dim {
			return fmt.Errorf("vector of %q has %d floats, others %d", key, len(v), dim)
		}
		c := append([]float32(nil), v...)
		if err := diversity.Normalize(c); err != nil {
			return fmt.Errorf("vector of %q: %w", key, err)
		}
		got[i], attempt[i] = c, n
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read the vectors of %s: %w", r.dir, err)
	}
	for _, v := range got {
		if v == nil {
			return nil, false, nil
		}
	}
	return got, len(got) > 0, nil
}
