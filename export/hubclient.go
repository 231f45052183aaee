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
	"strconv"
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

// hubBackoff is the first pause before a retry; it doubles each time.
var hubBackoff = 500 * time.Millisecond // Overridden by tests.

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
		return nil, &netError{op: req.op, where: req.method + " " + redactURL(hr.URL), msg: c.redact(err.Error()), err: err}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	// A server may echo the Authorization header in its explanation.
	return nil, &HubError{Op: req.op, StatusCode: resp.StatusCode, Message: c.redact(errorMessage(resp))}
}

// scrub is the last guard before an error leaves [Push]: if the token is
// in its text anyway, only the redacted text goes out.
func (c *hubClient) scrub(err error) error {
	if err == nil || c.token == "" || !strings.Contains(err.Error(), c.token) {
		return err
	}
	return errors.New(c.redact(err.Error()))
}

// netError is a failure to get any answer. Its text is built once, with
// the token taken out, while Unwrap still reaches the cause (a timeout,
// a refused connection, ctx's error) for errors.Is.
type netError struct {
	op, where, msg string
	err            error
}

func (e *netError) Error() string { return e.op + ": " + e.where + ": " + e.msg }
func (e *netError) Unwrap() error { return e.err }

// redact removes the token from text that came from elsewhere (a server's
// error message, a transport error) before it can reach an error or a log.
func (c *hubClient) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[token]")
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

// flexInt decodes a JSON number or a string holding one: the LFS batch
// and tree answers are not consistent about sizes ("size": 123 or "123").
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("%s is not a whole number", b)
		}
		v = int64(f)
	}
	*n = flexInt(v)
	return nil
}

// flexString decodes a JSON string, number or boolean as text: LFS
// action headers are strings in the spec, but chunk_size and part
// numbers have been seen as numbers.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	switch t := strings.TrimSpace(string(b)); {
	case t == "null":
		*s = ""
	case t == "true" || t == "false":
		*s = flexString(t)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("header value %s is neither text nor a number", b)
		}
		*s = flexString(n.String())
	}
	return nil
}

// flexHeader is a header map whose values may be strings or numbers.
type flexHeader map[string]flexString

func (h flexHeader) strings() map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = string(v)
	}
	return out
}
