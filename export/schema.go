package export

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Parquet rows, one struct per config. Column order is the struct order;
// every row ends with the provenance columns. Chat columns are required
// `list<struct<role,content>>` (never empty, never mixed with plain-string
// chat columns in one config). metadata is a JSON object string ("{}" when
// the method had nothing to add).

type sftRow struct {
	ID           string    `parquet:"id" json:"id"`
	Messages     []Message `parquet:"messages,list" json:"messages"`
	Metadata     string    `parquet:"metadata" json:"metadata"`
	Method       string    `parquet:"method,dict" json:"method"`
	Model        string    `parquet:"model,dict" json:"model"`
	ModelDigest  string    `parquet:"model_digest,dict" json:"model_digest"`
	Seed         int64     `parquet:"seed" json:"seed"`
	TemplateHash string    `parquet:"template_hash,dict" json:"template_hash"`
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
	Method        string    `parquet:"method,dict" json:"method"`
	Model         string    `parquet:"model,dict" json:"model"`
	ModelDigest   string    `parquet:"model_digest,dict" json:"model_digest"`
	Seed          int64     `parquet:"seed" json:"seed"`
	TemplateHash  string    `parquet:"template_hash,dict" json:"template_hash"`
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
	Method                string         `parquet:"method,dict" json:"method"`
	Model                 string         `parquet:"model,dict" json:"model"`
	ModelDigest           string         `parquet:"model_digest,dict" json:"model_digest"`
	Seed                  int64          `parquet:"seed" json:"seed"`
	TemplateHash          string         `parquet:"template_hash,dict" json:"template_hash"`
}

type critiqueRow struct {
	ID              string         `parquet:"id" json:"id"`
	Prompt          []Message      `parquet:"prompt,list" json:"prompt"`
	InitialResponse []Message      `parquet:"initial_response,list" json:"initial_response"`
	Steps           []CritiqueStep `parquet:"steps,list" json:"steps"`
	FinalRevision   []Message      `parquet:"final_revision,list" json:"final_revision"`
	Metadata        string         `parquet:"metadata" json:"metadata"`
	Method          string         `parquet:"method,dict" json:"method"`
	Model           string         `parquet:"model,dict" json:"model"`
	ModelDigest     string         `parquet:"model_digest,dict" json:"model_digest"`
	Seed            int64          `parquet:"seed" json:"seed"`
	TemplateHash    string         `parquet:"template_hash,dict" json:"template_hash"`
}

// Journal-side decoding: metadata stays raw so its bytes pass through as is.
type sftIn struct {
	Messages []Message       `json:"messages"`
	Metadata json.RawMessage `json:"metadata"`
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

type ratingIn struct {
	Prompt      []Message         `json:"prompt"`
	Completions []RatedCompletion `json:"completions"`
	Metadata    json.RawMessage   `json:"metadata"`
}

type critiqueIn struct {
	Prompt   []Message       `json:"prompt"`
	Initial  string          `json:"initial"`
	Steps    []CritiqueStep  `json:"steps"`
	Metadata json.RawMessage `json:"metadata"`
}

// prov is the provenance of one unit as export sees it.
type prov struct {
	method, model, digest, template string
	seed                            int64
}

func provOf(p *Provenance) prov {
	out := prov{method: p.Method, model: p.Model, digest: p.ModelDigest, template: p.TemplateHash}
	if p.Seed != nil {
		out.seed = *p.Seed
	}
	return out
}

func metadataString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "{}"
	}
	return string(raw)
}

// Size estimates approximate the Arrow in-memory (uncompressed) size, the
// measure the Hub uses for row groups and shards: bytes plus offsets.
func msgsSize(ms []Message) int64 {
	n := int64(4)
	for _, m := range ms {
		n += int64(len(m.Role)+len(m.Content)) + 8
	}
	return n
}

func strSize(ss ...string) int64 {
	var n int64
	for _, s := range ss {
		n += int64(len(s)) + 4
	}
	return n
}

func assistant(text string) []Message { return []Message{{Role: "assistant", Content: text}} }

// projectSFT and friends turn one journal row into Parquet rows of a config.
// emit receives each row with its size estimate.

func projectSFT(unit string, p prov, in *sftIn, emit func(sftRow, int64)) error {
	if len(in.Messages) == 0 {
		return fmt.Errorf("sft row of %q: messages: %w", unit, errEmptyList)
	}
	r := sftRow{ID: unit, Messages: in.Messages, Metadata: metadataString(in.Metadata),
		Method: p.method, Model: p.model, ModelDigest: p.digest, Seed: p.seed, TemplateHash: p.template}
	emit(r, msgsSize(r.Messages)+strSize(r.ID, r.Metadata, r.Method, r.Model, r.ModelDigest, r.TemplateHash)+8)
	return nil
}

