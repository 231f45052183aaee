package prompts

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"synthkit/export"
	"synthkit/local"
)

// SelfInstructOptions configures [SelfInstruct].
type SelfInstructOptions struct {
	// Model writes tasks and instances.
	Model string
	// Count is how many rows to accept in total (resumed ones count); each
	// accepted task gives one row per instance. The run stops at exactly
	// Count rows.
	Count int
	// Seeds are the human-written tasks the pool starts from.
	Seeds []SeedTask
	// Threshold rejects a task whose ROUGE-L F against any task in the pool
	// is above it (the paper's 0.7).
	Threshold float64
	// TasksPerStep is how many new tasks one request asks for (paper: up to 7).
	TasksPerStep int
	// MaxInstances bounds the examples per task (paper: 5).
	MaxInstances int
}

func (o *SelfInstructOptions) defaults() {
	if o.Threshold <= 0 {
		o.Threshold = 0.7
	}
	if o.TasksPerStep <= 0 {
		o.TasksPerStep = 7
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = 5
	}
}

var (
	siGenerate     = mustTemplate("selfinstruct_generate")
	siClassify     = mustTemplate("selfinstruct_classify")
	siInstancesClf = mustTemplate("selfinstruct_instances_classify")
	siInstancesGen = mustTemplate("selfinstruct_instances_generate")
)

// SelfInstructTemplates lists the templates the method uses, for run.json.
func SelfInstructTemplates() []*Template {
	return []*Template{siGenerate, siClassify, siInstancesClf, siInstancesGen}
}

var (
	tasksSchema = local.MustCompileSchema(`{"type":"object","properties":{"tasks":{"type":"array","items":{"type":"string"},"minItems":1}},"required":["tasks"]}`)
	clfSchema   = local.MustCompileSchema(`{"type":"object","properties":{"is_classification":{"type":"boolean"}},"required":["is_classification"]}`)
	clfInstSch  = local.MustCompileSchema(`{"type":"object","properties":{"instances":{"type":"array","items":{"type":"object","properties":{"label":{"type":"string"},"input":{"type":"string"}},"required":["label","input"]},"minItems":1}},"required":["instances"]}`)
	genInstSch  = local.MustCompileSchema(`{"type":"object","properties":{"instances":{"type":"array","items":{"type":"object","properties":{"input":{"type":"string"},"output":{"type":"string"}},"required":["input","output"]},"minItems":1}},"required":["instances"]}`)
)

// Instance is one input/output example of a task.
type Instance struct {
	Input  string `json:"input"`
	Output string `json:"output"`
}

// Rejection reasons of Self-Instruct, as they appear in the card.
const (
	ReasonLength       = "length"
	ReasonBlacklist    = "blacklisted_word"
	ReasonProgram      = "write_a_program"
	ReasonBadStart     = "bad_first_character"
	ReasonTooSimilar   = "too_similar"
	ReasonInvalid      = "invalid_output"
	ReasonNoInstances  = "no_valid_instances"
	ReasonConflicting  = "conflicting_instances"
	ReasonNoCandidates = "no_candidates"
)

// listMarkerRe matches a leading list number ("3. ", "12) "), not a
// number that belongs to the task ("5 ways to…", "3D printing…").
var listMarkerRe = regexp.MustCompile(`^\d+[.)]\s+`)

var blacklistRe = regexp.MustCompile(`(?i)\b(images?|graphs?|pictures?|files?|maps?|draw|plot|go to|videos?|audio|music|flowchart|diagram)\b`)

// CheckTask applies the paper's task filters (before the similarity check)
// and returns the cleaned task and, if it fails, the reason.
func CheckTask(task string) (string, string) {
	task = strings.Join(strings.Fields(task), " ")
	task = listMarkerRe.ReplaceAllString(task, "") // a model may keep the list numbers
	if task == "" {
		return task, ReasonLength
	}
	words := len(strings.Fields(task))
	if words <= 3 || words > 150 {
		return task, ReasonLength
	}
	if blacklistRe.MatchString(task) {
		return task, ReasonBlacklist
	}
	if strings.HasPrefix(strings.ToLower(task), "write a program") {
		return task, ReasonProgram
	}
	first := []rune(task)[0]
	if first > unicode.MaxASCII || unicode.IsPunct(first) || unicode.IsSymbol(first) {
		return task, ReasonBadStart
	}
	return task, ""
}

