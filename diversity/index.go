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
// the Hamming distance of two signatures is about Binomial(bits, θ/π).
//
// A query with threshold τ is filtered in two stages. The first reads
// only the [HeadBits] head of each signature (a third of the bytes, the
// scan's cost is memory traffic) and drops every vector whose head
// distance is above the head cut; the few left are compared on the whole
// signature, and those within the full cut are rescored exactly. Each cut
// is the smallest distance that a vector exactly at τ exceeds with
// probability at most [MissProbability] (the binomial tail, computed, not
// a normal approximation); a vector closer than τ is at least as likely
// to pass. So a stored vector above τ is missed with probability below
// 2·MissProbability, and the benchmark measures agreement with the
// exhaustive scan. The [RescoreTop] vectors of smallest head distance are
// rescored too, so a query far from everything still reports a likely
// nearest neighbour.
//
// Rescoring uses [Dot], which adds in the same order as chromem-go, so a
// similarity found is bit-identical to chromem-go's and the decision at
// the boundary (similarity exactly τ) is the same. The vectors rescored
// are the stored float32 vectors themselves, shared with chromem-go's
// documents: the index adds only the signatures (96 bytes a vector).
//
// The nearest neighbour is exact whenever its similarity is at or above
// the threshold band (the cut); below it, it is the best of the rescored
// candidates, a lower bound of the true maximum.
//
// Storage is in fixed blocks, so adding never copies what is stored (no
// pause while a large slice grows), and a query splits its scan over the
// cores once the index is large.
//
// An Index is not safe for concurrent use on its own; [Store] guards it.
type Index struct {
	dim, padded int
	flips       [signatureRounds][]float32
	blocks      []*block
	n           int
	workers     int
	rescoreTop  int // RescoreTop; tests set 0 to check the cuts alone
}

// SignatureBits is the number of bits in a signature; the first
// [HeadBits] of them are the head the first stage reads.
const (
	SignatureBits = 768
	HeadBits      = 256
)

const (
	headWords = HeadBits / 64
	tailWords = (SignatureBits - HeadBits) / 64
)

// headSig and tailSig are one stored signature's two parts; fixed-size
// arrays let the scan unroll its Hamming distance without bounds checks.
type (
	headSig [headWords]uint64
	tailSig [tailWords]uint64
)

// blockSize is how many vectors one storage block holds.
const blockSize = 4096

type block struct {
	head [blockSize]headSig
	tail [blockSize]tailSig
	vecs [blockSize][]float32
	ids  [blockSize]string
}

// MissProbability bounds, per stage, the chance that the prefilter drops
// a stored vector exactly at the threshold.
const MissProbability = 1e-12

// RescoreTop is how many of the closest signatures (by head distance) are
// always rescored.
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
	x := &Index{dim: dim, padded: padded, workers: runtime.GOMAXPROCS(0), rescoreTop: RescoreTop}
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
func (x *Index) Len() int { return x.n }

// ID returns the id of the i-th vector added.
func (x *Index) ID(i int) string { return x.blocks[i/blockSize].ids[i%blockSize] }

// Vector returns the i-th vector added (not a copy).
func (x *Index) Vector(i int) []float32 { return x.blocks[i/blockSize].vecs[i%blockSize] }

// Signature is the prefilter's sketch of one vector: SignatureBits/64
// words, the head first.
type Signature []uint64

// signBuffers recycles Sign's scratch space (a query allocates nothing
// large, so the collector stays quiet under load).
var signBuffers sync.Pool

