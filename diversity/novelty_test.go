package diversity

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// randUnit returns a random unit vector of dim floats.
func randUnit(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	if err := Normalize(v); err != nil {
		panic(err)
	}
	return v
}

// near returns a unit vector whose cosine similarity with the unit vector
// base is about sim (base rotated toward a random orthogonal direction).
func near(rng *rand.Rand, base []float32, sim float64) []float32 {
	r := randUnit(rng, len(base))
	d := float64(Dot(r, base))
	orth := make([]float64, len(base))
	var ss float64
	for i := range r {
		orth[i] = float64(r[i]) - d*float64(base[i])
		ss += orth[i] * orth[i]
	}
	s := math.Sqrt(1 - sim*sim)
	out := make([]float32, len(base))
	for i := range out {
		out[i] = float32(sim*float64(base[i]) + s*orth[i]/math.Sqrt(ss))
	}
	if err := Normalize(out); err != nil {
		panic(err)
	}
	return out
}

func newStore(t testing.TB, dim int) *Store {
	t.Helper()
	s, err := NewStore(dim)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHashNGrams(t *testing.T) {
	e := HashedNGrams()
	vs, err := e.Embed(context.Background(), []string{
		"List 5 facts about honey bees.", "List 7 facts about honey bees.",
		"What is the capital of France?", "What is the capital of Spain?",
		"  LIST 5 facts, about honey-bees!! ", "", "?!",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if len(v) != HashedNGramDim {
			t.Fatalf("vector %d has %d floats", i, len(v))
		}
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if math.Abs(ss-1) > 1e-6 {
			t.Fatalf("vector %d has norm² %v", i, ss)
		}
	}
	tau := e.DefaultMaxSimilarity
	tests := []struct {
		name     string
		a, b     int
		min, max float32
	}{
		{"a number changed is a near duplicate", 0, 1, float32(tau), 1},
		{"another subject is not", 2, 3, 0, float32(tau)},
		{"case, spaces and punctuation do not count", 0, 4, 0.99999, 1.00001},
		{"texts without letters are all alike", 5, 6, 0.99999, 1.00001},
		{"unrelated texts are far apart", 0, 2, -0.3, 0.3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s := Dot(vs[tt.a], vs[tt.b]); s < tt.min || s > tt.max {
				t.Fatalf("similarity %v, want in [%v, %v]", s, tt.min, tt.max)
			}
		})
	}
	// Deterministic: the same text, the same bits (resume depends on it).
	again := HashNGrams("List 5 facts about honey bees.", HashedNGramDim)
	for i := range again {
		if again[i] != vs[0][i] {
			t.Fatal("HashNGrams is not deterministic")
		}
	}
}

// TestNoveltyThresholdBoundary: a similarity equal to the threshold is
// admitted, anything above it is a near duplicate.
func TestNoveltyThresholdBoundary(t *testing.T) {
	const dim = 64
	rng := rand.New(rand.NewPCG(1, 2))
	base := randUnit(rng, dim)
	cand := near(rng, base, 0.9)
	sim := float64(Dot(base, cand))
	tests := []struct {
		name string
		max  float64
		near bool
	}{
		{"threshold equal to the similarity admits", sim, false},
		{"threshold just below rejects", math.Nextafter(sim, -2), true},
		{"threshold just above admits", math.Nextafter(sim, 2), false},
		{"threshold 1 admits anything but above 1", 1, false},
		{"a low threshold rejects", 0.5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t, dim)
			if err := st.Add(context.Background(), "base", base, nil, nil); err != nil {
				t.Fatal(err)
			}
			nv, err := NewNovelty(st, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			d, err := nv.Check("cand", cand)
			if err != nil {
				t.Fatal(err)
			}
			if d.Near != tt.near {
				t.Fatalf("near = %v at similarity %v and threshold %v, want %v", d.Near, sim, tt.max, tt.near)
			}
			if d.NearestID != "base" || float64(d.Similarity) != sim {
				t.Fatalf("nearest %q %v, want base %v", d.NearestID, d.Similarity, sim)
			}
			if got, want := nv.Pending(), map[bool]int{true: 0, false: 1}[tt.near]; got != want {
				t.Fatalf("%d pending, want %d", got, want)
			}
		})
	}
	for _, bad := range []float64{-1, 1.0001, math.NaN()} {
		if _, err := NewNovelty(newStore(t, dim), bad); err == nil {
			t.Errorf("threshold %v accepted", bad)
		}
	}
}