// CleanInstances drops invalid instances (empty output, input equal to the
// output, a field ending in ':'), removes exact duplicates, and reports a
// conflict when one non-empty input has different outputs — the paper then
// drops the whole task.
func CleanInstances(in []Instance) (out []Instance, conflict bool) {
	seen := map[string]string{}
	dup := map[Instance]bool{}
	for _, x := range in {
		x.Input, x.Output = strings.TrimSpace(x.Input), strings.TrimSpace(x.Output)
		if x.Output == "" || x.Input == x.Output || strings.HasSuffix(x.Input, ":") || strings.HasSuffix(x.Output, ":") {
			continue
		}
		if x.Input != "" {
			if prev, ok := seen[x.Input]; ok && prev != x.Output {
				return nil, true
			}
			seen[x.Input] = x.Output
		}
		if dup[x] {
			continue
		}
		dup[x] = true
		out = append(out, x)
	}
	return out, false
}

// siState is the growing task pool shared by the workers.
type siState struct {
	mu      sync.Mutex
	pool    SimilarityPool
	machine []string // accepted tasks, for in-context examples
	// barren counts steps in a row that accepted nothing.
	barren int
}

// StallSteps is how many steps in a row may accept nothing before
// Self-Instruct gives up: a model that only repeats itself would otherwise
// spend the whole request budget.
const StallSteps = 50

// ErrStalled is returned when no step accepted a task for StallSteps steps.
var ErrStalled = fmt.Errorf("self-instruct stalled: no new task accepted in %d steps in a row; the model keeps repeating itself or failing the filters (try a higher --temperature, another model, or a higher --rouge-threshold)", StallSteps)

