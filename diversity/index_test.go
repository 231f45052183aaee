package diversity

import (
	"context"
	"fmt"
	"math"
	"math/bits"
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

// TestBinomialCut: each cut is the smallest distance whose upper tail is
// at most MissProbability, checked against a direct sum of the binomial
// distribution (terms built by the ratio recurrence from k = 0).
func TestBinomialCut(t *testing.T) {
	tail := func(n int, p float64, c int) float64 {
		// P(X > c) = 1 - P(X ≤ c) loses the tiny tails; sum the top terms
		// instead, each from the log of the binomial coefficient.
		s := 0.0
		for k := c + 1; k <= n; k++ {
			lc := 0.0
			for j := 1; j <= k; j++ {
				lc += math.Log(float64(n-k+j)) - math.Log(float64(j))
			}
			s += math.Exp(lc + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
		}
		return s
	}
	for _, nbits := range []int{HeadBits, SignatureBits} {
		for _, tau := range []float64{0.99, 0.95, 0.9, 0.8, 0.5} {
			p := math.Acos(tau) / math.Pi
			c := HammingCutBits(tau, nbits)
			if got := tail(nbits, p, c); got > MissProbability {
				t.Errorf("%d bits, tau %v: cut %d leaves a tail of %.3g > %g", nbits, tau, c, got, MissProbability)
			}
			if got := tail(nbits, p, c-1); got <= MissProbability {
				t.Errorf("%d bits, tau %v: cut %d is not the smallest (tail above %d is %.3g)", nbits, tau, c, c-1, got)
			}
		}
	}
	if HammingCutBits(1, HeadBits) != 0 || HammingCutBits(-1, HeadBits) != HeadBits {
		t.Error("cuts at the ends of the range")
	}
}

// TestIndexMissesNothingAtTheThreshold: many queries each just above the
// threshold of one stored vector (and far from the rest), with only the
// cuts deciding (no top-K rescoring): every one must find its neighbour.
// At the cuts' miss probability none is missed; a cut a few bits too
// tight misses several.
func TestIndexMissesNothingAtTheThreshold(t *testing.T) {
	const dim, stored, queries, tau = 128, 2000, 20000, 0.9
	if testing.Short() {
		t.Skip("20k queries")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	x := NewIndex(dim)
	x.rescoreTop = 0
	for i := range stored {
		v := randUnit(rng, dim)
		x.Add(fmt.Sprint(i), v, x.Sign(v))
	}
	missed := 0
	for k := range queries {
		i := rng.IntN(stored)
		q := near(rng, x.Vector(i), tau+0.002)
		if float64(Dot(q, x.Vector(i))) <= tau {
			continue // rounding put it at or below the threshold
		}
		if nb, _ := x.Nearest(q, x.Sign(q), tau, stored); float64(nb.Similarity) <= tau {
			missed++
			if missed < 4 {
				t.Errorf("query %d: its neighbour %d at %v was missed (found %+v)", k, i, Dot(q, x.Vector(i)), nb)
			}
		}
	}
	if missed > 0 {
		t.Fatalf("%d of %d neighbours above the threshold missed", missed, queries)
	}
}

// TestSignatureDistancesAreBinomial: the cuts assume the Hamming distance
// of two signatures is Binomial(bits, θ/π). For pairs at a fixed cosine,
// the head's and the whole signature's distances must have that mean and
// at most that variance (a rotation that correlates bits inflates the
// variance, and the cuts would miss neighbours).
func TestSignatureDistancesAreBinomial(t *testing.T) {
	const pairs = 3000
	for _, tt := range []struct {
		dim int
		cos float64
	}{{768, 0.9}, {64, 0.9}, {768, 0.5}} {
		t.Run(fmt.Sprint(tt.dim, "/", tt.cos), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(31, uint64(tt.dim)))
			x := NewIndex(tt.dim)
			p := math.Acos(tt.cos) / math.Pi
			for _, nbits := range []int{HeadBits, SignatureBits} {
				var sum, sum2 float64
				for range pairs {
					a := randUnit(rng, tt.dim)
					b := near(rng, a, tt.cos)
					sa, sb := x.Sign(a), x.Sign(b)
					h := 0
					for w := range nbits / 64 {
						h += bits.OnesCount64(sa[w] ^ sb[w])
					}
					sum += float64(h)
					sum2 += float64(h) * float64(h)
				}
				mean := sum / pairs
				variance := sum2/pairs - mean*mean
				wantMean, wantVar := float64(nbits)*p, float64(nbits)*p*(1-p)
				// The mean's standard error is √(var/pairs); the
				// variance's about var·√(2/pairs): allow 5 of each.
				if math.Abs(mean-wantMean) > 5*math.Sqrt(wantVar/pairs) {
					t.Errorf("%d bits: mean distance %.2f, binomial %.2f", nbits, mean, wantMean)
				}
				// Less spread than binomial is fine (bits of one orthogonal
				// rotation are slightly anti-correlated): the cut then
				// holds with room to spare. More spread is not.
				if variance > wantVar*(1+5*math.Sqrt(2.0/pairs)) {
					t.Errorf("%d bits: variance %.2f, above the binomial's %.2f", nbits, variance, wantVar)
				}
			}
		})
	}
}
