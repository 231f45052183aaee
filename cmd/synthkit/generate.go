package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"synthkit/export"
	"synthkit/local"
	"synthkit/prompts"
)

// genOptions are the flags every generating command shares.
type genOptions struct {
	model       string
	models      []string
	count       int
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
}

func (o *genOptions) addFlags(fs *pflag.FlagSet, defaultOut string) {
	fs.StringVarP(&o.model, "model", "m", "", "the generating `model`, e.g. qwen2.5:0.5b")
	fs.IntVarP(&o.count, "count", "n", 100, "how many records to accept (resumed ones count)")
	outHelp := "run `directory`: journal, run.json, Parquet and the dataset card"
	if defaultOut == "" {
		outHelp += " (default out/<method>)"
	}
	fs.StringVarP(&o.out, "out", "o", defaultOut, outHelp)
	fs.Int64Var(&o.seed, "seed", 42, "run seed; each unit's sampling seed derives from it")
	fs.BoolVar(&o.fresh, "fresh", false, "start over even if --out holds a run (the old one is moved aside)")
	fs.IntVar(&o.numCtx, "num-ctx", 4096, "context window per request (fixed for the run: changing it reloads the model)")
	fs.IntVar(&o.numPredict, "num-predict", 1024, "most tokens one reply may have")
	fs.Float64Var(&o.temperature, "temperature", -1, "sampling temperature for every request; -1 keeps each method's own")
	fs.Int64Var(&o.maxRequests, "max-requests", 0, "request budget for this invocation (0: 50 per record asked for)")
	fs.IntVar(&o.retries, "json-retries", 3, "retries with a new seed when a reply does not parse into the expected JSON")
	fs.BoolVar(&o.noExport, "no-export", false, "only journal; write Parquet later with `synthkit export`")
	fs.StringVar(&o.license, "license", "apache-2.0", "license id for the dataset card (the generating models' terms apply too)")
}

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
	return nil
}

// options are the generation options recorded in run.json and sent with
// every request.
func (o *genOptions) options() map[string]any {
	m := map[string]any{"num_ctx": o.numCtx, "num_predict": o.numPredict}
	if o.temperature >= 0 {
		m["temperature"] = o.temperature
	}
	return m
}

// session is an open generating run: connection, models, journal.
type session struct {
	conn   *connection
	run    *export.Run
	env    *prompts.Env
	models []local.ModelInfo
	start  time.Time
	g      *globalOptions
	o      *genOptions
}

// modelRole pairs a model name with what the run uses it for.
type modelRole struct{ name, role string }

// openSession connects, makes sure the models are there (pulling if
// allowed), and opens or resumes the run directory.
func openSession(ctx context.Context, g *globalOptions, o *genOptions, method string, roles []modelRole,
	templates map[string]string, errOut io.Writer) (*session, error) {
	conn, err := g.connect(ctx, errOut, len(roles))
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			conn.Close()
		}
	}()
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.name
	}
	var bar *pullBar
	infos, err := conn.client.EnsureModels(ctx, names, g.pull, func(p local.PullProgress) {
		if bar == nil {
			bar = newPullBar(errOut)
		}
		bar.update(p)
	})
	if bar != nil {
		bar.done()
	}
	if err != nil {
		return nil, err
	}
	feats, err := conn.client.ServerFeatures(ctx)
	if err != nil {
		return nil, err
	}
	m := export.Manifest{
		Version: version, Command: append([]string{"synthkit"}, os.Args[1:]...), Method: method,
		Options: o.options(), Seed: o.seed, TemplateHashes: templates,
	}
	if len(os.Args) == 0 || !strings.HasSuffix(os.Args[0], "synthkit") {
		m.Command = nil // tests run in-process; the card then omits the command
	}
	for i, info := range infos {
		m.Models = append(m.Models, export.ModelInfo{Name: info.Name, Role: roles[i].role, Digest: info.Digest,
			Family: info.Family, ParameterSize: info.ParameterSize, Quantization: info.Quantization, ContextLength: info.ContextLength})
	}
	if feats.VersionUnknown {
		m.Notes = append(m.Notes, fmt.Sprintf("server reported version %q (a source build): features assumed from Ollama 0.6.5", feats.Version))
	}
	for _, miss := range feats.Missing() {
		m.Notes = append(m.Notes, "server lacks "+miss)
	}
	run, err := export.OpenRun(o.out, m, o.fresh)
	if err != nil {
		return nil, err
	}
	if prev := run.Previous(); prev != "" {
		fmt.Fprintf(errOut, "--fresh: the previous run was moved to %s\n", prev)
	}
	if rep := run.Repaired(); rep != (export.Repair{}) {
		fmt.Fprintf(errOut, "recovered from a crash: dropped a torn journal tail (%+v)\n", rep)
	}
	if c := run.Counts(); c.Generated > 0 {
		fmt.Fprintf(errOut, "resuming %s: %d accepted, %d rejected so far\n", o.out, c.Accepted, c.RejectedTotal())
	}
	budget := o.maxRequests
	if budget == 0 {
		budget = int64(o.count) * 50
	}
	env := &prompts.Env{Model: conn.client, Run: run, Workers: conn.client.Capacity(), Seed: o.seed,
		Options: o.options(), MaxRequests: budget, Retries: o.retries}
	ok = true
	return &session{conn: conn, run: run, env: env, models: infos, start: time.Now(), g: g, o: o}, nil
}

