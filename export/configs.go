package export

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Every config (Hub subset) is one entry of configSpecs, defined in one
// section of this file: the row type commands hand to [Run.Add], how export
// decodes it from the journal, its Parquet row, the projection between the
// two, the card's text and tags, and which configs are derived from it.
// Nothing else in the package switches on config names, so adding a config
// is adding a section here.
//
// ⚠️ Parquet rows are `id`, the config's own columns, `metadata`, then the
// provenance columns of the embedded provColumns (parquet-go and
// encoding/json flatten it in place). The Go type name of a Parquet row is
// the file's root schema name: renaming one changes every file's bytes.
// testdata/*.golden pin schemas and bytes of every config.

// Config names. Each config becomes one Hub subset: its own Parquet files
// and its own entry in the dataset card.
const (
	ConfigSFT         = "sft"
	ConfigPreferences = "preferences"
	ConfigRatings     = "ratings"
	ConfigCritiques   = "critiques"
	// Derived from critiques at export time; never appended directly.
	ConfigCritiqueSFT         = "critiques_sft"
	ConfigCritiquePreferences = "critiques_preferences"
)

// configSpecs lists every config. Configs commands append come in the order
// the default config (the one stored under data/) is chosen: the first of
// them with rows. A derived config follows the config it is made from.
var configSpecs = []*configSpec{
	primary[SFT](ConfigSFT, projectSFT,
		"SFT conversations: `messages` (TRL `SFTTrainer`)", "sft"),
	primary[Preference](ConfigPreferences, projectPreference,
		"preference pairs: `prompt`, `chosen`, `rejected` (TRL `DPOTrainer`, `RewardTrainer`)", "dpo", "preference"),
	primary[Critique](ConfigCritiques, projectCritique,
		"critique → revision chains: `prompt`, `initial_response`, `steps`, `final_revision`", "constitutional-ai"),
	derivedFrom(ConfigCritiques, ConfigCritiqueSFT, projectCritiqueSFT,
		"SFT on the final revisions: `messages`", "sft"),
	derivedFrom(ConfigCritiques, ConfigCritiquePreferences, projectCritiquePreference,
		"pairs: final revision chosen over the initial response", "dpo", "preference"),
	primary[Rating](ConfigRatings, projectRating,
		"every completion with every aspect's rating and rationale", "rlaif"),
}

// provColumns are the provenance columns every Parquet row ends with.
type provColumns struct {
	Method       string `parquet:"method,dict" json:"method"`
	Model        string `parquet:"model,dict" json:"model"`
	ModelDigest  string `parquet:"model_digest,dict" json:"model_digest"`
	Seed         int64  `parquet:"seed" json:"seed"`
	TemplateHash string `parquet:"template_hash,dict" json:"template_hash"`
}

func provOf(p *Provenance) provColumns {
	out := provColumns{Method: p.Method, Model: p.Model, ModelDigest: p.ModelDigest, TemplateHash: p.TemplateHash}
	if p.Seed != nil {
		out.Seed = *p.Seed
	}
	return out
}

// size estimates the columns' in-memory size (see msgsSize).
func (p provColumns) size() int64 {
	return strSize(p.Method, p.Model, p.ModelDigest, p.TemplateHash) + 8
}

// ── sft ────────────────────────────────────────────────────────────────────

// SFT is an instruction-tuning conversation.
type SFT struct {
	// Messages is the whole conversation, usually user then assistant.
	Messages []Message `json:"messages"`
	// Metadata is method-specific detail (evol operation, depth, seed task,
	// archive niche, scores…). Stored as a JSON string column.
	Metadata map[string]any `json:"metadata,omitempty"`
}

func (SFT) Config() string { return ConfigSFT }

func (r SFT) validate() error { return validateMessages("messages", r.Messages) }

// sftIn is SFT as export decodes it: metadata stays raw so its bytes pass
// through as is (the same for every config).
type sftIn struct {
	Messages []Message       `json:"messages"`
	Metadata json.RawMessage `json:"metadata"`
}

type sftRow struct {
	ID       string    `parquet:"id" json:"id"`
	Messages []Message `parquet:"messages,list" json:"messages"`
	Metadata string    `parquet:"metadata" json:"metadata"`
	provColumns
}

