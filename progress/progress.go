// Package progress shows how runs advance: a live display with one line per
// stage on a terminal, periodic plain lines elsewhere (CI, nohup), JSON
// lines for machines, or nothing (--quiet). The lifecycle (prompts/runner)
// feeds a [Stage] once a second; a recipe opens one Stage per stage on one
// [Display].
package progress

import "time"

// Snapshot is a stage's state at one moment.
type Snapshot struct {
	// Done counts toward Target (accepted records, or what the method
	// counts instead, such as judged prompts).
	Done, Target int64
	// Accepted and Rejected are the run's journal totals.
	Accepted, Rejected int64
	// Requests and OutputTokens are this invocation's.
	Requests, OutputTokens int64
	// Concurrency is the requests in flight allowed over all hosts.
	Concurrency int
	// Elapsed is this invocation's time so far.
	Elapsed time.Duration
	// Status is what the method adds, e.g. "QD-score 41.2, coverage 38%"
	// ("" for none).
	Status string
}

// Display holds the lines of one process.
type Display interface {
	// Stage adds a line for a stage (one run) with its target.
	Stage(name string, target int64) Stage
	// Logf prints a message (above the live lines on a terminal).
	Logf(format string, args ...any)
	// Close stops the display; finished lines stay on screen.
	Close()
}

// Stage is one line of a Display.
type Stage interface {
	// Update shows the latest snapshot.
	Update(Snapshot)
	// Done marks the stage finished (err nil) or stopped (err says why).
	Done(Snapshot, error)
}
