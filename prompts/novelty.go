package prompts

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"synthkit/diversity"
	"synthkit/export"
)

// What the novelty filter embeds of a record (--on).
const (
	OnPrompt   = "prompt"   // the user turns (an SFT conversation's, a preference's or critique's prompt)
	OnResponse = "response" // the assistant turns (SFT), the chosen answer, the final revision
	OnBoth     = "both"     // the prompt, a blank line, the response
)

// Metadata keys the novelty filter adds to every row it admits (when the
// store or the pending set had a neighbour): the unit id of the most
// similar earlier record and its cosine similarity (4 decimals).
const (
	MetaNearestID         = "nearest_id"
	MetaNearestSimilarity = "nearest_similarity"
)

// NoveltyGate is the embedding novelty filter as the engine's [Gate], so it
// applies to every method: each accepted record's text (chosen by On) is
// embedded and checked against the accepted ones (and those admitted but
// not yet journaled); above the threshold it is rejected as
// [ReasonNearDuplicate].
//
// # Where vectors go
//
// An admitted record's vector is written to the run's vector store
// ([export.Run.AddVector]) before the engine journals the record, so every
// accepted record has its vector after a crash. A vector whose record was
// never journaled (a crash in between) is harmless: the rebuild keeps only
// vectors of accepted units. Such a unit is redone on resume, maybe with
// other text; its new vector is stored under "unit#1" ("#2" after a second
// crash, …), since the vector store keeps the first vector per key, and the
// rebuild takes the last attempt of each accepted unit. The rebuilt store
// is therefore the same as the one the crashed process held for every
// record that is in the journal.
//
// The embedding call runs before any lock; see [diversity.Novelty] for
// how concurrent near-copies are held apart. An embedding model's calls
// from concurrent workers are gathered into batches ([diversity.Batch]).
type NoveltyGate struct {
	run    *export.Run
	emb    diversity.Embedder
	on     string
	filter *diversity.Novelty

	mu       sync.Mutex
	attempts map[string]int // units with vectors but no journal entry: how many
	err      error          // first failure to store a settled vector

	checked, rejected, unchecked atomic.Int64
}

