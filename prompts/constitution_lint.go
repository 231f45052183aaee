package prompts

import (
	"fmt"
	"slices"
	"strings"

	"synthkit/diversity"
)

// Lint limits: what practitioners of constitutional methods report works.
// A constitution of a few principles repeats itself over thousands of
// samples; one of many dozens gives each principle too few samples to
// check and tends to repeat itself in other words.
const (
	// MinPrinciples and MaxPrinciples bound the sensible count (the paper
	// used 16).
	MinPrinciples = 4
	MaxPrinciples = 32
	// LintLengthRatio flags a principle whose requests are more than this
	// many times longer, or shorter, than the median: a long principle
	// steers the model more than a short one.
	LintLengthRatio = 2.0
	// LintOverlap flags two principles whose texts have a ROUGE-L F above
	// this: they likely ask for the same thing.
	LintOverlap = 0.5
	// LintEmbedOverlap flags two principles whose character n-gram
	// embeddings have a cosine similarity above this (the built-in
	// constitution's closest pair is at 0.49).
	LintEmbedOverlap = 0.8
)

// LintReport is what `critique --lint` prints.
type LintReport struct {
	Count int
	// Words are each principle's length (critique + revision + compare).
	Words            map[string]int
	MinWords, Median int
	MaxWords         int
	Warnings         []string
}

// LintConstitution checks a constitution for what makes labels and
// revisions unreliable: too few or too many principles, principles of
// very different lengths, and pairs that overlap in wording (ROUGE-L).
// Messages name the principles in plain words.
func LintConstitution(c *Constitution) LintReport {
	r := LintReport{Count: len(c.Principles), Words: map[string]int{}}
	switch {
	case r.Count < MinPrinciples:
		r.Warnings = append(r.Warnings, fmt.Sprintf("only %d principles: with fewer than %d, the same few critiques repeat across the whole dataset; aim for %d–%d", r.Count, MinPrinciples, MinPrinciples, MaxPrinciples))
	case r.Count > MaxPrinciples:
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d principles: with more than %d, each is used too rarely to check and many say the same thing in other words; aim for %d–%d", r.Count, MaxPrinciples, MinPrinciples, MaxPrinciples))
	}
	texts := make([]string, len(c.Principles))
	var lens []int
	for i, p := range c.Principles {
		texts[i] = strings.Join([]string{p.Critique, p.Revision, p.Compare}, " ")
		n := len(strings.Fields(texts[i]))
		r.Words[p.Name] = n
		lens = append(lens, n)
	}
	if len(lens) > 0 {
		sorted := slices.Clone(lens)
		slices.Sort(sorted)
		r.MinWords, r.MaxWords, r.Median = sorted[0], sorted[len(sorted)-1], sorted[len(sorted)/2]
		for i, p := range c.Principles {
			n, med := float64(lens[i]), float64(r.Median)
			switch {
			case n > LintLengthRatio*med:
				r.Warnings = append(r.Warnings, fmt.Sprintf("principle %q is long (%d words, most have about %d): a long principle pulls the model harder than a short one; shorten it or split it in two", p.Name, lens[i], r.Median))
			case n*LintLengthRatio < med:
				r.Warnings = append(r.Warnings, fmt.Sprintf("principle %q is short (%d words, most have about %d): say more precisely what to look for and how to fix it", p.Name, lens[i], r.Median))
			}
		}
	}
	// Overlap in wording (ROUGE-L, word order kept) and in the words used
	// whatever their order (the built-in character n-gram embedder, the
	// one --diversity novelty uses without a model).
	vecs := make([][]float32, len(texts))
	for i, t := range texts {
		vecs[i] = diversity.HashNGrams(t, 512)
	}
	for i := range texts {
		for j := i + 1; j < len(texts); j++ {
			if s := diversity.RougeL(texts[i], texts[j]); s > LintOverlap {
				r.Warnings = append(r.Warnings, fmt.Sprintf("principles %q and %q overlap (ROUGE-L %.2f): they seem to ask for the same thing; merge them or make each about something different", c.Principles[i].Name, c.Principles[j].Name, s))
			} else if s := float64(diversity.Dot(vecs[i], vecs[j])); s > LintEmbedOverlap {
				r.Warnings = append(r.Warnings, fmt.Sprintf("principles %q and %q use nearly the same words (similarity %.2f): they seem to ask for the same thing in another order; merge them or make each about something different", c.Principles[i].Name, c.Principles[j].Name, s))
			}
		}
	}
	return r
}

// String renders the report for people who write principles.
func (r LintReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d principles (sensible range %d–%d); lengths %d–%d words, median %d\n", r.Count, MinPrinciples, MaxPrinciples, r.MinWords, r.MaxWords, r.Median)
	if len(r.Warnings) == 0 {
		b.WriteString("no problems found\n")
	}
	for _, w := range r.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	return b.String()
}