func projectSFT(unit string, p provColumns, in *sftIn, emit func(sftRow, int64)) error {
	if len(in.Messages) == 0 {
		return fmt.Errorf("sft row of %q: messages: %w", unit, errEmptyList)
	}
	emitSFT(sftRow{ID: unit, Messages: in.Messages, Metadata: metadataString(in.Metadata), provColumns: p}, emit)
	return nil
}

func emitSFT(r sftRow, emit func(sftRow, int64)) {
	emit(r, msgsSize(r.Messages)+strSize(r.ID, r.Metadata)+r.provColumns.size())
}

// ── preferences ────────────────────────────────────────────────────────────

// Preference is a TRL conversational preference pair with an explicit prompt.
type Preference struct {
	Prompt   []Message `json:"prompt"`
	Chosen   []Message `json:"chosen"`
	Rejected []Message `json:"rejected"`
	// Scores are nil when the method has none (the column is then null).
	ScoreChosen   *float64 `json:"score_chosen,omitempty"`
	ScoreRejected *float64 `json:"score_rejected,omitempty"`
	// ChosenModel and RejectedModel name the models that wrote each side;
	// the row's provenance model is the judge.
	ChosenModel   string         `json:"chosen_model,omitempty"`
	RejectedModel string         `json:"rejected_model,omitempty"`
	Metadata      map[string]any `json:"metadata,omitempty"`
}

func (Preference) Config() string { return ConfigPreferences }

func (r Preference) validate() error {
	if err := validateMessages("prompt", r.Prompt); err != nil {
		return err
	}
	if err := validateMessages("chosen", r.Chosen); err != nil {
		return err
	}
	return validateMessages("rejected", r.Rejected)
}

type preferenceIn struct {
	Prompt        []Message       `json:"prompt"`
	Chosen        []Message       `json:"chosen"`
	Rejected      []Message       `json:"rejected"`
	ScoreChosen   *float64        `json:"score_chosen"`
	ScoreRejected *float64        `json:"score_rejected"`
	ChosenModel   string          `json:"chosen_model"`
	RejectedModel string          `json:"rejected_model"`
	Metadata      json.RawMessage `json:"metadata"`
}

type preferenceRow struct {
	ID            string    `parquet:"id" json:"id"`
	Prompt        []Message `parquet:"prompt,list" json:"prompt"`
	Chosen        []Message `parquet:"chosen,list" json:"chosen"`
	Rejected      []Message `parquet:"rejected,list" json:"rejected"`
	ScoreChosen   *float64  `parquet:"score_chosen,optional" json:"score_chosen"`
	ScoreRejected *float64  `parquet:"score_rejected,optional" json:"score_rejected"`
	ChosenModel   string    `parquet:"chosen_model,dict" json:"chosen_model"`
	RejectedModel string    `parquet:"rejected_model,dict" json:"rejected_model"`
	Metadata      string    `parquet:"metadata" json:"metadata"`
	provColumns
}

func projectPreference(unit string, p provColumns, in *preferenceIn, emit func(preferenceRow, int64)) error {
	if len(in.Prompt) == 0 || len(in.Chosen) == 0 || len(in.Rejected) == 0 {
		return fmt.Errorf("preference row of %q: %w", unit, errEmptyList)
	}
	emitPreference(preferenceRow{ID: unit, Prompt: in.Prompt, Chosen: in.Chosen, Rejected: in.Rejected,
		ScoreChosen: in.ScoreChosen, ScoreRejected: in.ScoreRejected,
		ChosenModel: in.ChosenModel, RejectedModel: in.RejectedModel, Metadata: metadataString(in.Metadata),
		provColumns: p}, emit)
	return nil
}

func emitPreference(r preferenceRow, emit func(preferenceRow, int64)) {
	emit(r, msgsSize(r.Prompt)+msgsSize(r.Chosen)+msgsSize(r.Rejected)+16+
		strSize(r.ID, r.ChosenModel, r.RejectedModel, r.Metadata)+r.provColumns.size())
}

// ── critiques, critiques_sft, critiques_preferences ────────────────────────