// TestNoveltyPending: an admitted candidate is pending until settled, and
// a near-copy of it is refused meanwhile; dropped, it no longer counts;
// kept, it is in the store.
func TestNoveltyPending(t *testing.T) {
	const dim = 64
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	a := randUnit(rng, dim)
	copyA := near(rng, a, 0.97)
	type step struct {
		op   string // check, keep, drop
		id   string
		v    []float32
		near bool
	}
	tests := []struct {
		name  string
		steps []step
		store int
	}{
		{"a near-copy of a pending candidate is refused", []step{
			{"check", "a", a, false}, {"check", "copy", copyA, true}}, 0},
		{"dropped, it no longer blocks", []step{
			{"check", "a", a, false}, {"drop", "a", nil, false}, {"check", "copy", copyA, false}}, 0},
		{"kept, it is stored and blocks", []step{
			{"check", "a", a, false}, {"keep", "a", nil, false}, {"check", "copy", copyA, true}}, 1},
		{"a refused candidate is never stored", []step{
			{"check", "a", a, false}, {"check", "copy", copyA, true}, {"keep", "copy", nil, false}, {"keep", "a", nil, false}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t, dim)
			nv, _ := NewNovelty(st, 0.9)
			for i, s := range tt.steps {
				switch s.op {
				case "check":
					d, err := nv.Check(s.id, s.v)
					if err != nil {
						t.Fatal(err)
					}
					if d.Near != s.near {
						t.Fatalf("step %d: %s near = %v (nearest %q %v), want %v", i, s.id, d.Near, d.NearestID, d.Similarity, s.near)
					}
				case "keep", "drop":
					if err := nv.Settle(ctx, s.id, s.op == "keep"); err != nil {
						t.Fatal(err)
					}
				}
			}
			if st.Len() != tt.store {
				t.Fatalf("store holds %d, want %d", st.Len(), tt.store)
			}
		})
	}
	t.Run("an id pending twice is an error", func(t *testing.T) {
		nv, _ := NewNovelty(newStore(t, dim), 0.9)
		if _, err := nv.Check("x", a); err != nil {
			t.Fatal(err)
		}
		if _, err := nv.Check("x", randUnit(rng, dim)); err == nil {
			t.Fatal("second check of a pending id accepted")
		}
	})
}

