package diversity

import (
	"math"
	"sync"
)

// HammingCut is the largest Hamming distance of whole signatures the
// prefilter rescores for threshold tau.
func HammingCut(tau float64) int { return HammingCutBits(tau, SignatureBits) }

// cutKey names one computed cut.
type cutKey struct {
	tau  float64
	bits int
}

// cuts caches HammingCutBits: a run uses one threshold, and the tail sum
// costs more than a small scan.
var cuts sync.Map // cutKey → int

// HammingCutBits is the smallest distance c such that two signatures of
// nbits bits, of vectors exactly at cosine tau, differ in more than c bits
// with probability at most [MissProbability]: the upper tail of
// Binomial(nbits, acos(tau)/π), summed exactly in log space.
func HammingCutBits(tau float64, nbits int) int {
	tau = min(max(tau, -1), 1)
	key := cutKey{tau, nbits}
	if c, ok := cuts.Load(key); ok {
		return c.(int)
	}
	c := binomialCut(nbits, math.Acos(tau)/math.Pi, MissProbability)
	cuts.Store(key, c)
	return c
}

// binomialCut returns the smallest c with P(Binomial(n, p) > c) ≤ eps.
func binomialCut(n int, p, eps float64) int {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	lp, lq := math.Log(p), math.Log1p(-p)
	lgN, _ := math.Lgamma(float64(n) + 1)
	logTerm := func(k int) float64 {
		a, _ := math.Lgamma(float64(k) + 1)
		b, _ := math.Lgamma(float64(n-k) + 1)
		return lgN - a - b + float64(k)*lp + float64(n-k)*lq
	}
	// Add terms from k = n down; tail(c) = Σ_{k>c}. The first c (going
	// down) whose tail exceeds eps is one too low.
	tail := 0.0
	for c := n - 1; c >= 0; c-- {
		tail += math.Exp(logTerm(c + 1))
		if tail > eps {
			return c + 1
		}
	}
	return 0
}
