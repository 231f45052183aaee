// Package runner is the lifecycle every generating method goes through:
// connect to Ollama, resolve (and pull) the method's models, let the method
// check them, open or resume the run directory with a manifest built from
// the resolved models, run the method with progress, export, print the
// summary, and classify how it ended. The CLI and the recipe runner both
// call [Run]; a method only fills the [prompts.Method] contract.
package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"synthkit/export"
	"synthkit/local"
	"synthkit/progress"
	"synthkit/prompts"
	"synthkit/report"
)

// Options are the settings every generating run shares (the generating
// flags of the CLI, a stage of a recipe).
type Options struct {
	// Out is the run directory.
	Out string
	// Fresh moves an existing run aside and starts over.
	Fresh bool
	// Seed is the run seed.
	Seed int64
	// Count overrides the method's target when > 0 (the user said -n);
	// reaching fewer is then a partial run.
	Count int
	// NumCtx and NumPredict go with every request; NumCtx is fixed per run.
	NumCtx, NumPredict int
	// Temperature, when set, applies to the stages that have no setting
	// of their own.
	Temperature *float64
	// MaxRequests is the request budget (0: 50 per record asked for).
	MaxRequests int64
	// JSONRetries is how often an unparsable structured reply is retried.
	JSONRetries int
	// Pull allows pulling missing models.
	Pull bool
	// NoExport only journals.
	NoExport bool
	// License is the dataset card's license id.
	License string
	// Version is synthkit's version, for run.json.
	Version string
	// Command is the command line recorded in run.json (nil: none).
	Command []string
	// PullProgress, when set, shows model downloads; it is called with
	// done=true once a pull ends.
	PullProgress func(p local.PullProgress, done bool)
	// Diversity is the diversity filter (zero: none).
	Diversity Diversity
	// Progress, when set, is the display line this run feeds (a recipe
	// gives each stage one line of a shared display); nil: the run shows
	// its own progress on errOut.
	Progress progress.Stage
	// Display is how the run's own display looks when Progress is nil
	// (--quiet, --log-format).
	Display progress.Options
}

// GenerationOptions are the options recorded in run.json and sent with
// every request.
func (o *Options) GenerationOptions() map[string]any {
	m := map[string]any{"num_ctx": o.NumCtx, "num_predict": o.NumPredict}
	if o.Temperature != nil {
		m["temperature"] = *o.Temperature
	}
	return m
}

// Result is what a finished run reports.
type Result struct {
	Counts export.Counts
	Stats  local.StatsSnapshot
	// Exported lists the configs written, when the run exported.
	Exported *export.ExportResult
}

// Run runs method m to completion through conn. Output for the user goes
// to out (what was written) and errOut (progress, notices, summary). The
// error is nil on success; [*PartialError] when the run stopped early but
// kept and exported what it made; [*ServerLostError] when the server went
// away mid-run; otherwise the failure.
func Run(ctx context.Context, conn *Conn, m prompts.Method, o Options, out, errOut io.Writer) (*Result, error) {
	stage := o.Progress
	logf := logger(stage, errOut)
	var own progress.Display
	if stage == nil {
		own = progress.New(errOut, o.Display)
		defer own.Close()
		logf = own.Logf
	}
	refs := o.Diversity.models(m.Models())
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.Name
	}
	infos, err := conn.Client.EnsureModels(ctx, names, o.Pull, func(p local.PullProgress) {
		if o.PullProgress != nil {
			o.PullProgress(p, false)
		}
	})
	if o.PullProgress != nil {
		o.PullProgress(local.PullProgress{}, true)
	}
	if err != nil {
		return nil, ModelError(ctx, conn.Client, names, err)
	}
	id, err := m.Prepare(infos[:len(m.Models())])
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	feats, err := conn.Client.ServerFeatures(ctx)
	if err != nil {
		return nil, err
	}
	target := m.Target()
	man := export.Manifest{
		Version: o.Version, Command: o.Command, Method: m.Name(),
		Options: o.GenerationOptions(), Seed: o.Seed, TemplateHashes: id.All(),
	}
	for i, info := range infos {
		man.Models = append(man.Models, export.ModelInfo{Name: info.Name, Role: string(refs[i].Role), Digest: info.Digest,
			Family: info.Family, ParameterSize: info.ParameterSize, Quantization: info.Quantization, ContextLength: info.ContextLength})
		if info.System != "" {
			man.Notes = append(man.Notes, fmt.Sprintf("%s has a Modelfile SYSTEM prompt; requests without a system prompt of their own carry it explicitly and rows store it", info.Name))
		}
	}
	if feats.VersionUnknown {
		man.Notes = append(man.Notes, fmt.Sprintf("server reported version %q (a source build): features found by probing", feats.Version))
	}
	for _, miss := range feats.Missing() {
		man.Notes = append(man.Notes, "server lacks "+miss)
	}
	div, err := prepareDiversity(o.Diversity, o.Out, o.Fresh, conn.Client, infos, &man)
	if err != nil {
		return nil, err
	}
	run, err := export.OpenRun(o.Out, man, o.Fresh)
	if err != nil {
		return nil, err
	}
	if prev := run.Previous(); prev != "" {
		logf("--fresh: the previous run was moved to %s", prev)
	}
	if rep := run.Repaired(); rep != (export.Repair{}) {
		logf("recovered from a crash: %s", rep)
	}
	if c := run.Counts(); c.Generated > 0 {
		logf("resuming %s: %d accepted, %d rejected so far", o.Out, c.Accepted, c.RejectedTotal())
	}
	budget := o.MaxRequests
	if budget == 0 {
		budget = int64(target) * 50
	}
	env := &prompts.Env{Model: conn.Client, Run: run, Workers: conn.Client.Capacity(), Seed: o.Seed,
		Options: o.GenerationOptions(), MaxRequests: budget, Retries: o.JSONRetries, Models: infos}
	if env.Gate, err = div.gate(ctx, run); err != nil {
		run.Close()
		return nil, err
	}
	start := time.Now()
	before := conn.Client.Stats()
	reached := func() int64 {
		if c, ok := m.(prompts.Counter); ok {
			return c.Reached(run)
		}
		return run.Counts().Accepted
	}
	if stage == nil {
		// The line appears only once the run is sure to generate.
		stage = own.Stage(m.Name(), int64(target))
	}
	snap := &snapshotter{run: run, client: conn.Client, m: m, reached: reached, target: int64(target), start: start, before: before}
	stop := feed(stage, snap.snapshot)
	runErr := m.Run(ctx, env)
	stop()
	res := &Result{}
	// The line ends before the export prints what it wrote, so a live
	// display is off the screen by then.
	ended := func(err error) { stage.Done(snap.snapshot(), stageError(ctx, err)) }
	err = finish(ctx, run, runErr, reached, o, budget, res, out, ended)
	res.Counts = run.Counts()
	res.Stats = conn.Client.Stats()
	status := ""
	if st, ok := m.(prompts.Statuser); ok {
		status = st.Status()
	}
	newSummary(res, before, time.Since(start), status, run.Manifest().Notes, err).report(stage, errOut)
	return res, err
}

