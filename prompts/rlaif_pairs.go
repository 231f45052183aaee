package prompts

import (
	"fmt"
	"strings"

	"synthkit/local"
	"synthkit/prompts/inputs"
)

// PairsFromRecords makes the pairs RLAIF labels from loaded input, taking
// from each record, in this order: chosen and rejected (TRL preference
// data, a `prefer` run); the first two of a completions list; or, for
// records with one completion each (a `respond` run with two models, a
// .jsonl of prompt/response lines), the first two records with the same
// prompt. A prompt left with a single answer is an *inputs.InputError
// naming its record: every pair needs two answers.
func PairsFromRecords(set *inputs.Set) ([]LabelPair, error) {
	var out []LabelPair
	type pending struct {
		idx int // in out, -1 while waiting for a partner
		rec inputs.Record
	}
	single := map[string]*pending{}
	var order []string
	for _, r := range set.Records {
		prompt := toLocal(r.Prompt)
		switch {
		case len(r.Chosen) > 0 && len(r.Rejected) > 0:
			a, b := lastAssistant(r.Chosen), lastAssistant(r.Rejected)
			if a == "" || b == "" {
				return nil, &inputs.InputError{Pos: r.Source, Msg: "chosen or rejected holds no assistant answer"}
			}
			out = append(out, LabelPair{Prompt: prompt, A: a, B: b, ModelA: r.Fields["chosen_model"], ModelB: r.Fields["rejected_model"]})
		case len(r.Completions) >= 2:
			out = append(out, LabelPair{Prompt: prompt, A: r.Completions[0].Text, B: r.Completions[1].Text,
				ModelA: r.Completions[0].Model, ModelB: r.Completions[1].Model})
		case strings.TrimSpace(r.Completion) != "" || len(r.Completions) == 1:
			text, model := r.Completion, r.Fields["model"]
			if text == "" {
				text, model = r.Completions[0].Text, r.Completions[0].Model
			}
			key := promptKey(r.Prompt)
			p, ok := single[key]
			switch {
			case !ok:
				rec := r
				rec.Completion, rec.Fields = text, map[string]string{"model": model}
				single[key] = &pending{idx: -1, rec: rec}
				order = append(order, key)
			case p.idx < 0:
				p.idx = len(out)
				out = append(out, LabelPair{Prompt: prompt, A: p.rec.Completion, B: text, ModelA: p.rec.Fields["model"], ModelB: model})
			}
			// A third answer to the same prompt is not used.
		default:
			return nil, &inputs.InputError{Pos: r.Source, Msg: "the record has no answer to compare; --label-pairs needs two answers per prompt (chosen and rejected, a completions list, or two records with the same prompt)"}
		}
	}
	for _, key := range order {
		if p := single[key]; p.idx < 0 {
			return nil, &inputs.InputError{Pos: p.rec.Source, Msg: fmt.Sprintf("the prompt %q has only one answer; --label-pairs needs two per prompt (chosen and rejected, a completions list, or two records with the same prompt)", short(p.rec.PromptText(), 60))}
		}
	}
	if len(out) == 0 {
		return nil, &inputs.InputError{Pos: inputs.Pos{File: strings.Join(set.Files, ",")}, Msg: "no pairs to label"}
	}
	return out, nil
}

func short(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

func toLocal(ms []inputs.Message) []local.Message {
	out := make([]local.Message, len(ms))
	for i, m := range ms {
		out[i] = local.Message{Role: m.Role, Content: m.Content}
	}
	return out
}

func lastAssistant(ms []inputs.Message) string {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Role == "assistant" {
			return strings.TrimSpace(ms[i].Content)
		}
	}
	return ""
}

func promptKey(ms []inputs.Message) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Role + "\x00" + m.Content + "\x00")
	}
	return b.String()
}
