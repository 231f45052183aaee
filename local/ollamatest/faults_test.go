package ollamatest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const backendReply = `{"model":"m","response":"hello there, general","done":true,"done_reason":"stop"}`

// Each fault does what it says, seen from a plain HTTP client.
func TestFaultProxyFaults(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, backendReply)
	}))
	defer backend.Close()

	post := func(base string, timeout time.Duration) (int, string, error) {
		hc := &http.Client{Timeout: timeout}
		resp, err := hc.Post(base+"/api/generate", "application/json", strings.NewReader(`{"model":"m"}`))
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	for _, tt := range []struct {
		fault Fault
		check func(t *testing.T, status int, body string, err error, took time.Duration)
	}{
		{FaultNone, func(t *testing.T, status int, body string, err error, _ time.Duration) {
			if err != nil || status != 200 || body != backendReply {
				t.Errorf("got %d %q %v, want the backend's reply", status, body, err)
			}
		}},
		{FaultReset, func(t *testing.T, status int, body string, err error, _ time.Duration) {
			if err == nil {
				t.Errorf("got %d %q, want a connection error", status, body)
			}
		}},
		{FaultTruncate, func(t *testing.T, status int, body string, err error, _ time.Duration) {
			if !errors.Is(err, io.ErrUnexpectedEOF) || body != backendReply[:len(backendReply)/2] {
				t.Errorf("got %d %q %v, want half the reply and ErrUnexpectedEOF", status, body, err)
			}
		}},
		{FaultCutJSON, func(t *testing.T, status int, body string, err error, _ time.Duration) {
			if err != nil || status != 200 || body != backendReply[:len(backendReply)/2] || json.Valid([]byte(body)) {
				t.Errorf("got %d %q %v, want a clean 200 with half the JSON", status, body, err)
			}
		}},
		{Fault500, func(t *testing.T, status int, body string, err error, _ time.Duration) {
			if err != nil || status != 500 || !strings.Contains(body, "runner process has terminated") {
				t.Errorf("got %d %q %v, want Ollama's 500", status, body, err)
			}
		}},
		{FaultStall, func(t *testing.T, status int, body string, err error, took time.Duration) {
			if err == nil || took < 100*time.Millisecond {
				t.Errorf("got %d %q %v after %v, want a client timeout", status, body, err, took)
			}
		}},
	} {
		t.Run(tt.fault.String(), func(t *testing.T) {
			counts := new(FaultCounts)
			base := StartFaultProxy(t, backend.URL, FaultOptions{Schedule: []Fault{tt.fault}, StallFor: time.Minute, Counts: counts})
			start := time.Now()
			status, body, err := post(base, 200*time.Millisecond)
			tt.check(t, status, body, err, time.Since(start))
			if counts.Requests.Load() != 1 || counts.Of(tt.fault) != 1 {
				t.Errorf("counts %v", counts)
			}
			// Paths outside the faulted ones pass untouched.
			resp, err := http.Get(base + "/api/version")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /api/version through the proxy: %v %v", resp, err)
			}
			resp.Body.Close()
			if counts.Requests.Load() != 1 {
				t.Errorf("version probe counted as a faulted request")
			}
		})
	}
}

func TestFaultProxyRates(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, backendReply) }))
	defer backend.Close()
	counts := new(FaultCounts)
	base := StartFaultProxy(t, backend.URL, FaultOptions{Rates: map[Fault]float64{Fault500: 0.5}, Seed: 7, Counts: counts})
	for range 200 {
		resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := counts.Of(Fault500); n < 70 || n > 130 || counts.Faults() != n {
		t.Fatalf("500s: %d of 200 at rate 0.5 (%v)", n, counts)
	}
}
