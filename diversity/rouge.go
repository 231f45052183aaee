package diversity

import (
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// DefaultRougeThreshold is Self-Instruct's cut-off: a candidate whose
// ROUGE-L F against any pool entry is above it counts as a near duplicate.
const DefaultRougeThreshold = 0.7

// Tokenize splits text into ROUGE tokens the way the Self-Instruct filter
// does (rouge_score's default tokenizer without stemming): lowercase, then
// every run of characters other than a-z and 0-9 separates tokens.
//
// Letters outside ASCII are separators, as in the reference, so text in
// other scripts tokenizes to almost nothing and never looks like a
// duplicate; only case mappings that land on ASCII (the Kelvin sign K → k)
// are kept. We follow the reference rather than improve on it so that
// scores match published Self-Instruct numbers.
func Tokenize(text string) []string {
	var toks []string
	tz := tokenizer{s: text}
	for tok, ok := tz.next(); ok; tok, ok = tz.next() {
		toks = append(toks, string(tok))
	}
	return toks
}

// tokenizer yields the tokens of s without allocating per token; the
// returned slice is only valid until the next call.
type tokenizer struct {
	s   string
	i   int
	buf []byte
}

func (t *tokenizer) next() ([]byte, bool) {
	t.buf = t.buf[:0]
	for t.i < len(t.s) {
		c := t.s[t.i]
		if c < utf8.RuneSelf {
			t.i++
		} else {
			r, size := utf8.DecodeRuneInString(t.s[t.i:])
			t.i += size
			c = 0 // separator unless it lowercases to ASCII
			if l := unicode.ToLower(r); l < utf8.RuneSelf {
				c = byte(l)
			}
		}
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			t.buf = append(t.buf, c)
		case 'A' <= c && c <= 'Z':
			t.buf = append(t.buf, c+'a'-'A')
		case len(t.buf) > 0:
			return t.buf, true
		}
	}
	return t.buf, len(t.buf) > 0
}

// RougeL is the ROUGE-L F-measure of two texts: with l the length of the
// longest common subsequence of their tokens, P = l/len(a), R = l/len(b)
// and F = 2PR/(P+R). It is symmetric, and 0 if either text has no token.
//
// It is the plain reference implementation (tokenize, full dynamic
// program); use a [Pool] to compare one text against many.
func RougeL(a, b string) float64 {
	ta, tb := Tokenize(a), Tokenize(b)
	return fMeasure(LCSLength(ta, tb), len(ta), len(tb))
}

// fMeasure is 2PR/(P+R) written as 2l/(m+n): the same number without the
// rounding of the intermediate P and R, and every path in this file uses
// it, so the pool and the reference agree to the last bit.
func fMeasure(lcs, m, n int) float64 {
	if lcs == 0 {
		return 0
	}
	return float64(2*lcs) / float64(m+n)
}

// LCSLength is the length of the longest common subsequence of a and b,
// by the textbook O(len(a)·len(b)) dynamic program over two rows.
func LCSLength(a, b []string) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			switch {
			case a[i] == b[j]:
				cur[j+1] = prev[j] + 1
			case prev[j+1] >= cur[j]:
				cur[j+1] = prev[j+1]
			default:
				cur[j+1] = cur[j]
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Match is a pool entry and its ROUGE-L F against a candidate.
type Match struct {
	Index int
	Score float64
}

// Pool holds instructions for fast ROUGE-L comparison of new candidates
// against all of them, the check Self-Instruct runs on every generated
// task. Each entry is tokenized once and its tokens interned as integers.
// A query looks only at entries sharing one of the candidate's rarest
// tokens when a high score is all that matters (prefix filtering), then
// prunes entries by upper bounds on the LCS, cheapest first: the lengths
// (LCS ≤ min(m, n)), a 128-bit token signature, and the bag of words
// (LCS ≤ multiset overlap). Only the survivors get an LCS, computed
// bit-parallel, and big pools are split over several goroutines. Every
// answer equals the plain dynamic program's ([RougeL]) to the last bit.
//
// A Pool is safe for concurrent use: queries share a read lock and run in
// parallel with each other, Add and AddIfDistinct take the write lock.
// Entries are numbered from 0 in the order they were added. Token ids and
// offsets are int32: a pool holds up to 2³¹ tokens in all.
type Pool struct {
	mu    sync.RWMutex
	vocab map[string]int32
	texts []string
	offs  []int32   // entry e's tokens are toks[offs[e]:offs[e+1]]
	toks  []int32   // token ids of all entries, back to back
	post  [][]int32 // token id → ascending indexes of the entries holding it
	last  []int32   // token id → last entry appended to post, to add each entry once
	sigs  []signature

	workers int
	queries sync.Pool // *query scratch, reused between calls
}

// NewPool returns an empty pool that parallelizes queries over
// GOMAXPROCS goroutines once it is big enough to profit.
func NewPool() *Pool {
	return &Pool{vocab: make(map[string]int32), offs: []int32{0}}
}

// SetWorkers sets how many goroutines one query may use; n < 1 means
// GOMAXPROCS. Lower it when many goroutines query the pool at once.
func (p *Pool) SetWorkers(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.workers = n
}

// Len is the number of entries.
func (p *Pool) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.texts)
}

