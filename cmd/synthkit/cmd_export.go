package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"synthkit/export"
	"synthkit/prompts/runner"
)

// exportOptions are the flags of `synthkit export`.
type exportOptions struct {
	license     string
	name        string
	skipDamaged bool
}

func (o *exportOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.license, "license", "apache-2.0", "license id for the dataset card (the generating models' terms apply too)")
	fs.StringVar(&o.name, "name", "", "pretty name for the card (default: the directory name)")
	fs.BoolVar(&o.skipDamaged, "skip-damaged", false, "export a journal with damaged lines by skipping exactly those lines (the card says how many)")
}

func exportCommand() *command {
	var o exportOptions
	return &command{
		name:    "export",
		summary: "write Parquet and the dataset card from a run's journal",
		usage:   "DIR [flags]",
		long: `Project the journal of the run in DIR to Parquet (data/train-*.parquet for the
default config, <config>/train-*.parquet for the others) and write the dataset
card README.md. Generating commands do this when they finish; run it again
after an interrupted run, or to change the card's license or title. The same
journal always exports to byte-identical files. A journal damaged in the
middle (a bad disk, an edit) is refused with the file and byte range;
--skip-damaged exports the rest and says in the card how much was skipped.

EXAMPLES
  synthkit export out/instr
  synthkit export out/prefs --license cc-by-4.0 --name "My preference data"`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			o.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				return runExport(ctx, &o, args, out)
			}
		},
	}
}

func runExport(ctx context.Context, o *exportOptions, args []string, out io.Writer) error {
	if len(args) != 1 {
		return usagef("export needs exactly one run directory")
	}
	if err := export.CheckLicense(o.license); err != nil {
		return usagef("--license: %v", err)
	}
	_, err := runner.ExportRun(ctx, args[0], export.ExportOptions{License: o.license, PrettyName: o.name, SkipDamaged: o.skipDamaged}, out)
	return err
}
