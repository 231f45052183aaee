package report

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"synthkit/diversity"
	"synthkit/export"
)

// fixtureRun describes a run directory a test builds through export.Run,
// as a generating command would.
type fixtureRun struct {
	method  string
	seed    int64
	options map[string]any
	hashes  map[string]string
	command []string
	// texts become SFT rows (user turn text, a short assistant answer).
	texts []string
	// meta, when set, gives row i's metadata.
	meta func(i int) map[string]any
	// rejects are journaled as rejections: reason → count.
	rejects map[string]int
	// state is journaled with SetState.
	state map[string]any
	// order, when set, is the order units are journaled in (unit i always
	// holds text i), as concurrent workers would finish them.
	order []int
	// vectors stores an embedding of each text (the hashed embedder) as the
	// novelty filter would, keyed like it.
	vectors bool
}

func (f fixtureRun) build(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	m := export.Manifest{Version: "test", Method: f.method, Seed: f.seed, Options: f.options, TemplateHashes: f.hashes,
		Command: f.command, Models: []export.ModelInfo{{Name: "m", Digest: "sha256:0"}}}
	r, err := export.OpenRun(dir, m, false)
	if err != nil {
		t.Fatal(err)
	}
	order := f.order
	if order == nil {
		for i := range f.texts {
			order = append(order, i)
		}
	}
	for _, i := range order {
		text := f.texts[i]
		unit := fmt.Sprintf("u-%06d", i)
		if f.vectors {
			if err := r.AddVector(unit, diversity.HashNGrams(text, diversity.HashedNGramDim)); err != nil {
				t.Fatal(err)
			}
		}
		row := export.SFT{Messages: []export.Message{{Role: "user", Content: text}, {Role: "assistant", Content: "ok"}}}
		if f.meta != nil {
			row.Metadata = f.meta(i)
		}
		if err := r.Add(unit, export.Provenance{}, row); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, reason := range sortedKeys(f.rejects) {
		for range f.rejects[reason] {
			n++
			if err := r.Reject(fmt.Sprintf("x-%06d", n), reason, export.Provenance{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range sortedKeys(f.state) {
		if err := r.SetState(k, f.state[k]); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

var words = []string{"write", "explain", "list", "summarize", "compare", "describe", "translate", "classify", "poem", "story",
	"recipe", "ocean", "mountain", "river", "history", "physics", "algebra", "music", "garden", "market", "city", "winter",
	"email", "letter", "friend", "teacher", "bridge", "engine", "planet", "forest", "language", "number", "prime", "coffee"}

// randomTexts makes n task-like texts of 6 to 14 words from a small vocabulary.
func randomTexts(seed uint64, n int) []string {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := make([]string, n)
	for i := range out {
		k := 6 + rng.IntN(9)
		s := ""
		for j := range k {
			if j > 0 {
				s += " "
			}
			s += words[rng.IntN(len(words))]
		}
		out[i] = s + "."
	}
	return out
}

// qdAxes is a two-axis archive in the contract's shape.
var qdAxes = []map[string]any{
	{"name": "domain", "labels": []string{"science", "arts", "code", "daily life"}},
	{"name": "difficulty", "labels": []string{"easy", "medium", "hard"}, "ordinal": true},
}
