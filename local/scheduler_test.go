package local

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

func testScheduler(hosts int, opts SchedulerOptions) (*scheduler, []*hostState) {
	hs := make([]*hostState, hosts)
	for i := range hs {
		hs[i] = &hostState{url: fmt.Sprintf("http://h%d", i)}
	}
	opts.BackoffBase = time.Millisecond
	opts.BackoffMax = 5 * time.Millisecond
	return newScheduler(hs, opts), hs
}

func TestSchedulerBoundsConcurrencyPerHost(t *testing.T) {
	tests := []struct{ hosts, limit, jobs int }{
		{1, 1, 6}, {1, 3, 12}, {2, 2, 16}, {3, 4, 40},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d", tt.hosts, tt.limit), func(t *testing.T) {
			s, _ := testScheduler(tt.hosts, SchedulerOptions{Concurrency: tt.limit})
			var mu sync.Mutex
			inflight, peak := map[string]int{}, map[string]int{}
			var total, totalPeak int
			var stats Stats
			var wg sync.WaitGroup
			for i := 0; i < tt.jobs; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := s.do(context.Background(), "m", &stats, func(ctx context.Context, h *hostState) (int, error) {
						mu.Lock()
						inflight[h.url]++
						total++
						peak[h.url] = max(peak[h.url], inflight[h.url])
						totalPeak = max(totalPeak, total)
						mu.Unlock()
						time.Sleep(5 * time.Millisecond)
						mu.Lock()
						inflight[h.url]--
						total--
						mu.Unlock()
						return 1, nil
					})
					if err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			for h, p := range peak {
				if p > tt.limit {
					t.Errorf("host %s had %d in flight, limit %d", h, p, tt.limit)
				}
			}
			if len(peak) != tt.hosts {
				t.Errorf("used %d hosts, want all %d", len(peak), tt.hosts)
			}
			// With more jobs than slots every slot must have been busy at once.
			if totalPeak != tt.hosts*tt.limit {
				t.Errorf("peak in flight %d, want %d (slots left idle)", totalPeak, tt.hosts*tt.limit)
			}
			if got := s.capacity(); got != tt.hosts*tt.limit {
				t.Errorf("capacity %d, want %d", got, tt.hosts*tt.limit)
			}
		})
	}
}

func TestSchedulerRetries(t *testing.T) {
	refused := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	tests := []struct {
		name         string
		errs         []error // returned by successive attempts; nil = success
		maxRetries   int
		wantAttempts int
		wantErr      bool
		wantType     any
	}{
		{"success first", []error{nil}, 3, 1, false, nil},
		{"refused then ok", []error{refused, refused, nil}, 3, 3, false, nil},
		{"5xx then ok", []error{api.StatusError{StatusCode: 503, ErrorMessage: "server busy"}, nil}, 3, 2, false, nil},
		{"gives up", []error{refused, refused, refused, refused, refused}, 2, 3, true, nil},
		{"400 is permanent", []error{api.StatusError{StatusCode: 400, ErrorMessage: "invalid format"}, nil}, 3, 1, true, nil},
		{"missing model is permanent", []error{errors.New(`model "x" not found, try pulling it first`)}, 3, 1, true, &ModelMissingError{}},
		{"oom is permanent", []error{api.StatusError{StatusCode: 500, ErrorMessage: "model requires more system memory (9 GiB) than is available (4 GiB)"}}, 3, 1, true, &OutOfMemoryError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := testScheduler(1, SchedulerOptions{Concurrency: 1, MaxRetries: tt.maxRetries})
			var stats Stats
			attempts := 0
			err := s.do(context.Background(), "x", &stats, func(ctx context.Context, h *hostState) (int, error) {
				e := tt.errs[attempts]
				attempts++
				return 0, e
			})
			if attempts != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", attempts, tt.wantAttempts)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			switch tt.wantType.(type) {
			case *ModelMissingError:
				var e *ModelMissingError
				if !errors.As(err, &e) {
					t.Errorf("err = %v, want ModelMissingError", err)
				}
			case *OutOfMemoryError:
				var e *OutOfMemoryError
				if !errors.As(err, &e) {
					t.Errorf("err = %v, want OutOfMemoryError", err)
				}
			}
			if got := stats.Retries.Load(); got != int64(attempts-1) {
				t.Errorf("retries counted %d, want %d", got, attempts-1)
			}
		})
	}
}

func TestSchedulerTimeoutIsRetried(t *testing.T) {
	s, _ := testScheduler(1, SchedulerOptions{Concurrency: 1, MaxRetries: 2, RequestTimeout: 10 * time.Millisecond})
	var stats Stats
	attempts := 0
	err := s.do(context.Background(), "m", &stats, func(ctx context.Context, h *hostState) (int, error) {
		attempts++
		if attempts == 1 {
			<-ctx.Done() // a hung request
			return 0, ctx.Err()
		}
		return 1, nil
	})
	if err != nil || attempts != 2 {
		t.Fatalf("err = %v after %d attempts, want success on the 2nd", err, attempts)
	}
}

func TestSchedulerCancelWhileWaiting(t *testing.T) {
	s, _ := testScheduler(1, SchedulerOptions{Concurrency: 1})
	var stats Stats
	block := make(chan struct{})
	started := make(chan struct{})
	go s.do(context.Background(), "m", &stats, func(ctx context.Context, h *hostState) (int, error) {
		close(started)
		<-block
		return 0, nil
	})
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- s.do(ctx, "m", &stats, func(ctx context.Context, h *hostState) (int, error) { return 0, nil })
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(block)
}

func TestSchedulerAvoidsDownHost(t *testing.T) {
	s, hs := testScheduler(2, SchedulerOptions{Concurrency: 2, MaxRetries: 3})
	var stats Stats
	var onDead atomic.Int64
	for i := 0; i < 20; i++ {
		err := s.do(context.Background(), "m", &stats, func(ctx context.Context, h *hostState) (int, error) {
			if h == hs[0] {
				onDead.Add(1)
				return 0, fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
			}
			return 1, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// After the first failure the dead host sits out its backoff, so nearly
	// every request goes to the live one.
	if n := onDead.Load(); n > 5 {
		t.Fatalf("%d of 20 requests tried the dead host", n)
	}
}
