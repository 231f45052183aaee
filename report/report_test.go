package report

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"synthkit/prompts"
)

func build(t *testing.T, dir string, o Options) *Report {
	t.Helper()
	r, err := Build(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBuildFigures(t *testing.T) {
	texts := randomTexts(1, 40)
	texts = append(texts, texts[0], texts[1]) // two exact copies
	dir := fixtureRun{method: "magpie", seed: 3, texts: texts,
		rejects: map[string]int{prompts.ReasonEmptyQuery: 2, prompts.ReasonInvalid: 5, "made_up_reason": 2}}.build(t)
	r := build(t, dir, Options{})
	if r.Population != 42 || r.Sampled != 42 || r.Counts.Accepted != 42 || r.Counts.RejectedTotal() != 9 {
		t.Fatalf("population %d, sampled %d, counts %+v", r.Population, r.Sampled, r.Counts)
	}
	if r.FromVectors || r.Embedder != diversity_hashed() {
		t.Fatalf("no vectors stored, want the hashed embedder; got %q (from vectors %v)", r.Embedder, r.FromVectors)
	}
	if r.Vendi <= 1 || r.Vendi >= 42 {
		t.Fatalf("Vendi %v out of (1, 42)", r.Vendi)
	}
	if r.Distinct1 <= 0 || r.Distinct1 >= 1 || r.Distinct2 <= r.Distinct1 {
		t.Fatalf("distinct-1 %v, distinct-2 %v", r.Distinct1, r.Distinct2)
	}
	copies := 0
	for _, s := range r.Nearest {
		if s > 0.9999 {
			copies++
		}
	}
	if copies != 4 || math.Abs(r.NearestP90-quantile(r.Nearest, 0.9)) > 0 {
		t.Fatalf("%d records with a copy as nearest neighbour, want 4 (two pairs)", copies)
	}
	want := []Reject{
		{prompts.ReasonInvalid, 5, prompts.ReasonMeanings[prompts.ReasonInvalid]},
		{prompts.ReasonEmptyQuery, 2, prompts.ReasonMeanings[prompts.ReasonEmptyQuery]},
		{"made_up_reason", 2, ""},
	}
	if !slices.Equal(r.Rejects, want) {
		t.Fatalf("rejects %+v, want %+v", r.Rejects, want)
	}
	if r.Rouge != nil || r.QD != nil {
		t.Fatalf("a magpie run has no seeds and no archive: rouge %v, qd %v", r.Rouge, r.QD)
	}
	var out strings.Builder
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Vendi score", "distinct-2", "invalid_output", "5"} {
		if !strings.Contains(out.String(), s) {
			t.Fatalf("text output lacks %q:\n%s", s, out.String())
		}
	}
}

func diversity_hashed() string { return "hashed-ngrams-v1/512" }

func TestBuildUsesStoredVectors(t *testing.T) {
	texts := randomTexts(2, 30)
	f := fixtureRun{method: "self-instruct", texts: texts, vectors: true,
		options: map[string]any{"diversity_embedder": "ollama:nomic-embed-text", "diversity_on": "prompt", "diversity_max_similarity": 0.8}}
	r := build(t, f.build(t), Options{})
	if !r.FromVectors || r.Embedder != "ollama:nomic-embed-text" || r.Threshold != 0.8 {
		t.Fatalf("from vectors %v, embedder %q, threshold %v", r.FromVectors, r.Embedder, r.Threshold)
	}
	// The stored vectors are the hashed embedding of the same texts, so the
	// figures match a run without vectors.
	f.vectors, f.options = false, nil
	plain := build(t, f.build(t), Options{})
	if math.Abs(r.Vendi-plain.Vendi) > 1e-9 || math.Abs(r.MeanCosine-plain.MeanCosine) > 1e-9 {
		t.Fatalf("stored vectors give Vendi %v / cosine %v, the same texts embedded now %v / %v", r.Vendi, r.MeanCosine, plain.Vendi, plain.MeanCosine)
	}
	// Asking for another text than the vectors hold falls back to hashing.
	if other := build(t, f.build(t), Options{On: prompts.OnBoth}); other.FromVectors {
		t.Fatal("--on both used vectors of the prompt")
	}
}

func TestSampleIsSeededAndOrderFree(t *testing.T) {
	texts := randomTexts(3, 300)
	var rev []int
	for i := range texts {
		rev = append(rev, len(texts)-1-i)
	}
	a := build(t, fixtureRun{method: "magpie", seed: 7, texts: texts}.build(t), Options{SampleSize: 50})
	// The same units journaled in the opposite order.
	b := build(t, fixtureRun{method: "magpie", seed: 7, texts: texts, order: rev}.build(t), Options{SampleSize: 50})
	c := build(t, fixtureRun{method: "magpie", seed: 8, texts: texts}.build(t), Options{SampleSize: 50})
	if a.Sampled != 50 || a.Population != 300 {
		t.Fatalf("sampled %d of %d", a.Sampled, a.Population)
	}
	if !slices.Equal(a.sampleUnits, b.sampleUnits) || a.Vendi != b.Vendi || a.Distinct2 != b.Distinct2 {
		t.Fatal("the same run measured twice gave another sample or other figures")
	}
	if slices.Equal(a.sampleUnits, c.sampleUnits) {
		t.Fatal("another run seed gave the same sample")
	}
	if !slices.IsSorted(a.sampleUnits) {
		t.Fatal("sample not in unit order")
	}
}
