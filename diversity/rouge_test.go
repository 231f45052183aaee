package diversity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"only punctuation", " ,.!? -- ", nil},
		{"lowercase and punctuation", "Hello, World! It's 2024.", []string{"hello", "world", "it", "s", "2024"}},
		{"digits and letters stay together", "GPT3 vs gpt-4", []string{"gpt3", "vs", "gpt", "4"}},
		{"underscore separates", "snake_case", []string{"snake", "case"}},
		{"non-ASCII letters separate", "café au lait", []string{"caf", "au", "lait"}},
		{"other scripts vanish", "日本語 text", []string{"text"}},
		{"Kelvin sign folds to ASCII", "\u212Aelvin", []string{"kelvin"}},
		{"newlines and tabs", "one\ttwo\nthree", []string{"one", "two", "three"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Tokenize(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLCSLength(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"a b c", "", 0},
		{"a b c", "a b c", 3},
		{"a b c d e", "a c e", 3},
		{"a b c d", "d c b a", 1},
		{"a a a", "a a", 2},
		{"x a y b z c", "a b c", 3},
		{"the cat sat on the mat", "the cat lay on the mat", 5},
	}
	for _, tt := range tests {
		a, b := strings.Fields(tt.a), strings.Fields(tt.b)
		if got := LCSLength(a, b); got != tt.want {
			t.Errorf("LCSLength(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := LCSLength(b, a); got != tt.want {
			t.Errorf("LCSLength(%q, %q) = %d, want %d (swapped)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestRougeL(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want float64
	}{
		{"identical", "Write a poem about the sea.", "write a poem about the sea", 1},
		{"one word swapped", "the cat sat on the mat", "the cat lay on the mat", 10.0 / 12},
		{"subsequence", "a b c d e", "a c e", 6.0 / 8},
		{"repeats", "a a a", "a a", 4.0 / 5},
		{"reordered", "a b c d", "d c b a", 2.0 / 8},
		// P = 4/6, R = 4/7, F = 2PR/(P+R) = 8/13.
		{"paraphrase", "Give three tips for staying healthy.", "Give me three tips to stay healthy", 8.0 / 13},
		{"disjoint", "sort the list", "translate this poem", 0},
		{"empty side", "", "anything at all", 0},
		{"no tokens either side", "!!!", "???", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RougeL(tt.a, tt.b); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("RougeL(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := RougeL(tt.b, tt.a); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("RougeL is not symmetric: %v", got)
			}
		})
	}
}

// naiveMaxScore is the plain filter: tokenize everything again and run the
// full dynamic program against every entry.
func naiveMaxScore(pool []string, candidate string) (float64, int) {
	best, nearest := 0.0, -1
	for i, s := range pool {
		if f := RougeL(candidate, s); f > best {
			best, nearest = f, i
		}
	}
	return best, nearest
}

// randomTexts builds n texts over a vocabulary whose word frequencies fall
// off steeply, like real instructions; a few texts are long enough to need
// several 64-bit words in the bit-parallel LCS.
func randomTexts(rng *rand.Rand, n, vocab int) []string {
	out := make([]string, n)
	for i := range out {
		size := rng.IntN(20)
		switch rng.IntN(20) {
		case 0:
			size = 60 + rng.IntN(100)
		case 1:
			size = 0
		}
		words := make([]string, size)
		for j := range words {
			// Squaring a uniform draw favours small word numbers.
			r := rng.Float64()
			words[j] = fmt.Sprintf("w%d", int(r*r*float64(vocab)))
		}
		out[i] = strings.Join(words, " ")
	}
	return out
}

// mutate returns a near copy of s: a word dropped, replaced or added.
func mutate(rng *rand.Rand, s string, vocab int) string {
	words := strings.Fields(s)
	for range 1 + rng.IntN(2) {
		j := rng.IntN(len(words) + 1)
		switch rng.IntN(3) {
		case 0:
			if j < len(words) {
				words = slices.Delete(words, j, j+1)
			}
		case 1:
			if j < len(words) {
				words[j] = fmt.Sprintf("w%d", rng.IntN(vocab))
			}
		default:
			words = slices.Insert(words, j, fmt.Sprintf("new%d", rng.IntN(5)))
		}
	}
	return strings.Join(words, ", ")
}

// withParallelism runs f with queries split over several goroutines even
// for tiny pools.
func withParallelism(t *testing.T, p *Pool, workers int) {
	t.Helper()
	old := minPerWorker
	minPerWorker = 8
	t.Cleanup(func() { minPerWorker = old })
	p.SetWorkers(workers)
}

func TestPoolMatchesNaive(t *testing.T) {
	thresholds := []float64{-0.5, 0, 0.2, 0.5, 0.7, 0.75, 0.9, 1}
	for _, vocab := range []int{8, 60, 2000} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("vocab=%d/workers=%d", vocab, workers), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(42, uint64(vocab)))
				texts := randomTexts(rng, 300, vocab)
				p := NewPool()
				if workers > 1 {
					withParallelism(t, p, workers)
				}
				for _, s := range texts {
					p.Add(s)
				}
				cands := randomTexts(rng, 150, vocab)
				for range 150 {
					cands = append(cands, mutate(rng, texts[rng.IntN(len(texts))], vocab))
				}
				cands = append(cands, "", "unseen words only", texts[0], texts[299])
				for _, c := range cands {
					// Score every entry once the plain way; the expected
					// answers all derive from that vector.
					scores := make([]float64, len(texts))
					for i, s := range texts {
						scores[i] = RougeL(c, s)
					}
					wantScore, wantIdx := 0.0, -1
					for i, f := range scores {
						if f > wantScore {
							wantScore, wantIdx = f, i
						}
					}
					gotScore, gotIdx := p.MaxScore(c)
					if gotScore != wantScore || gotIdx != wantIdx {
						t.Fatalf("MaxScore(%q) = %v, %d; naive = %v, %d", c, gotScore, gotIdx, wantScore, wantIdx)
					}
					for _, th := range thresholds {
						want := slices.IndexFunc(scores, func(f float64) bool { return f > th })
						m, dup := p.FindNearDuplicate(c, th)
						if dup != (want >= 0) || m.Index != want {
							t.Fatalf("FindNearDuplicate(%q, %v) = %v, %v; naive first = %d", c, th, m, dup, want)
						}
						if dup && m.Score != scores[want] {
							t.Fatalf("FindNearDuplicate(%q, %v) score %v, want %v", c, th, m.Score, scores[want])
						}
						if got := p.IsNearDuplicate(c, th); got != (wantScore > th) {
							t.Fatalf("IsNearDuplicate(%q, %v) = %v, naive max %v", c, th, got, wantScore)
						}
					}
				}
			})
		}
	}
}