// SelfInstruct bootstraps new tasks from seed tasks until Count are
// accepted: each step shows the model 8 tasks (6 seeds, 2 of its own once
// it has some), filters what it writes (length, blacklist, ROUGE-L against
// the whole pool), labels each task classification or not, and writes
// examples (label first for classification, input first otherwise).
func SelfInstruct(ctx context.Context, env *Env, o SelfInstructOptions, pool SimilarityPool) error {
	o.defaults()
	if len(o.Seeds) == 0 {
		return fmt.Errorf("self-instruct needs seed tasks")
	}
	st := &siState{pool: pool}
	for _, s := range o.Seeds {
		st.pool.Add(s.Instruction)
	}
	// On resume, the accepted tasks rejoin the pool and the examples.
	seen := map[string]bool{}
	err := env.Run.Rows(func(unit string, rows []export.Row) error {
		for _, r := range rows {
			if sft, ok := r.(export.SFT); ok {
				if task, ok := sft.Metadata["instruction"].(string); ok && !seen[task] {
					seen[task] = true
					st.pool.Add(task)
					st.machine = append(st.machine, task)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild the task pool: %w", err)
	}
	tmplHash := CombinedHash(SelfInstructTemplates()...)
	step := 0
	stalled := false
	next := func() (int, bool) {
		for {
			if env.Run.Counts().Accepted >= int64(o.Count) {
				return 0, false
			}
			st.mu.Lock()
			stalled = stalled || st.barren >= StallSteps
			st.mu.Unlock()
			if stalled {
				return 0, false
			}
			s := step
			step++
			if !siStepDone(env.Run, s) {
				return s, true
			}
		}
	}
	err = env.runWorkers(ctx, next, func(ctx context.Context, s int) error {
		return selfInstructStep(ctx, env, &o, st, s, tmplHash)
	})
	if err == nil && stalled {
		return ErrStalled
	}
	return err
}

// siUnit names candidate k of a step; a rejected candidate is journaled
// under it, an accepted one as one unit per instance (siUnit + "-i").
func siUnit(step, k int) string { return fmt.Sprintf("si-%06d-%d", step, k) }

func siInstanceUnit(step, k, i int) string { return fmt.Sprintf("%s-%d", siUnit(step, k), i) }

// siStepDone: candidate 0 is journaled last (its first instance last of
// all), so once it is there the whole step is.
func siStepDone(r *export.Run, step int) bool {
	return r.Done(siUnit(step, 0)) || r.Done(siInstanceUnit(step, 0, 0))
}

// siCandidate is one task the model wrote in a step and what became of it.
type siCandidate struct {
	task      string
	reason    string
	isClf     bool
	instances []Instance
	nearest   float64
}

func selfInstructStep(ctx context.Context, env *Env, o *SelfInstructOptions, st *siState, step int, tmplHash string) error {
	m := env.model()
	seed := UnitSeed(env.Seed, siUnit(step, 0))
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(step)))
	prov := export.Provenance{Method: "self-instruct", Model: o.Model, Seed: &seed, TemplateHash: tmplHash}

	st.mu.Lock()
	examples := sampleExamples(rng, o.Seeds, st.machine)
	st.mu.Unlock()
	prompt, err := siGenerate.Render(map[string]any{"Examples": examples, "Count": o.TasksPerStep})
	if err != nil {
		return err
	}
	var gen struct {
		Tasks []string `json:"tasks"`
	}
	_, err = local.ChatStructured(ctx, m, &local.ChatRequest{
		Model: o.Model, Messages: []local.Message{{Role: "user", Content: prompt}},
		Options: env.options(map[string]any{"temperature": 0.7, "top_p": 0.5}), Seed: &seed,
	}, tasksSchema, &gen, env.Retries)
	if reason, soft := isSoftFailure(err); soft {
		st.noteStep(0)
		return env.reject(siUnit(step, 0), reason, prov)
	} else if err != nil {
		return err
	}
	if len(gen.Tasks) > o.TasksPerStep {
		gen.Tasks = gen.Tasks[:o.TasksPerStep]
	}
	cands := make([]*siCandidate, len(gen.Tasks))
	for k, t := range gen.Tasks {
		c := &siCandidate{}
		c.task, c.reason = CheckTask(t)
		cands[k] = c
		if c.reason != "" {
			continue
		}
		// Check and add under one lock, so two workers cannot both accept
		// near-duplicates of each other.
		st.mu.Lock()
		score, _ := st.pool.MaxScore(c.task)
		c.nearest = score
		if score > o.Threshold {
			c.reason = ReasonTooSimilar
		} else {
			st.pool.Add(c.task)
		}
		st.mu.Unlock()
	}
	for k, c := range cands {
		if c.reason != "" {
			continue
		}
		if err := siInstances(ctx, env, o, c, UnitSeed(env.Seed, siUnit(step, k))); err != nil {
			return err
		}
	}
	if len(cands) == 0 {
		st.noteStep(0)
		return env.reject(siUnit(step, 0), ReasonNoCandidates, prov)
	}
	accepted := 0
	for _, c := range cands {
		if c.reason == "" {
			accepted++
		}
	}
	st.noteStep(accepted)
	// Steps journal one at a time, so the rows they add never pass Count:
	// the instances are kept in order (candidate 0 first) up to what is
	// left, and the rest are dropped. When nothing is left the step leaves
	// no trace and a resumed run with a larger -n redoes it.
	env.journalMu.Lock()
	defer env.journalMu.Unlock()
	left := int64(o.Count) - env.Run.Counts().Accepted
	if left <= 0 {
		return nil
	}
	for _, c := range cands {
		if c.reason != "" {
			continue
		}
		if int64(len(c.instances)) > left {
			c.instances = c.instances[:left]
		}
		left -= int64(len(c.instances))
	}
	// Journal the last candidate first: candidate 0 marks the step done, so
	// a crash mid-step redoes it and the ids already written are no-ops.
	for k := len(cands) - 1; k >= 0; k-- {
		c := cands[k]
		if c.reason != "" {
			if err := env.reject(siUnit(step, k), c.reason, prov); err != nil {
				return err
			}
			continue
		}
		// One row per instance, each its own unit, the first one last.
		for i := len(c.instances) - 1; i >= 0; i-- {
			in := c.instances[i]
			user := c.task
			if in.Input != "" {
				user += "\n\n" + in.Input
			}
			row := export.SFT{
				Messages: []export.Message{{Role: "user", Content: user}, {Role: "assistant", Content: in.Output}},
				Metadata: map[string]any{"instruction": c.task, "input": in.Input, "is_classification": c.isClf,
					"step": step, "instance": i, "max_rouge_l": round3(c.nearest)},
			}
			if err := env.accept(siInstanceUnit(step, k, i), prov, row); err != nil {
				return err
			}
		}
		if len(c.instances) > 0 {
			st.mu.Lock()
			st.machine = append(st.machine, c.task)
			st.mu.Unlock()
		}
	}
	return nil
}

func (st *siState) noteStep(accepted int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if accepted > 0 {
		st.barren = 0
	} else {
		st.barren++
	}
}

// siInstances labels the task and writes its examples, setting c.reason
// when that fails.
func siInstances(ctx context.Context, env *Env, o *SelfInstructOptions, c *siCandidate, seed int64) error {
	m := env.model()
	greedy := env.options(map[string]any{"temperature": 0})
	prompt, err := siClassify.Render(map[string]any{"Instruction": c.task})
	if err != nil {
		return err
	}
	var clf struct {
		IsClassification bool `json:"is_classification"`
	}
	_, err = local.ChatStructured(ctx, m, &local.ChatRequest{Model: o.Model,
		Messages: []local.Message{{Role: "user", Content: prompt}}, Options: greedy, Seed: &seed}, clfSchema, &clf, env.Retries)
	if reason, soft := isSoftFailure(err); soft {
		c.reason = reason
		return nil
	} else if err != nil {
		return err
	}
	c.isClf = clf.IsClassification
	tmpl, schema := siInstancesGen, genInstSch
	if c.isClf {
		tmpl, schema = siInstancesClf, clfInstSch
	}
	prompt, err = tmpl.Render(map[string]any{"Instruction": c.task, "Max": o.MaxInstances})
	if err != nil {
		return err
	}
	var got struct {
		Instances []struct {
			Label  string `json:"label"`
			Input  string `json:"input"`
			Output string `json:"output"`
		} `json:"instances"`
	}
	_, err = local.ChatStructured(ctx, m, &local.ChatRequest{Model: o.Model,
		Messages: []local.Message{{Role: "user", Content: prompt}}, Options: greedy, Seed: &seed}, schema, &got, env.Retries)
	if reason, soft := isSoftFailure(err); soft {
		c.reason = reason
		return nil
	} else if err != nil {
		return err
	}
	var inst []Instance
	for _, x := range got.Instances {
		out := x.Output
		if c.isClf {
			out = x.Label // output first: the label is the answer
		}
		inst = append(inst, Instance{Input: x.Input, Output: out})
	}
	inst, conflict := CleanInstances(inst)
	switch {
	case conflict:
		c.reason = ReasonConflicting
	case len(inst) == 0:
		c.reason = ReasonNoInstances
	default:
		if len(inst) > o.MaxInstances {
			inst = inst[:o.MaxInstances]
		}
		c.instances = inst
	}
	return nil
}

// sampleExamples picks the in-context tasks: 2 of the model's own (once it
// has any) and seeds for the rest, 8 in all, shuffled.
func sampleExamples(rng *rand.Rand, seeds []SeedTask, machine []string) []string {
	const total, fromMachine = 8, 2
	var out []string
	if len(machine) > 0 {
		for _, i := range rng.Perm(len(machine))[:min(fromMachine, len(machine))] {
			out = append(out, machine[i])
		}
	}
	for _, i := range rng.Perm(len(seeds)) {
		if len(out) >= total {
			break
		}
		out = append(out, seeds[i].Instruction)
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	for i := range out {
		out[i] = strings.TrimSuffix(strings.Join(strings.Fields(out[i]), " "), ":")
	}
	return out
}

func round3(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }
