package diversity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/philippgille/chromem-go"
)

func docWithoutVector(id string) chromem.Document {
	return chromem.Document{ID: id, Content: "text to embed"}
}

// TestIndexAgreesWithExhaustiveScan: for near-duplicate queries (around
// the threshold on both sides) and fresh ones, the index decides exactly
// as chromem-go's exhaustive query, and its nearest neighbour is the same
// whenever the decision is a rejection. Sizes cover the one-goroutine and
// the split scan.
func TestIndexAgreesWithExhaustiveScan(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		dim, size int
		tau       float64
		clustered bool
		cutOnly   bool // no top-K rescoring: the Hamming cut alone decides
	}{
		{"small, random", 96, 500, 0.9, false, false},
		{"small, clustered", 96, 2000, 0.9, true, false},
		{"small, random, cut alone", 96, 500, 0.9, false, true},
		{"small, clustered, cut alone", 96, 2000, 0.95, true, true},
		{"split scan, random", 48, parallelMin + 5000, 0.95, false, false},
		{"split scan, clustered, low threshold, cut alone", 48, parallelMin + 5000, 0.8, true, true},
	}
	if testing.Short() {
		tests = tests[:4]
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tt.size), 11))
			st := newStore(t, tt.dim)
			if tt.cutOnly {
				st.idx.rescoreTop = 0
			}
			var centers [][]float32
			for range 50 {
				centers = append(centers, randUnit(rng, tt.dim))
			}
			vecs := make([][]float32, tt.size)
			for i := range vecs {
				if tt.clustered {
					// Neighbours at 0.5 to 0.8: real embeddings crowd.
					vecs[i] = near(rng, centers[rng.IntN(len(centers))], 0.6+0.2*rng.Float64())
				} else {
					vecs[i] = randUnit(rng, tt.dim)
				}
				if err := st.Add(ctx, fmt.Sprint(i), vecs[i], nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			agree, rejects := 0, 0
			const queries = 300
			for k := range queries {
				var q []float32
				switch k % 3 {
				case 0: // fresh
					q = randUnit(rng, tt.dim)
					if tt.clustered {
						q = near(rng, centers[rng.IntN(len(centers))], 0.7)
					}
				default: // near a stored vector, within ±0.03 of tau
					q = near(rng, vecs[rng.IntN(len(vecs))], tt.tau-0.03+0.06*rng.Float64())
				}
				got, _, _ := st.Nearest(q, st.Sign(q), tt.tau)
				want, err := st.NearestExact(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				gotNear, wantNear := float64(got.Similarity) > tt.tau, float64(want.Similarity) > tt.tau
				if gotNear != wantNear {
					t.Fatalf("query %d: index says %v (%+v), exhaustive %v (%+v)", k, gotNear, got, wantNear, want)
				}
				if wantNear {
					rejects++
					if got.Similarity != want.Similarity {
						t.Fatalf("query %d: nearest %+v, exhaustive %+v", k, got, want)
					}
				}
				agree++
			}
			if rejects < queries/5 || rejects > queries*4/5 {
				t.Fatalf("%d of %d queries rejected: the boundary is not exercised", rejects, queries)
			}
			t.Logf("%d/%d decisions agree, %d rejections", agree, queries, rejects)
		})
	}
}

// TestIndexPrefilterPrunes: the prefilter must actually prune (else it is
// just a slower exhaustive scan): on random vectors a fresh query rescores
// only the few closest signatures.
func TestIndexPrefilterPrunes(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	const dim, n = 128, 5000
	x := NewIndex(dim)
	for i := range n {
		v := randUnit(rng, dim)
		x.Add(fmt.Sprint(i), v, x.Sign(v))
	}
	q := randUnit(rng, dim)
	_, rescored := x.Nearest(q, x.Sign(q), 0.9, n)
	if rescored > 2*RescoreTop || rescored < RescoreTop {
		t.Fatalf("a fresh query rescored %d of %d vectors", rescored, n)
	}
	// An exact copy is found at Hamming distance 0.
	v := x.Vector(1234)
	nb, _ := x.Nearest(v, x.Sign(v), 0.9, n)
	if nb.ID != "1234" || nb.Similarity < 0.99999 {
		t.Fatalf("copy of 1234: nearest %+v", nb)
	}
	// Only the first n are searched.
	nb, _ = x.Nearest(v, x.Sign(v), 0.9, 1000)
	if nb.Index >= 1000 {
		t.Fatalf("searched past n: %+v", nb)
	}
}

// TestHammingCut: the cut grows as the threshold falls and covers the
// expected distance at the threshold.
func TestHammingCut(t *testing.T) {
	prev := -1
	for _, tau := range []float64{1, 0.99, 0.95, 0.9, 0.8, 0.5, 0, -1} {
		c := HammingCut(tau)
		if c < prev {
			t.Fatalf("cut %d at %v is below %d at a higher threshold", c, tau, prev)
		}
		prev = c
	}
	if HammingCut(-1) < SignatureBits {
		t.Fatalf("at threshold -1 everything must be rescored, cut %d", HammingCut(-1))
	}
}