func TestPoolSimilar(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	texts := randomTexts(rng, 200, 40)
	p := NewPool()
	withParallelism(t, p, 3)
	for _, s := range texts {
		p.Add(s)
	}
	for _, c := range append(randomTexts(rng, 40, 40), mutate(rng, texts[5], 40)) {
		var all []Match
		var sum float64
		for i, s := range texts {
			f := RougeL(c, s)
			sum += f
			if f > 0 {
				all = append(all, Match{i, f})
			}
		}
		slices.SortStableFunc(all, func(a, b Match) int {
			if a.Score != b.Score {
				if a.Score > b.Score {
					return -1
				}
				return 1
			}
			return a.Index - b.Index
		})
		want := all[:min(10, len(all))]
		top, mean := p.Similar(c, 10)
		if !slices.Equal(top, want) {
			t.Fatalf("Similar(%q) top = %v, want %v", c, top, want)
		}
		if math.Abs(mean-sum/float64(len(texts))) > 1e-12 {
			t.Fatalf("Similar(%q) mean = %v, want %v", c, mean, sum/float64(len(texts)))
		}
	}
}

func TestPoolNearDuplicates(t *testing.T) {
	pool := []string{
		"Write a short poem about the ocean at night.",
		"Explain how a refrigerator keeps food cold.",
		"Classify each movie review as positive or negative.",
		"Give me three tips for staying focused while working from home.",
		"Translate the following sentence into Spanish.",
	}
	tests := []struct {
		candidate string
		dup       bool
		nearest   int
	}{
		{"Write a short poem about the ocean at night", true, 0},
		{"write a short poem about the sea at night.", true, 0},
		{"Explain how a fridge keeps food cold.", true, 1},
		{"Classify each product review as positive or negative.", true, 2},
		{"Give me three tips for staying focused when working from home.", true, 3},
		{"Translate the following sentence into French.", true, 4},
		{"Write a limerick about a cat who hates Mondays.", false, 0},
		{"Explain why the sky looks blue during the day.", false, -1},
		{"Summarize the plot of a famous novel in two sentences.", false, -1},
		{"List five vegetables that grow well in shade.", false, -1},
		{"Détecte la langue de ce texte.", false, -1},
	}
	p := NewPool()
	for _, s := range pool {
		p.Add(s)
	}
	for _, tt := range tests {
		t.Run(tt.candidate, func(t *testing.T) {
			score, nearest := p.MaxScore(tt.candidate)
			if got := p.IsNearDuplicate(tt.candidate, DefaultRougeThreshold); got != tt.dup {
				t.Errorf("IsNearDuplicate = %v (max %.3f vs %d), want %v", got, score, nearest, tt.dup)
			}
			if tt.nearest >= 0 && nearest != tt.nearest {
				t.Errorf("nearest = %d (%.3f), want %d", nearest, score, tt.nearest)
			}
		})
	}
}

