package ollamatest

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
)

// Shape of the fixture model. The numbers are small so the file stays a few
// hundred KB and the server decodes hundreds of tokens per second on a CPU.
const (
	// EmbeddingLength is n_embd, and so the length of /api/embed vectors.
	EmbeddingLength = 64
	// ContextLength is the trained context length the file declares.
	ContextLength = 4096

	blockCount  = 2
	headCount   = 4
	feedForward = 128
	headDim     = EmbeddingLength / headCount
	rmsEpsilon  = 1e-5

	ropeFreqBase = 1e6

	// fixtureVersion goes into general.name; bump it when the recipe
	// changes so old registrations are easy to tell apart in `ollama show`.
	fixtureVersion = 1
)

// Token ids with a fixed place in the vocabulary.
const (
	tokenUnk      = 0
	tokenBOS      = 1
	tokenEOS      = 2
	firstByteTok  = 3 // <0x00> … <0xFF> follow
	tokenImStart  = firstByteTok + 256
	tokenImEnd    = tokenImStart + 1
	firstPlainTok = tokenImEnd + 1
)

// SentencePiece token types as llama.cpp reads tokenizer.ggml.token_type.
const (
	tokTypeNormal  = 1
	tokTypeUnknown = 2
	tokTypeControl = 3
	tokTypeByte    = 6
)

// fixtureParams are the knobs that shape what the random model emits. Boosts
// and delays are in logit units (before temperature).
type fixtureParams struct {
	embdConst float64 // the constant component every token embedding has
	embdStd   float64 // std of the random embedding components
	outStd    float64 // std of the random part of output rows
	blockStd  float64 // std of the random attention and feed-forward weights

	boostEOS   float64 // </s>
	boostQuote float64 // "
	boostBrace float64 // }
	boostWord  float64 // words, digits and other punctuation
	boostNever float64 // <unk>, <s>, <|im_start|>: effectively never sampled
	eosStd     float64 // extra random, context-dependent part of the </s> row

	// The length head (see buildFixture) holds </s> back by eosDelay and "
	// by quoteDelay at the start of an answer; the hold-back halves after
	// halfWords generated words, shrinks to a third after twice as many,
	// and so on.
	eosDelay   float64
	quoteDelay float64
	halfWords  float64
}

// defaultFixture was tuned against a real Ollama v0.6.5: free chat ends
// after a few dozen tokens, and JSON-schema output closes its strings and
// objects well before num_predict 256.
var defaultFixture = fixtureParams{
	embdConst:  8,
	embdStd:    1,
	outStd:     0.2,
	blockStd:   0.05,
	boostEOS:   9.5,
	boostQuote: 9.5,
	boostBrace: 8.5,
	boostWord:  6,
	boostNever: -30,
	eosStd:     0.5,
	eosDelay:   6,
	quoteDelay: 4,
	halfWords:  10,
}

// Residual-stream dimensions with a fixed meaning; the rest (dimRandom and
// up) hold random features.
const (
	dimConst  = 0 // embdConst in every token
	dimWord   = 1 // wordFlag in word tokens
	dimBOS    = 2 // bosFlag in <s>
	dimLength = 3 // written by the length head: ~1/(1+words/halfWords)
	dimRandom = 4

	wordFlag = 1.0
	bosFlag  = 8.0

	// sinkScore is the attention score of <s> in the length head; bytes and
	// other tokens score 0, so a prompt of a few hundred bytes barely moves
	// the signal.
	sinkScore = 10.0
	// lengthAmp is the size of dimLength right after the prompt.
	lengthAmp = 4.0
	// lengthPair is the head dimension the length head's query and key use:
	// the last RoPE pair, which rotates slowest, so the score hardly depends
	// on the distance between tokens.
	lengthPair = headDim - 2
)

// punctuation tokens, each a normal token of its own.
var punctuation = []string{
	`"`, `{`, `}`, `:`, `,`, `.`, `!`, `?`, `[`, `]`, `(`, `)`, `-`, `'`, "\u2581",
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
}

