package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"synthkit/export"
	"synthkit/progress"
	"synthkit/prompts"
	"synthkit/prompts/runner"
	"synthkit/prompts/yamlfile"
	"synthkit/recipe"
)

// runOptions are the flags of `synthkit run`.
type runOptions struct {
	sets   []string
	dryRun bool
	fresh  bool
	out    string
}

func (o *runOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.sets, "set", nil, "set a recipe variable: `NAME=VALUE` (repeat for several), e.g. --set model=qwen2.5:0.5b")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the plan (stages in order, models present or to pull, request and token estimates) and exit")
	fs.BoolVar(&o.fresh, "fresh", false, "start every stage over (old run directories are moved aside, not deleted)")
	fs.StringVarP(&o.out, "out", "o", "", "output `folder` (default: the recipe's out:)")
}

const runLong = `Run a recipe: a YAML file of named stages, each one of the generating
commands (instruct, respond, prefer, critique) with its options spelled like
the command's flags. A stage reads an earlier stage by naming it in an input
option (prompts, completions, responses, label-pairs); stages run in that
order. Each stage is a run directory under the recipe's out folder (resumed
like any run), and a combined dataset card (README.md) over all of them
makes the folder one Hub dataset with a config per stage and config.

RECIPE
  name: my-dataset                 # optional: the card's title
  description: What it is for.     # optional: the card's text
  out: out/my-dataset              # default out/<file name>
  license: apache-2.0              # optional: every stage's card license
  vars:                            # ${NAME} anywhere below; --set NAME=V
    model: qwen2.5:0.5b
  stages:
    instructions:
      command: instruct
      method: self-instruct
      model: ${model}
      count: 50
    answers:
      command: respond
      prompts: instructions        # a stage's name: its output
      models: ["${model}", llama3.2:1b]   # a list: quote ${...} inside [ ]
    pairs:
      command: prefer
      prompts: instructions
      models:                      # a list, one per line
        - ${model}
        - llama3.2:1b
      judge: ${model}

  Keys are the long flag names of the stage's command (see its --help);
  values are checked by the same code as on the command line. out, fresh
  and no-export are the run's, and so are the server flags (--ollama,
  --concurrency, --pull …): give those to synthkit run. Relative file paths
  are taken from the recipe's folder. A recipe cannot run shell commands:
  there is no key for it, and command: names a synthkit command only.

Before anything is written, the whole recipe is checked: unknown keys,
wrong types, unknown commands and methods, cycles, a stage reading a stage
that does not exist, missing files, and the models (present on the server,
else pulled first: a stage never fails for a missing judge hours in). Every
error names file:line (exit status 2). A stage that reads another stage is
fully checked when it starts (its input does not exist before).

Running the same recipe again resumes: finished stages are skipped at once,
an unfinished one resumes from its journal. The server is found or started
once for all stages.

EXAMPLES
  synthkit run examples/quickstart.yaml
  synthkit run examples/quickstart.yaml --set model=llama3.2:1b
  synthkit run examples/ultrafeedback.yaml --dry-run
  synthkit run recipe.yaml --backend openai --base-url http://gpu-box:8000/v1

ENVIRONMENT
  OLLAMA_HOST   default for --ollama`

func runRecipeCommand() *command {
	var o runOptions
	return &command{
		name:    "run",
		server:  true,
		summary: "run a recipe: a whole pipeline in one command",
		usage:   "RECIPE.yaml [--dry-run] [--set NAME=VALUE …] [flags]",
		long:    runLong,
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			o.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				return runRecipe(ctx, &o, g, args, out, errOut)
			}
		},
	}
}

