package prompts

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"synthkit/export"
	"synthkit/local"
)

// ErrBudget is returned when a method stopped at its request budget.
var ErrBudget = errors.New("request budget used up")

// Env is what a method needs to run.
type Env struct {
	// Model answers requests; [local.Client] in production.
	Model local.Model
	// Run is the journal accepted and rejected units go to.
	Run *export.Run
	// Workers is how many units run at once; size it to the client's
	// capacity so the scheduler always has a request waiting.
	Workers int
	// Seed is the run seed; unit seeds derive from it.
	Seed int64
	// Options are the generation options every request carries
	// (temperature, top_p, num_ctx, num_predict …); methods override some.
	Options map[string]any
	// MaxRequests is the request budget of this invocation (0: none): no
	// new unit starts once it is used up, and units in flight finish (so a
	// run may go a few requests over rather than waste paid-for work).
	MaxRequests int64
	// Retries is how often an unparsable structured reply is retried.
	Retries int
	// Progress, if set, is called after every journaled unit.
	Progress func(export.Counts)

	requests atomic.Int64
	// journalMu lets a method journal one unit group at a time, so groups
	// of rows never pass the requested count.
	journalMu sync.Mutex
}

// model wraps Env.Model so every request is counted against the budget.
func (e *Env) model() local.Model { return counted{e} }

// Requests is how many model requests this invocation made.
func (e *Env) Requests() int64 { return e.requests.Load() }

// budgetLeft reports whether a new unit may start.
func (e *Env) budgetLeft() bool {
	return e.MaxRequests <= 0 || e.requests.Load() < e.MaxRequests
}

// counted counts requests; the budget itself is checked between units
// (runWorkers), so work in flight is never cut off.
type counted struct{ e *Env }

func (c counted) Chat(ctx context.Context, r *local.ChatRequest) (*local.Response, error) {
	c.e.requests.Add(1)
	return c.e.Model.Chat(ctx, r)
}

func (c counted) Generate(ctx context.Context, r *local.GenerateRequest) (*local.Response, error) {
	c.e.requests.Add(1)
	return c.e.Model.Generate(ctx, r)
}

func (c counted) Embed(ctx context.Context, model string, in []string) ([][]float32, error) {
	c.e.requests.Add(1)
	return c.e.Model.Embed(ctx, model, in)
}

// options returns the run's generation options plus a method's defaults
// for the ones the user did not set (the user's choice wins).
func (e *Env) options(over map[string]any) map[string]any {
	out := make(map[string]any, len(e.Options)+len(over))
	for k, v := range e.Options {
		out[k] = v
	}
	for k, v := range over {
		if _, set := e.Options[k]; !set {
			out[k] = v
		}
	}
	return out
}

// UnitSeed derives a unit's sampling seed from the run seed and unit id,
// so a unit redone after a crash samples the same way (best effort: a
// server batching parallel requests is not bit-exact).
func UnitSeed(runSeed int64, unit string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", runSeed, unit)
	return int64(h.Sum64() & 0x7fffffff) // llama.cpp takes a 32-bit seed
}

func (e *Env) progress() {
	if e.Progress != nil {
		e.Progress(e.Run.Counts())
	}
}

// accept journals the rows of a unit.
func (e *Env) accept(unit string, p export.Provenance, rows ...export.Row) error {
	if err := e.Run.Add(unit, p, rows...); err != nil {
		return err
	}
	e.progress()
	return nil
}

// reject journals a unit that produced nothing, with the reason.
func (e *Env) reject(unit, reason string, p export.Provenance) error {
	if err := e.Run.Reject(unit, reason, p); err != nil {
		return err
	}
	e.progress()
	return nil
}

// runWorkers runs fn on Workers goroutines until next returns false, fn
// fails, the budget is used up, or ctx ends. The first error stops the
// others; when the budget ends the run, units in flight finish and
// ErrBudget is returned so the caller can say so.
func (e *Env) runWorkers(ctx context.Context, next func() (int, bool), fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers := max(e.Workers, 1)
	var wg sync.WaitGroup
	var mu sync.Mutex
	budgetHit := false
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				if !e.budgetLeft() {
					budgetHit = true
					mu.Unlock()
					return
				}
				i, ok := next()
				mu.Unlock()
				if !ok {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if budgetHit {
		return ErrBudget
	}
	return nil
}

// isSoftFailure reports errors that reject one unit without stopping the
// run: a model that keeps answering garbage, or a reply cut off.
func isSoftFailure(err error) (string, bool) {
	var inv *local.InvalidOutputError
	if errors.As(err, &inv) {
		return "invalid_output", true
	}
	var ctxErr *local.ContextOverflowError
	if errors.As(err, &ctxErr) {
		return "prompt_too_long", true
	}
	return "", false
}

// quota hands out units so that accepted rows plus units in flight never
// exceed the target: a method with one row per unit then stops at exactly
// the count asked for, and a unit rejected near the end is replaced.
type quota struct {
	mu       sync.Mutex
	target   int64
	inflight int64
	run      *export.Run
}

// claim waits until a unit may start; false means the target is reached
// (or ctx ended).
func (q *quota) claim(ctx context.Context) bool {
	for ctx.Err() == nil {
		q.mu.Lock()
		accepted := q.run.Counts().Accepted
		switch {
		case accepted >= q.target:
			q.mu.Unlock()
			return false
		case accepted+q.inflight < q.target:
			q.inflight++
			q.mu.Unlock()
			return true
		}
		q.mu.Unlock()
		// Every slot is taken by a unit in flight; one of them may yet be
		// rejected and need a replacement.
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (q *quota) release() {
	q.mu.Lock()
	q.inflight--
	q.mu.Unlock()
}