// finish closes the journal, decides how the run ended, tells ended
// (before anything is exported) and exports.
func finish(ctx context.Context, run *export.Run, runErr error, reached func() int64, o Options, budget int64, res *Result, out io.Writer, ended func(error)) error {
	var early error
	switch {
	case errors.Is(runErr, prompts.ErrBudget):
		early = fmt.Errorf("stopped at the request budget (%d requests) before -n was reached; raise --max-requests and run the same command to continue", budget)
	case errors.Is(runErr, prompts.ErrStalled):
		early = runErr
	}
	if early != nil {
		runErr = nil
	}
	c := run.Counts()
	if runErr == nil && early == nil {
		switch {
		case c.Accepted == 0:
			early = fmt.Errorf("no record was accepted (%s); see the reasons above", reasonList(c.Rejected))
		case o.Count > 0 && reached() < int64(o.Count):
			early = fmt.Errorf("-n %d was not reached: %d made (the inputs ran out; rejections: %s)", o.Count, reached(), reasonList(c.Rejected))
		}
	}
	if early != nil {
		run.Note(early.Error())
	}
	if runErr == nil {
		if err := run.Finish(); err != nil {
			runErr = err
		}
	}
	if err := run.Close(); err != nil && runErr == nil {
		runErr = err
	}
	ended(cmp.Or(runErr, early))
	if runErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if lost := asServerLost(runErr); lost != nil {
			return lost
		}
		return runErr
	}
	switch {
	case o.NoExport:
		fmt.Fprintf(out, "journal in %s; write Parquet with `synthkit export %s`\n", o.Out, o.Out)
	case c.Accepted > 0:
		r, err := ExportRun(ctx, o.Out, export.ExportOptions{License: o.License}, out)
		if err != nil {
			return err
		}
		res.Exported = r
	}
	if early != nil {
		return &PartialError{Err: early}
	}
	return nil
}

// ExportRun writes Parquet and the card and says where.
func ExportRun(ctx context.Context, dir string, opts export.ExportOptions, out io.Writer) (*export.ExportResult, error) {
	if opts.ReasonMeanings == nil {
		opts.ReasonMeanings = prompts.ReasonMeanings
	}
	// The card's diversity figures, from the journal on a seeded sample:
	// the same journal gives the same card. A run that cannot be measured
	// still exports; one that is no run or empty fails in Export below.
	rep, err := report.Build(ctx, dir, report.Options{})
	var notRun *report.NotRunError
	switch {
	case err == nil:
		opts.Tables = append(opts.Tables, rep.CardTable())
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case !report.IsEmpty(err) && !errors.As(err, &notRun):
		fmt.Fprintf(out, "diversity figures left out of the card: %v\n", err)
	}
	res, err := export.Export(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	if res.SkippedLines > 0 {
		fmt.Fprintf(out, "skipped %d damaged journal line(s) (%d bytes); the card says so\n", res.SkippedLines, res.SkippedBytes)
	}
	for _, c := range res.Configs {
		fmt.Fprintf(out, "%-22s %7d rows  %s\n", c.Name, c.Rows, strings.Join(c.Files, " "))
	}
	fmt.Fprintf(out, "dataset card: %s\nupload: synthkit push %s --repo USER/NAME\n   (or: hf upload USER/NAME %s --repo-type dataset --exclude 'journal/*' --exclude 'vectors/*')\n",
		filepath.Join(dir, "README.md"), dir, dir)
	return res, nil
}

// PartialError is a run that stopped before its target but kept and
// exported everything it made (exit status 5).
type PartialError struct{ Err error }

func (e *PartialError) Error() string { return e.Err.Error() }
func (e *PartialError) Unwrap() error { return e.Err }

// CommandLine returns os.Args for run.json when the binary is synthkit
// (nil under `go test`, where the card then omits the command).
func CommandLine() []string {
	if len(os.Args) == 0 || !strings.HasSuffix(os.Args[0], "synthkit") {
		return nil
	}
	return append([]string{"synthkit"}, os.Args[1:]...)
}

func reasonList(m map[string]int64) string {
	if len(m) == 0 {
		return "none rejected"
	}
	keys := sortedReasons(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func sortedReasons(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	// Most frequent first, then by name.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && (m[keys[j]] > m[keys[j-1]] || m[keys[j]] == m[keys[j-1]] && keys[j] < keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
