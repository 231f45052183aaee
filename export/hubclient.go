package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HubError is an error status from the Hub (or its storage).
type HubError struct {
	// Op names the step: "create repo", "preupload", "lfs batch", …
	Op         string
	StatusCode int
	// Message is the server's own explanation, when it gave one.
	Message string
}

func (e *HubError) Error() string {
	msg := fmt.Sprintf("%s: hub answered %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		msg += " (is the token valid? set HF_TOKEN or run `hf auth login`)"
	case http.StatusForbidden:
		msg += " (does the token have write access to this repository?)"
	}
	return msg
}

// hubClient speaks the Hub's HTTP API. The token is sent only to the Hub's
// own host, never to the storage URLs the Hub hands out.
type hubClient struct {
	endpoint string
	host     string
	token    string
	http     *http.Client
	retries  int
	backoff  time.Duration
}

type hubRequest struct {
	op          string
	method, url string
	body        []byte
	bodyFrom    func() (io.Reader, int64, error) // for file parts; re-opened per try
	contentType string
	header      map[string]string
}

// do sends req, retrying transient failures (network errors, 429, 5xx)
// with exponential backoff, and returns the response of a 2xx (caller
// closes the body) or a *HubError.
func (c *hubClient) do(ctx context.Context, req hubRequest) (*http.Response, error) {
	var lastErr error
	for attempt := 0; attempt <= c.retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(c.backoff << (attempt - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		resp, err := c.once(ctx, req)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		var he *HubError
		if errors.As(err, &he) && he.StatusCode != http.StatusTooManyRequests && he.StatusCode < 500 {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, lastErr
}

func (c *hubClient) once(ctx context.Context, req hubRequest) (*http.Response, error) {
	var body io.Reader
	var size int64 = -1
	switch {
	case req.bodyFrom != nil:
		r, n, err := req.bodyFrom()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", req.op, err)
		}
		body, size = r, n
	case req.body != nil:
		body, size = bytes.NewReader(req.body), int64(len(req.body))
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, req.url, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.op, err)
	}
	if size >= 0 {
		hr.ContentLength = size
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	hr.Header.Set("User-Agent", "synthkit")
	if hr.URL.Host == c.host && c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		// url.Error prints the URL; storage URLs carry signatures, so
		// report only where we went, not the query.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s: %s %s: %w", req.op, req.method, redactURL(hr.URL), err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, &HubError{Op: req.op, StatusCode: resp.StatusCode, Message: errorMessage(resp)}
}

// errorMessage extracts the Hub's explanation from an error response.
func errorMessage(resp *http.Response) string {
	if m := resp.Header.Get("X-Error-Message"); m != "" {
		return m
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil {
		if e.Error != "" {
			return e.Error
		}
		return e.Message
	}
	return strings.TrimSpace(string(b[:min(len(b), 300)]))
}

func redactURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// doJSON sends a JSON body and decodes a JSON answer into out (if non-nil).
func (c *hubClient) doJSON(ctx context.Context, op, method, u string, in, out any, contentType string) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if contentType == "" {
		contentType = "application/json"
	}
	resp, err := c.do(ctx, hubRequest{op: op, method: method, url: u, body: body, contentType: contentType,
		header: map[string]string{"Accept": strings.Replace(contentType, "x-ndjson", "json", 1)}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", op, err)
	}
	return nil
}
