package diversity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/philippgille/chromem-go"
)

// Store holds the embeddings of accepted records in memory: a chromem-go
// collection keeps the documents (id, metadata, vector) and answers
// exhaustive queries; an [Index] over the same vectors (shared, not
// copied) answers the novelty filter's nearest-neighbour queries fast.
//
// The store is never persisted by chromem-go (NewPersistentDB names its
// files by 32 bits of a hash, which collide at scale): the run's
// append-only vectors file is the record, and a resumed run rebuilds the
// store from it. The collection's embedding function refuses to embed, so
// chromem-go can never fall back to its default remote embedder: every
// vector comes from the caller.
//
// A Store is safe for concurrent use: queries share a read lock, Add takes
// the write lock.
type Store struct {
	mu  sync.RWMutex
	col *chromem.Collection
	idx *Index
}

// errNoEmbedding is what the collection's embedding function returns: the
// store only takes vectors its caller computed.
var errNoEmbedding = errors.New("the diversity store embeds nothing itself: pass vectors")

// NewStore returns an empty store for vectors of dim floats.
func NewStore(dim int) (*Store, error) {
	if dim < 1 {
		return nil, fmt.Errorf("vector size must be ≥ 1, not %d", dim)
	}
	db := chromem.NewDB()
	col, err := db.CreateCollection("accepted", nil, func(context.Context, string) ([]float32, error) {
		return nil, errNoEmbedding
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't create the diversity collection: %w", err)
	}
	return &Store{col: col, idx: NewIndex(dim)}, nil
}

// Dim is the size of the vectors the store holds.
func (s *Store) Dim() int { return s.idx.Dim() }

// Len is how many vectors the store holds.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.idx.Len()
}

// Sign returns v's prefilter signature; safe to call without any lock.
func (s *Store) Sign(v []float32) Signature { return s.idx.Sign(v) }

// CheckVector returns an error unless v has the store's size, finite
// values and unit length (within chromem-go's tolerance).
func (s *Store) CheckVector(v []float32) error {
	if len(v) != s.Dim() {
		return fmt.Errorf("vector has %d floats, the store holds %d", len(v), s.Dim())
	}
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if math.IsNaN(ss) || math.Abs(math.Sqrt(ss)-1) >= 1e-6 {
		return fmt.Errorf("vector is not unit length (norm %v)", math.Sqrt(ss))
	}
	return nil
}

// Add stores v under id (v is kept, not copied: the caller must not
// change it afterwards). sig is v's signature (nil: computed here). Ids
// must be unique: a second vector under a stored id is an error.
func (s *Store) Add(ctx context.Context, id string, v []float32, sig Signature, meta map[string]string) error {
	if err := s.CheckVector(v); err != nil {
		return fmt.Errorf("couldn't store vector of %q: %w", id, err)
	}
	if sig == nil {
		sig = s.Sign(v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.col.Count()
	if err := s.col.AddDocument(ctx, chromem.Document{ID: id, Metadata: meta, Embedding: v}); err != nil {
		return fmt.Errorf("couldn't store vector of %q: %w", id, err)
	}
	if s.col.Count() == before {
		// chromem-go replaced the document of that id; the index keeps the
		// first vector. Callers never store an id twice (the novelty
		// filter holds ids as pending, a rebuild keeps one per unit).
		return fmt.Errorf("couldn't store vector of %q: already stored", id)
	}
	s.idx.Add(id, v, sig)
	return nil
}

// Nearest returns the stored vector most similar to q through the index
// (exact whenever the similarity is near tau or above; see [Index]), the
// number of vectors it looked at (all stored at the time: pass it to
// [Store.NearestSince] to cover vectors added since) and how many it
// rescored exactly.
func (s *Store) Nearest(q []float32, sig Signature, tau float64) (nb Neighbor, seen, rescored int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen = s.idx.Len()
	nb, rescored = s.idx.Nearest(q, sig, tau, seen)
	return nb, seen, rescored
}

// NearestSince scans the vectors added at or after position from
// exhaustively.
func (s *Store) NearestSince(q []float32, from int) Neighbor {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.idx.NearestExact(q, from, s.idx.Len())
}

// NearestExact asks chromem-go for the nearest stored vector with its
// exhaustive query; [None] when the store is empty. It asks for
// min(1, Count()) results: chromem-go refuses nResults above Count() (so
// every query of an empty collection). The reference the index is
// measured against.
func (s *Store) NearestExact(ctx context.Context, q []float32) (Neighbor, error) {
	res, err := s.QueryExact(ctx, q, 1)
	if err != nil || len(res) == 0 {
		return None, err
	}
	return res[0], nil
}

// QueryExact returns up to k stored vectors most similar to q, best first,
// from chromem-go's exhaustive query; k is capped at the number stored
// (nothing when the store is empty).
func (s *Store) QueryExact(ctx context.Context, q []float32, k int) ([]Neighbor, error) {
	if k < 1 {
		return nil, fmt.Errorf("k must be ≥ 1, not %d", k)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	k = min(k, s.col.Count())
	if k == 0 {
		return nil, nil
	}
	res, err := s.col.QueryEmbedding(ctx, q, k, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("couldn't query the diversity store: %w", err)
	}
	out := make([]Neighbor, len(res))
	for i, r := range res {
		out[i] = Neighbor{Index: -1, ID: r.ID, Similarity: r.Similarity}
	}
	return out, nil
}

// Each calls fn for every stored vector in the order they were added (fn
// must not keep or change v).
func (s *Store) Each(fn func(id string, v []float32)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.idx.Len() {
		fn(s.idx.ID(i), s.idx.Vector(i))
	}
}
