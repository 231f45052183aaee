package diversity

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Index finds the nearest stored vector to a query by cosine similarity,
// with the same answer as an exhaustive scan whenever it matters, at a
// fraction of the cost: a compact sign-bit prefilter picks the candidates
// and exact dot products decide.
//
// # How
//
// Every vector gets a signature of [SignatureBits] bits: the signs of a
// pseudo-random rotation of the vector (three rounds of random sign flips
// and a Walsh–Hadamard transform over the vector zero-padded to a power of
// two, the structured stand-in for a Gaussian rotation). For two unit
// vectors at angle θ each bit differs with probability θ/π (SimHash), so
// the Hamming distance h of two signatures is about Binomial(B, θ/π). A
// query with threshold τ rescores exactly every stored vector whose h is
// at most the mean for cos θ = τ plus [CutSigmas] standard deviations,
// plus the [RescoreTop] nearest signatures. A stored vector above τ is
// missed only if its Hamming distance lands more than CutSigmas standard
// deviations above its mean (below 10⁻¹¹ per vector); the benchmark
// measures agreement with the exhaustive scan.
//
// Rescoring uses [Dot], which adds in the same order as chromem-go, so a
// similarity found is bit-identical to chromem-go's and the decision at
// the boundary (similarity exactly τ) is the same.
//
// The nearest neighbour is exact whenever its similarity is at or above
// the threshold band (the cut); below it, it is the best of the rescored
// candidates, a lower bound of the true maximum.
//
// An Index is not safe for concurrent use on its own; [Store] guards it.
type Index struct {
	dim, padded, words int
	flips              [signatureRounds][]float32
	sigs               []sigWords
	vecs               [][]float32
	ids                []string
	workers            int
	rescoreTop         int // RescoreTop; tests set 0 to check the cut alone
}

// SignatureBits is the number of bits in a signature.
const SignatureBits = 768

// sigWords is one stored signature; a fixed-size array lets the scan
// unroll its Hamming distance without bounds checks.
type sigWords [SignatureBits / 64]uint64

// CutSigmas is how many standard deviations above the expected Hamming
// distance of a vector exactly at the threshold the prefilter still
// rescores.
const CutSigmas = 7

// RescoreTop is how many of the closest signatures are always rescored,
// so a query far from everything still reports a likely nearest
// neighbour.
const RescoreTop = 4

// parallelMin is the number of vectors below which a scan stays on one
// goroutine.
const parallelMin = 32 << 10

const signatureRounds = 3

// NewIndex returns an empty index for vectors of dim floats. Its
// signatures depend only on dim, so two indexes of one dim agree.
func NewIndex(dim int) *Index {
	padded := 1
	for padded < max(dim, SignatureBits) {
		padded <<= 1
	}
	x := &Index{dim: dim, padded: padded, words: SignatureBits / 64, workers: runtime.GOMAXPROCS(0), rescoreTop: RescoreTop}
	rng := rand.New(rand.NewPCG(0x5eed, uint64(dim)))
	for r := range x.flips {
		f := make([]float32, padded)
		for i := range f {
			f[i] = 1
			if rng.IntN(2) == 0 {
				f[i] = -1
			}
		}
		x.flips[r] = f
	}
	return x
}

// Dim is the vector size the index holds.
func (x *Index) Dim() int { return x.dim }

// Len is how many vectors the index holds.
func (x *Index) Len() int { return len(x.vecs) }

// ID returns the id of the i-th vector added.
func (x *Index) ID(i int) string { return x.ids[i] }

// Vector returns the i-th vector added (not a copy).
func (x *Index) Vector(i int) []float32 { return x.vecs[i] }

// Signature is the prefilter's sketch of one vector.
type Signature []uint64

// Sign computes v's signature (v must have [Index.Dim] floats).
func (x *Index) Sign(v []float32) Signature {
	buf := make([]float32, x.padded)
	copy(buf, v)
	for r := range x.flips {
		f := x.flips[r]
		for i := range buf {
			buf[i] *= f[i]
		}
		fwht(buf)
	}
	sig := make(Signature, x.words)
	for i := 0; i < SignatureBits; i++ {
		if buf[i] >= 0 {
			sig[i/64] |= 1 << (i % 64)
		}
	}
	return sig
}

// fwht is the unnormalized fast Walsh–Hadamard transform in place
// (len(a) a power of two). Scale does not matter to signs; the norm grows
// by √len(a) per round, far from float32's range.
func fwht(a []float32) {
	for h := 1; h < len(a); h <<= 1 {
		for i := 0; i < len(a); i += h << 1 {
			for j := i; j < i+h; j++ {
				u, v := a[j], a[j+h]
				a[j], a[j+h] = u+v, u-v
			}
		}
	}
}

// Add stores v (unit length, [Index.Dim] floats, not copied: the caller
// must not change it) under id with its signature from [Index.Sign].
func (x *Index) Add(id string, v []float32, sig Signature) {
	x.vecs = append(x.vecs, v)
	x.ids = append(x.ids, id)
	x.sigs = append(x.sigs, sigWords(sig))
}

// Neighbor is a stored vector and its cosine similarity to a query.
type Neighbor struct {
	// Index is the position of the stored vector (-1: none).
	Index      int
	ID         string
	Similarity float32
}

