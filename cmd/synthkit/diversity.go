package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"synthkit/diversity"
	"synthkit/prompts/runner"
)

// diversityFlags are the flags of the diversity filter, shared by the
// generating commands that register them.
type diversityFlags struct {
	mode          string
	maxSimilarity float64
	embedModel    string
	on            string
}

// AddFlags registers the flags; defaultOn is what --on embeds by default
// for the command (prompt for instruct, response for respond).
func (d *diversityFlags) AddFlags(fs *pflag.FlagSet, defaultOn string) {
	fs.StringVar(&d.mode, "diversity", runner.DiversityNone, "none, or novelty: reject a record whose embedding is too close to an accepted one (see DIVERSITY)")
	fs.Float64Var(&d.maxSimilarity, "max-similarity", 0, fmt.Sprintf("novelty: reject above this cosine similarity (0: %v with the built-in embedder, %v with --embed-model)",
		diversity.DefaultMaxSimilarityHashed, diversity.DefaultMaxSimilarityModel))
	fs.StringVar(&d.embedModel, "embed-model", "", "novelty: the Ollama embedding `model`, e.g. nomic-embed-text (default: built-in hashed character trigrams, no model)")
	fs.StringVar(&d.on, "on", defaultOn, "novelty: what to embed: prompt, response or both")
}

func (d *diversityFlags) options() runner.Diversity {
	return runner.Diversity{Mode: d.mode, MaxSimilarity: d.maxSimilarity, EmbedModel: d.embedModel, On: d.on}
}

func (d *diversityFlags) validate() error {
	if err := d.options().Validate(); err != nil {
		return usagef("%s", err)
	}
	return nil
}

// diversityHelp is the DIVERSITY section of the generating commands' help.
const diversityHelp = `DIVERSITY
  --diversity novelty embeds every record that passed the method's own
  checks and rejects it as near_duplicate when its cosine similarity to an
  accepted record (or one being accepted by another worker) is above
  --max-similarity. --on picks the text: the user turns (prompt), the
  assistant turns (response) or both. Without --embed-model a built-in
  embedder (hashed character trigrams) needs no model and catches copies
  and light rewordings (default threshold 0.85); an Ollama embedding model
  also catches paraphrases (default 0.95). Rows get nearest_id and
  nearest_similarity in their metadata; run.json records the settings and
  the embedding model's digest, and a resumed run rebuilds the store from
  the run's vectors/ folder (resume with the same --diversity, --embed-model
  and --on).`
