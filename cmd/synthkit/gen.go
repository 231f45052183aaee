package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"synthkit/export"
	"synthkit/local"
	"synthkit/prompts"
	"synthkit/prompts/runner"
)

// genOptions are the flags every generating command shares.
type genOptions struct {
	count       int
	countSet    bool
	out         string
	seed        int64
	fresh       bool
	numCtx      int
	numPredict  int
	temperature float64
	maxRequests int64
	retries     int
	noExport    bool
	license     string
	div         diversityFlags // registered by the commands that offer it
}

func (o *genOptions) AddFlags(fs *pflag.FlagSet, defaultOut string) {
	fs.IntVarP(&o.count, "count", "n", 100, "how many records to accept (resumed ones count)")
	outHelp := "run `directory`: journal, run.json, Parquet and the dataset card"
	if defaultOut == "" {
		outHelp += " (default out/<method>)"
	}
	fs.StringVarP(&o.out, "out", "o", defaultOut, outHelp)
	fs.Int64Var(&o.seed, "seed", 42, "run seed; each unit's sampling seed derives from it")
	fs.BoolVar(&o.fresh, "fresh", false, "start over even if --out holds a run (the old one is moved aside)")
	fs.IntVar(&o.numCtx, "num-ctx", 4096, "context window per request (fixed for the run: changing it reloads the model)")
	fs.IntVar(&o.numPredict, "num-predict", 1024, "most tokens one answer may have")
	fs.Float64Var(&o.temperature, "temperature", -1, "sampling temperature of the stages that have none of their own (answers in respond); "+
		"the published per-stage settings of self-instruct, evol and magpie are kept; -1: the model's default")
	fs.Int64Var(&o.maxRequests, "max-requests", 0, "request budget for this invocation (0: 50 per record asked for)")
	fs.IntVar(&o.retries, "json-retries", 3, "retries with a new seed when a reply does not parse into the expected JSON")
	fs.BoolVar(&o.noExport, "no-export", false, "only journal; write Parquet later with `synthkit export`")
	fs.StringVar(&o.license, "license", "apache-2.0", "license id for the dataset card (the generating models' terms apply too)")
}

// parsed records which flags the user gave (after fs.Parse).
func (o *genOptions) parsed(fs *pflag.FlagSet) { o.countSet = fs.Changed("count") }

func (o *genOptions) validate() error {
	if o.count < 1 {
		return usagef("-n/--count must be ≥ 1, not %d", o.count)
	}
	if o.out == "" {
		return usagef("--out must name a directory")
	}
	if o.numCtx < 256 {
		return usagef("--num-ctx must be ≥ 256, not %d", o.numCtx)
	}
	if o.numPredict < 1 {
		return usagef("--num-predict must be ≥ 1, not %d", o.numPredict)
	}
	if o.retries < 0 {
		return usagef("--json-retries must be ≥ 0")
	}
	if err := export.CheckLicense(o.license); err != nil {
		return usagef("--license: %v", err)
	}
	return o.div.validate()
}

// runnerOptions turns the flags into the lifecycle's options.
func (o *genOptions) runnerOptions(g *globalOptions, errOut io.Writer) runner.Options {
	ro := runner.Options{Out: o.out, Fresh: o.fresh, Seed: o.seed, NumCtx: o.numCtx, NumPredict: o.numPredict,
		MaxRequests: o.maxRequests, JSONRetries: o.retries, Pull: g.pull, NoExport: o.noExport, License: o.license,
		Version: version, Command: runner.CommandLine(), Diversity: o.div.options(), Display: g.display()}
	if o.countSet {
		ro.Count = o.count
	}
	if o.temperature >= 0 {
		t := o.temperature
		ro.Temperature = &t
	}
	var bar *pullBar
	ro.PullProgress = func(p local.PullProgress, done bool) {
		switch {
		case done && bar != nil:
			bar.done()
			bar = nil
		case !done:
			if bar == nil {
				bar = g.newPullBar(errOut)
			}
			bar.update(p)
		}
	}
	return ro
}

// stageFunc receives the method a command built from its flags, when the
// command runs as a stage of a recipe (which connects once for all stages).
type stageFunc func(ctx context.Context, m prompts.Method, o *genOptions) error

// runMethod connects and runs a method through the one lifecycle.
func runMethod(ctx context.Context, g *globalOptions, o *genOptions, m prompts.Method, out, errOut io.Writer) error {
	if g.stage != nil {
		return g.stage(ctx, m, o)
	}
	conn, err := g.connect(ctx, errOut, len(m.Models()))
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = runner.Run(ctx, conn, m, o.runnerOptions(g, errOut), out, errOut)
	return err
}
