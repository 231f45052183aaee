package prompts

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"

	"synthkit/export"
	"synthkit/local"
)

// ErrBudget is returned when a method stopped at its request budget.
var ErrBudget = errors.New("request budget used up")

// ErrStalled is matched (errors.Is) by the [*StallError] a run returns when
// it gave up because nothing was accepted for a long time.
var ErrStalled = errors.New("generation stalled")

// StallError says a phase gave up after Units units in a row accepted
// nothing: a model that only repeats itself or keeps failing the filters
// would otherwise spend the whole request budget.
type StallError struct {
	Method string
	Units  int
	Hint   string
}

func (e *StallError) Error() string {
	msg := fmt.Sprintf("%s stalled: nothing accepted in %d units in a row", e.Method, e.Units)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func (e *StallError) Is(target error) bool { return target == ErrStalled }

// Env is what a method needs to run: the model, the journal and the run's
// settings. The lifecycle (package runner) builds it; tests build it by hand.
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
	// Options are the user's generation options (num_ctx, num_predict and,
	// if set, temperature …). A method's own per-stage settings win over
	// them (see [Env.options]).
	Options map[string]any
	// MaxRequests is the request budget of this invocation (0: none): no
	// new unit starts once it is used up, and units in flight finish (so a
	// run may go a few requests over rather than waste paid-for work).
	MaxRequests int64
	// Retries is how often an unparsable structured reply is retried.
	Retries int
	// Models are the resolved models, in the order the method listed them
	// (names as the server knows them, digests, templates, system prompts).
	Models []local.ModelInfo
	// Gate, when set, decides whether each accepted entry joins the data
	// (the novelty filter, the QDAIF archive), for every method alike.
	Gate Gate

	requests atomic.Int64
}

// model is what methods call: Env itself, which counts every request
// against the budget.
func (e *Env) model() local.Model { return e }

func (e *Env) budgetLeft() bool {
	return e.MaxRequests <= 0 || e.requests.Load() < e.MaxRequests
}

// Chat sends a chat request through Env.Model and counts it against the
// budget (checked between units, so work in flight is never cut off).
// Methods call the model through Env, never through Env.Model directly.
func (e *Env) Chat(ctx context.Context, r *local.ChatRequest) (*local.Response, error) {
	e.requests.Add(1)
	return e.Model.Chat(ctx, r)
}

// Generate sends a generate request and counts it (see [Env.Chat]).
func (e *Env) Generate(ctx context.Context, r *local.GenerateRequest) (*local.Response, error) {
	e.requests.Add(1)
	return e.Model.Generate(ctx, r)
}

// Embed embeds inputs and counts the request (see [Env.Chat]).
func (e *Env) Embed(ctx context.Context, model string, in []string) ([][]float32, error) {
	e.requests.Add(1)
	return e.Model.Embed(ctx, model, in)
}

