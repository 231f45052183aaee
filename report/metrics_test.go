package report

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat"
)

func TestDistinct(t *testing.T) {
	tests := []struct {
		name  string
		texts []string
		n     int
		want  float64
	}{
		{"all different", []string{"a b c", "d e"}, 1, 1},
		{"repeats", []string{"the cat the cat"}, 1, 0.5},
		{"bigrams", []string{"the cat the cat"}, 2, 2.0 / 3}, // the-cat, cat-the, the-cat
		{"case and punctuation fold", []string{"Hello, world!", "hello world"}, 2, 0.5},
		{"across texts, not joined", []string{"a b", "c d"}, 2, 1}, // no b-c bigram
		{"empty", []string{"", "!!"}, 1, 0},
		{"too short for n", []string{"one"}, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Distinct(tt.texts, tt.n); math.Abs(got-tt.want) > 1e-12 {
				t.Fatalf("Distinct(%q, %d) = %v, want %v", tt.texts, tt.n, got, tt.want)
			}
		})
	}
}

// randomUnit returns n random unit vectors of dim d.
func randomUnit(rng *rand.Rand, n, d int) [][]float32 {
	vs := make([][]float32, n)
	for i := range vs {
		v := make([]float32, d)
		var ss float64
		for j := range v {
			v[j] = float32(rng.NormFloat64())
			ss += float64(v[j]) * float64(v[j])
		}
		for j := range v {
			v[j] = float32(float64(v[j]) / math.Sqrt(ss))
		}
		vs[i] = v
	}
	return vs
}

func TestMeanPairwiseCosineMatchesPairs(t *testing.T) {
	vs := randomUnit(rand.New(rand.NewPCG(1, 2)), 40, 16)
	// Make some pairs close, so the mean is well away from 0.
	for i := 0; i < 20; i++ {
		copy(vs[i+20], vs[i])
	}
	var sum float64
	for i := range vs {
		for j := range vs {
			if i != j {
				sum += float64(dot(vs[i], vs[j]))
			}
		}
	}
	want := sum / float64(len(vs)*(len(vs)-1))
	if got := MeanPairwiseCosine(vs); math.Abs(got-want) > 1e-5 {
		t.Fatalf("MeanPairwiseCosine = %v, brute force %v", got, want)
	}
}

func TestNearestSimilarities(t *testing.T) {
	vs := randomUnit(rand.New(rand.NewPCG(3, 4)), 50, 8)
	copy(vs[7], vs[31])
	sims, idx, err := NearestSimilarities(context.Background(), vs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range vs {
		best, bj := math.Inf(-1), -1
		for j := range vs {
			if j != i && float64(dot(vs[i], vs[j])) > best {
				best, bj = float64(dot(vs[i], vs[j])), j
			}
		}
		if sims[i] != best || idx[i] != bj {
			t.Fatalf("row %d: got %v@%d, brute force %v@%d", i, sims[i], idx[i], best, bj)
		}
	}
	if idx[7] != 31 || math.Abs(sims[7]-1) > 1e-6 {
		t.Fatalf("the copy's neighbour: %v@%d", sims[7], idx[7])
	}
}

func TestVendi(t *testing.T) {
	basis := func(n, d int) [][]float32 {
		vs := make([][]float32, n)
		for i := range vs {
			vs[i] = make([]float32, d)
			vs[i][i%d] = 1
		}
		return vs
	}
	same := make([][]float32, 10)
	for i := range same {
		same[i] = []float32{0.6, 0.8}
	}
	tests := []struct {
		name string
		vs   [][]float32
		want float64
	}{
		{"identical", same, 1},
		{"orthogonal, N < d", basis(5, 8), 5},
		{"orthogonal, N = d", basis(8, 8), 8},
		// Two groups of copies: two distinct items, whichever Gram side.
		{"two groups, N > d", basis(12, 2), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Vendi(tt.vs)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tt.want) > 1e-6 {
				t.Fatalf("Vendi = %v, want %v", got, tt.want)
			}
		})
	}
	// The two Gram sides agree on random data.
	vs := randomUnit(rand.New(rand.NewPCG(5, 6)), 30, 30)
	a, _ := Vendi(vs[:29]) // N < d: XXᵀ
	b, _ := Vendi(vs)      // N = d: XXᵀ as well; compare with d×d below
	wide := make([][]float32, 29)
	for i := range wide {
		wide[i] = vs[i][:29]
		norm := math.Sqrt(float64(dot(wide[i], wide[i])))
		w := make([]float32, 29)
		for j := range w {
			w[j] = float32(float64(wide[i][j]) / norm)
		}
		wide[i] = w
	}
	if a <= 1 || b <= a || a > 29 {
		t.Fatalf("random vectors: Vendi %v (29) and %v (30)", a, b)
	}
	nd, _ := Vendi(append(wide, wide[0])) // 30 vectors of dim 29: XᵀX side
	if nd <= 1 || nd > 29 {
		t.Fatalf("Vendi on the d×d side = %v", nd)
	}
}

func TestPCA2(t *testing.T) {
	for _, n := range []int{5, 40} { // both Gram sides (d = 8)
		rng := rand.New(rand.NewPCG(7, uint64(n)))
		vs := make([][]float32, n)
		for i := range vs {
			// Points along one direction plus a little noise on another.
			a := rng.Float64()*2 - 1
			vs[i] = []float32{float32(a), float32(0.01 * rng.NormFloat64()), 0, 0, 0, 0, 0, 0}
		}
		xy, ex, err := PCA2(vs)
		if err != nil {
			t.Fatal(err)
		}
		if ex[0] < 0.99 {
			t.Fatalf("n=%d: first component explains %v, want ~1", n, ex[0])
		}
		// The first coordinate is the position along the line, up to sign
		// and shift: it correlates fully with x.
		var xs, ps []float64
		for i := range vs {
			xs, ps = append(xs, float64(vs[i][0])), append(ps, xy[i][0])
		}
		if r := stat.Correlation(xs, ps, nil); math.Abs(r) < 0.999 {
			t.Fatalf("n=%d: projection correlates %v with the position on the line", n, r)
		}
	}
}
