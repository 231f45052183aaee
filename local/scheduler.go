package local

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// SchedulerOptions configures how requests are spread over hosts.
// The zero value means the defaults of [DefaultSchedulerOptions].
type SchedulerOptions struct {
	// Concurrency is the number of requests in flight per host.
	// 0 means auto: each host finds the limit with the most tokens/s,
	// starting at StartConcurrency, and backs off on repeated errors.
	Concurrency int
	// StartConcurrency is where auto concurrency starts on each host; set
	// it to the server's parallelism when known (synthkit started the
	// server with OLLAMA_NUM_PARALLEL). 0 means 4, or MaxConcurrency if
	// that is lower.
	StartConcurrency int
	// MaxConcurrency bounds auto concurrency per host.
	MaxConcurrency int
	// RequestTimeout bounds one attempt of one request. Local models on a
	// CPU can be slow, so the default is generous.
	RequestTimeout time.Duration
	// MaxRetries is how often a transient failure (connection refused while
	// a server restarts, 5xx, timeout) is retried before the request fails.
	MaxRetries int
	// BackoffBase and BackoffMax bound the exponential backoff with jitter.
	BackoffBase time.Duration
	BackoffMax  time.Duration
}

// DefaultSchedulerOptions returns the defaults used for zero fields.
func DefaultSchedulerOptions() SchedulerOptions {
	return SchedulerOptions{
		Concurrency:    0,
		MaxConcurrency: 8,
		RequestTimeout: 10 * time.Minute,
		MaxRetries:     6,
		BackoffBase:    500 * time.Millisecond,
		BackoffMax:     30 * time.Second,
	}
}

