package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// What Ollama answers when things go wrong, by status code. The texts are
// the servers' own (v0.6.5 to v0.17).
const (
	msgRunnerTerminated = "llama runner process has terminated: signal: killed"
	msgRunnerStopped    = "model runner has unexpectedly stopped, this may be due to resource limitations or an internal error, check ollama server logs for details"
	msgBusy             = "server busy, please try again.  maximum pending requests exceeded"
	msgNotFound         = "model 'synthkit-absent' not found, try pulling it first"
	msgContext          = "input length exceeds maximum context length"
	msgOOM              = "model requires more system memory (9.1 GiB) than is available (3.8 GiB)"
	msgBadOptions       = "invalid options: num_ctxx"
)

func TestClassify(t *testing.T) {
	st := func(code int, msg string) error {
		return api.StatusError{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), ErrorMessage: msg}
	}
	var (
		missing  *ModelMissingError
		overflow *ContextOverflowError
		oom      *OutOfMemoryError
	)
	tests := []struct {
		name      string
		err       error
		transient bool
		as        any // a pointer to the typed error it must become, or nil
	}{
		{"500 runner terminated", st(500, msgRunnerTerminated), true, nil},
		{"500 runner stopped (newer servers)", st(500, msgRunnerStopped), true, nil},
		{"500 other", st(500, "something went wrong"), true, nil},
		{"502 from a proxy", st(502, ""), true, nil},
		{"503 queue full", st(503, msgBusy), true, nil},
		{"429", st(429, "too many requests"), true, nil},
		{"404 model not found", st(404, msgNotFound), false, &missing},
		{"404 plain", st(404, "404 page not found"), false, nil},
		{"400 bad options", st(400, msgBadOptions), false, nil},
		{"400 context", st(400, msgContext), false, &overflow},
		{"500 out of memory", st(500, msgOOM), false, &oom},
		{"401", st(401, "unauthorized"), false, nil},
		{"413", st(413, "request entity too large"), false, nil},
		// Errors inside a 200 reply have no status: the text decides.
		{"text runner terminated", errors.New(msgRunnerTerminated), true, nil},
		{"text model not found", errors.New(msgNotFound), false, &missing},
		{"text other", errors.New("template: bad"), false, nil},
		{"refused", fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED), true, nil},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true, nil},
		{"cut off", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), true, nil},
		{"undecodable 200 reply", fmt.Errorf("decode: %w", errBadReply), true, nil},
		{"timeout", context.DeadlineExceeded, true, nil},
		{"cancelled", context.Canceled, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, transient := classify(tt.err, "synthkit-absent", "http://h")
			if transient != tt.transient {
				t.Errorf("transient = %v, want %v (%v)", transient, tt.transient, got)
			}
			if tt.as != nil {
				if !errors.As(got, tt.as) {
					t.Errorf("classify(%v) = %T, want %T", tt.err, got, tt.as)
				}
			} else if !errors.Is(got, tt.err) {
				t.Errorf("classify(%v) = %v, want the error itself", tt.err, got)
			}
		})
	}
}

// scriptedHTTP answers /api/chat and /api/generate with the replies in
// order (the last one repeats) and counts requests.
type scriptedHTTP struct {
	replies []httpReply
	n       atomic.Int64
}

type httpReply struct {
	status int
	body   string
}

