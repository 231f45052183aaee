package main

import (
	"context"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"synthkit/prompts"
	"synthkit/prompts/inputs"
)

// respondOptions are the flags of `synthkit respond`.
type respondOptions struct {
	gen    genOptions
	model  string
	models string
	input  inputFlags
	system string

	systemPool   string
	eraseSystem  bool
	referenceCol string
	verify       bool
	judge        string
}

func (o *respondOptions) AddFlags(fs *pflag.FlagSet) {
	o.input.AddFlags(fs, "what to answer: a `file`, a dataset folder, a previous run directory, or - (required; see INPUT)")
	fs.StringVar(&o.models, "models", "", "models that answer, comma-separated (or --model for one)")
	fs.StringVarP(&o.model, "model", "m", "", "one answering `model` (added before --models)")
	fs.StringVar(&o.system, "system", "", "system prompt for every request (default: each model's Modelfile SYSTEM, if any)")
	fs.StringVar(&o.systemPool, "system-pool", "", "draw one system prompt per prompt from a `pool`: orca (16 built in, Orca-style), "+
		"a text file (one per line) or a YAML/JSON list of {id, text, weight}; the row records system_id")
	fs.BoolVar(&o.eraseSystem, "erase-system", false, "store rows without the system prompt that elicited the answer (Orca 2's prompt erasure); it stays in metadata")
	fs.StringVar(&o.referenceCol, "reference-column", "", "the input `column` holding each task's known answer")
	fs.BoolVar(&o.verify, "verify", false, "check every answer against --reference-column; answers that disagree are rejected")
	fs.StringVar(&o.judge, "judge", "", "with --verify, the `model` that decides agreement (without one: a match rule for short answers)")
	o.gen.AddFlags(fs, "out/respond")
	o.gen.div.AddFlags(fs, prompts.OnResponse)
}

func respondCommand() *command {
	var o respondOptions
	return &command{
		name:    "respond",
		server:  true,
		summary: "answer prompts with one or several models (SFT)",
		usage:   "--prompts FILE|RUN --models MODEL[,MODEL…] [flags]",
		long: `Answer every prompt with every model and write the SFT config (messages:
system if any, the prompt's turns, the answer). See INPUT for what --prompts
reads; a multi-turn record is answered as a whole conversation.

Work runs model by model, so a server that keeps one model loaded at a time
(a laptop) loads each model once; the summary says how many loads the run
caused. An empty answer is asked again with a new seed (twice) before it
counts as rejected. With -n, the rows are the first N of the prompt-major
order (prompt 1 by every model, then prompt 2, …); a rejected answer is
replaced by the same model's next prompt, and ending short of -n exits 5.

EXAMPLES
  synthkit respond --prompts out/instr --models qwen2.5:14b --out out/sft
  synthkit respond --prompts prompts.txt --models qwen2.5:7b,llama3.1:8b --system "Be concise." --out out/sft
  synthkit respond --prompts ultrachat/ --split train_sft --models qwen2.5:7b --out out/uc
  synthkit respond --prompts flan-sample.parquet --model qwen2.5:14b --system-pool orca --out out/orca
  synthkit respond --prompts tasks.jsonl --model m --system-pool my-systems.txt --erase-system --out out/o2
  synthkit respond --prompts tasks.jsonl --model m --reference-column answer --verify --judge j --out out/slim

EXPLANATION TUNING (Orca)
  --system-pool draws one system prompt per prompt (seeded; every model
  gets the same one) and records system_id; --erase-system stores the row
  without it (the text stays in metadata as erased_system), so a model
  trained on the rows learns to pick the strategy itself. --verify checks
  each answer against the input's --reference-column: with --judge, the
  judge says agrees / disagrees / cannot_tell with a one-line reason (a
  judge phase after all answers, so a laptop never swaps between them);
  without, a match rule for short answers (a number must be the answer's
  last number; a label of up to five words must appear in its last line).
  Disagreeing answers are rejected as disagrees_with_reference.
  synthkit respond --prompts p.jsonl --models qwen2.5:7b --diversity novelty --on response

` + inputHelp + `

` + diversityHelp + `

ENVIRONMENT
  OLLAMA_HOST   default for --ollama`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			o.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				o.gen.parsed(fs)
				return runRespond(ctx, &o, g, args, out, errOut)
			}
		},
	}
}

func runRespond(ctx context.Context, o *respondOptions, g *globalOptions, args []string, out, errOut io.Writer) error {
	if len(args) > 0 {
		return usagef("respond takes no arguments (got %q)", args[0])
	}
	names := splitList(o.models)
	if o.model != "" {
		names = append([]string{o.model}, names...)
	}
	if len(names) == 0 {
		return usagef("respond needs --models (or --model)")
	}
	if o.input.path == "" {
		return usagef("respond needs --prompts FILE or a run directory")
	}
	if err := o.gen.validate(); err != nil {
		return err
	}
	set, err := o.input.load(o.referenceCol)
	if err != nil {
		return err
	}
	m := &prompts.Respond{Responders: names, Prompts: set.Prompts(), Conversations: conversations(set),
		InputsHash: set.Hash, System: o.system, EraseSystem: o.eraseSystem, Verify: o.verify, Judge: o.judge}
	if err := o.explanationOptions(m, set); err != nil {
		return err
	}
	if o.gen.countSet {
		m.Count = o.gen.count
	}
	return runMethod(ctx, g, &o.gen, m, out, errOut)
}

// explanationOptions checks and applies the Orca-style flags: the
// system-prompt pool, erasure, and verification against references.
func (o *respondOptions) explanationOptions(m *prompts.Respond, set *inputs.Set) error {
	switch {
	case o.systemPool != "" && o.system != "":
		return usagef("--system and --system-pool exclude each other")
	case o.eraseSystem && o.systemPool == "" && o.system == "":
		return usagef("--erase-system needs --system-pool or --system (what would be erased?)")
	case o.verify && o.referenceCol == "":
		return usagef("--verify needs --reference-column NAME (the column with each task's known answer)")
	case o.judge != "" && !o.verify:
		return usagef("--judge is for --verify")
	}
	if o.systemPool != "" {
		pool, err := prompts.LoadSystemPool(o.systemPool)
		if err != nil {
			return inputError(err)
		}
		m.SystemPool = pool
	}
	if o.referenceCol != "" {
		refs := make([]string, len(set.Records))
		have := map[string]bool{}
		for i, r := range set.Records {
			v, ok := r.Fields[o.referenceCol]
			for k := range r.Fields {
				have[k] = true
			}
			if !ok {
				cols := make([]string, 0, len(have))
				for k := range have {
					cols = append(cols, k)
				}
				sort.Strings(cols)
				return usagef("%s: no column %q (columns: %s)", r.Source, o.referenceCol, strings.Join(cols, ", "))
			}
			refs[i] = v
		}
		m.References = refs
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