// words become "▁word" tokens (U+2581 is SentencePiece's space marker).
var words = []string{
	// No one-letter words: "▁a" would turn " a" in a prompt into a word
	// token, and the length head counts word tokens.
	"the", "of", "and", "to", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are",
	"with", "as", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by",
	"word", "but", "what", "some", "we", "can", "out", "other", "were", "all", "there", "when", "up",
	"use", "your", "how", "said", "an", "each", "she", "which", "do", "their", "time", "if", "will",
	"way", "about", "many", "then", "them", "write", "would", "like", "so", "these", "her", "long",
	"make", "thing", "see", "him", "two", "has", "look", "more", "day", "could", "go", "come", "did",
	"number", "sound", "no", "most", "people", "my", "over", "know", "water", "than", "call", "first",
	"who", "may", "down", "side", "been", "now", "find", "any", "new", "work", "part", "take", "get",
	"place", "made", "live", "where", "after", "back", "little", "only", "round", "man", "year",
	"came", "show", "every", "good", "me", "give", "our", "under", "name", "very", "through", "just",
	"form", "sentence", "great", "think", "say", "help", "low", "line", "differ", "turn", "cause",
	"much", "mean", "before", "move", "right", "boy", "old", "too", "same", "tell", "does", "set",
	"three", "want", "air", "well", "also", "play", "small", "end", "put", "home", "read", "hand",
	"port", "large", "spell", "add", "even", "land", "here", "must", "big", "high", "such", "follow",
	"act", "why", "ask", "men", "change", "went", "light", "kind", "off", "need", "house", "picture",
	"try", "us", "again", "animal", "point", "mother", "world", "near", "build", "self", "earth",
	"father", "head", "stand", "own", "page", "should", "country", "found", "answer", "school",
	"grow", "study", "still", "learn", "plant", "cover", "food", "sun", "four", "between", "state",
	"keep", "eye", "never", "last", "let", "thought", "city", "tree", "cross", "farm", "hard", "start",
	"might", "story", "saw", "far", "sea", "draw", "left", "late", "run", "while", "press", "close",
	"night", "real", "life", "few", "north", "open", "seem", "together", "next", "white", "children",
	"begin", "got", "walk", "example", "ease", "paper", "group", "always", "music", "those", "both",
	"mark", "often", "letter", "until", "mile", "river", "car", "feet", "care", "second", "book",
	"carry", "took", "science", "eat", "room", "friend", "began", "idea", "fish", "mountain", "stop",
	"once", "base", "hear", "horse", "cut", "sure", "watch", "color", "face", "wood", "main", "enough",
	"plain", "girl", "usual", "young", "ready", "above", "ever", "red", "list", "though", "feel",
	"talk", "bird", "soon", "body", "dog", "family", "direct", "pose", "leave", "song", "measure",
	"door", "product", "black", "short", "numeral", "class", "wind", "question", "happen", "complete",
	"ship", "area", "half", "rock", "order", "fire", "south", "problem", "piece", "told", "knew",
	"pass", "since", "top", "whole", "king", "space", "heard", "best", "hour", "better", "true",
	"during", "hundred", "five", "remember", "step", "early", "hold", "west", "ground", "interest",
	"reach", "fast", "verb", "sing", "listen", "six", "table", "travel", "less", "morning", "ten",
	"simple", "several", "vowel", "toward", "war", "lay", "against", "pattern", "slow", "center",
	"love", "person", "money", "serve", "appear", "road", "map", "rain", "rule", "govern", "pull",
	"cold", "notice", "voice", "unit", "power", "town", "fine", "certain", "fly", "fall", "lead",
	"cry", "dark", "machine", "note", "wait", "plan", "figure", "star", "box", "noun", "field", "rest",
	"correct", "able", "pound", "done", "beauty", "drive", "stood", "contain", "front", "teach",
	"week", "final", "gave", "green", "oh", "quick", "develop", "ocean", "warm", "free", "minute",
	"strong", "special", "mind", "behind", "clear", "tail", "produce", "fact", "street", "inch",
	"instruction", "score", "answer", "prompt", "response", "data", "model", "task",
}

// vocabulary returns the tokens, scores and token types of the fixture's
// SentencePiece vocabulary.
func vocabulary() (tokens []string, scores []float32, types []int32) {
	add := func(tok string, score float32, typ int32) {
		tokens = append(tokens, tok)
		scores = append(scores, score)
		types = append(types, typ)
	}
	add("<unk>", 0, tokTypeUnknown)
	add("<s>", 0, tokTypeControl)
	add("</s>", 0, tokTypeControl)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), 0, tokTypeByte)
	}
	add("<|im_start|>", 0, tokTypeControl)
	add("<|im_end|>", 0, tokTypeControl)
	seen := make(map[string]bool)
	for _, p := range punctuation {
		add(p, -float32(len(tokens)), tokTypeNormal)
		seen[p] = true
	}
	for _, w := range words {
		tok := "\u2581" + w
		if seen[tok] {
			continue
		}
		seen[tok] = true
		add(tok, -float32(len(tokens)), tokTypeNormal)
	}
	return tokens, scores, types
}

