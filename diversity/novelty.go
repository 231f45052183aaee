package diversity

import (
	"context"
	"fmt"
	"math"
	"sync"
)

// Novelty is the embedding novelty filter: a candidate whose nearest
// accepted neighbour is more similar than MaxSimilarity is a near
// duplicate. It is safe for concurrent use and never holds a lock while a
// model is called (it is given vectors, not texts).
//
// # Pending candidates
//
// A candidate found novel is held as pending until [Novelty.Settle] says
// whether it was kept; every later candidate is compared with the pending
// ones too, so two workers with near-copies of each other cannot both pass.
// The long scan of the store runs under the store's read lock only; the
// filter's own lock then covers the short part: vectors stored since that
// scan, the pending ones, and the reservation.
type Novelty struct {
	store *Store
	max   float64

	mu      sync.Mutex
	pending map[string]pending

	afterScan func() // test hook: runs between the scan and the lock
}

type pending struct {
	v   []float32
	sig Signature
}

// NewNovelty returns a filter over store rejecting similarities above
// maxSimilarity (cosine, in (-1, 1]).
func NewNovelty(store *Store, maxSimilarity float64) (*Novelty, error) {
	if math.IsNaN(maxSimilarity) || maxSimilarity <= -1 || maxSimilarity > 1 {
		return nil, fmt.Errorf("max similarity must be in (-1, 1], not %v", maxSimilarity)
	}
	return &Novelty{store: store, max: maxSimilarity, pending: map[string]pending{}}, nil
}

// Store is the store the filter checks against and fills.
func (n *Novelty) Store() *Store { return n.store }

// MaxSimilarity is the threshold.
func (n *Novelty) MaxSimilarity() float64 { return n.max }

// Decision is the outcome of [Novelty.Check].
type Decision struct {
	// Near is true when the candidate is a near duplicate (rejected).
	Near bool
	// NearestID is the id of the most similar accepted or pending vector
	// ("" when there is none) and Similarity its cosine similarity.
	NearestID  string
	Similarity float32
	// Rescored counts the exact dot products the check needed.
	Rescored int
}

// Check decides whether v (unit length, the store's size) is novel. A
// novel v is held as pending under id until [Novelty.Settle]; an id may be
// pending only once.
func (n *Novelty) Check(id string, v []float32) (Decision, error) {
	if err := n.store.CheckVector(v); err != nil {
		return Decision{}, fmt.Errorf("couldn't check %q: %w", id, err)
	}
	sig := n.store.Sign(v)
	best, seen, rescored := n.store.Nearest(v, sig, n.max)
	if n.afterScan != nil {
		n.afterScan()
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.pending[id]; dup {
		return Decision{}, fmt.Errorf("couldn't check %q: already pending", id)
	}
	// Vectors stored since the scan (settled while it ran) and every
	// pending one: few, compared exactly.
	if nb := n.store.NearestSince(v, seen); nb.Better(best) {
		best = nb
	}
	d := Decision{NearestID: best.ID, Similarity: best.Similarity, Rescored: rescored}
	if best.Index < 0 {
		d.Similarity = 0
	}
	for pid, p := range n.pending {
		s := Dot(v, p.v)
		d.Rescored++
		if d.NearestID == "" || s > d.Similarity || s == d.Similarity && pid < d.NearestID {
			d.NearestID, d.Similarity = pid, s
		}
	}
	if d.NearestID != "" && float64(d.Similarity) > n.max {
		d.Near = true
		return d, nil
	}
	n.pending[id] = pending{v: v, sig: sig}
	return d, nil
}

// Settle ends the pending state of id: kept stores its vector (the record
// was journaled), otherwise it is forgotten (dropped, or an error). An id
// that is not pending is ignored.
func (n *Novelty) Settle(ctx context.Context, id string, kept bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.pending[id]
	if !ok {
		return nil
	}
	delete(n.pending, id)
	if !kept {
		return nil
	}
	return n.store.Add(ctx, id, p.v, p.sig, nil)
}

// Pending is how many candidates are held as pending.
func (n *Novelty) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.pending)
}
