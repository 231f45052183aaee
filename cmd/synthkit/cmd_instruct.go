package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"synthkit/diversity"
	"synthkit/prompts"
)

func instructCommand() *command {
	var o genOptions
	var method, seeds, promptsPath, system string
	var rounds, turns int
	var threshold float64
	return &command{
		name:    "instruct",
		summary: "generate instructions: self-instruct, evol-instruct, magpie",
		usage:   "--method self-instruct|evol|magpie --model MODEL [flags]",
		long: `Generate instruction data (SFT) with one of three published methods.

  self-instruct  bootstrap new tasks from seed tasks (built-in, or --seeds):
                 8 tasks in each prompt, filters on length, a keyword
                 blacklist and ROUGE-L > 0.7 against every task so far,
                 classification tasks get their label first, examples
                 whose inputs conflict drop the task.
  evol           evolve --prompts for --rounds rounds (add constraints,
                 deepen, concretize, more reasoning steps, complicate the
                 input, or a new prompt in breadth), answer each, and drop
                 failed evolutions (no information gain, an apology or too
                 short an answer, only stop words, leaked template wording).
  magpie         let the model write user queries from nothing but its chat
                 template's prefix (raw mode), then answer them; --turns for
                 multi-turn conversations.

The run directory (--out) holds the journal: run the same command again to
resume where it stopped. At the end the journal is exported to Parquet with
a dataset card.

EXAMPLES
  synthkit instruct --method self-instruct --model llama3.1:8b -n 5000 --out out/instr
  synthkit instruct --method self-instruct --seeds my-tasks.jsonl --model qwen2.5:7b -n 500
  synthkit instruct --method evol --prompts prompts.jsonl --rounds 4 --model qwen2.5:7b --out out/evol
  synthkit instruct --method magpie --model llama3.1:8b -n 10000 --turns 1 --out out/magpie

ENVIRONMENT
  OLLAMA_HOST   default for --ollama`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) func(context.Context, []string, io.Writer, io.Writer) error {
			fs.StringVar(&method, "method", "self-instruct", "self-instruct, evol or magpie")
			o.addFlags(fs, "")
			fs.StringVar(&seeds, "seeds", "", "self-instruct seed tasks: a .jsonl, .csv or one-per-line `file` (default: 150 built-in tasks)")
			fs.Float64Var(&threshold, "rouge-threshold", 0.7, "self-instruct: reject a task whose ROUGE-L against any earlier task is above this")
			fs.StringVar(&promptsPath, "prompts", "", "evol: prompts to evolve: a .jsonl/.csv/.txt `file` or a previous run directory")
			fs.IntVar(&rounds, "rounds", 4, "evol: evolution rounds per prompt (without -n every prompt is evolved)")
			fs.IntVar(&turns, "turns", 1, "magpie: user/assistant exchanges per conversation")
			fs.StringVar(&system, "system", "", "magpie: a system prompt to put in the prefix")
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				if len(args) > 0 {
					return usagef("instruct takes no arguments (got %q)", args[0])
				}
				if o.model == "" {
					return usagef("instruct needs --model, e.g. --model qwen2.5:7b")
				}
				if o.out == "" {
					o.out = "out/" + method
				}
				if err := o.validate(); err != nil {
					return err
				}
				switch method {
				case "self-instruct", "selfinstruct":
					return runSelfInstruct(ctx, g, &o, seeds, threshold, out, errOut)
				case "evol", "evol-instruct":
					return runEvol(ctx, g, &o, promptsPath, rounds, fsChanged(fs, "count"), out, errOut)
				case "magpie":
					return runMagpie(ctx, g, &o, system, turns, out, errOut)
				}
				return usagef("unknown --method %q: use self-instruct, evol or magpie", method)
			}
		},
	}
}

func runSelfInstruct(ctx context.Context, g *globalOptions, o *genOptions, seedsPath string, threshold float64, out, errOut io.Writer) error {
	if threshold <= 0 || threshold > 1 {
		return usagef("--rouge-threshold must be in (0, 1], not %v", threshold)
	}
	seeds := prompts.DefaultSeeds()
	if seedsPath != "" {
		var err error
		if seeds, err = prompts.LoadSeeds(seedsPath); err != nil {
			return err
		}
	}
	s, err := openSession(ctx, g, o, "self-instruct", []modelRole{{o.model, "generator"}},
		prompts.Hashes(prompts.SelfInstructTemplates()...), errOut)
	if err != nil {
		return err
	}
	stop := startProgress(s, o.count, errOut)
	err = prompts.SelfInstruct(ctx, s.env, prompts.SelfInstructOptions{Model: s.models[0].Name, Count: o.count,
		Seeds: seeds, Threshold: threshold}, diversity.NewPool())
	stop()
	return s.finish(ctx, err, out, errOut)
}

func runEvol(ctx context.Context, g *globalOptions, o *genOptions, promptsPath string, rounds int, countSet bool, out, errOut io.Writer) error {
	if promptsPath == "" {
		return usagef("evol needs --prompts FILE (or a previous run directory) with the instructions to evolve")
	}
	if rounds < 1 {
		return usagef("--rounds must be ≥ 1")
	}
	ps, err := prompts.LoadPrompts(promptsPath)
	if err != nil {
		return err
	}
	if !countSet {
		o.count = len(ps) * rounds // evolve every prompt unless -n says otherwise
	}
	hashes := prompts.Hashes(prompts.EvolTemplates()...)
	hashes[inputsKey] = prompts.TextHash(strings.Join(ps, "\x00"))
	s, err := openSession(ctx, g, o, "evol-instruct", []modelRole{{o.model, "generator"}}, hashes, errOut)
	if err != nil {
		return err
	}
	stop := startProgress(s, o.count, errOut)
	err = prompts.Evol(ctx, s.env, prompts.EvolOptions{Model: s.models[0].Name, Prompts: ps, Rounds: rounds, Count: o.count})
	stop()
	return s.finish(ctx, err, out, errOut)
}

func runMagpie(ctx context.Context, g *globalOptions, o *genOptions, system string, turns int, out, errOut io.Writer) error {
	if turns < 1 {
		return usagef("--turns must be ≥ 1")
	}
	s, err := openSession(ctx, g, o, "magpie", []modelRole{{o.model, "generator"}}, nil, errOut)
	if err != nil {
		return err
	}
	tmpl := s.models[0].Template
	if _, err := prompts.QueryPrefix(tmpl, system, nil); err != nil {
		s.run.Close()
		s.conn.Close()
		return fmt.Errorf("magpie needs a chat model whose template opens a user turn; %s: %w", s.models[0].Name, err)
	}
	stop := startProgress(s, o.count, errOut)
	err = prompts.Magpie(ctx, s.env, prompts.MagpieOptions{Model: s.models[0].Name, Template: tmpl, System: system,
		Count: o.count, Turns: turns})
	stop()
	return s.finish(ctx, err, out, errOut)
}
