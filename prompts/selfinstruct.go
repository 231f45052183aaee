package prompts

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/local"
)

// SelfInstruct bootstraps new tasks from seed tasks until Count rows are
// accepted: each step shows the model 8 tasks (6 seeds, 2 of its own once
// it has some), filters what it writes (length, blacklist, ROUGE-L against
// every task so far), labels each task classification or not, and writes
// examples (label first for classification, input first otherwise). Each
// example is a row, and every row has a distinct prompt.
type SelfInstruct struct {
	// Model writes tasks and instances.
	Model string
	// Count is how many rows to accept in total (resumed ones count); the
	// run stops at exactly Count rows.
	Count int
	// Seeds are the human-written tasks the pool starts from (default: the
	// built-in ones).
	Seeds []SeedTask
	// Threshold rejects a task whose ROUGE-L F against any task in the pool
	// is above it (the paper's 0.7).
	Threshold float64
	// TasksPerStep is how many new tasks one request asks for (paper: 7).
	TasksPerStep int
	// MaxInstances bounds the examples per task (paper: 5).
	MaxInstances int
	// Pool is the near-duplicate index (default: diversity's ROUGE-L pool).
	Pool SimilarityPool

	model                         string
	tasksSchema, clfInst, genInst *local.Schema
	templatesHash                 string
}

var (
	siGenerate     = mustTemplate("selfinstruct_generate")
	siClassify     = mustTemplate("selfinstruct_classify")
	siInstancesClf = mustTemplate("selfinstruct_instances_classify")
	siInstancesGen = mustTemplate("selfinstruct_instances_generate")
)

var clfSchema = local.MustCompileSchema(`{"type":"object","properties":{"is_classification":{"type":"boolean"}},"required":["is_classification"]}`)

func (o *SelfInstruct) Name() string       { return "self-instruct" }
func (o *SelfInstruct) Models() []ModelRef { return []ModelRef{{o.Model, RoleGenerator}} }
func (o *SelfInstruct) Target() int        { return o.Count }

func (o *SelfInstruct) templates() []*Template {
	return []*Template{siGenerate, siClassify, siInstancesClf, siInstancesGen}
}

func (o *SelfInstruct) Prepare(models []local.ModelInfo) (Identity, error) {
	if o.Threshold <= 0 {
		o.Threshold = diversity.DefaultRougeThreshold
	}
	if o.TasksPerStep <= 0 {
		o.TasksPerStep = 7
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = 5
	}
	if len(o.Seeds) == 0 {
		o.Seeds = DefaultSeeds()
	}
	if o.Pool == nil {
		o.Pool = diversity.NewPool()
	}
	o.model = models[0].Name
	// Every array is bounded: a small grammar-constrained model otherwise
	// keeps adding items until num_predict.
	var err error
	if o.tasksSchema, err = local.CompileSchema([]byte(fmt.Sprintf(
		`{"type":"object","properties":{"tasks":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":%d}},"required":["tasks"]}`,
		o.TasksPerStep))); err != nil {
		return Identity{}, err
	}
	if o.clfInst, err = local.CompileSchema([]byte(fmt.Sprintf(
		`{"type":"object","properties":{"labels":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":%d},`+
			`"instances":{"type":"array","items":{"type":"object","properties":{"label":{"type":"string"},"input":{"type":"string"}},"required":["label","input"]},"minItems":1,"maxItems":%d}},"required":["labels","instances"]}`,
		max(o.MaxInstances, 10), o.MaxInstances))); err != nil {
		return Identity{}, err
	}
	if o.genInst, err = local.CompileSchema([]byte(fmt.Sprintf(
		`{"type":"object","properties":{"instances":{"type":"array","items":{"type":"object","properties":{"input":{"type":"string"},"output":{"type":"string"}},"required":["input","output"]},"minItems":1,"maxItems":%d}},"required":["instances"]}`,
		o.MaxInstances))); err != nil {
		return Identity{}, err
	}
	o.templatesHash = CombinedHash(o.templates()...)
	var seeds strings.Builder
	for _, s := range o.Seeds {
		fmt.Fprintf(&seeds, "%s\x00", s.Instruction)
	}
	return Identity{Templates: o.templates(), Hashes: map[string]string{"seed tasks": TextHash(seeds.String())}}, nil
}