func TestAddIfDistinct(t *testing.T) {
	p := NewPool()
	steps := []struct {
		text  string
		index int
		added bool
	}{
		{"Name three birds that cannot fly.", 0, true},
		{"Describe the water cycle for a ten year old.", 1, true},
		{"Name three birds that can not fly.", 0, false},
		{"Describe the water cycle for a ten-year-old child.", 1, false},
		{"Name three mammals that live in the ocean.", 2, true},
	}
	for _, s := range steps {
		index, added := p.AddIfDistinct(s.text, DefaultRougeThreshold)
		if index != s.index || added != s.added {
			t.Errorf("AddIfDistinct(%q) = %d, %v; want %d, %v", s.text, index, added, s.index, s.added)
		}
	}
	if p.Len() != 3 || p.Text(2) != steps[4].text {
		t.Errorf("pool holds %d entries, last %q", p.Len(), p.Text(p.Len()-1))
	}
}

// TestPoolConcurrent runs readers against a writer; run with -race. Each
// AddIfDistinct sees every earlier entry, so no two accepted texts are
// near duplicates whatever the interleaving.
func TestPoolConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	base := randomTexts(rng, 200, 300)
	var texts []string
	for _, s := range base {
		texts = append(texts, s, mutate(rng, s, 300))
	}
	p := NewPool()
	withParallelism(t, p, 2)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(texts); i += 4 {
				p.AddIfDistinct(texts[i], DefaultRougeThreshold)
				p.MaxScore(texts[(i*7)%len(texts)])
			}
		})
	}
	wg.Wait()
	var kept []string
	for i := range p.Len() {
		kept = append(kept, p.Text(i))
	}
	for i, s := range kept {
		if score, j := naiveMaxScore(kept[:i], s); score > DefaultRougeThreshold {
			t.Fatalf("entry %d %q is a near duplicate (%.3f) of entry %d %q", i, s, score, j, kept[j])
		}
	}
}

