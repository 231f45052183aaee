package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ollama/ollama/api"
)

// errBadReply marks a 2xx reply that is not the JSON object it should be.
var errBadReply = errors.New("undecodable reply")

// post sends one non-streamed request (stream: false) and decodes the one
// JSON object the server answers with, using the api package's types.
// api.Client would read it through its NDJSON stream reader, which
// allocates a 512 KB line buffer per request; on a small model that
// overhead is measurable (see BenchmarkScheduler).
func (h *hostState) post(ctx context.Context, path string, req, resp any) error {
	// A fresh body per request: the transport may still read it after Do
	// returns, so a pooled buffer could be overwritten under it.
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hresp, err := h.http.Do(hreq)
	if err != nil {
		return err
	}
	defer hresp.Body.Close()
	body, err = io.ReadAll(hresp.Body)
	if err != nil {
		return err
	}
	// Errors come as {"error": "..."} with a 4xx/5xx status, or (after a
	// stream started) as a 200 whose body holds only an error.
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	if hresp.StatusCode >= http.StatusBadRequest {
		msg := e.Error
		if msg == "" {
			msg = string(bytes.TrimSpace(body))
		}
		return api.StatusError{StatusCode: hresp.StatusCode, Status: hresp.Status, ErrorMessage: msg}
	}
	if e.Error != "" {
		return fmt.Errorf("%s", e.Error)
	}
	if err := json.Unmarshal(body, resp); err != nil {
		// A 200 whose body does not decode was cut off or mangled on the
		// way (a proxy, a dying server): asking again may well succeed.
		return fmt.Errorf("decode %s reply %s: %w (%w)", path, shorten(string(body), 80), errBadReply, err)
	}
	return nil
}
