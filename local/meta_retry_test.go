package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A connection dropped under /api/show or /api/tags (a keep-alive closed
// by a proxy, a server restarting) is retried: it must not end a run
// before it starts.
func TestMetadataRequestsRetryADroppedConnection(t *testing.T) {
	var shows, tags atomic.Int32
	drop := func(w http.ResponseWriter) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/tags":
			if tags.Add(1) == 1 {
				drop(w)
				return
			}
			w.Write([]byte(`{"models":[{"name":"m:latest","model":"m:latest","digest":"sha256:abc","details":{"family":"llama"}}]}`))
		case "/api/show":
			if shows.Add(1) == 1 {
				drop(w)
				return
			}
			w.Write([]byte(`{"template":"{{ .Prompt }}","details":{"family":"llama"},"model_info":{}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := NewClient([]string{srv.URL}, SchedulerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Inspect(context.Background(), "m")
	if err != nil {
		t.Fatalf("Inspect after one dropped connection: %v", err)
	}
	if info.Digest != "sha256:abc" || shows.Load() != 2 || tags.Load() != 2 {
		t.Fatalf("info %+v after %d show and %d list requests", info, shows.Load(), tags.Load())
	}
}
