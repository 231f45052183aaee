package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// command is one subcommand: its help text, its flags and its run function.
type command struct {
	name    string
	summary string
	usage   string // after "synthkit NAME "
	long    string // purpose, examples, environment; EXIT STATUS is added
	// planned marks a reserved name whose issue has not landed yet.
	planned string
	// server marks a command that talks to Ollama: only those get the
	// Ollama flags (--ollama, --concurrency, --pull …).
	server bool
	// setup defines flags on fs and returns the function that runs.
	setup func(fs *pflag.FlagSet, g *globalOptions) runFunc
}

// runFunc runs a parsed command.
type runFunc func(ctx context.Context, args []string, out, errOut io.Writer) error

func commands() []*command {
	cmds := []*command{
		doctorCommand(),
		modelsCommand(),
		versionCommand(),
		instructCommand(),
		respondCommand(),
		preferCommand(),
		critiqueCommand(),
		runRecipeCommand(),
		exportCommand(),
		reportCommand(),
		pushCommand(),
	}
	return cmds
}

func plannedCommand(name, summary, issue string) *command {
	return &command{
		name: name, summary: summary, usage: "[flags]", planned: issue,
		long: fmt.Sprintf("%s.\n\nNot available in this build yet: it arrives with issue %s.", capitalize(summary), issue),
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			return func(context.Context, []string, io.Writer, io.Writer) error {
				return fmt.Errorf("`synthkit %s` is not available in this build yet (planned in issue %s)", name, issue)
			}
		},
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// run parses args, dispatches to a subcommand and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			args = []string{args[1], "--help"}
		} else {
			printRootHelp(stdout, cmds)
			if len(args) == 0 {
				return exitUsage
			}
			return exitOK
		}
	}
	if args[0] == "--version" || args[0] == "-V" {
		args[0] = "version"
	}
	var cmd *command
	for _, c := range cmds {
		if c.name == args[0] {
			cmd = c
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "synthkit: unknown command %q\n", args[0])
		if s := suggest(args[0], cmds); s != "" {
			fmt.Fprintf(stderr, "did you mean %q?\n", s)
		}
		fmt.Fprintln(stderr, "run `synthkit --help` for the list of commands")
		return exitUsage
	}
	fs := pflag.NewFlagSet("synthkit "+cmd.name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(stderr)
	g := &globalOptions{}
	runFn := cmd.setup(fs, g)
	if cmd.server {
		g.AddFlags(fs)
	}
	if cmd.planned != "" {
		// A command not built yet says so, whatever flags it is given.
		fs.ParseErrorsAllowlist.UnknownFlags = true
	}
	fs.Usage = func() { printCommandHelp(stdout, cmd, fs) }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "synthkit %s: %v\nrun `synthkit %s --help` for usage\n", cmd.name, err, cmd.name)
		return exitUsage
	}
	if cmd.server {
		if err := g.validate(); err != nil {
			return exitCode(err, stderr)
		}
	}
	return exitCode(runFn(ctx, fs.Args(), stdout, stderr), stderr)
}

func printRootHelp(w io.Writer, cmds []*command) {
	fmt.Fprint(w, `synthkit makes synthetic post-training data with a local Ollama:
instructions (SFT), preferences (DPO / reward models) and critiques
(Constitutional AI), written as Parquet with a Hugging Face dataset card.

USAGE
  synthkit <command> [flags] [args]

COMMANDS
`)
	for _, c := range cmds {
		note := ""
		if c.planned != "" {
			note = " (coming: " + c.planned + ")"
		}
		fmt.Fprintf(w, "  %-10s %s%s\n", c.name, c.summary, note)
	}
	fmt.Fprint(w, `
EXAMPLES
  synthkit doctor                     # find or start Ollama, list models, say what is missing
  synthkit models pull qwen2.5:0.5b   # pull a model with a progress bar
  synthkit models list                # name, digest, size, family, quantization, context

Run `+"`synthkit <command> --help`"+` for a command's flags.

ENVIRONMENT
  OLLAMA_HOST   default for --ollama (host:port or URL; several with commas)

`+exitStatusHelp+"\n")
}

func printCommandHelp(w io.Writer, c *command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "synthkit %s — %s\n\nUSAGE\n  synthkit %s %s\n\n%s\n\nFLAGS\n%s\n%s\n",
		c.name, c.summary, c.name, c.usage, strings.TrimSpace(c.long), fs.FlagUsagesWrapped(100), serverHelp(c)+exitStatusHelp)
}

// suggest returns the command name closest to a mistyped one.
func suggest(name string, cmds []*command) string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, c := range cmds {
		cs = append(cs, cand{c.name, editDistance(name, c.name)})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	if len(cs) > 0 && cs[0].d <= 2 {
		return cs[0].name
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