// Text returns entry i as it was added.
func (p *Pool) Text(i int) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.texts[i]
}

// Add appends an instruction; its index is Len()-1 afterwards.
func (p *Pool) Add(instruction string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.add(instruction)
}

func (p *Pool) add(text string) {
	e := int32(len(p.texts))
	p.texts = append(p.texts, text)
	var sig signature
	tz := tokenizer{s: text}
	for tok, ok := tz.next(); ok; tok, ok = tz.next() {
		id, known := p.vocab[string(tok)]
		if !known {
			id = int32(len(p.post))
			p.vocab[string(tok)] = id
			p.post = append(p.post, nil)
			p.last = append(p.last, -1)
		}
		p.toks = append(p.toks, id)
		sig.set(id)
		if p.last[id] != e {
			p.last[id] = e
			p.post[id] = append(p.post[id], e)
		}
	}
	p.offs = append(p.offs, int32(len(p.toks)))
	p.sigs = append(p.sigs, sig)
}

// signature is a 128-bit set of an entry's token ids, hashed: a token
// the entry holds always has its bit set, so summing the candidate's
// token counts over the bits both sides share bounds the multiset
// overlap from above, at the cost of two ANDs and a few bit scans.
type signature [2]uint64

func sigBit(id int32) uint {
	return uint((uint32(id) * 0x9E3779B1) >> 25) // Fibonacci hashing to 7 bits
}

func (s *signature) set(id int32) {
	b := sigBit(id)
	s[b/64] |= 1 << (b % 64)
}

// AddIfDistinct adds instruction unless it is a near duplicate (score
// above threshold) of an entry, as one atomic step, so that concurrent
// generators cannot both add two near copies of each other. It returns
// the new entry's index and true, or the index of the lowest-numbered
// near duplicate and false.
func (p *Pool) AddIfDistinct(instruction string, threshold float64) (index int, added bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, dup := p.findAbove(instruction, threshold); dup {
		return m.Index, false
	}
	p.add(instruction)
	return len(p.texts) - 1, true
}

// IsNearDuplicate reports whether candidate's ROUGE-L F against some entry
// is above threshold ([DefaultRougeThreshold] in Self-Instruct). It stops
// at the first such entry.
func (p *Pool) IsNearDuplicate(candidate string, threshold float64) bool {
	_, dup := p.FindNearDuplicate(candidate, threshold)
	return dup
}

// FindNearDuplicate returns the lowest-numbered entry whose ROUGE-L F
// against candidate is above threshold, and whether there is one. Unlike
// [Pool.MaxScore] it need not score every plausible entry: it looks only
// at entries sharing one of the candidate's rarest tokens when that is
// cheaper than a scan, and stops at the first hit.
func (p *Pool) FindNearDuplicate(candidate string, threshold float64) (Match, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.findAbove(candidate, threshold)
}

