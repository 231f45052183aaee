package runner

import (
	"context"
	"fmt"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/local"
	"synthkit/prompts"
)

// Diversity modes (--diversity).
const (
	DiversityNone    = "none"
	DiversityNovelty = "novelty"
	// DiversityQD is QDAIF: the method itself is wrapped in a MAP-Elites
	// loop ([prompts.QD]); the lifecycle only records the mode.
	DiversityQD = "qd"
)

// Diversity is how a run keeps its data diverse while it generates.
type Diversity struct {
	// Mode is DiversityNone ("" too), DiversityNovelty or DiversityQD.
	Mode string
	// MaxSimilarity is the novelty threshold: a record whose cosine
	// similarity to an accepted one is above it is rejected (0: the
	// embedder's default, see [diversity.DefaultMaxSimilarityHashed] and
	// [diversity.DefaultMaxSimilarityModel]).
	MaxSimilarity float64
	// EmbedModel is the Ollama model that embeds ("": the built-in hashed
	// n-gram embedder, no model needed). It is resolved, pulled and
	// recorded (role "embedder", digest) like the method's models.
	EmbedModel string
	// On is the text embedded: prompts.OnPrompt, OnResponse or OnBoth
	// ("": OnPrompt).
	On string
}

// Manifest option keys the diversity settings are recorded under.
const (
	optDiversity     = "diversity"
	optEmbedder      = "diversity_embedder"
	optOn            = "diversity_on"
	optMaxSimilarity = "diversity_max_similarity"
)

// Validate checks the settings.
func (d Diversity) Validate() error {
	switch d.Mode {
	case "", DiversityNone, DiversityNovelty, DiversityQD:
	default:
		return fmt.Errorf("--diversity must be none, novelty or qd, not %q", d.Mode)
	}
	switch d.On {
	case "", prompts.OnPrompt, prompts.OnResponse, prompts.OnBoth:
	default:
		return fmt.Errorf("--on must be prompt, response or both, not %q", d.On)
	}
	if d.MaxSimilarity != 0 && (d.MaxSimilarity <= -1 || d.MaxSimilarity > 1) {
		return fmt.Errorf("--max-similarity must be in (-1, 1], not %v", d.MaxSimilarity)
	}
	return nil
}

func (d Diversity) novelty() bool { return d.Mode == DiversityNovelty }

func (d Diversity) on() string {
	if d.On == "" {
		return prompts.OnPrompt
	}
	return d.On
}

// models returns the method's models plus the embedding model, if any.
func (d Diversity) models(refs []prompts.ModelRef) []prompts.ModelRef {
	if !d.novelty() || d.EmbedModel == "" {
		return refs
	}
	return append(refs[:len(refs):len(refs)], prompts.ModelRef{Name: d.EmbedModel, Role: prompts.RoleEmbedder})
}

// diversitySetup is a resolved diversity configuration, before the run
// is open.
type diversitySetup struct {
	d   Diversity
	emb diversity.Embedder
	tau float64
}

// prepareDiversity resolves the embedder (infos holds the resolved models,
// the embedding model last), records the settings in man.Options and
// refuses to resume a run whose run.json records other settings. It
// returns nil when the run has no diversity filter.
func prepareDiversity(d Diversity, out string, fresh bool, client *local.Client, infos []local.ModelInfo, man *export.Manifest) (*diversitySetup, error) {
	if err := d.Validate(); err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	rec := map[string]any{}
	var s *diversitySetup
	if d.novelty() {
		s = &diversitySetup{d: d, emb: diversity.HashedNGrams()}
		if d.EmbedModel != "" {
			model := infos[len(infos)-1].Name
			s.emb = diversity.Embedder{
				Name:                 "ollama:" + model,
				DefaultMaxSimilarity: diversity.DefaultMaxSimilarityModel,
				Embed: func(ctx context.Context, texts []string) ([][]float32, error) {
					return client.Embed(ctx, model, texts)
				},
			}
		}
		s.tau = d.MaxSimilarity
		if s.tau == 0 {
			s.tau = s.emb.DefaultMaxSimilarity
		}
		rec = map[string]any{optDiversity: DiversityNovelty, optEmbedder: s.emb.Name, optOn: d.on(), optMaxSimilarity: s.tau}
	}
	if d.Mode == DiversityQD {
		rec = map[string]any{optDiversity: DiversityQD}
	}
	if !fresh {
		if old, err := export.ReadManifest(out); err == nil {
			for _, k := range []string{optDiversity, optEmbedder, optOn} {
				was, now := old.Options[k], rec[k]
				if was == nil {
					was = DiversityNone
				}
				if now == nil {
					now = DiversityNone
				}
				if was != now {
					return nil, &UsageError{Msg: fmt.Sprintf("%s holds a run with %s %v, now %v: the store of accepted vectors would not match; resume with the same --diversity, --embed-model and --on, or pass --fresh",
						out, k, was, now)}
				}
			}
		}
		// No readable run.json: a new run, or one OpenRun reports on.
	}
	if man.Options == nil {
		man.Options = map[string]any{}
	}
	for k, v := range rec {
		man.Options[k] = v
	}
	return s, nil
}

// gate builds the novelty filter for the open run (rebuilding its store
// on resume); nil when the run has none.
func (s *diversitySetup) gate(ctx context.Context, run *export.Run) (prompts.Gate, error) {
	if s == nil {
		return nil, nil
	}
	g, err := prompts.NewNoveltyGate(ctx, run, s.emb, s.d.on(), s.tau)
	if err != nil {
		return nil, err
	}
	return g, nil
}
