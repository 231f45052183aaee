package prompts

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"synthkit/diversity"
	"synthkit/local"
)

// qdJudgment is the judge's view of one candidate.
type qdJudgment struct {
	cell    map[string]string // axis → label
	quality float64           // in [0, 1], rounded to 4 decimals
	how     string            // QDLabelsSchema or QDLabelsLogprobs
}

// qdJudgeSchema builds the structured judge's schema: one enum per axis,
// in axis order, then an integer quality 1–10 (properties in this order,
// so the grammar has the model label before it scores), and an example
// reply for the prompt.
func qdJudgeSchema(axes []diversity.Axis) (*local.Schema, string, error) {
	var props, example []string
	required := []string{}
	for _, ax := range axes {
		enum, err := json.Marshal(ax.Labels)
		if err != nil {
			return nil, "", err
		}
		name, _ := json.Marshal(ax.Name)
		first, _ := json.Marshal(ax.Labels[0])
		props = append(props, fmt.Sprintf(`%s:{"type":"string","enum":%s}`, name, enum))
		example = append(example, fmt.Sprintf("%s: %s", name, first))
		required = append(required, string(name))
	}
	props = append(props, `"quality":{"type":"integer","minimum":1,"maximum":10}`)
	example = append(example, `"quality": 7`)
	required = append(required, `"quality"`)
	raw := fmt.Sprintf(`{"type":"object","properties":{%s},"required":[%s]}`, strings.Join(props, ","), strings.Join(required, ","))
	s, err := local.CompileSchema(json.RawMessage(raw))
	if err != nil {
		return nil, "", fmt.Errorf("qd judge schema: %w", err)
	}
	return s, "{" + strings.Join(example, ", ") + "}", nil
}

// judgeCandidate labels instruction on every axis and scores it, from
// log-probabilities when the run uses them (falling back to the structured
// reply for a candidate whose first tokens name no option), else from one
// structured reply.
func (q *QD) judgeCandidate(ctx context.Context, env *Env, instruction string, seed int64) (qdJudgment, error) {
	if q.labelsUsed == QDLabelsLogprobs {
		j, ok, err := q.judgeLogprobs(ctx, env, instruction, seed)
		if err != nil || ok {
			return j, err
		}
	}
	return q.judgeSchemaReply(ctx, env, instruction, seed)
}

func (q *QD) judgeSchemaReply(ctx context.Context, env *Env, instruction string, seed int64) (qdJudgment, error) {
	prompt, err := qdJudge.Render(map[string]any{"Instruction": instruction, "Axes": q.Axes, "Example": q.judgeExample})
	if err != nil {
		return qdJudgment{}, err
	}
	var out map[string]any
	if err := env.instruct(ctx, q.judge, prompt, q.judgeSchema, jsonBudget(env, map[string]any{"temperature": 0}), seed, &out); err != nil {
		return qdJudgment{}, err
	}
	j := qdJudgment{cell: map[string]string{}, how: QDLabelsSchema}
	for _, ax := range q.Axes {
		s, _ := out[ax.Name].(string)
		j.cell[ax.Name] = s
	}
	score, _ := out["quality"].(float64)
	j.quality = roundQuality((score - 1) / 9)
	return j, nil
}

