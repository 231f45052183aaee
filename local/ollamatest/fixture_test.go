package ollamatest

import (
	"bytes"
	"testing"

	"github.com/ollama/ollama/fs/ggml"
)

// TestGGUFDecodes reads the fixture back with Ollama's own GGUF decoder.
func TestGGUFDecodes(t *testing.T) {
	data := GGUF(TinySeed)
	if len(data) > 1<<20 {
		t.Errorf("fixture is %d bytes; keep it under 1 MiB", len(data))
	}
	f, err := ggml.Decode(bytes.NewReader(data), -1)
	if err != nil {
		t.Fatalf("couldn't decode fixture: %v", err)
	}
	kv := f.KV()
	tokens, _, _ := vocabulary()
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"architecture", kv.Architecture(), "llama"},
		// 0 is ALL_F32; Ollama v0.6.5 reports it as "unknown".
		{"file type", kv.Uint("general.file_type", 99), uint32(0)},
		{"block count", kv.BlockCount(), uint64(blockCount)},
		{"embedding length", kv.EmbeddingLength(), uint64(EmbeddingLength)},
		{"head count", kv.Uint("attention.head_count"), uint32(headCount)},
		{"context length", kv.ContextLength(), uint64(ContextLength)},
		{"tokenizer", kv.String("tokenizer.ggml.model"), "llama"},
		{"vocab size", len(kv.Strings("tokenizer.ggml.tokens")), len(tokens)},
		{"tensor count", len(f.Tensors().Items()), 1 + 9*blockCount + 2},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	for _, tensor := range f.Tensors().Items() {
		if tensor.Kind != ggmlTypeF32 {
			t.Errorf("tensor %s has kind %d, want F32", tensor.Name, tensor.Kind)
		}
	}
}

func TestGGUFDeterministic(t *testing.T) {
	a, b, other := GGUF(TinySeed), GGUF(TinySeed), GGUF(TinySeedB)
	if !bytes.Equal(a, b) {
		t.Error("same seed gave different files")
	}
	if bytes.Equal(a, other) {
		t.Error("different seeds gave the same file")
	}
	var buf bytes.Buffer
	if err := WriteGGUF(&buf, TinySeed); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), a) {
		t.Error("WriteGGUF and GGUF disagree")
	}
}

func TestVocabulary(t *testing.T) {
	tokens, scores, types := vocabulary()
	if len(tokens) != len(scores) || len(tokens) != len(types) {
		t.Fatalf("lengths differ: %d tokens, %d scores, %d types", len(tokens), len(scores), len(types))
	}
	seen := make(map[string]bool)
	for i, tok := range tokens {
		if seen[tok] {
			t.Errorf("token %q appears twice", tok)
		}
		seen[tok] = true
		if types[i] == tokTypeByte && len(tok) != len("<0x00>") {
			t.Errorf("byte token %d is %q", i, tok)
		}
	}
	fixed := map[int]string{tokenUnk: "<unk>", tokenBOS: "<s>", tokenEOS: "</s>", firstByteTok: "<0x00>",
		firstByteTok + 255: "<0xFF>", tokenImStart: "<|im_start|>", tokenImEnd: "<|im_end|>"}
	for id, want := range fixed {
		if tokens[id] != want {
			t.Errorf("token %d = %q, want %q", id, tokens[id], want)
		}
	}
	for _, p := range []string{`"`, `{`, `}`, `:`, `,`, `.`} {
		if !seen[p] {
			t.Errorf("punctuation %q missing", p)
		}
	}
	words := 0
	for _, tok := range tokens {
		if isWord(tok) {
			words++
		}
	}
	if words < 200 {
		t.Errorf("%d word tokens, want a few hundred", words)
	}
}
