package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"synthkit/diversity"
	"synthkit/prompts"
)

// instructOptions are the flags of `synthkit instruct`.
type instructOptions struct {
	gen            genOptions
	method         string
	model          string
	seeds          string
	threshold      float64
	input          inputFlags
	rounds         int
	turns          int
	system         string
	queryMaxTokens int
	roundsSet      bool
}

func (o *instructOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.method, "method", "self-instruct", "self-instruct, evol or magpie")
	fs.StringVarP(&o.model, "model", "m", "", "the generating `model`, e.g. qwen2.5:0.5b")
	o.gen.AddFlags(fs, "")
	o.gen.div.AddFlags(fs, prompts.OnPrompt)
	o.gen.div.AddQDFlags(fs)
	fs.StringVar(&o.seeds, "seeds", "", "self-instruct seed tasks: a .jsonl, .csv or one-per-line `file` (default: 150 built-in tasks)")
	fs.Float64Var(&o.threshold, "rouge-threshold", diversity.DefaultRougeThreshold, "self-instruct: reject a task whose ROUGE-L against any earlier task is above this")
	o.input.AddFlags(fs, "evol: prompts to evolve: a `file`, a dataset folder, a previous run directory, or - (see INPUT)")
	fs.IntVar(&o.rounds, "rounds", prompts.DefaultEvolRounds, "evol: evolution rounds per prompt (without -n every prompt is evolved)")
	fs.IntVar(&o.turns, "turns", 1, "magpie: user/assistant exchanges per conversation")
	fs.StringVar(&o.system, "system", "", "magpie: a system prompt to put in the prefix (default: the model's Modelfile SYSTEM, if any)")
	fs.IntVar(&o.queryMaxTokens, "query-max-tokens", prompts.DefaultQueryMaxTokens, "magpie: most tokens one query may have (answers have --num-predict)")
}

func instructCommand() *command {
	var o instructOptions
	return &command{
		name:    "instruct",
		server:  true,
		summary: "generate instructions: self-instruct, evol-instruct, magpie",
		usage:   "--method self-instruct|evol|magpie --model MODEL [flags]",
		long: `Generate instruction data (SFT) with one of three published methods.

  self-instruct  bootstrap new tasks from seed tasks (built-in, or --seeds):
                 8 tasks in each prompt, filters on length, a keyword
                 blacklist and ROUGE-L > 0.7 against every task so far;
                 classification tasks get their labels first; each example
                 is a row with a prompt of its own (a task without input
                 gets one output), and tasks whose examples conflict drop.
  evol           evolve --prompts for --rounds rounds (add constraints,
                 deepen, concretize, more reasoning steps, complicate the
                 input, or a new prompt in breadth), answer each, and drop
                 failed evolutions (no information gain, an answer instead
                 of a rewrite, an apology or too short an answer, only stop
                 words, leaked template wording). Each round is journaled
                 as it finishes; rows carry the surviving lineage.
  magpie         let the model write user queries from nothing but its chat
                 template's prefix (raw mode), then answer them; --turns for
                 multi-turn conversations; exact duplicate queries dropped.

Sampling: each stage keeps the published settings (self-instruct writes
tasks at temperature 0.7 and labels greedily; evol rewrites at 1.0; magpie
writes queries at 1.0 and answers greedily); --temperature does not change
them. A model's Modelfile SYSTEM prompt is sent explicitly and stored in the
rows that hold a conversation.

The run directory (--out) holds the journal: run the same command again to
resume where it stopped. At the end the journal is exported to Parquet with
a dataset card.

EXAMPLES
  synthkit instruct --method self-instruct --model llama3.1:8b -n 5000 --out out/instr
  synthkit instruct --method self-instruct --seeds my-tasks.jsonl --model qwen2.5:7b -n 500
  synthkit instruct --method evol --prompts prompts.jsonl --rounds 4 --model qwen2.5:7b --out out/evol
  synthkit instruct --method magpie --model llama3.1:8b -n 10000 --turns 1 --out out/magpie
  synthkit instruct --method magpie --model llama3.1:8b -n 20000 --diversity novelty --embed-model nomic-embed-text
  synthkit instruct --method self-instruct --model qwen2.5:7b --diversity qd --judge qwen2.5:7b -n 2000
  synthkit instruct --method evol --prompts p.jsonl --model m --diversity qd --axes axes.yaml --judge j -n 5000

` + inputHelp + `

` + diversityHelp + `

` + qdHelp + `

ENVIRONMENT
  OLLAMA_HOST   default for --ollama`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			o.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				o.gen.parsed(fs)
				o.roundsSet = fs.Changed("rounds")
				return runInstruct(ctx, &o, g, args, out, errOut)
			}
		},
	}
}