// MaxScore returns the highest ROUGE-L F of candidate against the pool and
// the index of that entry; on ties the lowest index. It returns (0, -1)
// when the pool is empty or no entry shares a token with candidate.
func (p *Pool) MaxScore(candidate string) (score float64, nearest int) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	q := p.prepare(candidate)
	defer p.release(q)
	if len(q.known) == 0 {
		return 0, -1
	}
	// First score the few entries holding the candidate's rarest tokens: a
	// near duplicate almost always shares one, so this finds a high score
	// cheaply, and that score then limits which entries can beat it.
	p.sortByRarity(q)
	seed := Match{Index: -1}
	w := &worker{}
	budget := max(256, len(p.texts)/64)
	for _, s := range q.order {
		post := p.post[q.syms[s]]
		if budget -= len(post); budget < 0 {
			break
		}
		for _, e := range post {
			seed = w.improve(p, q, int(e), seed)
		}
	}
	need := 1 // least LCS an entry needs to reach the seed score
	for need <= len(q.known) && fMeasure(need, q.m, need) < seed.Score {
		need++
	}
	best := p.maxOver(q, p.prefixCandidates(q, need), seed)
	return best.Score, best.Index
}

// improve scores entry e and returns it if it beats best: a higher score,
// or the same score at a lower index.
func (w *worker) improve(p *Pool, q *query, e int, best Match) Match {
	if s, ok := w.score(p, q, e, best.Score, best.Index >= 0 && e < best.Index); ok {
		return Match{Index: e, Score: s}
	}
	return best
}

// maxOver returns the best of seed and the entries ids (all entries if
// ids is nil), splitting the work over goroutines that share the best
// score found so far to prune each other's entries.
func (p *Pool) maxOver(q *query, ids []int32, seed Match) Match {
	count := len(p.texts)
	if ids != nil {
		count = len(ids)
	}
	var global atomic.Uint64 // best score any worker has seen, as float bits
	global.Store(math.Float64bits(seed.Score))
	results := parallel(p, count, func(w *worker, lo, hi int) Match {
		best := seed
		for i := lo; i < hi; i++ {
			e := i
			if ids != nil {
				e = int(ids[i])
			}
			// An entry tying another worker's best may still win on its
			// lower index, so that score prunes only what is below it.
			floor, orEqual := best.Score, best.Index >= 0 && e < best.Index
			if g := math.Float64frombits(global.Load()); g > floor {
				floor, orEqual = g, true
			}
			if s, ok := w.score(p, q, e, floor, orEqual); ok {
				best = Match{Index: e, Score: s}
				for {
					old := global.Load()
					if math.Float64frombits(old) >= s || global.CompareAndSwap(old, math.Float64bits(s)) {
						break
					}
				}
			}
		}
		return best
	})
	best := seed
	for _, r := range results {
		if r.Score > best.Score || (r.Score == best.Score && r.Index >= 0 && r.Index < best.Index) {
			best = r
		}
	}
	return best
}

// Similar returns the k entries most similar to candidate (highest score
// first, ties by index, entries scoring 0 left out) and the mean score
// over the whole pool: Self-Instruct's most_similar and
// avg_similarity_score. It scores every entry that shares a token with
// candidate, so it costs more than MaxScore.
func (p *Pool) Similar(candidate string, k int) (top []Match, mean float64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.texts) == 0 {
		return nil, 0
	}
	q := p.prepare(candidate)
	defer p.release(q)
	if len(q.known) == 0 {
		return nil, 0
	}
	type part struct {
		top []Match
		sum float64
	}
	parts := parallel(p, len(p.texts), func(w *worker, lo, hi int) part {
		var pt part
		for e := lo; e < hi; e++ {
			s, ok := w.score(p, q, e, 0, false)
			if ok {
				pt.sum += s
				pt.top = insertTop(pt.top, Match{e, s}, k)
			}
		}
		return pt
	})
	var sum float64
	for _, pt := range parts {
		sum += pt.sum
		for _, m := range pt.top {
			top = insertTop(top, m, k)
		}
	}
	return top, sum / float64(len(p.texts))
}

