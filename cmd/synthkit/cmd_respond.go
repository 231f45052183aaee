package main

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"synthkit/prompts"
)

func respondCommand() *command {
	var o genOptions
	var promptsPath, models, system string
	return &command{
		name:    "respond",
		summary: "answer prompts with one or several models (SFT)",
		usage:   "--prompts FILE|RUN --models MODEL[,MODEL…] [flags]",
		long: `Answer every prompt with every model and write the SFT config (messages:
optional system, user, assistant). Prompts come from a .jsonl file ("prompt",
"instruction"+"input", or "messages"), a .csv with a prompt/instruction
column, a text file with one prompt per line, or a previous synthkit run.

EXAMPLES
  synthkit respond --prompts out/instr --models qwen2.5:14b --out out/sft
  synthkit respond --prompts prompts.txt --models qwen2.5:7b,llama3.1:8b --system "Be concise." --out out/sft

ENVIRONMENT
  OLLAMA_HOST   default for --ollama`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) func(context.Context, []string, io.Writer, io.Writer) error {
			fs.StringVar(&promptsPath, "prompts", "", "prompts: a .jsonl/.csv/.txt `file` or a previous run directory (required)")
			fs.StringVar(&models, "models", "", "models that answer, comma-separated (or --model for one)")
			fs.StringVar(&system, "system", "", "system prompt for every request")
			o.addFlags(fs, "out/respond")
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				if len(args) > 0 {
					return usagef("respond takes no arguments (got %q)", args[0])
				}
				names := splitList(models)
				if o.model != "" {
					names = append([]string{o.model}, names...)
				}
				if len(names) == 0 {
					return usagef("respond needs --models (or --model)")
				}
				if promptsPath == "" {
					return usagef("respond needs --prompts FILE or a run directory")
				}
				ps, err := prompts.LoadPrompts(promptsPath)
				if err != nil {
					return err
				}
				countSet := fsChanged(fs, "count")
				if !countSet {
					o.count = len(ps) * len(names)
				}
				if err := o.validate(); err != nil {
					return err
				}
				roles := make([]modelRole, len(names))
				for i, n := range names {
					roles[i] = modelRole{n, "responder"}
				}
				// Unit ids number prompts and models by position, so a resume
				// must see the same prompts in the same order.
				hashes := map[string]string{"system": prompts.TextHash(system),
					inputsKey: prompts.TextHash(strings.Join(ps, "\x00") + "\x00models:" + strings.Join(names, ","))}
				s, err := openSession(ctx, g, &o, "respond", roles, hashes, errOut)
				if err != nil {
					return err
				}
				resolved := make([]string, len(s.models))
				for i, m := range s.models {
					resolved[i] = m.Name
				}
				stop := startProgress(s, len(ps)*len(names), errOut)
				ro := prompts.RespondOptions{Models: resolved, Prompts: ps, System: system}
				if countSet {
					ro.Count = o.count
				}
				err = prompts.Respond(ctx, s.env, ro)
				stop()
				return s.finish(ctx, err, out, errOut)
			}
		},
	}
}

// inputsKey names the hash of a run's input prompts in run.json, so a
// resume with other prompts (or in another order) is refused.
const inputsKey = "input prompts and model order"

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func fsChanged(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}