func runInstruct(ctx context.Context, o *instructOptions, g *globalOptions, args []string, out, errOut io.Writer) error {
	if len(args) > 0 {
		return usagef("instruct takes no arguments (got %q)", args[0])
	}
	if o.model == "" {
		return usagef("instruct needs --model, e.g. --model qwen2.5:7b")
	}
	f, ok := prompts.Lookup(o.method)
	if !ok || f.Name == "respond" {
		return usagef("unknown --method %q: use self-instruct, evol or magpie", o.method)
	}
	if o.gen.out == "" {
		o.gen.out = "out/" + o.method
	}
	if err := o.gen.validate(); err != nil {
		return err
	}
	var m prompts.Method
	switch f.Name {
	case "self-instruct":
		if o.threshold <= 0 || o.threshold > 1 {
			return usagef("--rouge-threshold must be in (0, 1], not %v", o.threshold)
		}
		si := &prompts.SelfInstruct{Model: o.model, Count: o.gen.count, Threshold: o.threshold}
		if o.seeds != "" {
			seeds, err := prompts.LoadSeeds(o.seeds)
			if err != nil {
				return inputError(err)
			}
			si.Seeds = seeds
		}
		m = si
	case "evol-instruct":
		if o.input.path == "" {
			return usagef("evol needs --prompts FILE (or a previous run directory) with the instructions to evolve")
		}
		if o.rounds < 1 {
			return usagef("--rounds must be ≥ 1")
		}
		set, err := o.input.load()
		if err != nil {
			return err
		}
		ev := &prompts.Evol{Model: o.model, Prompts: set.Prompts(), InputsHash: set.Hash, Rounds: o.rounds}
		if o.gen.countSet {
			ev.Count = o.gen.count
		}
		m = ev
	case "magpie":
		if o.turns < 1 {
			return usagef("--turns must be ≥ 1")
		}
		if o.queryMaxTokens < 1 {
			return usagef("--query-max-tokens must be ≥ 1")
		}
		m = &prompts.Magpie{Model: o.model, System: o.system, Count: o.gen.count, Turns: o.turns, QueryMaxTokens: o.queryMaxTokens}
	}
	if o.gen.div.qd() {
		q, err := o.qd(m)
		if err != nil {
			return err
		}
		m = q
	}
	return runMethod(ctx, g, &o.gen, m, out, errOut)
}

// qd wraps the instruction method m in QDAIF (--diversity qd): m's inputs
// (seed tasks, prompts to evolve, the chat template) feed the mutation
// operator; its own loop does not run.
func (o *instructOptions) qd(m prompts.Method) (prompts.Method, error) {
	d := &o.gen.div
	q := &prompts.QD{Operator: m.Name(), Model: o.model, Judge: d.judge, Axes: d.axes, Count: o.gen.count, Labels: d.qdLabels}
	switch m := m.(type) {
	case *prompts.SelfInstruct:
		q.Seeds = m.Seeds
	case *prompts.Evol:
		if o.roundsSet {
			return nil, usagef("--rounds does not go with --diversity qd: each candidate is one rewrite of a nearby elite")
		}
		q.Prompts, q.InputsHash = m.Prompts, m.InputsHash
	case *prompts.Magpie:
		if o.turns != 1 || o.system != "" {
			return nil, usagef("--turns and --system do not go with --diversity qd: the system prompt names the target cell, one turn per candidate")
		}
		q.QueryMaxTokens = m.QueryMaxTokens
	}
	return q, nil
}