func projectPreference(unit string, p prov, in *preferenceIn, emit func(preferenceRow, int64)) error {
	if len(in.Prompt) == 0 || len(in.Chosen) == 0 || len(in.Rejected) == 0 {
		return fmt.Errorf("preference row of %q: %w", unit, errEmptyList)
	}
	emitPreference(preferenceRow{ID: unit, Prompt: in.Prompt, Chosen: in.Chosen, Rejected: in.Rejected,
		ScoreChosen: in.ScoreChosen, ScoreRejected: in.ScoreRejected,
		ChosenModel: in.ChosenModel, RejectedModel: in.RejectedModel, Metadata: metadataString(in.Metadata)}, p, emit)
	return nil
}

func emitPreference(r preferenceRow, p prov, emit func(preferenceRow, int64)) {
	r.Method, r.Model, r.ModelDigest, r.Seed, r.TemplateHash = p.method, p.model, p.digest, p.seed, p.template
	emit(r, msgsSize(r.Prompt)+msgsSize(r.Chosen)+msgsSize(r.Rejected)+16+
		strSize(r.ID, r.ChosenModel, r.RejectedModel, r.Metadata, r.Method, r.Model, r.ModelDigest, r.TemplateHash)+8)
}

func projectRating(unit string, p prov, in *ratingIn, emit func(ratingRow, int64)) error {
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
			Metadata: meta, Method: p.method, Model: p.model, ModelDigest: p.digest, Seed: p.seed, TemplateHash: p.template}
		size := msgsSize(r.Prompt) + msgsSize(r.Completion) + 4
		for _, a := range r.Ratings {
			size += strSize(a.Aspect, a.Rationale) + 8
		}
		emit(r, size+strSize(r.ID, r.CompletionModel, r.CompletionModelDigest, r.Metadata, r.Method, r.Model, r.ModelDigest, r.TemplateHash)+24)
	}
	return nil
}

func checkCritique(unit string, in *critiqueIn) error {
	if len(in.Prompt) == 0 || len(in.Steps) == 0 || in.Initial == "" {
		return fmt.Errorf("critique row of %q: %w", unit, errEmptyList)
	}
	return nil
}

func projectCritique(unit string, p prov, in *critiqueIn, emit func(critiqueRow, int64)) error {
	if err := checkCritique(unit, in); err != nil {
		return err
	}
	r := critiqueRow{ID: unit, Prompt: in.Prompt, InitialResponse: assistant(in.Initial), Steps: in.Steps,
		FinalRevision: assistant(in.Steps[len(in.Steps)-1].Revision), Metadata: metadataString(in.Metadata),
		Method: p.method, Model: p.model, ModelDigest: p.digest, Seed: p.seed, TemplateHash: p.template}
	size := msgsSize(r.Prompt) + msgsSize(r.InitialResponse) + msgsSize(r.FinalRevision) + 4
	for _, s := range r.Steps {
		size += strSize(s.Principle, s.Critique, s.Revision)
	}
	emit(r, size+strSize(r.ID, r.Metadata, r.Method, r.Model, r.ModelDigest, r.TemplateHash)+8)
	return nil
}

// projectCritiqueSFT derives SFT on the final revision.
func projectCritiqueSFT(unit string, p prov, in *critiqueIn, emit func(sftRow, int64)) error {
	if err := checkCritique(unit, in); err != nil {
		return err
	}
	msgs := append(append([]Message{}, in.Prompt...), assistant(in.Steps[len(in.Steps)-1].Revision)...)
	r := sftRow{ID: unit, Messages: msgs, Metadata: metadataString(in.Metadata),
		Method: p.method, Model: p.model, ModelDigest: p.digest, Seed: p.seed, TemplateHash: p.template}
	emit(r, msgsSize(r.Messages)+strSize(r.ID, r.Metadata, r.Method, r.Model, r.ModelDigest, r.TemplateHash)+8)
	return nil
}

// projectCritiquePreference derives the pair revision ≻ initial response.
func projectCritiquePreference(unit string, p prov, in *critiqueIn, emit func(preferenceRow, int64)) error {
	if err := checkCritique(unit, in); err != nil {
		return err
	}
	emitPreference(preferenceRow{ID: unit, Prompt: in.Prompt, Chosen: assistant(in.Steps[len(in.Steps)-1].Revision),
		Rejected: assistant(in.Initial), ChosenModel: p.model, RejectedModel: p.model,
		Metadata: metadataString(in.Metadata)}, p, emit)
	return nil
}