// boost returns the logit boost of token id in the vocabulary.
func (p fixtureParams) boost(id int, tok string) float64 {
	switch {
	case id == tokenEOS:
		return p.boostEOS
	case id == tokenUnk || id == tokenBOS || id == tokenImStart:
		return p.boostNever
	case id < firstPlainTok:
		return 0 // bytes and <|im_end|>
	case tok == `"`:
		return p.boostQuote
	case tok == `}`:
		return p.boostBrace
	default:
		return p.boostWord
	}
}

// isWord reports whether tok is one of the "▁word" tokens.
func isWord(tok string) bool { return len(tok) > 3 && strings.HasPrefix(tok, "\u2581") }

// buildFixture returns the GGUF kv and tensors of the fixture with the given
// seed. The same seed and params always give the same bytes.
//
// Two tricks make random weights end their text.
//
// Every token embedding has one large constant component (dimConst). After
// the final RMS norm that component is about the same at every position, so
// its weight in a token's output row acts as a fixed logit bias: raising it
// for </s>, `"` and `}` makes the model stop, close strings and close objects,
// and a smaller raise for words keeps byte tokens out of free text.
//
// With a fixed bias alone the length would be geometric: many answers of one
// or two tokens. So head 0 of block 0 is a "length head": its query is
// constant and its key is large for <s> and smaller for generated words (zero
// for bytes, which is what prompts are made of, since the vocabulary has no
// merges for them), so its attention on <s> is about 1/(1+words/halfWords).
// It copies that weight into dimLength, and the output rows of </s> and `"`
// read dimLength negatively: they are held back at the start of an answer and
// become likely after a few dozen words.
//
// All other weights are small random numbers, so what comes next still
// depends on the context; they never write the fixed dimensions.
func buildFixture(seed int64, p fixtureParams) ([]ggufKV, []ggufTensor) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x73796e74686b6974)) // "synthkit"
	normal := func(std float64) float32 { return float32(rng.NormFloat64() * std) }
	// matrix returns a weight mapping in features to out features, stored
	// as out rows of in values: w[o*in+i].
	matrix := func(name string, in, out int, std float64) ggufTensor {
		data := make([]float32, in*out)
		for i := range data {
			data[i] = normal(std)
		}
		return ggufTensor{Name: name, Dims: []uint64{uint64(in), uint64(out)}, Data: data}
	}
	ones := func(name string) ggufTensor {
		data := make([]float32, EmbeddingLength)
		for i := range data {
			data[i] = 1
		}
		return ggufTensor{Name: name, Dims: []uint64{EmbeddingLength}, Data: data}
	}
	// clearRows zeroes the rows of w (a matrix into the residual stream)
	// that would write the fixed dimensions.
	clearRows := func(w ggufTensor) ggufTensor {
		in := int(w.Dims[0])
		clear(w.Data[:dimRandom*in])
		return w
	}

	tokens, scores, types := vocabulary()
	nVocab := len(tokens)
	nRandom := float64(EmbeddingLength - dimRandom)

	embd := make([]float32, EmbeddingLength*nVocab)
	for v := range nVocab {
		row := embd[v*EmbeddingLength : (v+1)*EmbeddingLength]
		row[dimConst] = float32(p.embdConst)
		if isWord(tokens[v]) {
			row[dimWord] = wordFlag
		}
		if v == tokenBOS {
			row[dimBOS] = bosFlag
		}
		for d := dimRandom; d < EmbeddingLength; d++ {
			row[d] = normal(p.embdStd)
		}
	}

	// Expected values after RMS norm, used to scale the weights that read
	// the fixed dimensions.
	rms := func(sq float64) float64 { return math.Sqrt((sq + nRandom*p.embdStd*p.embdStd) / EmbeddingLength) }
	c := p.embdConst * p.embdConst
	wordRMS := rms(c + wordFlag*wordFlag)
	bosRMS := rms(c + bosFlag*bosFlag)
	normedConst := p.embdConst / rms(c)
	normedWord := wordFlag / wordRMS
	normedBOS := bosFlag / bosRMS
	normedLength := lengthAmp / rms(c+lengthAmp*lengthAmp)

	out := make([]float32, EmbeddingLength*nVocab)
	for v := range nVocab {
		row := out[v*EmbeddingLength : (v+1)*EmbeddingLength]
		row[dimConst] = float32(p.boost(v, tokens[v]) / normedConst)
		std := p.outStd
		switch {
		case v == tokenEOS:
			row[dimLength] = float32(-p.eosDelay / normedLength)
			std = math.Hypot(p.outStd, p.eosStd/math.Sqrt(nRandom))
		case tokens[v] == `"`:
			row[dimLength] = float32(-p.quoteDelay / normedLength)
		}
		for d := dimRandom; d < EmbeddingLength; d++ {
			row[d] = normal(std)
		}
	}

	tensors := []ggufTensor{{Name: "token_embd.weight", Dims: []uint64{EmbeddingLength, uint64(nVocab)}, Data: embd}}
	for b := range blockCount {
		blk := fmt.Sprintf("blk.%d.", b)
		q := matrix(blk+"attn_q.weight", EmbeddingLength, EmbeddingLength, p.blockStd)
		k := matrix(blk+"attn_k.weight", EmbeddingLength, EmbeddingLength, p.blockStd)
		v := matrix(blk+"attn_v.weight", EmbeddingLength, EmbeddingLength, p.blockStd)
		o := clearRows(matrix(blk+"attn_output.weight", EmbeddingLength, EmbeddingLength, p.blockStd))
		if b == 0 {
			// Head 0 is the length head: rows 0..headDim-1 of q, k and v,
			// columns 0..headDim-1 of the output projection.
			clear(q.Data[:headDim*EmbeddingLength])
			clear(k.Data[:headDim*EmbeddingLength])
			clear(v.Data[:headDim*EmbeddingLength])
			for r := range EmbeddingLength {
				clear(o.Data[r*EmbeddingLength : r*EmbeddingLength+headDim])
			}
			// score = q·k/sqrt(headDim) with q = normedConst at every
			// position and k from the word and <s> flags.
			scale := math.Sqrt(headDim) / normedConst
			q.Data[lengthPair*EmbeddingLength+dimConst] = 1
			k.Data[lengthPair*EmbeddingLength+dimWord] = float32((sinkScore - math.Log(p.halfWords)) * scale / normedWord)
			k.Data[lengthPair*EmbeddingLength+dimBOS] = float32(sinkScore * scale / normedBOS)
			// The value is 1 on <s> only; the output writes it to dimLength.
			v.Data[0*EmbeddingLength+dimBOS] = float32(1 / normedBOS)
			o.Data[dimLength*EmbeddingLength+0] = lengthAmp
		}
		tensors = append(tensors,
			ones(blk+"attn_norm.weight"), q, k, v, o,
			ones(blk+"ffn_norm.weight"),
			matrix(blk+"ffn_gate.weight", EmbeddingLength, feedForward, p.blockStd),
			matrix(blk+"ffn_up.weight", EmbeddingLength, feedForward, p.blockStd),
			clearRows(matrix(blk+"ffn_down.weight", feedForward, EmbeddingLength, p.blockStd)),
		)
	}
	tensors = append(tensors,
		ones("output_norm.weight"),
		ggufTensor{Name: "output.weight", Dims: []uint64{EmbeddingLength, uint64(nVocab)}, Data: out},
	)

	kvs := []ggufKV{
		{"general.architecture", "llama"},
		{"general.name", fmt.Sprintf("synthkit-tiny fixture v%d seed %d", fixtureVersion, seed)},
		{"general.file_type", uint32(0)}, // all F32
		{"general.alignment", uint32(ggufAlignment)},
		{"llama.context_length", uint32(ContextLength)},
		{"llama.embedding_length", uint32(EmbeddingLength)},
		{"llama.block_count", uint32(blockCount)},
		{"llama.feed_forward_length", uint32(feedForward)},
		{"llama.attention.head_count", uint32(headCount)},
		{"llama.attention.head_count_kv", uint32(headCount)},
		{"llama.attention.layer_norm_rms_epsilon", float32(rmsEpsilon)},
		{"llama.rope.dimension_count", uint32(headDim)},
		// A high base makes the last RoPE pair, which the length head
		// uses, turn by well under a degree across the whole context.
		{"llama.rope.freq_base", float32(ropeFreqBase)},
		{"llama.vocab_size", uint32(nVocab)},
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.unknown_token_id", uint32(tokenUnk)},
		{"tokenizer.ggml.bos_token_id", uint32(tokenBOS)},
		{"tokenizer.ggml.eos_token_id", uint32(tokenEOS)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
	}
	return kvs, tensors
}

// WriteGGUF writes the fixture model for seed to w: a llama-architecture
// GGUF v3 file of a few hundred KB with random F32 weights. The same seed
// always gives the same bytes.
func WriteGGUF(w io.Writer, seed int64) error {
	kvs, tensors := buildFixture(seed, defaultFixture)
	return writeGGUF(w, kvs, tensors)
}

// GGUF returns the fixture model for seed as bytes; see [WriteGGUF].
func GGUF(seed int64) []byte {
	b, err := fixtureGGUF(seed, defaultFixture)
	if err != nil {
		panic(err) // writing to memory cannot fail
	}
	return b
}

func fixtureGGUF(seed int64, p fixtureParams) ([]byte, error) {
	var buf bytes.Buffer
	kvs, tensors := buildFixture(seed, p)
	if err := writeGGUF(&buf, kvs, tensors); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