// TestNoveltyConcurrentNearCopies: many workers with near-copies of one
// text at once; exactly one passes, whatever the interleaving.
func TestNoveltyConcurrentNearCopies(t *testing.T) {
	const dim, workers = 64, 16
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 20 {
		base := randUnit(rng, dim)
		copies := make([][]float32, workers)
		for i := range copies {
			copies[i] = near(rng, base, 0.99)
		}
		nv, _ := NewNovelty(newStore(t, dim), 0.9)
		var wg sync.WaitGroup
		var mu sync.Mutex
		passed := 0
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("w%d", i)
				d, err := nv.Check(id, copies[i])
				if err != nil {
					t.Error(err)
					return
				}
				if !d.Near {
					mu.Lock()
					passed++
					mu.Unlock()
					// Half keep at once, so later checks meet stored
					// vectors rather than pending ones.
					if err := nv.Settle(context.Background(), id, i%2 == 0); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if passed < 1 {
			t.Fatalf("round %d: nothing passed", round)
		}
		// A dropped one may be followed by another; never two at once.
		if st := nv.Store().Len(); st > 1 {
			t.Fatalf("round %d: %d near-copies stored, want at most 1", round, st)
		}
	}
}

// TestNoveltySeesVectorsStoredDuringItsScan: a candidate kept while
// another check's scan runs is still compared with (it is neither in the
// scanned part of the store nor pending any more).
func TestNoveltySeesVectorsStoredDuringItsScan(t *testing.T) {
	const dim = 64
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	a := randUnit(rng, dim)
	nv, _ := NewNovelty(newStore(t, dim), 0.9)
	if _, err := nv.Check("a", a); err != nil {
		t.Fatal(err)
	}
	nv.afterScan = func() {
		nv.afterScan = nil
		if err := nv.Settle(ctx, "a", true); err != nil {
			t.Error(err)
		}
	}
	d, err := nv.Check("copy", near(rng, a, 0.95))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Near || d.NearestID != "a" {
		t.Fatalf("decision %+v: the copy of a vector stored during the scan passed", d)
	}
}

// TestStoreEmptyAndSmall: chromem-go refuses nResults > Count() (so any
// query of an empty collection); the store caps k and answers nothing.
func TestStoreEmptyAndSmall(t *testing.T) {
	const dim = 32
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 10))
	q := randUnit(rng, dim)
	tests := []struct {
		name   string
		stored int
		k      int
		want   int
	}{
		{"empty collection", 0, 1, 0},
		{"empty collection, k 5", 0, 5, 0},
		{"k above Count", 2, 5, 2},
		{"k equal to Count", 3, 3, 3},
		{"k below Count", 4, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t, dim)
			for i := range tt.stored {
				if err := st.Add(ctx, fmt.Sprint(i), randUnit(rng, dim), nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			res, err := st.QueryExact(ctx, q, tt.k)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != tt.want {
				t.Fatalf("%d results, want %d", len(res), tt.want)
			}
			nb, err := st.NearestExact(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			ix, _, _ := st.Nearest(q, st.Sign(q), 0.9)
			if tt.stored == 0 {
				if nb.ID != "" || ix.Index != -1 {
					t.Fatalf("empty store answered %+v / %+v", nb, ix)
				}
				return
			}
			if nb.ID != ix.ID || nb.Similarity != ix.Similarity {
				t.Fatalf("chromem-go says %+v, the index %+v", nb, ix)
			}
		})
	}
	if _, err := newStore(t, dim).QueryExact(ctx, q, 0); err == nil {
		t.Error("k 0 accepted")
	}
}

// TestStoreNeverEmbeds: chromem-go must never embed on its own (its
// default is a remote service); the collection's function refuses.
func TestStoreNeverEmbeds(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, 8)
	if err := st.col.AddDocument(ctx, docWithoutVector("x")); err == nil || !strings.Contains(err.Error(), errNoEmbedding.Error()) {
		t.Fatalf("adding a document without a vector: %v, want %v", err, errNoEmbedding)
	}
	if err := st.Add(ctx, "y", []float32{1, 0, 0, 0, 0, 0, 0, 0}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.col.Query(ctx, "some text", 1, nil, nil); err == nil || !strings.Contains(err.Error(), errNoEmbedding.Error()) {
		t.Fatalf("a text query: %v, want %v", err, errNoEmbedding)
	}
}

func TestStoreRefusesBadVectors(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, 4)
	tests := []struct {
		name string
		v    []float32
	}{
		{"wrong size", []float32{1, 0, 0}},
		{"not unit length", []float32{1, 1, 0, 0}},
		{"NaN", []float32{float32(math.NaN()), 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := st.Add(ctx, tt.name, tt.v, nil, nil); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if err := st.Add(ctx, "a", []float32{1, 0, 0, 0}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Add(ctx, "a", []float32{0, 1, 0, 0}, nil, nil); err == nil {
		t.Fatal("a second vector under one id accepted")
	}
	if _, err := NewStore(0); err == nil {
		t.Fatal("size 0 accepted")
	}
}