// None is the zero answer: no stored vector.
var None = Neighbor{Index: -1, Similarity: float32(math.Inf(-1))}

// Better reports whether n beats o: higher similarity, then the earlier
// vector (so every scan order gives the same answer).
func (n Neighbor) Better(o Neighbor) bool {
	if n.Index < 0 {
		return false
	}
	return o.Index < 0 || n.Similarity > o.Similarity || n.Similarity == o.Similarity && n.Index < o.Index
}

// HammingCut is the largest Hamming distance the prefilter rescores for
// threshold tau.
func HammingCut(tau float64) int {
	tau = min(max(tau, -1), 1)
	p := math.Acos(tau) / math.Pi
	b := float64(SignatureBits)
	return int(math.Ceil(b*p + CutSigmas*math.Sqrt(b*p*(1-p))))
}

// Nearest returns the stored vector most similar to q among the first n
// (see the type's doc for when it is exact), and how many vectors it
// rescored exactly.
func (x *Index) Nearest(q []float32, sig Signature, tau float64, n int) (Neighbor, int) {
	n = min(n, x.Len())
	if n == 0 {
		return None, 0
	}
	cut := HammingCut(tau)
	parts := 1
	if n >= parallelMin && x.workers > 1 {
		parts = min(x.workers, n/(parallelMin/2))
	}
	if parts == 1 {
		r := x.scan(q, sig, cut, 0, n)
		return x.finish(q, []scanResult{r})
	}
	res := make([]scanResult, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[p] = x.scan(q, sig, cut, lo, hi)
		}()
	}
	wg.Wait()
	return x.finish(q, res)
}

type scanResult struct {
	best     Neighbor
	rescored int
	top      [RescoreTop]int32 // closest signatures not rescored, -1 = empty
	topH     [RescoreTop]int
}

func (x *Index) scan(q []float32, sig Signature, cut, lo, hi int) scanResult {
	r := scanResult{best: None}
	for i := range r.top {
		r.top[i], r.topH[i] = -1, math.MaxInt
	}
	qs := sigWords(sig)
	worst := math.MaxInt // topH's largest, for a quick skip
	sigs := x.sigs[lo:hi]
	for k := range sigs {
		i := lo + k
		s := &sigs[k]
		h := bits.OnesCount64(s[0]^qs[0]) + bits.OnesCount64(s[1]^qs[1]) + bits.OnesCount64(s[2]^qs[2]) +
			bits.OnesCount64(s[3]^qs[3]) + bits.OnesCount64(s[4]^qs[4]) + bits.OnesCount64(s[5]^qs[5]) +
			bits.OnesCount64(s[6]^qs[6]) + bits.OnesCount64(s[7]^qs[7]) + bits.OnesCount64(s[8]^qs[8]) +
			bits.OnesCount64(s[9]^qs[9]) + bits.OnesCount64(s[10]^qs[10]) + bits.OnesCount64(s[11]^qs[11])
		if h <= cut {
			r.rescored++
			nb := Neighbor{Index: i, Similarity: Dot(q, x.vecs[i])}
			if nb.Better(r.best) {
				r.best = nb
			}
			continue
		}
		if h >= worst {
			continue
		}
		// Insert into the top list (sorted by h ascending).
		k := RescoreTop - 1
		for k > 0 && r.topH[k-1] > h {
			r.top[k], r.topH[k] = r.top[k-1], r.topH[k-1]
			k--
		}
		r.top[k], r.topH[k] = int32(i), h
		worst = r.topH[RescoreTop-1]
	}
	return r
}

// finish merges the parts and rescores the closest signatures that were
// above the cut.
func (x *Index) finish(q []float32, parts []scanResult) (Neighbor, int) {
	best, rescored := None, 0
	type cand struct{ i, h int }
	var top []cand
	for _, p := range parts {
		rescored += p.rescored
		if p.best.Better(best) {
			best = p.best
		}
		for k, i := range p.top {
			if i >= 0 {
				top = append(top, cand{int(i), p.topH[k]})
			}
		}
	}
	// The RescoreTop closest of all parts' lists.
	for a := 1; a < len(top); a++ {
		for b := a; b > 0 && (top[b].h < top[b-1].h || top[b].h == top[b-1].h && top[b].i < top[b-1].i); b-- {
			top[b], top[b-1] = top[b-1], top[b]
		}
	}
	for _, c := range top[:min(len(top), x.rescoreTop)] {
		rescored++
		nb := Neighbor{Index: c.i, Similarity: Dot(q, x.vecs[c.i])}
		if nb.Better(best) {
			best = nb
		}
	}
	if best.Index >= 0 {
		best.ID = x.ids[best.Index]
	}
	return best, rescored
}

// NearestExact scans vectors from..n-1 exhaustively.
func (x *Index) NearestExact(q []float32, from, n int) Neighbor {
	best := None
	for i := from; i < min(n, x.Len()); i++ {
		nb := Neighbor{Index: i, Similarity: Dot(q, x.vecs[i])}
		if nb.Better(best) {
			best = nb
		}
	}
	if best.Index >= 0 {
		best.ID = x.ids[best.Index]
	}
	return best
}