// insertTop inserts m into top (sorted by score desc, index asc) and keeps
// at most k entries.
func insertTop(top []Match, m Match, k int) []Match {
	i, _ := slices.BinarySearchFunc(top, m, func(a, b Match) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return a.Index - b.Index
	})
	if i >= k {
		return top
	}
	top = slices.Insert(top, i, m)
	if len(top) > k {
		top = top[:k]
	}
	return top
}

// findAbove is FindNearDuplicate without the lock.
func (p *Pool) findAbove(candidate string, threshold float64) (Match, bool) {
	if threshold < 0 { // every entry scores at least 0
		if len(p.texts) == 0 {
			return Match{Index: -1}, false
		}
		return Match{Index: 0, Score: RougeL(candidate, p.texts[0])}, true
	}
	q := p.prepare(candidate)
	defer p.release(q)
	k := len(q.known)
	if k == 0 {
		return Match{Index: -1}, false
	}
	// The best any entry can do with an LCS of l is to have length l; the
	// smallest such l that beats the threshold is what an entry needs.
	need := 1
	for need <= k && !(fMeasure(need, q.m, need) > threshold) {
		need++
	}
	if need > k {
		return Match{Index: -1}, false
	}
	ids := p.prefixCandidates(q, need)
	count := len(p.texts)
	if ids != nil {
		count = len(ids)
	}
	var hit atomic.Int64 // lowest index found so far
	hit.Store(math.MaxInt64)
	parallel(p, count, func(w *worker, lo, hi int) struct{} {
		for i := lo; i < hi; i++ {
			e := i
			if ids != nil {
				e = int(ids[i])
			}
			if int64(e) > hit.Load() {
				if ids == nil {
					break // ascending scan: a lower entry already qualifies
				}
				continue
			}
			if _, ok := w.score(p, q, e, threshold, false); ok {
				for {
					old := hit.Load()
					if old <= int64(e) || hit.CompareAndSwap(old, int64(e)) {
						break
					}
				}
				if ids == nil {
					break
				}
			}
		}
		return struct{}{}
	})
	if h := int(hit.Load()); h != math.MaxInt64 {
		s, _ := (&worker{}).score(p, q, h, 0, true)
		return Match{Index: h, Score: s}, true
	}
	return Match{Index: -1}, false
}

// prefixCandidates returns, in no particular order, the entries that
// share at least one of the candidate's rarest tokens, or nil when a scan
// of the whole pool is cheaper. An entry whose multiset overlap with the
// candidate reaches need matches at least need of the candidate's k token
// occurrences, so it must hold one of any k-need+1 of them: we pick those
// with the shortest posting lists (prefix filtering, as in set-similarity
// joins).
func (p *Pool) prefixCandidates(q *query, need int) []int32 {
	k := len(q.known)
	p.sortByRarity(q)
	order := q.order
	covered, cost := 0, 0
	var chosen int
	for chosen = 0; chosen < len(order) && covered < k-need+1; chosen++ {
		s := order[chosen]
		covered += int(q.count[s])
		cost += len(p.post[q.syms[s]])
	}
	// Gathering candidates costs more per entry than a sequential scan's
	// bound checks, so only filter when it removes most of the pool.
	if cost*4 > len(p.texts) {
		return nil
	}
	if words := (len(p.texts) + 63) / 64; len(q.seen) < words {
		q.seen = make([]uint64, words)
	}
	ids := q.ids[:0]
	for _, s := range order[:chosen] {
		for _, e := range p.post[q.syms[s]] {
			if q.seen[e/64]&(1<<(e%64)) == 0 {
				q.seen[e/64] |= 1 << (e % 64)
				ids = append(ids, e)
			}
		}
	}
	for _, e := range ids {
		q.seen[e/64] = 0
	}
	q.ids = ids
	if ids == nil {
		ids = []int32{}
	}
	return ids
}

// sortByRarity orders the candidate's symbols by how many entries hold
// them, rarest first, into q.order (once per query).
func (p *Pool) sortByRarity(q *query) {
	if q.sorted {
		return
	}
	q.sorted = true
	q.order = q.order[:0]
	for s := range q.syms {
		q.order = append(q.order, int32(s))
	}
	slices.SortFunc(q.order, func(a, b int32) int {
		return len(p.post[q.syms[a]]) - len(p.post[q.syms[b]])
	})
}

