package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/ollama/ollama/api"
)

// NoServerError says that no Ollama answered at Host.
type NoServerError struct {
	Host string
	Err  error
	// Backend is "openai" when Host is an OpenAI-compatible base URL.
	Backend string
}

func (e *NoServerError) Error() string {
	if e.Backend == BackendOpenAI {
		return fmt.Sprintf("no OpenAI-compatible server answers at %s: check --base-url and that the server runs", e.Host)
	}
	return fmt.Sprintf("no Ollama at %s: start it with `ollama serve`, or install it (https://ollama.com/download)", e.Host)
}

func (e *NoServerError) Unwrap() error { return e.Err }

// NotOllamaError says that an HTTP server answers at Host, but not as
// Ollama does: its GET /api/version replied Status with Body instead of
// {"version": "…"}. Another program holds the address, or a proxy in front
// of Ollama is misconfigured.
type NotOllamaError struct {
	Host   string
	Status string // e.g. "404 Not Found"
	Body   string // the start of the reply
}

func (e *NotOllamaError) Error() string {
	what := e.Status
	if e.Body != "" {
		what += ": " + e.Body
	}
	return fmt.Sprintf("something answers at %s but it is not Ollama (GET /api/version: %s): check the address (--ollama, OLLAMA_HOST)", e.Host, what)
}

// ModelMissingError says that a model is not present on a server.
type ModelMissingError struct {
	Model string
	Host  string
	// Backend is "openai" when Host is an OpenAI-compatible server, which
	// synthkit never pulls models onto.
	Backend string
}

func (e *ModelMissingError) Error() string {
	if e.Backend == BackendOpenAI {
		return fmt.Sprintf("model %q is not served at %s: the openai backend never pulls models; load it on the server, or pick one it lists (`synthkit models list`)", e.Model, e.Host)
	}
	return fmt.Sprintf("model %q is not pulled on %s: run `synthkit models pull %s` or pass --pull", e.Model, e.Host, e.Model)
}

// UnknownModelError says the registry has no model of that name.
type UnknownModelError struct {
	Model string
	Msg   string
}

func (e *UnknownModelError) Error() string {
	return fmt.Sprintf("model %q does not exist in the registry (%s): check the name at https://ollama.com/library", e.Model, e.Msg)
}

// ContextOverflowError says a prompt did not fit the model's context window.
type ContextOverflowError struct {
	Model        string
	PromptTokens int
	NumCtx       int
}

func (e *ContextOverflowError) Error() string {
	if e.NumCtx == 0 {
		return fmt.Sprintf("the prompt does not fit the context of %s: shorten the prompt or raise num_ctx with --num-ctx", e.Model)
	}
	return fmt.Sprintf("prompt of %d tokens fills the context of %s (num_ctx %d): shorten the prompt or raise num_ctx with --num-ctx",
		e.PromptTokens, e.Model, e.NumCtx)
}

// OutOfMemoryError says the server could not load a model.
type OutOfMemoryError struct {
	Model string
	Msg   string
}

func (e *OutOfMemoryError) Error() string {
	return fmt.Sprintf("the server is out of memory loading %s (%s): use a smaller or more quantized model, lower --concurrency, or free memory", e.Model, e.Msg)
}

// classify turns a raw client error into a typed error where it can and
// reports whether retrying the request may succeed.
func classify(err error, model, host string) (error, bool) {
	if err == nil {
		return nil, false
	}
	if errors.Is(err, context.Canceled) {
		return err, false
	}
	msg := err.Error()
	lower := strings.ToLower(msg)
	var se api.StatusError
	status := 0
	if errors.As(err, &se) {
		status = se.StatusCode
		lower = strings.ToLower(se.ErrorMessage + " " + se.Status)
	}
	switch {
	case (strings.Contains(lower, "not found") || strings.Contains(lower, "does not exist")) && strings.Contains(lower, "model"):
		return &ModelMissingError{Model: model, Host: host}, false
	case strings.Contains(lower, "more system memory") || strings.Contains(lower, "out of memory") ||
		strings.Contains(lower, "insufficient memory") || strings.Contains(lower, "cudamalloc failed"):
		return &OutOfMemoryError{Model: model, Msg: firstLine(msg)}, false
	case strings.Contains(lower, "exceeds the context") || strings.Contains(lower, "input length exceeds"):
		return &ContextOverflowError{Model: model}, false
	}
	if status != 0 {
		// 429 and 5xx are the server being busy or restarting.
		return err, status == http.StatusTooManyRequests || status >= 500
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errBadReply) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return err, true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return err, true
	}
	// Errors that arrive inside a stream lose their status code; these texts
	// are what a restarting or overloaded server says.
	for _, s := range []string{"server busy", "connection refused", "connection reset", "eof",
		"llama runner process has terminated", "timed out", "unexpected server status", "try again"} {
		if strings.Contains(lower, s) {
			return err, true
		}
	}
	return err, false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