// finish reports, closes the journal, exports and prints the summary.
// runErr is the method's error; the journal is closed whatever it was.
// A run that stopped early but cleanly (budget used up, generation
// stalled) still exports what it has and exits with status 5.
func (s *session) finish(ctx context.Context, runErr error, out, errOut io.Writer) error {
	defer s.conn.Close()
	var early error
	switch {
	case errors.Is(runErr, prompts.ErrBudget):
		early = fmt.Errorf("stopped at the request budget (%d requests) before -n was reached; raise --max-requests and run the same command to continue", s.env.MaxRequests)
	case errors.Is(runErr, prompts.ErrStalled):
		early = runErr
	}
	if early != nil {
		s.run.Note(early.Error())
		runErr = nil
	}
	if runErr == nil {
		if err := s.run.Finish(); err != nil {
			runErr = err
		}
	}
	if err := s.run.Close(); err != nil && runErr == nil {
		runErr = err
	}
	s.printSummary(errOut)
	if runErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return runErr
	}
	if s.o.noExport {
		fmt.Fprintf(out, "journal in %s; write Parquet with `synthkit export %s`\n", s.o.out, s.o.out)
	} else if s.run.Counts().Accepted > 0 || early == nil {
		if err := exportRun(s.o.out, export.ExportOptions{License: s.o.license}, out); err != nil {
			return err
		}
	}
	if early != nil {
		return &partialError{early}
	}
	return nil
}

// partialError is a run that stopped before its target but kept and
// exported everything it made (exit status 5).
type partialError struct{ err error }

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

func (s *session) printSummary(w io.Writer) {
	c := s.run.Counts()
	st := s.conn.client.Stats()
	el := time.Since(s.start)
	fmt.Fprintf(w, "\ndone in %s; run totals: %d generated, %d accepted, %d rejected", el.Round(time.Second), c.Generated, c.Accepted, c.RejectedTotal())
	if len(c.Rejected) > 0 {
		fmt.Fprintf(w, " (%s)", reasons(c.Rejected))
	}
	fmt.Fprintf(w, "\nthis invocation: %d requests (%d retried, %d failed), %d prompt + %d output tokens, %.0f output tokens/s\n",
		st.Requests, st.Retries, st.Failures, st.PromptTokens, st.OutputTokens, float64(st.OutputTokens)/max(el.Seconds(), 0.001))
}

func reasons(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// startProgress prints the run's progress every second until stop is
// called: one redrawn line on a terminal, a line every 10 s otherwise.
func startProgress(s *session, target int, errOut io.Writer) (stop func()) {
	tty := isTerminal(errOut)
	every := time.Second
	if !tty {
		every = 10 * time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprint(errOut, "\r\033[K")
				}
				return
			case <-t.C:
				c := s.run.Counts()
				st := s.conn.client.Stats()
				el := time.Since(s.start).Seconds()
				conc := 0
				for _, n := range s.conn.client.Concurrency() {
					conc += n
				}
				line := fmt.Sprintf("accepted %d/%d  rejected %d  requests %d  %.0f tok/s  concurrency %d",
					c.Accepted, target, c.RejectedTotal(), st.Requests, float64(st.OutputTokens)/el, conc)
				if tty {
					fmt.Fprintf(errOut, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(errOut, line)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// exportRun writes Parquet and the card and says where.
func exportRun(dir string, opts export.ExportOptions, out io.Writer) error {
	res, err := export.Export(dir, opts)
	if err != nil {
		return err
	}
	for _, c := range res.Configs {
		fmt.Fprintf(out, "%-22s %7d rows  %s\n", c.Name, c.Rows, strings.Join(c.Files, " "))
	}
	fmt.Fprintf(out, "dataset card: %s\nupload: synthkit push %s --repo USER/NAME\n   (or: hf upload USER/NAME %s --repo-type dataset --exclude 'journal/*' --exclude 'vectors/*')\n",
		filepath.Join(dir, "README.md"), dir, dir)
	return nil
}
