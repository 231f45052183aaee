package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"synthkit/local/ollamatest"
	"synthkit/progress"
	"synthkit/prompts/runner"
)

// recorder is a display line as a recipe hands one to Run; with report
// set it also takes messages and the summary (progress.Reporter).
type recorder struct {
	mu        sync.Mutex
	updates   []progress.Snapshot
	dones     []progress.Snapshot
	doneErr   error
	logs      []string
	summaries []string // the fields, as JSON
}

func (r *recorder) Update(s progress.Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, s)
}

func (r *recorder) Done(s progress.Snapshot, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dones, r.doneErr = append(r.dones, s), err
}

type reportingRecorder struct{ recorder }

func (r *reportingRecorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *reportingRecorder) Summary(_ string, fields any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := json.Marshal(fields)
	r.summaries = append(r.summaries, string(b))
}

// statusEcho is the echo method with a live figure, as QDAIF has.
type statusEcho struct{ *echoMethod }

func (statusEcho) Status() string { return "QD-score 1.5" }

// TestRunFeedsTheGivenStage: a run handed a Stage (a recipe's line) feeds
// it snapshots, ends it once, and sends its notices and summary through
// it when it can take them, leaving errOut alone.
func TestRunFeedsTheGivenStage(t *testing.T) {
	host := ollamatest.Host(t)
	dir := filepath.Join(t.TempDir(), "echo")
	opts := func(st progress.Stage, budget int64) runner.Options {
		return runner.Options{Out: dir, Seed: 1, NumCtx: 512, NumPredict: 16, Version: "test", MaxRequests: budget, Progress: st}
	}
	never := func(int) bool { return false }

	// Stopped at the budget: the line ends with the reason.
	rec := &reportingRecorder{}
	var out, errOut bytes.Buffer
	_, err := runner.Run(context.Background(), connect(t, host), statusEcho{&echoMethod{Model: ollamatest.TinyModel, Count: 12, reject: never}}, opts(rec, 2), &out, &errOut)
	if err == nil || rec.doneErr == nil || !strings.Contains(rec.doneErr.Error(), "request budget") {
		t.Fatalf("budget run: err %v, line ended with %v", err, rec.doneErr)
	}

	tests := []struct {
		name   string
		stage  progress.Stage
		rec    *recorder
		report *reportingRecorder
	}{
		{"a stage that reports", rec, &rec.recorder, rec},
		{"a bare stage", &recorder{}, nil, nil},
	}
	tests[1].rec = tests[1].stage.(*recorder)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*tt.rec = recorder{}
			if tt.report != nil {
				tt.report.logs, tt.report.summaries = nil, nil
			}
			var out, errOut bytes.Buffer
			m := statusEcho{&echoMethod{Model: ollamatest.TinyModel, Count: 6, reject: never}}
			if _, err := runner.Run(context.Background(), connect(t, host), m, opts(tt.stage, 0), &out, &errOut); err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			r := tt.rec
			if len(r.updates) == 0 || r.updates[0].Target != 6 || r.updates[0].Status != "QD-score 1.5" {
				t.Fatalf("updates %+v", r.updates)
			}
			if len(r.dones) != 1 || r.doneErr != nil || r.dones[0].Done < 6 || r.dones[0].Accepted < 6 {
				t.Fatalf("done %+v, %v: want one finished line at ≥ 6", r.dones, r.doneErr)
			}
			if tt.report == nil {
				if !strings.Contains(errOut.String(), "resuming") || !strings.Contains(errOut.String(), "done in") {
					t.Fatalf("a bare stage: notices and summary belong on errOut:\n%s", errOut.String())
				}
				return
			}
			if errOut.Len() != 0 {
				t.Fatalf("errOut got %q; everything should go through the stage", errOut.String())
			}
			if len(tt.report.logs) == 0 || !strings.Contains(tt.report.logs[0], "resuming") {
				t.Fatalf("notices %q", tt.report.logs)
			}
			if len(tt.report.summaries) != 1 || !strings.Contains(tt.report.summaries[0], `"accepted":6`) ||
				!strings.Contains(tt.report.summaries[0], `"rejected_by_reason":{}`) {
				t.Fatalf("summary %q", tt.report.summaries)
			}
		})
	}
}