// Instance is one input/output example of a task.
type Instance struct {
	Input  string `json:"input"`
	Output string `json:"output"`
}

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
// output, a field ending in ':'), removes exact duplicates, and keeps one
// example per input, so every row of a task has a distinct prompt: a task
// without input gets one output, as in the paper. One input with two
// different outputs is a conflict and the paper then drops the whole task;
// for a classification task that holds for an empty input too (the same
// prompt with two labels).
func CleanInstances(in []Instance, isClassification bool) (out []Instance, conflict bool) {
	seen := map[string]string{}
	for _, x := range in {
		x.Input, x.Output = strings.TrimSpace(x.Input), strings.TrimSpace(x.Output)
		if x.Output == "" || x.Input == x.Output || strings.HasSuffix(x.Input, ":") || strings.HasSuffix(x.Output, ":") {
			continue
		}
		if prev, ok := seen[x.Input]; ok {
			if prev != x.Output && (x.Input != "" || isClassification) {
				return nil, true
			}
			continue // a duplicate, or a second answer to a task without input
		}
		seen[x.Input] = x.Output
		out = append(out, x)
	}
	return out, false
}

// siState is the growing task pool shared by the workers. A task that
// passed the similarity check waits in pending until its examples are
// written; it joins the pool only once it has an accepted row, so a fresh
// run and a resumed one (which rebuilds the pool from accepted rows) check
// against the same pool.
type siState struct {
	mu      sync.Mutex
	pool    SimilarityPool
	pending map[string]bool
	machine []string // accepted tasks, for in-context examples
}

// maxScore is the highest ROUGE-L of task against the pool and the tasks
// pending in other steps.
func (st *siState) maxScore(task string) float64 {
	score, _ := st.pool.MaxScore(task)
	for p := range st.pending {
		score = max(score, diversity.RougeL(task, p))
	}
	return score
}

// StallSteps is how many steps in a row may accept nothing before
// Self-Instruct gives up: a model that only repeats itself would otherwise
// spend the whole request budget.
const StallSteps = 50

