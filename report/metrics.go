package report

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unicode"

	"gonum.org/v1/gonum/mat"
)

// Distinct is distinct-n (Li et al. 2016): the number of different word
// n-grams over the number of n-grams in texts, 0 when there are none.
// Words are lowercased runs of letters and digits, so punctuation and case
// do not make two n-grams different.
func Distinct(texts []string, n int) float64 {
	if n < 1 {
		return 0
	}
	seen := make(map[string]struct{})
	total := 0
	var key strings.Builder
	for _, t := range texts {
		words := Words(t)
		for i := 0; i+n <= len(words); i++ {
			key.Reset()
			for j, w := range words[i : i+n] {
				if j > 0 {
					key.WriteByte(0)
				}
				key.WriteString(w)
			}
			seen[key.String()] = struct{}{}
			total++
		}
	}
	if total == 0 {
		return 0
	}
	return float64(len(seen)) / float64(total)
}

// Words splits text into lowercased runs of letters and digits.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
}

// MeanPairwiseCosine is the mean cosine similarity over all pairs i≠j of
// unit vectors: Σ_{i≠j} eᵢ·eⱼ = ‖Σ eᵢ‖² − N, so it costs O(N·d), not
// O(N²·d). It is 0 for fewer than two vectors.
func MeanPairwiseCosine(vs [][]float32) float64 {
	n := len(vs)
	if n < 2 {
		return 0
	}
	sum := make([]float64, len(vs[0]))
	for _, v := range vs {
		for i, x := range v {
			sum[i] += float64(x)
		}
	}
	var ss float64
	for _, x := range sum {
		ss += x * x
	}
	return (ss - float64(n)) / (float64(n) * float64(n-1))
}

// NearestSimilarities returns, for each vector, the highest cosine
// similarity to any other one (unit vectors), and the index of that
// neighbour (the lowest on ties). Each pair is computed once, rows split
// over the cores; every similarity is a fixed computation and the maxima
// are taken afterwards in index order, so the result does not depend on
// scheduling. It keeps an N×N float32 matrix (4 MB at N = 1000).
func NearestSimilarities(ctx context.Context, vs [][]float32) ([]float64, []int, error) {
	n := len(vs)
	sims := make([]float64, n)
	idx := make([]int, n)
	if n < 2 {
		for i := range idx {
			idx[i] = -1
		}
		return sims, idx, nil
	}
	g := make([]float32, n*n) // upper triangle: g[i*n+j], j > i
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				row := g[i*n : (i+1)*n]
				for j := i + 1; j < n; j++ {
					row[j] = dot(vs[i], vs[j])
				}
			}
		}()
	}
	var err error
	// Long rows first, so the last ones to finish are short.
	for i := range n - 1 {
		if i%64 == 0 {
			if err = ctx.Err(); err != nil {
				break
			}
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	for i := range n {
		best, bj := float32(math.Inf(-1)), -1
		for j := range n {
			var s float32
			switch {
			case j == i:
				continue
			case j < i:
				s = g[j*n+i]
			default:
				s = g[i*n+j]
			}
			if s > best {
				best, bj = s, j
			}
		}
		sims[i], idx[i] = float64(best), bj
	}
	return sims, idx, nil
}

// dot is a dot product with four accumulators (the loop runs about three
// times faster than with one); dot(a, b) == dot(b, a) bit for bit.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// gram returns the smaller of the two Gram matrices of the rows of X
// (N×d): XXᵀ (N×N) or XᵀX (d×d). Both have the same non-zero eigenvalues,
// which is all the Vendi score needs.
func gram(vs [][]float32, center bool) *mat.SymDense {
	n, d := len(vs), len(vs[0])
	x := mat.NewDense(n, d, nil)
	for i, v := range vs {
		for j, f := range v {
			x.Set(i, j, float64(f))
		}
	}
	if center {
		for j := range d {
			var m float64
			for i := range n {
				m += x.At(i, j)
			}
			m /= float64(n)
			for i := range n {
				x.Set(i, j, x.At(i, j)-m)
			}
		}
	}
	var g *mat.SymDense
	if n <= d {
		g = mat.NewSymDense(n, nil)
		g.SymOuterK(1, x)
	} else {
		g = mat.NewSymDense(d, nil)
		g.SymOuterK(1, x.T())
	}
	return g
}

// Vendi is the Vendi score (Friedman & Dieng 2023, order q = 1) of unit
// vectors with the cosine kernel: exp of the Shannon entropy of the
// eigenvalues of K/N, K = XXᵀ. It reads as an effective number of
// distinct items: 1 when all are the same, N when all are orthogonal.
func Vendi(vs [][]float32) (float64, error) {
	n := len(vs)
	if n == 0 {
		return 0, nil
	}
	var eig mat.EigenSym
	if !eig.Factorize(gram(vs, false), false) {
		return 0, fmt.Errorf("vendi score: eigendecomposition of %d vectors did not converge", n)
	}
	var h float64
	for _, l := range eig.Values(nil) {
		l /= float64(n)
		if l > 1e-12 {
			h -= l * math.Log(l)
		}
	}
	return math.Exp(h), nil
}

// PCA2 projects the vectors on their first two principal components
// (centered; eigenvectors of the smaller Gram matrix). explained is the
// share of variance each component holds. With fewer than 3 vectors or no
// variance it returns zeros.
func PCA2(vs [][]float32) (xy [][2]float64, explained [2]float64, err error) {
	n := len(vs)
	xy = make([][2]float64, n)
	if n < 3 {
		return xy, explained, nil
	}
	d := len(vs[0])
	g := gram(vs, true)
	var eig mat.EigenSym
	if !eig.Factorize(g, true) {
		return nil, explained, fmt.Errorf("pca: eigendecomposition of %d vectors did not converge", n)
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	order := make([]int, len(vals))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return vals[order[a]] > vals[order[b]] })
	var total float64
	for _, l := range vals {
		total += math.Max(l, 0)
	}
	if total <= 0 {
		return xy, explained, nil
	}
	mean := make([]float64, d)
	for _, v := range vs {
		for j, f := range v {
			mean[j] += float64(f)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for k := range 2 {
		c := order[k]
		l := math.Max(vals[c], 0)
		explained[k] = l / total
		if n <= d {
			// Eigenvectors u of XcXcᵀ: the scores are u·√λ.
			s := math.Sqrt(l)
			for i := range n {
				xy[i][k] = vecs.At(i, c) * s
			}
		} else {
			// Eigenvectors w of XcᵀXc: the scores are (x − mean)·w.
			for i, v := range vs {
				var s float64
				for j, f := range v {
					s += (float64(f) - mean[j]) * vecs.At(j, c)
				}
				xy[i][k] = s
			}
		}
	}
	// An eigenvector's sign is arbitrary: fix it so the first point is on
	// the positive side, which makes the picture stable across versions.
	for k := range 2 {
		if xy[0][k] < 0 {
			for i := range xy {
				xy[i][k] = -xy[i][k]
			}
		}
	}
	return xy, explained, nil
}
