package prompts

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"synthkit/diversity"
	"synthkit/local"
)

var instructionSchema = local.MustCompileSchema(`{"type":"object","properties":{"instruction":{"type":"string","minLength":1}},"required":["instruction"]}`)

// qdCellLine is one line of a cell's description in the prompts.
type qdCellLine struct{ Axis, Label, Description string }

// cellLines describes target for a prompt (nil when unsteered).
func (q *QD) cellLines(target diversity.Cell) []qdCellLine {
	if target == nil {
		return nil
	}
	out := make([]qdCellLine, len(q.Axes))
	for i, ax := range q.Axes {
		out[i] = qdCellLine{Axis: ax.Name, Label: ax.Labels[target[i]], Description: ax.Description}
	}
	return out
}

// mutate makes one candidate instruction aimed at target with the
// operator, and names the parents it came from ("seed:N" and "input:N"
// for the starting pools). A candidate the operator's own checks refuse
// comes back as a [*Rejection].
func (q *QD) mutate(ctx context.Context, env *Env, target diversity.Cell, parents []diversity.Elite, rng *rand.Rand, seed int64) (string, []string, error) {
	cell := q.cellLines(target)
	ids := []string{}
	switch q.Operator {
	case "self-instruct":
		// LMX-near: elites of nearby cells as examples; seed tasks stand in
		// while few cells are filled.
		var examples []string
		for _, p := range parents {
			examples = append(examples, p.Text)
			ids = append(ids, p.ID)
		}
		for _, k := range rng.Perm(len(q.Seeds)) {
			if len(examples) >= QDFewShot {
				break
			}
			examples = append(examples, q.Seeds[k].Instruction)
			ids = append(ids, fmt.Sprintf("seed:%d", k))
		}
		prompt, err := qdGenerate.Render(map[string]any{"Examples": examples, "Cell": cell})
		if err != nil {
			return "", nil, err
		}
		var out struct {
			Instruction string `json:"instruction"`
		}
		if err := env.instruct(ctx, q.model, prompt, instructionSchema, jsonBudget(env, map[string]any{"temperature": 0.8, "top_p": 0.95}), seed, &out); err != nil {
			return "", nil, err
		}
		task, reason := CheckTask(out.Instruction)
		if reason != "" {
			return "", nil, reject(reason)
		}
		return task, ids, nil

	case "evol-instruct":
		// Evolve the elite nearest the target (drawn LMX-near) once a few
		// cells are filled; before that, one of the starting prompts.
		var from string
		if len(parents) >= QDFewShot {
			from = parents[0].Text
			ids = append(ids, parents[0].ID)
		} else {
			k := rng.IntN(len(q.Prompts))
			from = strings.TrimSpace(q.Prompts[k])
			ids = append(ids, fmt.Sprintf("input:%d", k))
		}
		prompt, err := qdEvolve.Render(map[string]any{"Instruction": from, "Cell": cell})
		if err != nil {
			return "", nil, err
		}
		var out struct {
			Prompt string `json:"prompt"`
		}
		if err := env.instruct(ctx, q.model, prompt, promptSchema, jsonBudget(env, map[string]any{"temperature": 1.0, "top_p": 0.95}), seed, &out); err != nil {
			return "", nil, err
		}
		evolved := strings.TrimSpace(out.Prompt)
		switch {
		case evolved == "":
			return "", nil, reject(ElimInvalid)
		case LeakedWording(evolved):
			return "", nil, reject(ElimLeak)
		}
		return evolved, ids, nil

	case "magpie":
		// The cell steers through the system prompt in the template's
		// prefix; the row does not keep it (the answer is asked without).
		system := ""
		if cell != nil {
			s, err := qdMagpieSystem.Render(map[string]any{"Cell": cell})
			if err != nil {
				return "", nil, err
			}
			system = s
		}
		prefix, err := QueryPrefix(q.template, system, nil)
		if err != nil {
			return "", nil, err
		}
		own := map[string]any{"temperature": 1.0, "top_p": 1.0, "num_predict": q.QueryMaxTokens}
		if len(q.stops) > 0 {
			own["stop"] = q.stops
		}
		resp, err := env.Generate(ctx, &local.GenerateRequest{Model: q.model, Prompt: prefix, Raw: true, Options: env.options(own), Seed: &seed})
		if err != nil {
			return "", nil, err
		}
		query := cleanQuery(resp.Content, q.stops)
		switch {
		case query == "":
			return "", nil, reject(ReasonEmptyQuery)
		case resp.Truncated():
			return "", nil, reject(ReasonQueryTruncated)
		}
		return query, ids, nil
	}
	return "", nil, fmt.Errorf("qd: unknown operator %q", q.Operator)
}
