package export

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Message is one chat turn in the Hugging Face / TRL conversational format.
type Message struct {
	Role    string `json:"role" parquet:"role,dict"`
	Content string `json:"content" parquet:"content"`
}

// Row is one record a generating command hands to [Run.Add]. The concrete
// types are [SFT], [Preference], [Rating] and [Critique] (see configs.go).
type Row interface {
	// Config names the config (Hub subset) the row belongs to.
	Config() string
	validate() error
}

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