// Critique is a Constitutional AI critique→revision chain. Export also
// derives an SFT row on the final revision and a preference pair
// (final revision chosen over the initial response).
type Critique struct {
	Prompt []Message `json:"prompt"`
	// Initial is the assistant's first response.
	Initial  string         `json:"initial"`
	Steps    []CritiqueStep `json:"steps"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// CritiqueStep is one round: the principle applied, the critique, the revision.
type CritiqueStep struct {
	Principle string `json:"principle" parquet:"principle,dict"`
	Critique  string `json:"critique" parquet:"critique"`
	Revision  string `json:"revision" parquet:"revision"`
}

func (Critique) Config() string { return ConfigCritiques }

func (r Critique) validate() error {
	if err := validateMessages("prompt", r.Prompt); err != nil {
		return err
	}
	if err := validText("initial", r.Initial); err != nil {
		return err
	}
	if len(r.Steps) == 0 {
		return fmt.Errorf("steps: %w", errEmptyList)
	}
	for i, s := range r.Steps {
		if err := validText(fmt.Sprintf("steps[%d].revision", i), s.Revision); err != nil {
			return err
		}
	}
	return nil
}

type critiqueIn struct {
	Prompt   []Message       `json:"prompt"`
	Initial  string          `json:"initial"`
	Steps    []CritiqueStep  `json:"steps"`
	Metadata json.RawMessage `json:"metadata"`
}

type critiqueRow struct {
	ID              string         `parquet:"id" json:"id"`
	Prompt          []Message      `parquet:"prompt,list" json:"prompt"`
	InitialResponse []Message      `parquet:"initial_response,list" json:"initial_response"`
	Steps           []CritiqueStep `parquet:"steps,list" json:"steps"`
	FinalRevision   []Message      `parquet:"final_revision,list" json:"final_revision"`
	Metadata        string         `parquet:"metadata" json:"metadata"`
	provColumns
}

func checkCritique(unit string, in *critiqueIn) error {
	if len(in.Prompt) == 0 || len(in.Steps) == 0 || in.Initial == "" {
		return fmt.Errorf("critique row of %q: %w", unit, errEmptyList)
	}
	return nil
}

func (in *critiqueIn) final() string { return in.Steps[len(in.Steps)-1].Revision }

func projectCritique(unit string, p provColumns, in *critiqueIn, emit func(critiqueRow, int64)) error {
	if err := checkCritique(unit, in); err != nil {
		return err
	}
	r := critiqueRow{ID: unit, Prompt: in.Prompt, InitialResponse: assistant(in.Initial), Steps: in.Steps,
		FinalRevision: assistant(in.final()), Metadata: metadataString(in.Metadata), provColumns: p}
	size := msgsSize(r.Prompt) + msgsSize(r.InitialResponse) + msgsSize(r.FinalRevision) + 4
	for _, s := range r.Steps {
		size += strSize(s.Principle, s.Critique, s.Revision)
	}
	emit(r, size+strSize(r.ID, r.Metadata)+p.size())
	return nil
}

// projectCritiqueSFT derives SFT on the final revision.
func projectCritiqueSFT(unit string, p provColumns, in *critiqueIn, emit func(sftRow, int64)) error {
	if err := checkCritique(unit, in); err != nil {
		return err
	}
	msgs := append(append([]Message{}, in.Prompt...), assistant(in.final())...)
	emitSFT(sftRow{ID: unit, Messages: msgs, Metadata: metadataString(in.Metadata), provColumns: p}, emit)
	return nil
}

// projectCritiquePreference derives the pair revision ≻ initial response.
// A trace whose revisions kept the answer as it was yields no pair: chosen
// and rejected would be the same text.
func projectCritiquePreference(unit string, p provColumns, in *critiqueIn, emit func(preferenceRow, int64)) error {
	if err := checkCritique(unit, in); err != nil {
		return err
	}
	if strings.TrimSpace(in.final()) == strings.TrimSpace(in.Initial) {
		return nil
	}
	emitPreference(preferenceRow{ID: unit, Prompt: in.Prompt, Chosen: assistant(in.final()),
		Rejected: assistant(in.Initial), ChosenModel: p.Model, RejectedModel: p.Model,
		Metadata: metadataString(in.Metadata), provColumns: p}, emit)
	return nil
}

// ── ratings ────────────────────────────────────────────────────────────────

// Rating holds every completion for one prompt with every aspect's rating
// (UltraFeedback style). It exports one row per completion.
type Rating struct {
	Prompt      []Message         `json:"prompt"`
	Completions []RatedCompletion `json:"completions"`
	Metadata    map[string]any    `json:"metadata,omitempty"`
}

// RatedCompletion is one model's answer and its ratings.
type RatedCompletion struct {
	Model       string `json:"model"`
	ModelDigest string `json:"model_digest,omitempty"`
	// Response is the assistant's text.
	Response string         `json:"response"`
	Ratings  []AspectRating `json:"ratings"`
	// Overall is the judge's overall score; nil means the mean of Ratings.
	Overall *float64 `json:"overall,omitempty"`
}

// AspectRating is a judge's rating of one aspect with its rationale.
type AspectRating struct {
	Aspect    string  `json:"aspect" parquet:"aspect,dict"`
	Rating    float64 `json:"rating" parquet:"rating"`
	Rationale string  `json:"rationale" parquet:"rationale"`
}

func (Rating) Config() string { return ConfigRatings }

func (r Rating) validate() error {
	if err := validateMessages("prompt", r.Prompt); err != nil {
		return err
	}
	if len(r.Completions) == 0 {
		return fmt.Errorf("completions: %w", errEmptyList)
	}
	for i, c := range r.Completions {
		if err := validText(fmt.Sprintf("completions[%d].response", i), c.Response); err != nil {
			return err
		}
		if len(c.Ratings) == 0 {
			return fmt.Errorf("completions[%d].ratings: %w", i, errEmptyList)
		}
	}
	return nil
}

type ratingIn struct {
	Prompt      []Message         `json:"prompt"`
	Completions []RatedCompletion `json:"completions"`
	Metadata    json.RawMessage   `json:"metadata"`
}

// ratingRow is one rated completion; (id, completion_index) is the key.
type ratingRow struct {
	ID                    string         `parquet:"id" json:"id"`
	CompletionIndex       int64          `parquet:"completion_index" json:"completion_index"`
	Prompt                []Message      `parquet:"prompt,list" json:"prompt"`
	Completion            []Message      `parquet:"completion,list" json:"completion"`
	CompletionModel       string         `parquet:"completion_model,dict" json:"completion_model"`
	CompletionModelDigest string         `parquet:"completion_model_digest,dict" json:"completion_model_digest"`
	Ratings               []AspectRating `parquet:"ratings,list" json:"ratings"`
	Overall               float64        `parquet:"overall" json:"overall"`
	Metadata              string         `parquet:"metadata" json:"metadata"`
	provColumns
}

func projectRating(unit string, p provColumns, in *ratingIn, emit func(ratingRow, int64)) error {
	if len(in.Prompt) == 0 || len(in.Completions) == 0 {
		return fmt.Errorf("ratings row of %q: %w", unit, errEmptyList)
	}
	meta := metadataString(in.Metadata)
	for i, c := range in.Completions {
		if len(c.Ratings) == 0 {
			return fmt.Errorf("ratings row of %q: completion %d: %w", unit, i, errEmptyList)
		}
		overall := 0.0
		if c.Overall != nil {
			overall = *c.Overall
		} else {
			for _, a := range c.Ratings {
				overall += a.Rating
			}
			overall /= float64(len(c.Ratings))
		}
		r := ratingRow{ID: unit, CompletionIndex: int64(i), Prompt: in.Prompt, Completion: assistant(c.Response),
			CompletionModel: c.Model, CompletionModelDigest: c.ModelDigest, Ratings: c.Ratings, Overall: overall,
			Metadata: meta, provColumns: p}
		size := msgsSize(r.Prompt) + msgsSize(r.Completion) + 4
		for _, a := range r.Ratings {
			size += strSize(a.Aspect, a.Rationale) + 8
		}
		emit(r, size+strSize(r.ID, r.CompletionModel, r.CompletionModelDigest, r.Metadata)+16+p.size())
	}
	return nil
}
