package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"synthkit/diversity"
	"synthkit/prompts"
	"synthkit/prompts/runner"
)

// diversityFlags are the flags of the diversity filter, shared by the
// generating commands that register them.
type diversityFlags struct {
	mode          string
	maxSimilarity float64
	embedModel    string
	on            string

	// QDAIF (instruct only; see AddQDFlags).
	qdAllowed bool
	axesFile  string
	judge     string
	qdLabels  string
	axes      []diversity.Axis // loaded by validate
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

// AddQDFlags registers the QDAIF flags (--diversity qd) for a command
// whose method can be QDAIF's mutation operator.
func (d *diversityFlags) AddQDFlags(fs *pflag.FlagSet) {
	d.qdAllowed = true
	if f := fs.Lookup("diversity"); f != nil {
		f.Usage = "none; novelty: reject a record whose embedding is too close to an accepted one; qd: fill a QDAIF archive of judged cells (see DIVERSITY)"
	}
	fs.StringVar(&d.axesFile, "axes", "", "qd: the archive's axes, a YAML `file` (default: domain × task type × difficulty, 144 cells; see DIVERSITY)")
	fs.StringVar(&d.judge, "judge", "", "qd: the `model` that labels each candidate on the axes and scores its quality (may be --model)")
	fs.StringVar(&d.qdLabels, "qd-labels", prompts.QDLabelsAuto, "qd: how the judge answers: auto (logprobs where the server has them, else schema), schema or logprobs")
}

func (d *diversityFlags) options() runner.Diversity {
	return runner.Diversity{Mode: d.mode, MaxSimilarity: d.maxSimilarity, EmbedModel: d.embedModel, On: d.on}
}

func (d *diversityFlags) qd() bool { return d.mode == runner.DiversityQD }

func (d *diversityFlags) validate() error {
	if err := d.options().Validate(); err != nil {
		return usagef("%s", err)
	}
	if !d.qd() {
		if d.axesFile != "" || d.judge != "" {
			return usagef("--axes and --judge go with --diversity qd")
		}
		return nil
	}
	switch {
	case !d.qdAllowed:
		return usagef("--diversity qd steers instruction generation (synthkit instruct); here use --diversity novelty")
	case d.judge == "":
		return usagef("--diversity qd needs --judge MODEL to label and score the candidates (it may be the --model)")
	case d.embedModel != "":
		return usagef("--embed-model goes with --diversity novelty, not qd")
	}
	switch d.qdLabels {
	case prompts.QDLabelsAuto, prompts.QDLabelsSchema, prompts.QDLabelsLogprobs:
	default:
		return usagef("--qd-labels must be auto, schema or logprobs, not %q", d.qdLabels)
	}
	d.axes = prompts.DefaultQDAxes()
	if d.axesFile != "" {
		axes, err := prompts.LoadAxes(d.axesFile)
		if err != nil {
			return inputError(err)
		}
		d.axes = axes
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

// qdHelp is the QDAIF part of instruct's DIVERSITY section.
const qdHelp = `  --diversity qd (instruct) runs QDAIF: a MAP-Elites archive whose cells
  are label combinations of --axes (default domain: 8 labels, task_type: 6,
  difficulty: easy/medium/hard, 144 cells) and whose fitness is the
  --judge's quality score. Each candidate aims at an empty cell (least tried
  first): self-instruct writes a new task for it from 3 elites of nearby
  cells, evol rewrites a nearby elite toward it, magpie writes a query
  under a system prompt naming it. The judge labels the candidate on every
  axis and scores it (one JSON reply with an enum per axis and a 1–10
  score, or first-token log-probabilities where the server returns them:
  --qd-labels); a candidate is answered and kept only if its cell is empty
  or holds a worse elite. -n counts candidates evaluated. The data is the
  final archive, one elite per filled cell: replaced elites stay in the
  journal and are left out of Parquet. Rows carry qd_cell, qd_quality and
  qd_iteration; QD-score and coverage show while it runs and go into the
  dataset card. An axes file:
      axes:
        - name: domain
          description: the field the task is about   # optional
          labels: [science, history, cooking, sport]
        - name: difficulty
          ordinal: true                               # labels in order
          labels: [easy, medium, hard]`
