package runner

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"synthkit/export"
	"synthkit/local"
	"synthkit/prompts"
)

// IsTerminal reports whether w is a terminal, where progress redraws one
// line; elsewhere (logs, CI) it prints a line now and then.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startProgress prints the run's progress until stop is called: one
// redrawn line every second on a terminal, a line every 10 s otherwise.
func startProgress(run *export.Run, client *local.Client, reached func() int64, target int, start time.Time, errOut io.Writer) (stop func()) {
	tty := IsTerminal(errOut)
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
				c := run.Counts()
				st := client.Stats()
				conc := 0
				for _, n := range client.Concurrency() {
					conc += n
				}
				line := fmt.Sprintf("done %d/%d  accepted %d  rejected %d  requests %d  %.0f tok/s  concurrency %d",
					reached(), target, c.Accepted, c.RejectedTotal(), st.Requests, float64(st.OutputTokens)/time.Since(start).Seconds(), conc)
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

// printSummary says what the run holds and what this invocation did,
// with the meaning of every rejection reason.
func printSummary(w io.Writer, res *Result, before local.StatsSnapshot, el time.Duration, notes []string) {
	c := res.Counts
	st := res.Stats
	fmt.Fprintf(w, "\ndone in %s; run totals: %d generated, %d accepted, %d rejected\n", el.Round(time.Second), c.Generated, c.Accepted, c.RejectedTotal())
	for _, k := range sortedReasons(c.Rejected) {
		fmt.Fprintf(w, "  %-28s %6d  %s\n", k, c.Rejected[k], prompts.ReasonMeanings[k])
	}
	out := st.OutputTokens - before.OutputTokens
	fmt.Fprintf(w, "this invocation: %d requests (%d retried, %d failed), %d prompt + %d output tokens, %.0f output tokens/s, %d model loads\n",
		st.Requests-before.Requests, st.Retries-before.Retries, st.Failures-before.Failures,
		st.PromptTokens-before.PromptTokens, out, float64(out)/max(el.Seconds(), 0.001), st.Loads-before.Loads)
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