func TestPrefixFilterIsUsed(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	p := NewPool()
	for _, s := range randomTexts(rng, 2000, 5000) {
		p.Add(s)
	}
	used := 0
	for _, c := range randomTexts(rng, 100, 5000) {
		q := p.prepare(c)
		if len(q.known) > 3 && p.prefixCandidates(q, len(q.known)/2) != nil {
			used++
		}
		p.release(q)
	}
	if used == 0 {
		t.Error("prefix filtering never chose candidates on a sparse pool")
	}
}

// TestPoolWordBoundaries checks the fast pool against the plain RougeL at
// the edges of the bit-parallel LCS's 64-bit words: candidates of 1, 63,
// 64, 65, 127, 128, 129 and 192 known tokens, against entries whose
// common subsequence ends exactly on a word's last or first bit, crosses
// a word (a carry), or uses only the last token. Every score must match
// exactly, both alone (one entry per pool) and as the pool's maximum.
func TestPoolWordBoundaries(t *testing.T) {
	words := func(prefix string, idx ...int) string {
		ws := make([]string, len(idx))
		for i, j := range idx {
			ws[i] = fmt.Sprintf("%s%d", prefix, j)
		}
		return strings.Join(ws, " ")
	}
	span := func(lo, hi int) []int { // lo..hi-1
		var out []int
		for i := lo; i < hi; i++ {
			out = append(out, i)
		}
		return out
	}
	reversed := func(s []int) []int { slices.Reverse(s); return s }
	rng := rand.New(rand.NewPCG(7, 64))
	for _, m := range []int{1, 2, 63, 64, 65, 127, 128, 129, 192} {
		cand := words("a", span(0, m)...)
		last := m - 1
		entries := []string{
			cand,                                       // all m
			words("a", span(0, m-1)...),                // all but the last bit
			words("a", span(1, m)...),                  // all but the first
			words("a", last),                           // only the last bit
			words("a", 0, last),                        // first and last
			words("a", min(63, last), min(64, last)),   // across the first word edge
			words("a", min(127, last), min(128, last)), // across the second
			words("a", reversed(span(0, m))...),        // reversed: LCS 1
		}
		// Every token after a word edge, then every token before it: the
		// LCS is whichever side is longer.
		for _, edge := range []int{63, 64, 65, 128} {
			if edge < m {
				entries = append(entries, words("a", append(span(edge, m), span(0, edge)...)...))
			}
		}
		// Entries of boundary lengths with repeated tokens (a small
		// vocabulary: many equal symbols, many carries).
		for _, n := range []int{63, 64, 65, 128, 129} {
			idx := make([]int, n)
			for i := range idx {
				idx[i] = rng.IntN(min(m, 5))
			}
			entries = append(entries, words("a", idx...))
		}
		// A candidate that repeats tokens too, with unseen words between
		// (they count in its length but not in the bit vectors).
		repeats := make([]int, m)
		for i := range repeats {
			repeats[i] = i % 3
		}
		cands := []string{cand, words("a", repeats...), cand + " unseen words", "unseen " + cand}
		for _, c := range cands {
			all := NewPool()
			for i, e := range entries {
				one := NewPool()
				one.Add(e)
				want := RougeL(c, e)
				got, idx := one.MaxScore(c)
				if got != want || (want > 0) != (idx == 0) {
					t.Fatalf("m=%d: MaxScore of entry %d = %v (index %d), RougeL = %v\ncandidate %q\nentry %q", m, i, got, idx, want, c, e)
				}
				if m, ok := one.FindNearDuplicate(c, want-1e-9); want > 0 && (!ok || m.Score != want) {
					t.Fatalf("FindNearDuplicate just below %v = %v, %v", want, m, ok)
				}
				all.Add(e)
			}
			want, wantIdx := naiveMaxScore(entries, c)
			if got, idx := all.MaxScore(c); got != want || idx != wantIdx {
				t.Fatalf("m=%d: pool MaxScore = %v, %d; naive %v, %d (candidate %q)", m, got, idx, want, wantIdx, c)
			}
		}
	}
}