// options returns the options of one request: the user's, with the
// method's own settings for this stage on top. A stage that has published
// settings of its own (Magpie's query at temperature 1, greedy labelling)
// keeps them; a stage that passes nil samples as the user asked.
func (e *Env) options(own map[string]any) map[string]any {
	out := make(map[string]any, len(e.Options)+len(own))
	for k, v := range e.Options {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// modelInfo returns what the lifecycle resolved about a model (its
// Modelfile system prompt, its template); zero if unknown (tests).
func (e *Env) modelInfo(name string) local.ModelInfo {
	for _, m := range e.Models {
		if m.Name == name {
			return m
		}
	}
	return local.ModelInfo{Name: name}
}

// UnitSeed derives a unit's sampling seed from the run seed and unit id,
// so a unit redone after a crash samples the same way (best effort: a
// server batching parallel requests is not bit-exact).
func UnitSeed(runSeed int64, unit string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", runSeed, unit)
	return int64(h.Sum64() & 0x7fffffff) // llama.cpp takes a 32-bit seed
}

// Gate decides whether accepted entries join the data. The engine asks it
// for every accepted entry of every method before the entry counts toward
// the target, outside the engine's locks (it may call a model to embed).
type Gate interface {
	// Admit returns "" to admit the rows of unit, holding them as pending
	// so a concurrent near-copy is refused, or the reason to reject them.
	Admit(ctx context.Context, unit string, rows []export.Row) (reason string, err error)
	// Settle says whether an admitted unit was journaled (kept) or dropped
	// (over the target, or a journal error).
	Settle(unit string, kept bool)
}

// Entry is one journal entry a unit produces: accepted with rows, or
// rejected with a reason.
type Entry struct {
	Unit   string
	Rows   []export.Row
	Reason string
	Prov   export.Provenance
}

func (en Entry) accepted() bool { return en.Reason == "" && len(en.Rows) > 0 }

// Unit is one piece of work of a [Phase].
type Unit struct {
	// ID is the journal id a failure is rejected under.
	ID string
	// Prov labels that rejection.
	Prov export.Provenance
	// Do runs the unit and journals its result with [Work.Commit]. An error
	// that only concerns this unit ([Rejection], a model that keeps
	// answering garbage, a prompt too long) is journaled as a rejection of
	// ID; any other error stops the run.
	Do func(ctx context.Context, w *Work) error
}

// Phase is a group of units that use one model. Phases run one after the
// other, so a server that keeps one model loaded at a time (a laptop)
// loads each model once instead of swapping on every request.
type Phase struct {
	// Model names the model the phase's units use, for the record.
	Model string
	// Next returns the next unit, skipping units already done; false when
	// there are none. It is called by one worker at a time.
	Next func() (Unit, bool)
	// Target ends the phase at this many accepted entries (0: run until
	// Next has no more). Accepted is how many it has from earlier runs.
	Target, Accepted int64
	// StallAfter stops the run with a [*StallError] after this many units
	// in a row accepted nothing (0: never); StallHint says what to try.
	StallAfter int
	StallHint  string
	// Method names the method in a stall message.
	Method string
}

// phaseState is the engine's bookkeeping for the running phase. Slots
// make -n exact without waste: a unit reserves one slot before it starts,
// accepted + reserved never passes Target, and a unit that makes more
// entries than it reserved takes free slots at commit time.
type phaseState struct {
	*Phase
	mu       sync.Mutex
	cond     *sync.Cond
	accepted int64
	reserved int64
	barren   int
	stalled  bool
	budget   bool
	done     bool // Next said no more
}

// Work is a running unit's handle on the engine.
type Work struct {
	ctx   context.Context
	env   *Env
	ph    *phaseState
	held  int64 // slots this unit holds (0 or 1)
	added int64 // entries it got accepted
}

// RunPhases runs the phases in order with Env.Workers workers each. It returns
// ErrBudget when the budget ended the run, a [*StallError] when a phase
// stalled, or the first error of a unit.
func (e *Env) RunPhases(ctx context.Context, phases ...*Phase) error {
	for _, p := range phases {
		if err := e.runPhase(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) runPhase(ctx context.Context, p *Phase) error {
	ph := &phaseState{Phase: p, accepted: p.Accepted}
	ph.cond = sync.NewCond(&ph.mu)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Wake waiters when the run is cancelled.
	stop := context.AfterFunc(ctx, func() {
		ph.mu.Lock()
		ph.cond.Broadcast()
		ph.mu.Unlock()
	})
	defer stop()
	var wg sync.WaitGroup
	for w := 0; w < max(e.Workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				u, ok := e.start(ctx, ph)
				if !ok {
					return
				}
				if err := e.do(ctx, ph, u); err != nil {
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
	switch {
	case ph.stalled:
		return &StallError{Method: p.Method, Units: p.StallAfter, Hint: p.StallHint}
	case ph.budget:
		return ErrBudget
	}
	return nil
}

// claim waits for a free slot; false means the phase is over (target
// reached, budget used up, stalled, or cancelled).
func (ph *phaseState) claim(ctx context.Context, e *Env) bool {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	for {
		switch {
		case ctx.Err() != nil, ph.stalled:
			return false
		case ph.Target > 0 && ph.accepted >= ph.Target:
			return false
		case !e.budgetLeft():
			ph.budget = true
			return false
		case ph.Target > 0 && ph.accepted+ph.reserved >= ph.Target:
			// Every slot is taken by a unit in flight; one of them may yet
			// be rejected and leave its slot to a replacement.
			ph.cond.Wait()
			continue
		}
		ph.reserved++
		return true
	}
}

// start claims a slot and takes the next unit.
func (e *Env) start(ctx context.Context, ph *phaseState) (Unit, bool) {
	if !ph.claim(ctx, e) {
		return Unit{}, false
	}
	ph.mu.Lock()
	var u Unit
	ok := !ph.done
	if ok {
		u, ok = ph.Next()
		ph.done = !ok
	}
	if !ok {
		ph.reserved--
		ph.cond.Broadcast()
	}
	ph.mu.Unlock()
	return u, ok
}

// do runs one unit, journals a unit-level failure as its rejection, and
// gives back the slot.
func (e *Env) do(ctx context.Context, ph *phaseState, u Unit) error {
	w := &Work{ctx: ctx, env: e, ph: ph, held: 1}
	err := u.Do(ctx, w)
	if reason := RejectReason(err); reason != "" {
		err = w.Commit(Entry{Unit: u.ID, Reason: reason, Prov: u.Prov})
	}
	ph.mu.Lock()
	ph.reserved -= w.held
	w.held = 0
	if err == nil {
		if w.added > 0 {
			ph.barren = 0
		} else if ph.barren++; ph.StallAfter > 0 && ph.barren >= ph.StallAfter {
			ph.stalled = true
		}
	}
	ph.cond.Broadcast()
	ph.mu.Unlock()
	return err
}

// Claim reserves a slot for more work in the same unit (the next round of
// an Evol chain); false means the phase is over and the unit should stop.
func (w *Work) Claim(ctx context.Context) bool {
	if w.held > 0 {
		return true
	}
	if !w.ph.claim(ctx, w.env) {
		return false
	}
	w.held = 1
	return true
}

// Commit journals a unit's entries, given in priority order: when -n
// leaves room for fewer accepted entries than there are, the first ones
// are kept and the rest are rejected as [ReasonOverTarget]. Entries are
// journaled last-first, so the first entry (the unit's marker, which a
// resumed run checks) is durable only after all the others are. Commit
// gives back the slot the unit held.
func (w *Work) Commit(entries ...Entry) error {
	ph := w.ph
	gate := w.env.Gate
	var admitted []string
	if gate != nil {
		entries = slices.Clone(entries)
		for i, en := range entries {
			if !en.accepted() {
				continue
			}
			reason, err := gate.Admit(w.ctx, en.Unit, en.Rows)
			if err != nil {
				for _, u := range admitted {
					gate.Settle(u, false)
				}
				return fmt.Errorf("admit %s: %w", en.Unit, err)
			}
			if reason != "" {
				entries[i].Rows, entries[i].Reason = nil, reason
				continue
			}
			admitted = append(admitted, en.Unit)
		}
	}
	want := int64(0)
	for _, en := range entries {
		if en.accepted() {
			want++
		}
	}
	ph.mu.Lock()
	grant := want
	if ph.Target > 0 {
		free := max(ph.Target-ph.accepted-ph.reserved, 0)
		grant = min(want, w.held+free)
	}
	ph.accepted += grant
	ph.reserved -= w.held
	w.held = 0
	w.added += grant
	ph.cond.Broadcast()
	ph.mu.Unlock()

	out := make([]Entry, len(entries))
	granted := int64(0)
	for i, en := range entries {
		if en.accepted() {
			if granted >= grant {
				en.Rows, en.Reason = nil, ReasonOverTarget
			}
			granted++
		}
		out[i] = en
	}
	err := w.journalAll(out)
	if gate != nil {
		for _, en := range out {
			if slices.Contains(admitted, en.Unit) {
				gate.Settle(en.Unit, err == nil && en.accepted())
			}
		}
	}
	return err
}

// journalAll writes out's entries, the first (the marker) last.
func (w *Work) journalAll(out []Entry) error {
	if len(out) == 0 {
		return nil
	}
	// All but the marker go in parallel (the journal commits them in one
	// group); the marker after them.
	var wg sync.WaitGroup
	errs := make([]error, len(out))
	for i := len(out) - 1; i >= 1; i-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.env.journal(out[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return w.env.journal(out[0])
}

func (e *Env) journal(en Entry) error {
	if en.Reason != "" || len(en.Rows) == 0 {
		reason := en.Reason
		if reason == "" {
			reason = ReasonNoRows
		}
		return e.Run.Reject(en.Unit, reason, en.Prov)
	}
	return e.Run.Add(en.Unit, en.Prov, en.Rows...)
}

// Rejection is an error that ends one unit with a rejection reason rather
// than stopping the run.
type Rejection struct{ Reason string }

func (r *Rejection) Error() string { return "rejected: " + r.Reason }

// reject returns a [*Rejection] for reason.
func reject(reason string) error { return &Rejection{Reason: reason} }

// RejectReason returns the reason err rejects one unit for, or "" when err
// is nil or a real failure that must stop the run: a [*Rejection], a model
// that kept answering output the schema refuses, or a prompt longer than
// the context window.
func RejectReason(err error) string {
	if err == nil {
		return ""
	}
	var rj *Rejection
	if errors.As(err, &rj) {
		return rj.Reason
	}
	var inv *local.InvalidOutputError
	if errors.As(err, &inv) {
		return ReasonInvalid
	}
	var ctxErr *local.ContextOverflowError
	if errors.As(err, &ctxErr) {
		return ReasonPromptTooLong
	}
	return ""
}

// seqUnits returns a Next that walks ids 0..n-1 (or forever when n < 0),
// skipping those done() says are finished.
func seqUnits(n int, done func(i int) bool, unit func(i int) Unit) func() (Unit, bool) {
	i := 0
	return func() (Unit, bool) {
		for n < 0 || i < n {
			k := i
			i++
			if !done(k) {
				return unit(k), true
			}
		}
		return Unit{}, false
	}
}