// minPerWorker is how many entries a goroutine must have to itself before
// a query is split; below that the fan-out costs more than it saves.
// Tests lower it to exercise the parallel path on small pools.
var minPerWorker = 8192

// parallel splits [0, count) into ascending ranges, runs fn on each in its
// own goroutine (or inline for small counts) and returns the results in
// range order.
func parallel[T any](p *Pool, count int, fn func(w *worker, lo, hi int) T) []T {
	n := p.workers
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	n = min(n, count/minPerWorker)
	if n <= 1 {
		return []T{fn(&worker{}, 0, count)}
	}
	out := make([]T, n)
	var wg sync.WaitGroup
	for i := range n {
		lo, hi := count*i/n, count*(i+1)/n
		wg.Go(func() { out[i] = fn(&worker{}, lo, hi) })
	}
	wg.Wait()
	return out
}

// query is a candidate prepared for comparison: its interned tokens, and
// the match masks of the bit-parallel LCS.
type query struct {
	m      int     // tokens in the candidate, including ones the pool never saw
	known  []int32 // the candidate's tokens the pool knows, as local symbols
	syms   []int32 // local symbol → token id
	count  []int32 // local symbol → occurrences in the candidate
	slot   []int32 // token id → local symbol + 1 (0: not in the candidate)
	words  int     // 64-bit words per bit vector
	peq    []uint64
	mask   uint64 // valid bits of the last word
	sig    signature
	sigW   [128]int32 // bit → candidate token occurrences hashed to it
	order  []int32    // local symbols, rarest in the pool first
	sorted bool       // order is filled in
	ids    []int32
	seen   []uint64 // entry bitset for gathering candidates without repeats
	tz     tokenizer
}

func (p *Pool) prepare(candidate string) *query {
	q, _ := p.queries.Get().(*query)
	if q == nil {
		q = &query{}
	}
	if n := len(p.post); len(q.slot) < n {
		q.slot = append(q.slot, make([]int32, n-len(q.slot))...)
	}
	q.m, q.known, q.syms, q.count, q.sorted = 0, q.known[:0], q.syms[:0], q.count[:0], false
	q.tz = tokenizer{s: candidate, buf: q.tz.buf}
	for tok, ok := q.tz.next(); ok; tok, ok = q.tz.next() {
		q.m++
		id, known := p.vocab[string(tok)]
		if !known {
			continue // can never match: it only counts in the length
		}
		if q.slot[id] == 0 {
			q.syms = append(q.syms, id)
			q.count = append(q.count, 0)
			q.slot[id] = int32(len(q.syms))
		}
		s := q.slot[id] - 1
		q.count[s]++
		q.known = append(q.known, s)
	}
	k := len(q.known)
	q.words = (k + 63) / 64
	q.peq = slices.Grow(q.peq[:0], len(q.syms)*q.words)[:len(q.syms)*q.words]
	clear(q.peq)
	for i, s := range q.known {
		q.peq[int(s)*q.words+i/64] |= 1 << (i % 64)
	}
	q.mask = ^uint64(0)
	if k%64 != 0 {
		q.mask = 1<<(k%64) - 1
	}
	q.sig = signature{}
	clear(q.sigW[:])
	for s, id := range q.syms {
		q.sig.set(id)
		q.sigW[sigBit(id)] += q.count[s]
	}
	return q
}

func (p *Pool) release(q *query) {
	for _, id := range q.syms {
		q.slot[id] = 0
	}
	q.tz.s = ""
	p.queries.Put(q)
}

// worker is one goroutine's scratch space for a query.
type worker struct {
	rem  []int32
	text []int32
	v    []uint64
	need [2]needTable // for floors that exclude and include equality
}

// needTable caches, for one floor, the least LCS length at which an entry
// of n tokens passes it (more than n if it never can). Comparing integers
// keeps divisions out of the per-entry path; entries are computed as
// lengths turn up and dropped when the floor moves.
type needTable struct {
	floor float64
	vals  []int32
	gen   []uint32 // vals[n] is current if gen[n] == cur
	cur   uint32
}

