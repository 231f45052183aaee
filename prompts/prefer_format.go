package prompts

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"synthkit/local"
)

// Judge reply formats of [Prefer].
const (
	// JudgeJSON asks for the mode's JSON schema as structured output.
	JudgeJSON = "json"
	// JudgeText asks for the usual free-text forms ("Answer 2 …
	// helpfulness: 4", "[[A]]", "[RESULT] 3", "Ranking: 2 > 1") and reads
	// them with the lenient parsers: for servers without response_format.
	JudgeText = "text"
)

var preferTextT = mustTemplate("prefer_text")

// returnHeading starts the section of every judge template that says
// what to return; text mode replaces that section.
const returnHeading = "## What to return\n"

// featureSource is what [local.Client] offers to find out whether the
// server enforces a JSON schema.
type featureSource interface {
	ServerFeatures(ctx context.Context) (local.Features, error)
}

// resolveFormat settles the judge format: as asked, or JSON when the
// server has structured output and text when it lacks it. A model that
// cannot be probed (a test double) is taken to have it.
func (m *Prefer) resolveFormat(ctx context.Context, env *Env) {
	switch m.JudgeFormat {
	case JudgeJSON, JudgeText:
		m.format = m.JudgeFormat
		if m.format == JudgeText {
			env.Run.Note("the judge answered in free text (--judge-format text), read by the lenient parsers")
		}
		return
	}
	m.format = JudgeJSON
	if fs, ok := env.Model.(featureSource); ok {
		if f, err := fs.ServerFeatures(ctx); err == nil && !f.StructuredOutput {
			m.format = JudgeText
			env.Run.Note("the server has no structured output: the judge answered in free text, read by the lenient parsers")
		}
	}
}

// shape turns a rendered judge prompt into what is sent: in text mode
// the JSON instructions give way to free-text ones and no schema is sent;
// with PlainOrder the answers move to the front (the benchmark's
// baseline). n is the number of answers the prompt shows.
func (m *Prefer) shape(prompt string, n int, schema *local.Schema) (string, json.RawMessage, error) {
	var format json.RawMessage
	if schema != nil {
		format = schema.Raw()
	}
	if m.format == JudgeText {
		text, err := m.textReturn(n)
		if err != nil {
			return "", nil, err
		}
		if i := strings.LastIndex(prompt, returnHeading); i >= 0 {
			prompt = prompt[:i] + returnHeading + text
		} else {
			prompt += "\n\n" + returnHeading + text
		}
		format = nil
	}
	if m.PlainOrder {
		prompt = answersFirst(prompt)
	}
	return prompt, format, nil
}

type textAttr struct {
	Name     string
	Min, Max int
}

// textReturn renders the free-text instructions for the run's mode.
func (m *Prefer) textReturn(n int) (string, error) {
	var attrs []textAttr
	if m.Rubric != nil {
		for _, a := range m.Rubric.Attributes {
			attrs = append(attrs, textAttr{a.Name, a.Min, a.Max})
		}
	}
	out, err := preferTextT.Render(map[string]any{"Mode": m.mode(), "N": n, "Attributes": attrs})
	if err != nil {
		return "", fmt.Errorf("judge text format: %w", err)
	}
	return out, nil
}

// answersFirst moves the sections that hold the answers ("## Answer A",
// "## The answers", "## The answer to grade") before everything else, so
// the prompt no longer starts with the text every judge call shares.
func answersFirst(prompt string) string {
	parts := strings.Split(prompt, "\n## ")
	var answers, rest []string
	for i, p := range parts {
		if i > 0 {
			p = "## " + p
		}
		if strings.HasPrefix(p, "## Answer") || strings.HasPrefix(p, "## The answer") {
			answers = append(answers, p)
			continue
		}
		rest = append(rest, p)
	}
	return strings.Join(append(answers, rest...), "\n")
}
