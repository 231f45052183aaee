package local_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"synthkit/local"
)

// flakyVersion serves GET /api/version: the first bad replies go wrong in
// the given way, then it answers as Ollama does.
func flakyVersion(t *testing.T, bad int, how string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > int64(bad) {
			fmt.Fprint(w, `{"version":"0.6.5"}`)
			return
		}
		switch how {
		case "truncated":
			// Promise 19 bytes, send 6, hang up.
			w.Header().Set("Content-Length", "19")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, `{"vers`)
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "reset":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
		case "503":
			http.Error(w, "server busy", http.StatusServiceUnavailable)
		case "garbled":
			fmt.Fprint(w, `{"versi`) // no length: a cut the client cannot see
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestProbeRetriesBadFirstReplies(t *testing.T) {
	for _, how := range []string{"truncated", "reset", "503", "garbled"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			srv, n := flakyVersion(t, 2, how)
			v, err := local.Probe(context.Background(), srv.URL)
			if err != nil {
				t.Fatalf("Probe after 2 bad replies (%s) = %v, want the version", how, err)
			}
			if v != "0.6.5" || n.Load() != 3 {
				t.Fatalf("Probe = %q after %d requests, want 0.6.5 after 3", v, n.Load())
			}
			// FindOrStart, which the CLI calls first, rides the same retries.
			live, srvd, err := local.FindOrStart(context.Background(), local.ServerOptions{Hosts: []string{srv.URL}, NoStart: true})
			if err != nil || len(live) != 1 || srvd != nil {
				t.Fatalf("FindOrStart = %v, %v, %v", live, srvd, err)
			}
		})
	}
}

func TestProbeGivesUpOnAServerThatKeepsFailing(t *testing.T) {
	t.Parallel()
	srv, n := flakyVersion(t, 1000, "reset")
	_, err := local.Probe(context.Background(), srv.URL)
	var ns *local.NoServerError
	if !errors.As(err, &ns) {
		t.Fatalf("err = %v, want NoServerError", err)
	}
	if n.Load() != local.ProbeAttempts {
		t.Errorf("asked %d times, want %d", n.Load(), local.ProbeAttempts)
	}
}

func TestProbeNotOllama(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string // in the message: what it answered
		asks    int64  // requests before giving up
	}{
		{"web page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, "<html><body>Not here</body></html>")
		}, "404 Not Found: <html><body>Not here", 1},
		{"other JSON API", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"status":"ok"}`)
		}, `200 OK: {"status":"ok"}`, 1},
		{"plain text", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "hello")
		}, "200 OK: hello", local.ProbeAttempts},
		{"always 502", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}, "502 Bad Gateway: bad gateway", local.ProbeAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				tt.handler(w, r)
			}))
			defer srv.Close()
			_, err := local.Probe(context.Background(), srv.URL)
			var no *local.NotOllamaError
			if !errors.As(err, &no) {
				t.Fatalf("err = %v, want NotOllamaError", err)
			}
			if ns := new(local.NoServerError); errors.As(err, &ns) {
				t.Fatalf("err = %v is also a NoServerError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "something answers at "+srv.URL+" but it is not Ollama") || !strings.Contains(msg, tt.want) {
				t.Errorf("message %q, want the address and %q", msg, tt.want)
			}
			if n.Load() != tt.asks {
				t.Errorf("asked %d times, want %d", n.Load(), tt.asks)
			}

			// FindOrStart reports it and does not start a server elsewhere,
			// which would hide the wrong address.
			_, started, err := local.FindOrStart(context.Background(), local.ServerOptions{Hosts: []string{srv.URL}, Bin: "/nonexistent/ollama"})
			if !errors.As(err, &no) || started != nil || strings.Contains(err.Error(), "nonexistent") {
				t.Fatalf("FindOrStart = %v, %v; want the NotOllamaError and no start", started, err)
			}
		})
	}
}

// A feature probe of a host that is not Ollama says so too.
func TestServerFeaturesNotOllama(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c, err := local.NewClient([]string{srv.URL}, local.SchedulerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ServerFeatures(context.Background())
	if no := new(local.NotOllamaError); !errors.As(err, &no) {
		t.Fatalf("err = %v, want NotOllamaError", err)
	}
}
