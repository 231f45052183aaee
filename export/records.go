package export

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

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

// primaryConfigs is the order in which the default config (the one stored
// under data/) is chosen: the first of these that has rows.
var primaryConfigs = []string{ConfigSFT, ConfigPreferences, ConfigCritiques, ConfigRatings}

// Message is one chat turn in the Hugging Face / TRL conversational format.
type Message struct {
	Role    string `json:"role" parquet:"role,dict"`
	Content string `json:"content" parquet:"content"`
}

// Row is one record a generating command hands to [Run.Add]. The concrete
// types are [SFT], [Preference], [Rating] and [Critique].
type Row interface {
	// Config names the config (Hub subset) the row belongs to.
	Config() string
	validate() error
}

// SFT is an instruction-tuning conversation.
type SFT struct {
	// Messages is the whole conversation, usually user then assistant.
	Messages []Message `json:"messages"`
	// Metadata is method-specific detail (evol operation, depth, seed task,
	// archive niche, scores…). Stored as a JSON string column.
	Metadata map[string]any `json:"metadata,omitempty"`
}

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

func (SFT) Config() string        { return ConfigSFT }
func (Preference) Config() string { return ConfigPreferences }
func (Rating) Config() string     { return ConfigRatings }
func (Critique) Config() string   { return ConfigCritiques }

// errEmptyList is wrapped by validation errors: the Hub and TRL treat an empty
// message list as malformed, so such rows never reach the journal.
var errEmptyList = errors.New("empty list")

var validRoles = map[string]bool{"system": true, "user": true, "assistant": true, "tool": true}

func validateMessages(field string, ms []Message) error {
	if len(ms) == 0 {
		return fmt.Errorf("%s: %w", field, errEmptyList)
	}
	for i, m := range ms {
		if !validRoles[m.Role] {
			return fmt.Errorf("%s[%d]: role %q is not system, user, assistant or tool", field, i, m.Role)
		}
		if !utf8.ValidString(m.Content) {
			return fmt.Errorf("%s[%d]: content is not valid UTF-8", field, i)
		}
	}
	return nil
}

func validText(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	return nil
}

func (r SFT) validate() error { return validateMessages("messages", r.Messages) }

func (r Preference) validate() error {
	if err := validateMessages("prompt", r.Prompt); err != nil {
		return err
	}
	if err := validateMessages("chosen", r.Chosen); err != nil {
		return err
	}
	return validateMessages("rejected", r.Rejected)
}

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

// Provenance says where a unit's rows came from. Zero fields are filled from
// the run's [Manifest] when the unit is added, so simple commands can pass
// Provenance{TemplateHash: h} or even the zero value.
type Provenance struct {
	Method string `json:"method,omitempty"`
	// Model is the model that wrote the row (the judge, for preferences).
	Model       string `json:"model,omitempty"`
	ModelDigest string `json:"model_digest,omitempty"`
	// Seed is the sampling seed of this unit; nil means the run's seed.
	Seed         *int64 `json:"seed,omitempty"`
	TemplateHash string `json:"template_hash,omitempty"`
}

// fill completes p from the manifest, so every journal line is
// self-contained and export never needs run.json to label rows.
func (p Provenance) fill(m *Manifest) Provenance {
	if p.Method == "" {
		p.Method = m.Method
	}
	if p.Model == "" && len(m.Models) > 0 {
		p.Model = m.Models[0].Name
	}
	if p.ModelDigest == "" {
		for _, mi := range m.Models {
			if mi.Name == p.Model {
				p.ModelDigest = mi.Digest
				break
			}
		}
	}
	if p.Seed == nil {
		s := m.Seed
		p.Seed = &s
	}
	if p.TemplateHash == "" && len(m.TemplateHashes) == 1 {
		for _, h := range m.TemplateHashes {
			p.TemplateHash = h
		}
	}
	return p
}