// parseSets reads --set NAME=VALUE flags.
func parseSets(sets []string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usagef("--set wants NAME=VALUE, not %q", s)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

func runRecipe(ctx context.Context, o *runOptions, g *globalOptions, args []string, out, errOut io.Writer) error {
	if len(args) != 1 {
		return usagef("run takes one recipe file, e.g. synthkit run examples/quickstart.yaml")
	}
	sets, err := parseSets(o.sets)
	if err != nil {
		return err
	}
	r, err := recipe.Load(args[0], sets)
	if err != nil {
		return recipeError(err)
	}
	if o.out != "" {
		r.Out = o.out
	}
	if r.License != "" {
		if err := export.CheckLicense(r.License); err != nil {
			return usagef("%s: license: %v", r.File, err)
		}
	}
	state, err := recipe.ReadState(r.Out)
	if err != nil {
		return err
	}
	// Check every stage before connecting: flags and types for all, and
	// the whole command for stages whose inputs exist already.
	stages := make([]*builtStage, len(r.Stages))
	ests := make([]estimate, len(r.Stages))
	states := make([]string, len(r.Stages))
	sizes := map[string]estimate{}
	for i, s := range r.Stages {
		b, err := newStage(r, s, g, o.fresh, nil)
		if err != nil {
			return recipeError(err)
		}
		if readsReady(r, state, s, o.fresh) {
			b, err = captureStage(ctx, r, s, g, o.fresh, out, errOut)
			if err != nil {
				return err
			}
		}
		var up estimate
		for _, name := range s.Reads {
			if sizes[name].rows > up.rows {
				up = sizes[name]
			}
		}
		stages[i], ests[i], states[i] = b, estimateStage(b, up), stageState(r, state, s, o.fresh)
		sizes[s.Name] = ests[i]
	}
	var names []string
	for _, b := range stages {
		for _, m := range b.models() {
			if !slices.Contains(names, m) {
				names = append(names, m)
			}
		}
	}
	maxModels := 1
	for _, b := range stages {
		maxModels = max(maxModels, len(b.models()))
	}
	conn, err := g.connect(ctx, errOut, maxModels)
	if err != nil {
		if o.dryRun {
			printPlan(out, r, stages, ests, states, nil, err)
		}
		return err
	}
	defer conn.Close()
	models := checkModels(ctx, conn.Client, names)
	if o.dryRun {
		printPlan(out, r, stages, ests, states, models, nil)
		return nil
	}
	if err := ensureRecipeModels(ctx, conn.Client, r, g, models, errOut); err != nil {
		return err
	}
	return runStages(ctx, r, g, o, conn, state, out, errOut)
}

// readsReady reports whether every stage s reads has finished (so s can
// be built and checked now, on the output it will read).
func readsReady(r *recipe.Recipe, st *recipe.State, s *recipe.Stage, fresh bool) bool {
	if fresh && len(s.Reads) > 0 {
		return false
	}
	for _, name := range s.Reads {
		if !st.Done(r, r.Stage(name)) {
			return false
		}
	}
	return true
}

// captureStage builds a stage's method without running it.
func captureStage(ctx context.Context, r *recipe.Recipe, s *recipe.Stage, g *globalOptions, fresh bool, out, errOut io.Writer) (*builtStage, error) {
	var b *builtStage
	hook := func(_ context.Context, m prompts.Method, gen *genOptions) error {
		b.method, b.gen = m, gen
		return nil
	}
	b, err := newStage(r, s, g, fresh, hook)
	if err != nil {
		return nil, recipeError(err)
	}
	if err := b.build(ctx, r, out, errOut); err != nil {
		return nil, err
	}
	return b, nil
}

// runStages runs the stages in order through one connection, skipping
// the finished ones, then writes the combined card.
func runStages(ctx context.Context, r *recipe.Recipe, g *globalOptions, o *runOptions, conn *runner.Conn, state *recipe.State, out, errOut io.Writer) error {
	sets, _ := parseSets(o.sets)
	// One display for the whole recipe: a line per stage.
	display := progress.New(errOut, g.display())
	defer display.Close()
	for i, s := range r.Stages {
		if !o.fresh && state.Done(r, s) {
			display.Logf("stage %d/%d %s: finished earlier, skipped", i+1, len(r.Stages), s.Name)
			continue
		}
		display.Logf("stage %d/%d %s: synthkit %s → %s", i+1, len(r.Stages), s.Name, s.Command, s.RunDir(r.Out))
		hook := func(ctx context.Context, m prompts.Method, gen *genOptions) error {
			ro := gen.runnerOptions(g, errOut)
			ro.Progress = display.Stage(s.Name, int64(m.Target()))
			_, err := runner.Run(ctx, conn, m, ro, out, errOut)
			return err
		}
		b, err := newStage(r, s, g, o.fresh, hook)
		if err != nil {
			return recipeError(err)
		}
		if err := b.build(ctx, r, out, errOut); err != nil {
			var pe *runner.PartialError
			if errors.As(err, &pe) && i < len(r.Stages)-1 {
				return &runner.PartialError{Err: fmt.Errorf("stage %s stopped before its target: %v\nthe later stages did not run; rerun the recipe to go on", s.Name, pe.Err)}
			}
			if ctx.Err() != nil || isA[*usageError](err) {
				return err
			}
			return fmt.Errorf("stage %s: %w", s.Name, err)
		}
		if err := state.MarkDone(r, s); err != nil {
			return err
		}
	}
	configs, err := recipe.WriteCard(r, sets)
	if err != nil {
		return fmt.Errorf("combined card: %w", err)
	}
	plural := "s"
	if len(r.Stages) == 1 {
		plural = ""
	}
	fmt.Fprintf(out, "\nrecipe %s done: %d stage%s in %s\n", r.File, len(r.Stages), plural, r.Out)
	for _, c := range configs {
		fmt.Fprintf(out, "  %-32s %7d rows  %s\n", c.Name, c.Rows, c.Paths["train"])
	}
	fmt.Fprintf(out, "dataset card: %s\nupload: synthkit push %[2]s --repo USER/NAME\n   (or: hf upload USER/NAME %[2]s --repo-type dataset --exclude '*/journal/*' --exclude '*/vectors/*')\n",
		filepath.Join(r.Out, "README.md"), r.Out)
	return nil
}

// recipeError makes a recipe file's error a usage error (exit status 2).
func recipeError(err error) error {
	var ye *yamlfile.Error
	if errors.As(err, &ye) {
		return &usageError{msg: ye.Error()}
	}
	return err
}