// needFor is the least LCS at which an entry of n tokens scores above
// floor (at least floor, with orEqual).
func (w *worker) needFor(q *query, n int, floor float64, orEqual bool) int {
	t := &w.need[0]
	if orEqual {
		t = &w.need[1]
	}
	if t.cur == 0 || t.floor != floor {
		t.floor = floor
		if t.cur++; t.cur == 0 { // wrapped: old generations would look current
			clear(t.gen)
			t.cur = 1
		}
	}
	if n >= len(t.vals) {
		t.vals = append(t.vals, make([]int32, n+1-len(t.vals))...)
		t.gen = append(t.gen, make([]uint32, n+1-len(t.gen))...)
	}
	if t.gen[n] != t.cur {
		admit := func(l int) bool {
			s := fMeasure(l, q.m, n)
			return s > floor || (orEqual && s == floor)
		}
		// Start from the real-valued solution and step to the exact
		// integer with the comparison the reference makes.
		l := max(1, int(floor*float64(q.m+n)/2))
		for l > 1 && admit(l-1) {
			l--
		}
		for l <= n && !admit(l) {
			l++
		}
		t.vals[n], t.gen[n] = int32(l), t.cur
	}
	return int(t.vals[n])
}

// score returns entry e's ROUGE-L F against q if it is above floor (or
// equal to it, with orEqual). It checks, cheapest first, the bound from
// the lengths, the signature bound and the bag-of-words bound, and
// computes the LCS only if all of them pass.
func (w *worker) score(p *Pool, q *query, e int, floor float64, orEqual bool) (float64, bool) {
	toks := p.toks[p.offs[e]:p.offs[e+1]]
	n := len(toks)
	if n == 0 {
		return 0, false
	}
	need := w.needFor(q, n, floor, orEqual)
	if min(len(q.known), n) < need {
		return 0, false
	}
	ub := 0
	for i, x := range [2]uint64{p.sigs[e][0] & q.sig[0], p.sigs[e][1] & q.sig[1]} {
		for ; x != 0; x &= x - 1 {
			ub += int(q.sigW[i*64+bits.TrailingZeros64(x)])
		}
	}
	if ub < need {
		return 0, false
	}
	// Bag of words: keep only the tokens the candidate has (the others
	// cannot be in a common subsequence) and count the multiset overlap.
	w.rem = append(w.rem[:0], q.count...)
	text := w.text[:0]
	overlap := 0
	for _, id := range toks {
		s := q.slot[id] - 1
		if s < 0 {
			continue
		}
		text = append(text, s)
		if w.rem[s] > 0 {
			w.rem[s]--
			overlap++
		}
	}
	w.text = text
	if overlap < need {
		return 0, false
	}
	l := w.lcs(q, text)
	if l < need {
		return 0, false
	}
	return fMeasure(l, q.m, n), true
}

// lcs is the LCS length of the candidate and text by the bit-parallel
// algorithm of Allison–Dix/Hyyrö: one bit per candidate token, O(len(text))
// word operations per 64 candidate tokens. A zero bit in v marks a
// candidate position that ends a longer common subsequence.
func (w *worker) lcs(q *query, text []int32) int {
	if q.words == 1 {
		v := ^uint64(0)
		for _, s := range text {
			u := v & q.peq[s]
			v = (v + u) | (v &^ u)
		}
		return bits.OnesCount64(^v & q.mask)
	}
	nw := q.words
	w.v = slices.Grow(w.v[:0], nw)[:nw]
	v := w.v
	for j := range v {
		v[j] = ^uint64(0)
	}
	for _, s := range text {
		pm := q.peq[int(s)*nw : int(s)*nw+nw]
		var carry uint64
		for j := range v {
			u := v[j] & pm[j]
			var sum uint64
			sum, carry = bits.Add64(v[j], u, carry)
			v[j] = sum | (v[j] &^ u)
		}
	}
	l := bits.OnesCount64(^v[nw-1] & q.mask)
	for _, x := range v[:nw-1] {
		l += bits.OnesCount64(^x)
	}
	return l
}
