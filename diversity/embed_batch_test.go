package diversity

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingEmbed embeds a text "t<k>" as a vector whose first float is k,
// and records each call's size; hold, when set, blocks every call until it
// is closed.
type countingEmbed struct {
	mu    sync.Mutex
	calls []int
	hold  chan struct{}
	fail  error
	short bool // return one vector too few
	ctxs  []context.Context
}

func (c *countingEmbed) embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.mu.Lock()
	c.calls = append(c.calls, len(texts))
	c.ctxs = append(c.ctxs, ctx)
	hold := c.hold
	c.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.fail != nil {
		return nil, c.fail
	}
	out := make([][]float32, 0, len(texts))
	for _, t := range texts {
		k, err := strconv.Atoi(t[1:])
		if err != nil {
			return nil, err
		}
		out = append(out, []float32{float32(k), 1})
	}
	if c.short {
		out = out[1:]
	}
	return out, nil
}

func (c *countingEmbed) ctx(i int) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctxs[i]
}

func (c *countingEmbed) sizes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.calls...)
}

// TestBatchGathersConcurrentCalls: concurrent single-text calls share
// requests, and each caller gets its own text's vector back.
func TestBatchGathersConcurrentCalls(t *testing.T) {
	tests := []struct {
		name      string
		callers   int
		size      int
		maxCalls  int
		textsEach int
	}{
		{"one batch", 8, 8, 1, 1},
		{"several full batches", 24, 8, 3, 1},
		{"callers of two texts", 8, 4, 4, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ce := &countingEmbed{}
			// A long wait: the batch goes out when full, not on the timer.
			embed := Batch(ce.embed, tt.size, time.Minute)
			var wg sync.WaitGroup
			errs := make(chan error, tt.callers)
			for c := range tt.callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var texts []string
					for k := range tt.textsEach {
						texts = append(texts, fmt.Sprintf("t%d", c*10+k))
					}
					vs, err := embed(context.Background(), texts)
					if err != nil {
						errs <- err
						return
					}
					for k, v := range vs {
						if int(v[0]) != c*10+k {
							errs <- fmt.Errorf("caller %d text %d got the vector of t%d", c, k, int(v[0]))
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if got := ce.sizes(); len(got) > tt.maxCalls {
				t.Fatalf("%d callers made %d calls %v, want at most %d", tt.callers, len(got), got, tt.maxCalls)
			}
		})
	}
}

// TestBatchLoneCallWaitsOnlyTheWindow: a single call goes out when the
// window closes, not when the batch would be full.
func TestBatchLoneCallWaitsOnlyTheWindow(t *testing.T) {
	ce := &countingEmbed{}
	embed := Batch(ce.embed, 32, 20*time.Millisecond)
	start := time.Now()
	vs, err := embed(context.Background(), []string{"t7"})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 20*time.Millisecond || el > 2*time.Second {
		t.Fatalf("a lone call took %v with a 20ms window", el)
	}
	if len(vs) != 1 || vs[0][0] != 7 {
		t.Fatalf("got %v", vs)
	}
	// A call of size texts or more is not held at all.
	big := make([]string, 32)
	for i := range big {
		big[i] = fmt.Sprint("t", i)
	}
	start = time.Now()
	if _, err := embed(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el >= 20*time.Millisecond {
		t.Fatalf("a full-size call waited %v", el)
	}
}

// TestBatchNeverSerializesCalls: while one batch's call is in flight (the
// model is slow), new callers form the next batch and its call goes out
// too: no lock is held across a call.
func TestBatchNeverSerializesCalls(t *testing.T) {
	ce := &countingEmbed{hold: make(chan struct{})}
	embed := Batch(ce.embed, 2, time.Minute)
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := embed(context.Background(), []string{fmt.Sprint("t", c)}); err != nil {
				t.Error(err)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(ce.sizes()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("calls in flight at once: %v, want 3 (one per full batch)", ce.sizes())
		}
		time.Sleep(time.Millisecond)
	}
	close(ce.hold)
	wg.Wait()
}

// TestBatchCancellation: a caller that gives up gets its context's error
// at once and the others still get their vectors; the call is cancelled
// only when every caller of its batch has given up.
func TestBatchCancellation(t *testing.T) {
	ce := &countingEmbed{hold: make(chan struct{})}
	b := &batcher{embed: ce.embed, size: 2, wait: time.Minute}
	embed := b.Embed

	// The caller that gives up opens the batch: the call must not inherit
	// its cancellation.
	ctx1, cancel1 := context.WithCancel(context.Background())
	done1 := make(chan error, 1)
	go func() { _, err := embed(ctx1, []string{"t1"}); done1 <- err }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		opened := b.open != nil
		b.mu.Unlock()
		if opened {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first caller opened no batch")
		}
	}
	var got2 []float32
	done2 := make(chan error, 1)
	go func() {
		vs, err := embed(context.Background(), []string{"t2"})
		if err == nil {
			got2 = vs[0]
		}
		done2 <- err
	}()
	waitCalls(t, ce, 1)
	cancel1()
	if err := <-done1; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	if err := ce.ctx(0).Err(); err != nil {
		t.Fatalf("the call was cancelled with a caller still waiting: %v", err)
	}
	close(ce.hold)
	if err := <-done2; err != nil || got2[0] != 2 {
		t.Fatalf("the other caller: %v %v", got2, err)
	}

	// Both give up: the call's context ends.
	ce2 := &countingEmbed{hold: make(chan struct{})}
	embed2 := Batch(ce2.embed, 2, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	for k := range 2 {
		go func() { _, err := embed2(ctx, []string{fmt.Sprint("t", k)}); errs <- err }()
	}
	waitCalls(t, ce2, 1)
	cancel()
	for range 2 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("caller: %v", err)
		}
	}
	select {
	case <-ce2.ctx(0).Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the call went on after every caller gave up")
	}
}

// TestBatchErrors: a failed call fails every caller of its batch; a
// reply with the wrong number of vectors is an error, not a misplaced
// vector.
func TestBatchErrors(t *testing.T) {
	tests := []struct {
		name string
		ce   *countingEmbed
		want string
	}{
		{"server error", &countingEmbed{fail: errors.New("model not found")}, "model not found"},
		{"vector missing", &countingEmbed{short: true}, "1 vectors for 2 texts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			embed := Batch(tt.ce.embed, 2, time.Minute)
			var fails atomic.Int32
			var wg sync.WaitGroup
			for k := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := embed(context.Background(), []string{fmt.Sprint("t", k)})
					if err == nil || !strings.Contains(err.Error(), tt.want) {
						t.Errorf("caller %d: %v, want %q", k, err, tt.want)
						return
					}
					fails.Add(1)
				}()
			}
			wg.Wait()
			if fails.Load() != 2 {
				t.Fatalf("%d of 2 callers failed", fails.Load())
			}
		})
	}
}

func waitCalls(t *testing.T, ce *countingEmbed, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(ce.sizes()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls, want %d", len(ce.sizes()), n)
		}
		time.Sleep(time.Millisecond)
	}
}
