package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"synthkit/export"
	"synthkit/local"
	"synthkit/progress"
	"synthkit/prompts"
)

// IsTerminal reports whether w is a terminal, where progress redraws its
// lines; elsewhere (logs, CI) it prints a line now and then.
func IsTerminal(w io.Writer) bool { return progress.IsTerminal(w) }

// snapshotter reads a run's state for the display: journal totals, this
// invocation's requests and tokens, the concurrency allowed now and the
// method's own figure.
type snapshotter struct {
	run     *export.Run
	client  *local.Client
	m       prompts.Method
	reached func() int64
	target  int64
	start   time.Time
	before  local.StatsSnapshot
}

func (s *snapshotter) snapshot() progress.Snapshot {
	c := s.run.Counts()
	st := s.client.Stats()
	conc := 0
	for _, n := range s.client.Concurrency() {
		conc += n
	}
	snap := progress.Snapshot{Done: s.reached(), Target: s.target, Accepted: c.Accepted, Rejected: c.RejectedTotal(),
		Requests: st.Requests - s.before.Requests, OutputTokens: st.OutputTokens - s.before.OutputTokens,
		Concurrency: conc, Elapsed: time.Since(s.start)}
	if su, ok := s.m.(prompts.Statuser); ok {
		snap.Status = su.Status()
	}
	return snap
}

// feed updates stage now and then every second until stop is called.
func feed(stage progress.Stage, snap func() progress.Snapshot) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		stage.Update(snap())
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				stage.Update(snap())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// logger returns where the run's notices go: the stage's own messages
// when it has them (a recipe's shared display), else errOut.
func logger(stage progress.Stage, errOut io.Writer) func(format string, args ...any) {
	if r, ok := stage.(progress.Reporter); ok {
		return r.Logf
	}
	return func(format string, args ...any) { fmt.Fprintf(errOut, format+"\n", args...) }
}

// stageError is how a stage's line ends: "interrupted" for Ctrl-C rather
// than "context canceled".
func stageError(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return err
}

// summary is what a run reports at its end; in --log-format json it is
// the "summary" object, so the names are stable (see
// progress.JSONFieldsHelp).
type summary struct {
	ElapsedS         float64          `json:"elapsed_s"`
	Generated        int64            `json:"generated"`
	Accepted         int64            `json:"accepted"`
	Rejected         int64            `json:"rejected"`
	RejectedByReason map[string]int64 `json:"rejected_by_reason"`
	Requests         int64            `json:"requests"`
	Retried          int64            `json:"retried"`
	Failed           int64            `json:"failed"`
	PromptTokens     int64            `json:"prompt_tokens"`
	OutputTokens     int64            `json:"output_tokens"`
	TokensPerS       float64          `json:"tokens_per_s"`
	ModelLoads       int64            `json:"model_loads"`
	// Status is the method's own figure at the end (QD-score, coverage).
	Status string   `json:"status,omitempty"`
	Notes  []string `json:"notes"`
	Error  string   `json:"error,omitempty"`
}

func newSummary(res *Result, before local.StatsSnapshot, el time.Duration, status string, notes []string, err error) summary {
	c, st := res.Counts, res.Stats
	reasons := c.Rejected
	if reasons == nil {
		reasons = map[string]int64{}
	}
	out := st.OutputTokens - before.OutputTokens
	s := summary{ElapsedS: round1(el.Seconds()), Generated: c.Generated, Accepted: c.Accepted, Rejected: c.RejectedTotal(),
		RejectedByReason: reasons, Requests: st.Requests - before.Requests, Retried: st.Retries - before.Retries,
		Failed: st.Failures - before.Failures, PromptTokens: st.PromptTokens - before.PromptTokens, OutputTokens: out,
		TokensPerS: round1(float64(out) / max(el.Seconds(), 0.001)), ModelLoads: st.Loads - before.Loads, Status: status, Notes: notes}
	if s.Notes == nil {
		s.Notes = []string{}
	}
	if err != nil {
		s.Error = err.Error()
	}
	return s
}

// text says what the run holds and what this invocation did, with the
// meaning of every rejection reason.
func (s summary) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\ndone in %s; run totals: %d generated, %d accepted, %d rejected\n",
		time.Duration(s.ElapsedS*float64(time.Second)).Round(time.Second), s.Generated, s.Accepted, s.Rejected)
	for _, k := range sortedReasons(s.RejectedByReason) {
		fmt.Fprintf(&b, "  %-28s %6d  %s\n", k, s.RejectedByReason[k], prompts.ReasonMeanings[k])
	}
	fmt.Fprintf(&b, "this invocation: %d requests (%d retried, %d failed), %d prompt + %d output tokens, %.0f output tokens/s, %d model loads\n",
		s.Requests, s.Retried, s.Failed, s.PromptTokens, s.OutputTokens, s.TokensPerS, s.ModelLoads)
	if s.Status != "" {
		fmt.Fprintf(&b, "%s\n", s.Status)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

// report prints the summary through the stage, or as text on errOut
// when the stage cannot carry it.
func (s summary) report(stage progress.Stage, errOut io.Writer) {
	if r, ok := stage.(progress.Reporter); ok {
		r.Summary(s.text(), s)
		return
	}
	io.WriteString(errOut, s.text())
}

// round1 keeps one decimal: more is noise in a log.
func round1(f float64) float64 { return math.Round(f*10) / 10 }