func (o *SelfInstruct) Run(ctx context.Context, env *Env) error {
	st := &siState{pool: o.Pool, pending: map[string]bool{}}
	for _, s := range o.Seeds {
		st.pool.Add(s.Instruction)
	}
	// On resume, the accepted tasks rejoin the pool and the examples, in
	// unit order: the order an uninterrupted run added them in, so the
	// examples a step samples do not depend on where a crash fell.
	type accepted struct{ unit, task string }
	var found []accepted
	err := env.Run.Rows(func(unit string, rows []export.Row) error {
		for _, r := range rows {
			if sft, ok := r.(export.SFT); ok {
				if task, ok := sft.Metadata["instruction"].(string); ok {
					found = append(found, accepted{unit, task})
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild the task pool: %w", err)
	}
	slices.SortFunc(found, func(a, b accepted) int { return strings.Compare(a.unit, b.unit) })
	seen := map[string]bool{}
	for _, a := range found {
		if !seen[a.task] {
			seen[a.task] = true
			st.pool.Add(a.task)
			st.machine = append(st.machine, a.task)
		}
	}
	return env.RunPhases(ctx, &Phase{
		Model: o.model, Method: o.Name(), Target: int64(o.Count), Accepted: env.Run.Counts().Accepted,
		StallAfter: StallSteps,
		StallHint:  "the model keeps repeating itself or failing the filters (try a higher --temperature, another model, or a higher --rouge-threshold)",
		Next: seqUnits(-1, func(s int) bool { return siStepDone(env.Run, s) }, func(s int) Unit {
			seed := UnitSeed(env.Seed, siUnit(s, 0))
			return Unit{ID: siUnit(s, 0),
				Prov: export.Provenance{Method: o.Name(), Model: o.model, Seed: &seed, TemplateHash: o.templatesHash},
				Do:   func(ctx context.Context, w *Work) error { return o.step(ctx, env, w, st, s) }}
		}),
	})
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
	labels    []string
	instances []Instance
	nearest   float64
	seed      int64
	pending   bool
}

func (o *SelfInstruct) step(ctx context.Context, env *Env, w *Work, st *siState, step int) error {
	seed := UnitSeed(env.Seed, siUnit(step, 0))
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(step)))

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
	if err := env.instruct(ctx, o.model, prompt, o.tasksSchema, map[string]any{"temperature": 0.7, "top_p": 0.5}, seed, &gen); err != nil {
		return err
	}
	if len(gen.Tasks) == 0 {
		return reject(ReasonNoCandidates)
	}
	if len(gen.Tasks) > o.TasksPerStep {
		gen.Tasks = gen.Tasks[:o.TasksPerStep]
	}
	cands := make([]*siCandidate, len(gen.Tasks))
	// Whatever happens, tasks this step left pending leave that set.
	defer func() {
		st.mu.Lock()
		for _, c := range cands {
			if c != nil && c.pending {
				delete(st.pending, c.task)
			}
		}
		st.mu.Unlock()
	}()
	for k, t := range gen.Tasks {
		c := &siCandidate{seed: UnitSeed(env.Seed, siUnit(step, k))}
		c.task, c.reason = CheckTask(t)
		cands[k] = c
		if c.reason != "" {
			continue
		}
		// Check and reserve under one lock, so two workers cannot both
		// accept near-duplicates of each other.
		st.mu.Lock()
		c.nearest = st.maxScore(c.task)
		if c.nearest > o.Threshold {
			c.reason = ReasonTooSimilar
		} else {
			st.pending[c.task] = true
			c.pending = true
		}
		st.mu.Unlock()
	}
	for _, c := range cands {
		if c.reason != "" {
			continue
		}
		if err := o.instances(ctx, env, c); err != nil {
			return err
		}
	}
	// Entries in priority order: candidate 0 first (its first entry marks
	// the step done), each task's examples in order.
	var entries []Entry
	for k, c := range cands {
		prov := export.Provenance{Method: o.Name(), Model: o.model, Seed: &c.seed, TemplateHash: o.templatesHash}
		if c.reason != "" {
			entries = append(entries, Entry{Unit: siUnit(step, k), Reason: c.reason, Prov: prov})
			continue
		}
		for i, in := range c.instances {
			user := c.task
			if in.Input != "" {
				user += "\n\n" + in.Input
			}
			meta := map[string]any{"instruction": c.task, "input": in.Input, "is_classification": c.isClf,
				"step": step, "instance": i, "max_rouge_l": round3(c.nearest)}
			if c.isClf {
				meta["labels"] = c.labels
			}
			entries = append(entries, Entry{Unit: siInstanceUnit(step, k, i), Prov: prov, Rows: []export.Row{export.SFT{
				Messages: []export.Message{{Role: "user", Content: user}, {Role: "assistant", Content: in.Output}},
				Metadata: meta}}})
		}
	}
	before := w.added
	if err := w.Commit(entries...); err != nil {
		return err
	}
	// The first `granted` examples were kept; their tasks join the pool.
	granted := w.added - before
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, c := range cands {
		if c.reason != "" || granted <= 0 {
			continue
		}
		granted -= int64(len(c.instances))
		st.pool.Add(c.task)
		st.machine = append(st.machine, c.task)
	}
	return nil
}

// instances labels the task and writes its examples, setting c.reason
// when that fails.
func (o *SelfInstruct) instances(ctx context.Context, env *Env, c *siCandidate) error {
	greedy := map[string]any{"temperature": 0}
	prompt, err := siClassify.Render(map[string]any{"Instruction": c.task})
	if err != nil {
		return err
	}
	var clf struct {
		IsClassification bool `json:"is_classification"`
	}
	if err := env.instruct(ctx, o.model, prompt, clfSchema, greedy, c.seed, &clf); err != nil {
		if c.reason = RejectReason(err); c.reason == "" {
			return err
		}
		return nil
	}
	c.isClf = clf.IsClassification
	tmpl, schema := siInstancesGen, o.genInst
	if c.isClf {
		tmpl, schema = siInstancesClf, o.clfInst
	}
	prompt, err = tmpl.Render(map[string]any{"Instruction": c.task, "Max": o.MaxInstances})
	if err != nil {
		return err
	}
	var got struct {
		Labels    []string `json:"labels"`
		Instances []struct {
			Label  string `json:"label"`
			Input  string `json:"input"`
			Output string `json:"output"`
		} `json:"instances"`
	}
	if err := env.instruct(ctx, o.model, prompt, schema, greedy, c.seed, &got); err != nil {
		if c.reason = RejectReason(err); c.reason == "" {
			return err
		}
		return nil
	}
	var inst []Instance
	for _, x := range got.Instances {
		out := x.Output
		if c.isClf {
			out = x.Label // output first: the label is the answer
		}
		inst = append(inst, Instance{Input: x.Input, Output: out})
	}
	inst, conflict := CleanInstances(inst, c.isClf)
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
		c.labels = got.Labels
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