// NewNoveltyGate builds the filter for run: it embeds a probe text to learn
// the vector size (and that the embedder works), then rebuilds the store
// from the run's vectors of accepted units. maxSimilarity 0 means the
// embedder's default.
func NewNoveltyGate(ctx context.Context, run *export.Run, emb diversity.Embedder, on string, maxSimilarity float64) (*NoveltyGate, error) {
	switch on {
	case OnPrompt, OnResponse, OnBoth:
	default:
		return nil, fmt.Errorf("--on must be prompt, response or both, not %q", on)
	}
	if maxSimilarity == 0 {
		maxSimilarity = emb.DefaultMaxSimilarity
	}
	probe, err := emb.Embed(ctx, []string{"synthkit novelty probe"})
	if err != nil {
		return nil, fmt.Errorf("couldn't embed with %s: %w", emb.Name, err)
	}
	if len(probe) != 1 || len(probe[0]) == 0 {
		return nil, fmt.Errorf("embedder %s returned no vector", emb.Name)
	}
	if !emb.InProcess {
		// Workers committing at the same time share one request.
		emb.Embed = diversity.Batch(emb.Embed, diversity.DefaultEmbedBatch, diversity.DefaultEmbedWait)
	}
	store, err := diversity.NewStore(len(probe[0]))
	if err != nil {
		return nil, err
	}
	filter, err := diversity.NewNovelty(store, maxSimilarity)
	if err != nil {
		return nil, err
	}
	g := &NoveltyGate{run: run, emb: emb, on: on, filter: filter, attempts: map[string]int{}}
	if err := g.rebuild(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// rebuild fills the store with the last stored vector of every accepted
// unit, in the order the units first appear in the vector store.
func (g *NoveltyGate) rebuild(ctx context.Context) error {
	latest := map[string][]float32{}
	var order []string
	dim := g.filter.Store().Dim()
	err := g.run.Vectors(func(key string, v []float32) error {
		unit, attempt := g.vectorUnit(key)
		done, accepted := g.run.Status(unit)
		switch {
		case accepted:
			if len(v) != dim {
				return fmt.Errorf("the run's vectors have %d floats but %s gives %d: resume with the embedder run.json records, or start over with --fresh", len(v), g.emb.Name, dim)
			}
			if _, ok := latest[unit]; !ok {
				order = append(order, unit)
			}
			latest[unit] = append([]float32(nil), v...)
		case !done:
			g.attempts[unit] = max(g.attempts[unit], attempt+1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("couldn't rebuild the novelty store: %w", err)
	}
	for _, u := range order {
		// Stored as they were checked (normalized then): the same bits.
		if err := g.filter.Store().Add(ctx, u, latest[u], nil, nil); err != nil {
			return fmt.Errorf("couldn't rebuild the novelty store: %w", err)
		}
	}
	return nil
}

// vectorUnit maps a vector store key to its unit and attempt ("u#2" → u, 2;
// a key that is itself a journaled unit is that unit).
func (g *NoveltyGate) vectorUnit(key string) (string, int) {
	if done, _ := g.run.Status(key); done {
		return key, 0
	}
	if i := strings.LastIndexByte(key, '#'); i > 0 {
		if n, err := strconv.Atoi(key[i+1:]); err == nil && n > 0 && key[i+1] != '0' && key[i+1] != '+' {
			return key[:i], n
		}
	}
	return key, 0
}

// vectorKey is where unit's vector goes: the unit id, or "unit#N" when
// earlier attempts left vectors.
func (g *NoveltyGate) vectorKey(unit string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.attempts[unit]
	g.attempts[unit] = n + 1
	if n == 0 {
		return unit
	}
	return unit + "#" + strconv.Itoa(n)
}

// Store is the filter's store of accepted vectors.
func (g *NoveltyGate) Store() *diversity.Store { return g.filter.Store() }

// MaxSimilarity is the threshold in force.
func (g *NoveltyGate) MaxSimilarity() float64 { return g.filter.MaxSimilarity() }

// Stats says how many records were checked, rejected as near duplicates,
// and admitted without a check (no text to embed).
func (g *NoveltyGate) Stats() (checked, rejected, unchecked int64) {
	return g.checked.Load(), g.rejected.Load(), g.unchecked.Load()
}

// Admit implements [Gate].
func (g *NoveltyGate) Admit(ctx context.Context, unit string, rows []export.Row) (string, error) {
	g.mu.Lock()
	err := g.err
	g.mu.Unlock()
	if err != nil {
		return "", err
	}
	text := NoveltyText(rows, g.on)
	if strings.TrimSpace(text) == "" {
		g.unchecked.Add(1)
		return "", nil
	}
	vs, err := g.emb.Embed(ctx, []string{text})
	if err != nil {
		return "", fmt.Errorf("couldn't embed %s with %s: %w", unit, g.emb.Name, err)
	}
	if len(vs) != 1 {
		return "", fmt.Errorf("couldn't embed %s with %s: %d vectors for one text", unit, g.emb.Name, len(vs))
	}
	v := vs[0]
	if err := diversity.Normalize(v); err != nil {
		return "", fmt.Errorf("couldn't embed %s with %s: %w", unit, g.emb.Name, err)
	}
	g.checked.Add(1)
	d, err := g.filter.Check(unit, v)
	if err != nil {
		return "", err
	}
	if d.Near {
		g.rejected.Add(1)
		return ReasonNearDuplicate, nil
	}
	if err := g.run.AddVector(g.vectorKey(unit), v); err != nil {
		g.filter.Settle(ctx, unit, false)
		return "", err
	}
	if d.NearestID != "" {
		annotate(rows, map[string]any{
			MetaNearestID:         d.NearestID,
			MetaNearestSimilarity: math.Round(float64(d.Similarity)*1e4) / 1e4,
		})
	}
	return "", nil
}

// Settle implements [Gate]: a kept record's vector joins the store.
func (g *NoveltyGate) Settle(unit string, kept bool) {
	if err := g.filter.Settle(context.Background(), unit, kept); err != nil {
		g.mu.Lock()
		if g.err == nil {
			g.err = err
		}
		g.mu.Unlock()
	}
}

// annotate adds kv to the metadata of every row that has metadata. The
// engine hands Admit the rows before it journals them, on the committing
// goroutine, and every method builds a fresh metadata map per row, so
// adding keys here is safe; a row without a map gets a new one (the row
// value in the slice is replaced).
func annotate(rows []export.Row, kv map[string]any) {
	put := func(m map[string]any) map[string]any {
		if m == nil {
			m = make(map[string]any, len(kv))
		}
		for k, v := range kv {
			m[k] = v
		}
		return m
	}
	for i, r := range rows {
		switch r := r.(type) {
		case export.SFT:
			r.Metadata = put(r.Metadata)
			rows[i] = r
		case *export.SFT:
			r.Metadata = put(r.Metadata)
		case export.Preference:
			r.Metadata = put(r.Metadata)
			rows[i] = r
		case *export.Preference:
			r.Metadata = put(r.Metadata)
		case export.Critique:
			r.Metadata = put(r.Metadata)
			rows[i] = r
		case *export.Critique:
			r.Metadata = put(r.Metadata)
		}
	}
}

// NoveltyText is the text of a unit's rows the novelty filter embeds for
// on (see [OnPrompt], [OnResponse], [OnBoth]): from the first row that is
// an SFT conversation, a preference pair or a critique chain. System turns
// never count (one system prompt would make every record alike). "" when
// the rows have no such text.
func NoveltyText(rows []export.Row, on string) string {
	for _, r := range rows {
		var prompt, response string
		switch r := r.(type) {
		case export.SFT:
			prompt, response = turns(r.Messages, "user"), turns(r.Messages, "assistant")
		case *export.SFT:
			prompt, response = turns(r.Messages, "user"), turns(r.Messages, "assistant")
		case export.Preference:
			prompt, response = turns(r.Prompt, "user"), turns(r.Chosen, "assistant")
		case *export.Preference:
			prompt, response = turns(r.Prompt, "user"), turns(r.Chosen, "assistant")
		case export.Critique:
			prompt, response = turns(r.Prompt, "user"), finalRevision(r)
		case *export.Critique:
			prompt, response = turns(r.Prompt, "user"), finalRevision(*r)
		default:
			continue
		}
		switch on {
		case OnPrompt:
			return prompt
		case OnResponse:
			return response
		default:
			return strings.TrimSpace(prompt + "\n\n" + response)
		}
	}
	return ""
}

func turns(ms []export.Message, role string) string {
	var parts []string
	for _, m := range ms {
		if m.Role == role {
			parts = append(parts, m.Content)
		}
	}
	return strings.Join(parts, "\n")
}

func finalRevision(c export.Critique) string {
	if n := len(c.Steps); n > 0 {
		return c.Steps[n-1].Revision
	}
	return c.Initial
}
