package ollamatest

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is one way [StartFaultProxy] can spoil a request.
type Fault int

const (
	// FaultNone forwards the request untouched.
	FaultNone Fault = iota
	// FaultReset closes the connection without a reply, as a crashed
	// server or a dropped connection does.
	FaultReset
	// FaultTruncate forwards the request, then sends the status, the
	// headers (with the full Content-Length) and half the reply, and
	// closes the connection: a reply cut off on the wire.
	FaultTruncate
	// FaultCutJSON forwards the request and answers 200 with a complete
	// HTTP reply that holds only the first half of the server's JSON: a cut
	// the client cannot see at the HTTP level (a broken proxy).
	FaultCutJSON
	// Fault500 answers 500 with Ollama's "llama runner process has
	// terminated" error without forwarding.
	Fault500
	// FaultStall holds the request for [FaultOptions.StallFor] (or until
	// the client gives up), then forwards it.
	FaultStall

	faultKinds = iota
)

var faultNames = [faultKinds]string{"none", "reset", "truncate", "cut-json", "500", "stall"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// FaultOptions says which requests [StartFaultProxy] spoils and how.
type FaultOptions struct {
	// Schedule, when not empty, decides request by request: the k-th
	// request to a faulted path gets Schedule[k % len(Schedule)]. It makes
	// the number of each fault exact whatever the timing.
	Schedule []Fault
	// Rates, used when Schedule is empty, give each fault its probability
	// per request (they should add up to at most 1), drawn from Seed.
	Rates map[Fault]float64
	Seed  uint64
	// StallFor is how long FaultStall holds a request (default 10 s): set it
	// past the client's request timeout.
	StallFor time.Duration
	// Paths are the URL paths that get faults (default /api/chat,
	// /api/generate and /api/embed); other requests, such as the version
	// probe and model listing, pass untouched.
	Paths []string
	// Counts, when not nil, counts the requests and the faults injected.
	Counts *FaultCounts
}

// FaultCounts counts what a fault proxy did. Safe for concurrent use.
type FaultCounts struct {
	// Requests is every request to a faulted path.
	Requests atomic.Int64
	byFault  [faultKinds]atomic.Int64
}

// Of returns how many requests got fault f.
func (c *FaultCounts) Of(f Fault) int64 { return c.byFault[f].Load() }

// Faults returns how many requests got any fault.
func (c *FaultCounts) Faults() int64 {
	var n int64
	for f := FaultNone + 1; f < faultKinds; f++ {
		n += c.byFault[f].Load()
	}
	return n
}

func (c *FaultCounts) String() string {
	s := fmt.Sprintf("%d requests", c.Requests.Load())
	for f := FaultNone + 1; f < faultKinds; f++ {
		s += fmt.Sprintf(", %s %d", f, c.byFault[f].Load())
	}
	return s
}

// StartFaultProxy starts an HTTP proxy in front of the Ollama server at
// target that spoils requests as opts says, and returns its base URL. It
// stops when the test ends. Point a client (or the synthkit CLI, with
// --ollama) at it to check that retries recover from each fault.
func StartFaultProxy(t testing.TB, target string, opts FaultOptions) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("bad target %q: %v", target, err)
	}
	if opts.StallFor <= 0 {
		opts.StallFor = 10 * time.Second
	}
	if len(opts.Paths) == 0 {
		opts.Paths = []string{"/api/chat", "/api/generate", "/api/embed"}
	}
	if opts.Counts == nil {
		opts.Counts = new(FaultCounts)
	}
	p := &faultProxy{opts: opts, target: u, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
	p.pass = httputil.NewSingleHostReverseProxy(u)
	// A stalled request the client gave up on is expected, not news.
	p.pass.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

type faultProxy struct {
	opts   FaultOptions
	target *url.URL
	pass   *httputil.ReverseProxy

	mu  sync.Mutex
	rng *rand.Rand
	k   int
}

// next picks the fault for the next request.
func (p *faultProxy) next() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.k
	p.k++
	if len(p.opts.Schedule) > 0 {
		return p.opts.Schedule[k%len(p.opts.Schedule)]
	}
	x := p.rng.Float64()
	for f := FaultNone + 1; f < faultKinds; f++ {
		if x -= p.opts.Rates[f]; x < 0 {
			return f
		}
	}
	return FaultNone
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(p.opts.Paths, r.URL.Path) {
		p.pass.ServeHTTP(w, r)
		return
	}
	c := p.opts.Counts
	c.Requests.Add(1)
	f := p.next()
	c.byFault[f].Add(1)
	switch f {
	case FaultReset:
		io.Copy(io.Discard, r.Body)
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic(http.ErrAbortHandler)
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
	case Fault500:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":"llama runner process has terminated: signal: killed"}`)
	case FaultStall:
		// Read the body first: only then does the server watch the
		// connection and cancel r's context when the client gives up.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-time.After(p.opts.StallFor):
			p.pass.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	case FaultTruncate, FaultCutJSON:
		status, header, body, err := p.forward(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range header {
			w.Header()[k] = v
		}
		half := body[:len(body)/2]
		if f == FaultCutJSON {
			w.Header().Set("Content-Length", strconv.Itoa(len(half)))
			w.WriteHeader(status)
			w.Write(half)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		w.Write(half)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // close the connection mid-reply
	default:
		p.pass.ServeHTTP(w, r)
	}
}

// forward sends r to the target and reads the whole reply.
func (p *faultProxy) forward(r *http.Request) (int, http.Header, []byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	u := *p.target
	u.Path, u.RawQuery = r.URL.Path, r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	h := resp.Header.Clone()
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	return resp.StatusCode, h, reply, nil
}