// Sign computes v's signature (v must have [Index.Dim] floats).
func (x *Index) Sign(v []float32) Signature {
	bp, _ := signBuffers.Get().(*[]float32)
	if bp == nil || len(*bp) != x.padded {
		b := make([]float32, x.padded)
		bp = &b
	}
	buf := *bp
	copy(buf, v)
	clear(buf[len(v):])
	for r := range x.flips {
		f := x.flips[r]
		for i := range buf {
			buf[i] *= f[i]
		}
		fwht(buf)
	}
	sig := make(Signature, SignatureBits/64)
	for i := 0; i < SignatureBits; i++ {
		if buf[i] >= 0 {
			sig[i/64] |= 1 << (i % 64)
		}
	}
	signBuffers.Put(bp)
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
	if x.n == len(x.blocks)*blockSize {
		x.blocks = append(x.blocks, new(block))
	}
	b, k := x.blocks[x.n/blockSize], x.n%blockSize
	b.head[k] = headSig(sig[:headWords])
	b.tail[k] = tailSig(sig[headWords:])
	b.vecs[k], b.ids[k] = v, id
	x.n++
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

// Nearest returns the stored vector most similar to q among the first n
// (see the type's doc for when it is exact), and how many vectors it
// rescored exactly.
func (x *Index) Nearest(q []float32, sig Signature, tau float64, n int) (Neighbor, int) {
	n = min(n, x.Len())
	if n == 0 {
		return None, 0
	}
	qs := indexQuery{v: q, head: headSig(sig[:headWords]), tail: tailSig(sig[headWords:]),
		cutHead: HammingCutBits(tau, HeadBits), cut: HammingCut(tau)}
	parts := 1
	if n >= parallelMin && x.workers > 1 {
		parts = min(x.workers, n/(parallelMin/2))
	}
	if parts == 1 {
		r := x.scan(&qs, 0, n)
		return x.finish(q, []scanResult{r})
	}
	res := make([]scanResult, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[p] = x.scan(&qs, lo, hi)
		}()
	}
	wg.Wait()
	return x.finish(q, res)
}

type indexQuery struct {
	v       []float32
	head    headSig
	tail    tailSig
	cutHead int
	cut     int
}

type scanResult struct {
	best     Neighbor
	rescored int
	top      [RescoreTop]int32 // smallest head distances not rescored, -1 = empty
	topH     [RescoreTop]int
}

// scan runs both stages over vectors lo..hi-1, block by block.
func (x *Index) scan(q *indexQuery, lo, hi int) scanResult {
	r := scanResult{best: None}
	for i := range r.top {
		r.top[i], r.topH[i] = -1, math.MaxInt
	}
	for lo < hi {
		b := x.blocks[lo/blockSize]
		start := lo % blockSize
		end := min(blockSize, start+hi-lo)
		x.scanBlock(q, b, lo-start, start, end, &r)
		lo += end - start
	}
	return r
}

func (x *Index) scanBlock(q *indexQuery, b *block, base, start, end int, r *scanResult) {
	q0, q1, q2, q3 := q.head[0], q.head[1], q.head[2], q.head[3]
	cutHead, cut := q.cutHead, q.cut
	worst := r.topH[RescoreTop-1] // the top list's largest, for a quick skip
	heads := b.head[start:end]
	for k := range heads {
		s := &heads[k]
		h1 := bits.OnesCount64(s[0]^q0) + bits.OnesCount64(s[1]^q1) +
			bits.OnesCount64(s[2]^q2) + bits.OnesCount64(s[3]^q3)
		if h1 > cutHead && h1 >= worst {
			continue
		}
		i := start + k
		if h1 <= cutHead {
			t, qt := &b.tail[i], &q.tail
			h := h1 + bits.OnesCount64(t[0]^qt[0]) + bits.OnesCount64(t[1]^qt[1]) +
				bits.OnesCount64(t[2]^qt[2]) + bits.OnesCount64(t[3]^qt[3]) +
				bits.OnesCount64(t[4]^qt[4]) + bits.OnesCount64(t[5]^qt[5]) +
				bits.OnesCount64(t[6]^qt[6]) + bits.OnesCount64(t[7]^qt[7])
			if h <= cut {
				r.rescored++
				nb := Neighbor{Index: base + i, Similarity: Dot(q.v, b.vecs[i])}
				if nb.Better(r.best) {
					r.best = nb
				}
				continue
			}
			if h1 >= worst {
				continue
			}
		}
		// Insert into the top list (sorted by head distance ascending).
		j := RescoreTop - 1
		for j > 0 && r.topH[j-1] > h1 {
			r.top[j], r.topH[j] = r.top[j-1], r.topH[j-1]
			j--
		}
		r.top[j], r.topH[j] = int32(base+i), h1
		worst = r.topH[RescoreTop-1]
	}
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
		nb := Neighbor{Index: c.i, Similarity: Dot(q, x.Vector(c.i))}
		if nb.Better(best) {
			best = nb
		}
	}
	if best.Index >= 0 {
		best.ID = x.ID(best.Index)
	}
	return best, rescored
}

// NearestExact scans vectors from..n-1 exhaustively.
func (x *Index) NearestExact(q []float32, from, n int) Neighbor {
	best := None
	for i := from; i < min(n, x.Len()); i++ {
		nb := Neighbor{Index: i, Similarity: Dot(q, x.Vector(i))}
		if nb.Better(best) {
			best = nb
		}
	}
	if best.Index >= 0 {
		best.ID = x.ID(best.Index)
	}
	return best
}