func (s *scriptedHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	rep := s.replies[min(i, len(s.replies)-1)]
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func errBody(msg string) string {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return string(b)
}

const okChat = `{"model":"m","message":{"role":"assistant","content":"hello"},"done":true,"done_reason":"stop","eval_count":1}`

// Status codes from a real HTTP exchange reach the scheduler's retry
// decision and the caller's error types intact.
func TestStatusCodesOverHTTP(t *testing.T) {
	tests := []struct {
		name     string
		replies  []httpReply
		attempts int64
		ok       bool
		as       any
		status   int // the StatusError code the caller sees, 0 = do not check
	}{
		{"500 runner terminated is retried", []httpReply{{500, errBody(msgRunnerTerminated)}, {200, okChat}}, 2, true, nil, 0},
		{"503 busy is retried", []httpReply{{503, errBody(msgBusy)}, {503, errBody(msgBusy)}, {200, okChat}}, 3, true, nil, 0},
		{"429 is retried", []httpReply{{429, errBody("slow down")}, {200, okChat}}, 2, true, nil, 0},
		{"error in a 200 reply is retried", []httpReply{{200, errBody(msgRunnerTerminated)}, {200, okChat}}, 2, true, nil, 0},
		{"cut-off 200 reply is retried", []httpReply{{200, okChat[:30]}, {200, okChat}}, 2, true, nil, 0},
		{"500 keeps failing: gives up", []httpReply{{500, errBody(msgRunnerStopped)}}, 3, false, nil, 500},
		{"404 model missing is not retried", []httpReply{{404, errBody(msgNotFound)}, {200, okChat}}, 1, false, new(*ModelMissingError), 0},
		{"400 context overflow is not retried", []httpReply{{400, errBody(msgContext)}, {200, okChat}}, 1, false, new(*ContextOverflowError), 0},
		{"400 bad options is not retried", []httpReply{{400, errBody(msgBadOptions)}, {200, okChat}}, 1, false, nil, 400},
		{"500 out of memory is not retried", []httpReply{{500, errBody(msgOOM)}, {200, okChat}}, 1, false, new(*OutOfMemoryError), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &scriptedHTTP{replies: tt.replies}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c, err := NewClient([]string{srv.URL}, SchedulerOptions{Concurrency: 1, MaxRetries: 2,
				BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Chat(context.Background(), &ChatRequest{Model: "m", Messages: []Message{{Role: "user", Content: "hi"}}})
			if got := fake.n.Load(); got != tt.attempts {
				t.Errorf("server saw %d requests, want %d", got, tt.attempts)
			}
			if got := c.Stats().Retries; got != tt.attempts-1 {
				t.Errorf("retries counted %d, want %d", got, tt.attempts-1)
			}
			if tt.ok {
				if err != nil || r.Content != "hello" {
					t.Fatalf("Chat = %+v, %v; want the reply", r, err)
				}
				return
			}
			if err == nil {
				t.Fatal("Chat succeeded, want an error")
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("err = %v (%T), want %T", err, err, tt.as)
			}
			if tt.status != 0 {
				var se api.StatusError
				if !errors.As(err, &se) || se.StatusCode != tt.status {
					t.Errorf("err = %v, want a StatusError %d", err, tt.status)
				}
			}
			if c.Stats().Failures != map[bool]int64{true: 1, false: 0}[tt.attempts == 3] {
				t.Errorf("failures counted %d", c.Stats().Failures)
			}
		})
	}
}

// Host choice while hosts are busy or down, step by step.
func TestSchedulerPick(t *testing.T) {
	now := time.Unix(1000, 0)
	down := now.Add(time.Second)
	type host struct {
		limit, inflight int
		down            bool
	}
	tests := []struct {
		name  string
		hosts []host
		want  int // index of the host picked, -1 = none (wait)
	}{
		{"most free slots wins", []host{{4, 3, false}, {4, 1, false}, {4, 2, false}}, 1},
		{"bigger limit, more free", []host{{2, 0, false}, {8, 5, false}}, 1},
		{"full host skipped", []host{{2, 2, false}, {2, 1, false}}, 1},
		{"all full: wait", []host{{2, 2, false}, {1, 1, false}}, -1},
		{"over limit counts as full", []host{{2, 3, false}}, -1},
		{"down host skipped while a live one has room", []host{{8, 0, true}, {2, 1, false}}, 1},
		{"down host not used while live ones are only busy", []host{{8, 0, true}, {2, 2, false}}, -1},
		{"all down: use a down host with room", []host{{2, 2, true}, {2, 1, true}}, 1},
		{"all down and full: wait", []host{{1, 1, true}, {1, 1, true}}, -1},
		{"down time over: live again", []host{{4, 0, false}, {1, 0, false}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := testScheduler(len(tt.hosts), SchedulerOptions{Concurrency: 1})
			for i, h := range tt.hosts {
				hs[i].limit, hs[i].inflight = h.limit, h.inflight
				if h.down {
					hs[i].downUntil = down
				} else {
					hs[i].downUntil = now.Add(-time.Second)
				}
			}
			got := s.pick(now)
			want := (*hostState)(nil)
			if tt.want >= 0 {
				want = hs[tt.want]
			}
			if got != want {
				name := "none"
				if got != nil {
					name = got.url
				}
				t.Fatalf("picked %s, want host %d", name, tt.want)
			}
		})
	}
}

// Ties rotate, so equal hosts share the work.
func TestSchedulerPickRotatesTies(t *testing.T) {
	s, hs := testScheduler(3, SchedulerOptions{Concurrency: 2})
	seen := map[*hostState]int{}
	for range 6 {
		seen[s.pick(time.Now())]++
	}
	for i, h := range hs {
		if seen[h] != 2 {
			t.Errorf("host %d picked %d of 6 times, want 2", i, seen[h])
		}
	}
}

// Over HTTP: a host that refuses connections or answers 503 is set aside
// and the requests go to the live host; a busy live host is waited for
// rather than the dead one retried.
func TestSchedulerSkipsFailingHostOverHTTP(t *testing.T) {
	live := &scriptedHTTP{replies: []httpReply{{200, okChat}}}
	liveSrv := httptest.NewServer(live)
	defer liveSrv.Close()
	busy := &scriptedHTTP{replies: []httpReply{{503, errBody(msgBusy)}}}
	busySrv := httptest.NewServer(busy)
	defer busySrv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + l.Addr().String()
	l.Close() // nothing listens there now: connection refused

	for name, bad := range map[string]string{"refused": deadURL, "503": busySrv.URL} {
		t.Run(name, func(t *testing.T) {
			live.n.Store(0)
			c, err := NewClient([]string{bad, liveSrv.URL}, SchedulerOptions{Concurrency: 2, MaxRetries: 3,
				BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				if _, err := c.Chat(context.Background(), &ChatRequest{Model: "m"}); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			if got := live.n.Load(); got != 20 {
				t.Errorf("live host served %d, want 20", got)
			}
			if r := c.Stats().Retries; r > 3 {
				t.Errorf("%d retries: the failing host kept getting requests", r)
			}
		})
	}
}

// Auto concurrency with a maximum that is not a power of two: the ramp
// doubles from its start and stops at the maximum, never above it.
func TestAutoTunerOddMaximum(t *testing.T) {
	linear := simServer{tput: func(n int) float64 { return 100 * float64(n) }, tokens: 10}
	for _, maxC := range []int{3, 5, 6, 7} {
		t.Run(fmt.Sprint(maxC), func(t *testing.T) {
			r := simulate(newAutoTuner(0, maxC), linear, 2000, nil)
			if r.peak > maxC || r.final != maxC {
				t.Fatalf("max %d: peak %d, final %d; want to settle at exactly %d", maxC, r.peak, r.final, maxC)
			}
		})
	}
	s, hs := testScheduler(2, SchedulerOptions{MaxConcurrency: 6})
	if s.capacity() != 12 || hs[0].limit != 4 {
		t.Errorf("capacity %d, first limit %d; want 12 and 4", s.capacity(), hs[0].limit)
	}
}
