package diversity

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"unicode"
)

// EmbedFunc embeds texts, one unit-length vector per text, all of one
// size. It must not return a vector of zero length or zero norm.
type EmbedFunc func(ctx context.Context, texts []string) ([][]float32, error)

// Embedder is an embedding function with what a run records about it.
type Embedder struct {
	// Name identifies the embedder in run.json ("hashed-ngrams-v1/512",
	// "ollama:nomic-embed-text:latest"); a resumed run must use the same.
	Name string
	// Embed embeds texts.
	Embed EmbedFunc
	// DefaultMaxSimilarity is the novelty threshold used when the user sets
	// none: cosine similarities mean different things per embedder.
	DefaultMaxSimilarity float64
	// InProcess is true when Embed computes in this process (the built-in
	// embedder): its calls are not gathered into batches, which only pays
	// for a request to a server ([Batch]).
	InProcess bool
}

// Default novelty thresholds (--max-similarity) per kind of embedder.
const (
	// DefaultMaxSimilarityHashed is for [HashedNGrams]: texts above it
	// share most of their character trigrams (a copy with a number or a
	// punctuation mark changed: "List 5 facts about honey bees." and "List
	// 7 …" score 0.90); short questions that differ in their subject stay
	// below ("… capital of France?" and "… of Spain?" score 0.76, unrelated
	// texts about 0).
	DefaultMaxSimilarityHashed = 0.85
	// DefaultMaxSimilarityModel is for neural embedding models
	// (nomic-embed-text, mxbai-embed-large), whose unrelated texts already
	// score 0.4 to 0.7: only paraphrases score above it.
	DefaultMaxSimilarityModel = 0.95
)

// HashedNGramDim is the size of [HashedNGrams] vectors.
const HashedNGramDim = 512

// HashedNGrams returns the built-in offline embedder: the character
// trigrams of the lowercased text (words padded with a space on each side,
// runs of spaces and punctuation folded to one space), hashed into
// [HashedNGramDim] signed buckets with sublinear counts (1 + ln n), then
// L2-normalized. It needs no model, is deterministic across machines and
// versions of synthkit (the name carries a version), and its cosine is a
// lexical-overlap score: it catches copies and light rewordings, not
// paraphrases in other words (use an embedding model for those).
func HashedNGrams() Embedder {
	return Embedder{
		Name:                 fmt.Sprintf("hashed-ngrams-v1/%d", HashedNGramDim),
		DefaultMaxSimilarity: DefaultMaxSimilarityHashed,
		InProcess:            true,
		Embed: func(ctx context.Context, texts []string) ([][]float32, error) {
			out := make([][]float32, len(texts))
			for i, t := range texts {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				out[i] = HashNGrams(t, HashedNGramDim)
			}
			return out, nil
		},
	}
}

// HashNGrams embeds text as [HashedNGrams] does, into dim buckets. Text
// with no letters or digits embeds to the first basis vector, so all such
// texts are duplicates of each other.
func HashNGrams(text string, dim int) []float32 {
	counts := make(map[uint64]int)
	var norm strings.Builder
	norm.WriteByte(' ')
	space := true
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			norm.WriteRune(unicode.ToLower(r))
			space = false
		} else if !space {
			norm.WriteByte(' ')
			space = true
		}
	}
	if !space {
		norm.WriteByte(' ')
	}
	rs := []rune(norm.String())
	h := fnv.New64a()
	var buf [3 * 4]byte
	for i := 0; i+3 <= len(rs); i++ {
		h.Reset()
		n := 0
		for _, r := range rs[i : i+3] {
			n += encodeRune(buf[n:], r)
		}
		h.Write(buf[:n])
		counts[h.Sum64()]++
	}
	v := make([]float32, dim)
	if len(counts) == 0 {
		v[0] = 1
		return v
	}
	acc := make([]float64, dim)
	for k, c := range counts {
		w := 1 + math.Log(float64(c))
		if k>>63 == 1 {
			w = -w
		}
		acc[k%uint64(dim)] += w
	}
	var ss float64
	for _, x := range acc {
		ss += x * x
	}
	if ss == 0 { // every trigram cancelled out: vanishingly rare
		v[0] = 1
		return v
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range acc {
		v[i] = float32(x * inv)
	}
	return v
}

func encodeRune(b []byte, r rune) int {
	s := string(r)
	return copy(b, s)
}

// Normalize scales v to unit length in place; it fails on an empty vector
// or one without a direction (zero, NaN or infinite norm).
func Normalize(v []float32) error {
	if len(v) == 0 {
		return errors.New("empty vector")
	}
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return fmt.Errorf("vector has no direction (norm %v)", math.Sqrt(ss))
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return nil
}

// Dot is the dot product of two vectors of equal length, accumulated in
// float32 in index order like chromem-go's, so both give the same bits.
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