// letters name the options of an axis for log-probability labels.
const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// judgeLogprobs asks one lettered question per axis and a yes/no quality
// question, reading each answer from the first answer token's
// log-probabilities. ok is false when a reply named no option.
func (q *QD) judgeLogprobs(ctx context.Context, env *Env, instruction string, seed int64) (qdJudgment, bool, error) {
	j := qdJudgment{cell: map[string]string{}, how: QDLabelsLogprobs}
	ask := func(prompt string) ([]local.TokenLogprob, error) {
		s := seed
		msgs := append(env.systemMessages(q.judge, ""), local.Message{Role: "user", Content: prompt})
		resp, err := env.Chat(ctx, &local.ChatRequest{Model: q.judge, Messages: msgs, Seed: &s,
			Options: env.options(map[string]any{"temperature": 0, "num_predict": 4}), Logprobs: true, TopLogprobs: 20})
		if err != nil {
			return nil, err
		}
		return resp.Logprobs, nil
	}
	for _, ax := range q.Axes {
		type option struct{ Letter, Label string }
		opts := make([]option, len(ax.Labels))
		for i, l := range ax.Labels {
			opts[i] = option{string(letters[i]), l}
		}
		prompt, err := qdJudgeAxis.Render(map[string]any{"Instruction": instruction, "Axis": ax.Name, "Description": ax.Description, "Options": opts})
		if err != nil {
			return j, false, err
		}
		lps, err := ask(prompt)
		if err != nil {
			return j, false, err
		}
		probs, ok := OptionProbs(lps, len(ax.Labels), func(tok string) int {
			t := strings.Trim(tok, " \t\n\"'()[]*.:")
			if len(t) == 1 {
				return strings.IndexByte(letters[:len(ax.Labels)], t[0])
			}
			return -1
		})
		if !ok {
			return j, false, nil
		}
		best := 0
		for i, p := range probs {
			if p > probs[best] {
				best = i
			}
		}
		j.cell[ax.Name] = ax.Labels[best]
	}
	prompt, err := qdJudgeQuality.Render(map[string]any{"Instruction": instruction})
	if err != nil {
		return j, false, err
	}
	lps, err := ask(prompt)
	if err != nil {
		return j, false, err
	}
	probs, ok := OptionProbs(lps, 2, func(tok string) int {
		switch strings.ToLower(strings.Trim(tok, " \t\n\"'()[]*.:")) {
		case "yes":
			return 0
		case "no":
			return 1
		}
		return -1
	})
	if !ok {
		return j, false, nil
	}
	j.quality = roundQuality(probs[0])
	return j, true, nil
}

// OptionProbs turns the first answer token's log-probabilities into a
// distribution over n options: the first of the first four positions that
// lists any option decides; spellings of one option (" A", "A") add up; an
// option missing from the list gets the smallest listed log-probability (an
// upper bound of its own). option maps a token to its index or -1. ok is
// false when no position lists an option.
func OptionProbs(lps []local.TokenLogprob, n int, option func(tok string) int) (probs []float64, ok bool) {
	for pos := 0; pos < len(lps) && pos < 4; pos++ {
		cands := append([]local.TokenLogprob{{Token: lps[pos].Token, Logprob: lps[pos].Logprob}}, lps[pos].Top...)
		mass := make([]float64, n)
		for i := range mass {
			mass[i] = math.Inf(-1)
		}
		floor := math.Inf(1)
		seen := map[string]bool{}
		found := false
		for _, c := range cands {
			floor = math.Min(floor, c.Logprob)
			if seen[c.Token] {
				continue
			}
			seen[c.Token] = true
			if i := option(c.Token); i >= 0 && i < n {
				mass[i] = logAddExp(mass[i], c.Logprob)
				found = true
			}
		}
		if !found {
			continue
		}
		top := math.Inf(-1)
		for i := range mass {
			if math.IsInf(mass[i], -1) {
				mass[i] = floor
			}
			top = math.Max(top, mass[i])
		}
		sum := 0.0
		probs = make([]float64, n)
		for i := range mass {
			probs[i] = math.Exp(mass[i] - top)
			sum += probs[i]
		}
		for i := range probs {
			probs[i] /= sum
		}
		return probs, true
	}
	return nil, false
}

// minJSONTokens is the least num_predict a structured QD request gets: a
// --num-predict sized for short answers must not cut the JSON off.
const minJSONTokens = 256

// jsonBudget raises num_predict to minJSONTokens in own when the user's
// setting is lower.
func jsonBudget(env *Env, own map[string]any) map[string]any {
	if n := intOption(env.Options, "num_predict"); n > 0 && n < minJSONTokens {
		own["num_predict"] = minJSONTokens
	}
	return own
}
