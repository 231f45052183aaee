package main

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"synthkit/prompts"
)

// respondOptions are the flags of `synthkit respond`.
type respondOptions struct {
	gen    genOptions
	model  string
	models string
	input  inputFlags
	system string
}

func (o *respondOptions) AddFlags(fs *pflag.FlagSet) {
	o.input.AddFlags(fs, "what to answer: a `file`, a dataset folder, a previous run directory, or - (required; see INPUT)")
	fs.StringVar(&o.models, "models", "", "models that answer, comma-separated (or --model for one)")
	fs.StringVarP(&o.model, "model", "m", "", "one answering `model` (added before --models)")
	fs.StringVar(&o.system, "system", "", "system prompt for every request (default: each model's Modelfile SYSTEM, if any)")
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
	set, err := o.input.load()
	if err != nil {
		return err
	}
	m := &prompts.Respond{Responders: names, Prompts: set.Prompts(), Conversations: conversations(set),
		InputsHash: set.Hash, System: o.system}
	if o.gen.countSet {
		m.Count = o.gen.count
	}
	return runMethod(ctx, g, &o.gen, m, out, errOut)
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
