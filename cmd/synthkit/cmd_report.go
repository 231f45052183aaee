package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"synthkit/prompts"
	"synthkit/report"
)

// reportOptions are the flags of `synthkit report`.
type reportOptions struct {
	sample int
	on     string
	seeds  string
}

func (o *reportOptions) AddFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.sample, "sample", report.DefaultSampleSize, "measure at most `n` records (a seeded sample: the same run always gives the same figures)")
	fs.StringVar(&o.on, "on", "", "text to measure: prompt, response or both (default: what the run's novelty filter embedded, else prompt)")
	fs.StringVar(&o.seeds, "seeds", "", "seed tasks `file` to compare records with by ROUGE-L (default: a self-instruct run's own seeds)")
}

func reportCommand() *command {
	var o reportOptions
	return &command{
		name:    "report",
		summary: "diversity report with plots for a run",
		usage:   "DIR [flags]",
		long: `Measure how diverse the records of the run in DIR are, print the figures and
write DIR/report.html: one self-contained page (plots embedded, nothing fetched
from the network) with the PNG plots also saved in DIR/report_files/.

The figures: distinct-1 and distinct-2 (distinct word n-grams over all), the
mean pairwise cosine similarity and the Vendi score of the embeddings (the
effective number of distinct records), each record's nearest-neighbour
similarity (histogram), a 2-D PCA projection, ROUGE-L to the seed tasks
(self-instruct runs, or --seeds), rejections by reason, and for QDAIF runs
the archive heat map with QD-score and coverage over the run. Embeddings are
the run's own stored vectors (--diversity novelty) when every measured
record has one, else the built-in hashed n-gram embedder. Records are a
seeded sample of at most --sample, so the figures are the same every time
and comparable between runs. The dataset card gets the same figures on
every export.

EXAMPLES
  synthkit report out/instr
  synthkit report out/evol --on both --sample 2000
  synthkit report out/magpie --seeds my-tasks.jsonl`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			o.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				return runReport(ctx, &o, args, out)
			}
		},
	}
}

func runReport(ctx context.Context, o *reportOptions, args []string, out io.Writer) error {
	if len(args) != 1 {
		return usagef("report needs exactly one run directory")
	}
	if o.sample < 2 {
		return usagef("--sample must be at least 2, not %d", o.sample)
	}
	switch o.on {
	case "", prompts.OnPrompt, prompts.OnResponse, prompts.OnBoth:
	default:
		return usagef("--on must be prompt, response or both, not %q", o.on)
	}
	if o.seeds != "" {
		if _, err := prompts.LoadSeeds(o.seeds); err != nil {
			return inputError(fmt.Errorf("--seeds: %w", err))
		}
	}
	dir := args[0]
	rep, err := report.Build(ctx, dir, report.Options{SampleSize: o.sample, On: o.on, SeedsFile: o.seeds})
	var notRun *report.NotRunError
	switch {
	case errors.As(err, &notRun):
		return usagef("%v", err)
	case report.IsEmpty(err):
		return usagef("nothing to report: %v", err)
	case err != nil:
		return err
	}
	if err := rep.WriteText(out); err != nil {
		return err
	}
	path, err := rep.Write(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "report: %s (plots in %s/)\n", path, report.PlotDir)
	return nil
}