func (o SchedulerOptions) withDefaults() SchedulerOptions {
	d := DefaultSchedulerOptions()
	if o.Concurrency < 0 {
		o.Concurrency = 0
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = d.MaxConcurrency
	}
	if o.Concurrency > o.MaxConcurrency {
		o.MaxConcurrency = o.Concurrency
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.MaxRetries < 0 {
		o.MaxRetries = 0
	} else if o.MaxRetries == 0 {
		o.MaxRetries = d.MaxRetries
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = d.BackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = d.BackoffMax
	}
	return o
}

// slot is one unit of a host's concurrency.
type slot struct {
	host *hostState
}

// scheduler hands out request slots: a new request starts the moment any
// host has a free slot, with no batch barriers. Slots go to the host with
// the most free capacity, so several hosts fill evenly.
type scheduler struct {
	opts SchedulerOptions

	mu    sync.Mutex
	hosts []*hostState
	// wake is closed and replaced whenever a slot frees or a limit grows.
	wake chan struct{}
	next int // round-robin start for ties
}

func newScheduler(hosts []*hostState, opts SchedulerOptions) *scheduler {
	opts = opts.withDefaults()
	s := &scheduler{opts: opts, hosts: hosts, wake: make(chan struct{})}
	for _, h := range hosts {
		if opts.Concurrency > 0 {
			h.limit = opts.Concurrency
		} else {
			h.tuner = newAutoTuner(opts.StartConcurrency, opts.MaxConcurrency)
			h.limit = h.tuner.limit
		}
	}
	return s
}

// capacity is the most requests that can ever be in flight at once; callers
// size their worker pools with it.
func (s *scheduler) capacity() int {
	n := 0
	for range s.hosts {
		if s.opts.Concurrency > 0 {
			n += s.opts.Concurrency
		} else {
			n += s.opts.MaxConcurrency
		}
	}
	return n
}

// acquire blocks until a slot is free or ctx ends.
func (s *scheduler) acquire(ctx context.Context) (*hostState, error) {
	for {
		s.mu.Lock()
		if h := s.pick(time.Now()); h != nil {
			h.inflight++
			s.mu.Unlock()
			return h, nil
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		case <-time.After(250 * time.Millisecond): // a down host may have come back
		}
	}
}

// pick returns the host with the most free slots, or nil to wait. A host
// that just failed gets requests only while every host is down, so one dead
// server does not eat the retries meant for the live ones. Called with mu held.
func (s *scheduler) pick(now time.Time) *hostState {
	var best, fallback *hostState
	bestFree, allDown := 0, true
	n := len(s.hosts)
	for i := 0; i < n; i++ {
		h := s.hosts[(s.next+i)%n]
		free := h.limit - h.inflight
		down := now.Before(h.downUntil)
		if !down {
			allDown = false
		}
		switch {
		case free <= 0:
		case down:
			if fallback == nil {
				fallback = h
			}
		case free > bestFree:
			best, bestFree = h, free
		}
	}
	s.next = (s.next + 1) % n
	if best != nil {
		return best
	}
	if allDown {
		return fallback
	}
	return nil
}

// outcome is what a finished attempt tells the tuner.
type outcome int

const (
	succeeded outcome = iota
	failedTransient
	notMeasured // cancelled, or a permanent error: says nothing about load
)

// release returns a slot taken at started and feeds the outcome to the
// host's tuner.
func (s *scheduler) release(h *hostState, started time.Time, tokens int, o outcome) {
	s.mu.Lock()
	h.inflight--
	if h.tuner != nil && o != notMeasured {
		h.limit = h.tuner.observe(time.Now(), started, tokens, o == failedTransient)
	}
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

// markDown keeps new requests away from a host for a moment after it failed.
func (s *scheduler) markDown(h *hostState, d time.Duration) {
	s.mu.Lock()
	h.downUntil = time.Now().Add(d)
	s.mu.Unlock()
}

// attemptFunc runs one attempt of a request on host h. It returns the
// tokens it processed (output tokens; prompt tokens for embeddings), which
// the tuner measures throughput by, and its error.
type attemptFunc func(ctx context.Context, h *hostState) (int, error)

// do runs fn with retries: transient failures back off exponentially with
// full jitter and may move to another host; permanent ones return at once.
func (s *scheduler) do(ctx context.Context, model string, stats *Stats, fn attemptFunc) error {
	var lastErr error
	for attempt := 0; attempt <= s.opts.MaxRetries; attempt++ {
		if attempt > 0 {
			stats.addRetry()
			if err := sleepCtx(ctx, s.backoff(attempt)); err != nil {
				return fmt.Errorf("%w (last error: %v)", err, lastErr)
			}
		}
		h, err := s.acquire(ctx)
		if err != nil {
			if lastErr != nil {
				return fmt.Errorf("%w (last error: %v)", err, lastErr)
			}
			return err
		}
		started := time.Now()
		actx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
		tokens, err := fn(actx, h)
		timedOut := actx.Err() == context.DeadlineExceeded && ctx.Err() == nil
		cancel()
		if err == nil {
			s.release(h, started, tokens, succeeded)
			return nil
		}
		if ctx.Err() != nil {
			s.release(h, started, 0, notMeasured)
			return ctx.Err()
		}
		typed, transient := classify(err, model, h.url)
		if timedOut {
			typed, transient = fmt.Errorf("request to %s timed out after %s (raise --timeout for slow models): %w", h.url, s.opts.RequestTimeout, err), true
		}
		if !transient {
			s.release(h, started, 0, notMeasured)
			return typed
		}
		s.release(h, started, 0, failedTransient)
		if isConnError(err) {
			// Long enough that the other hosts take the next requests.
			s.markDown(h, max(s.backoff(attempt+1), 2*time.Second))
		}
		lastErr = typed
	}
	stats.addFailure()
	return fmt.Errorf("gave up after %d attempts: %w", s.opts.MaxRetries+1, lastErr)
}

func (s *scheduler) backoff(attempt int) time.Duration {
	d := s.opts.BackoffBase << (attempt - 1)
	if d > s.opts.BackoffMax || d <= 0 {
		d = s.opts.BackoffMax
	}
	// Full jitter keeps many workers from retrying in lockstep, but never
	// less than half the step so a restarting server gets time.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func isConnError(err error) bool {
	var ne *NoServerError
	if errors.As(err, &ne) {
		return true
	}
	_, transient := classify(err, "", "")
	return transient && !errors.Is(err, context.DeadlineExceeded)
}
