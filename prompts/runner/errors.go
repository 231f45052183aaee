package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"synthkit/local"
)

// ServerLostError says the Ollama server went away in the middle of a run
// (exit status 3). Everything journaled before is kept.
type ServerLostError struct{ Err error }

func (e *ServerLostError) Error() string {
	return fmt.Sprintf("lost the Ollama server mid-run: %v\ncompleted work is kept: start the server (ollama serve) and run the same command again to resume", e.Err)
}

func (e *ServerLostError) Unwrap() error { return e.Err }

// asServerLost wraps a connection failure that outlasted the retries.
func asServerLost(err error) error {
	var op *net.OpError
	var ns *local.NoServerError
	if errors.As(err, &ns) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &op) {
		return &ServerLostError{Err: err}
	}
	return nil
}

// ModelUnavailableError says a model the run needs is not there and could
// not be pulled (exit status 4): unknown to the registry, or no internet.
type ModelUnavailableError struct {
	Models []string
	// Have lists the models the server has, when it could be asked.
	Have []string
	Err  error
}

func (e *ModelUnavailableError) Error() string {
	need := strings.Join(e.Models, ", ")
	msg := fmt.Sprintf("%v\nthe run needs %s: pull it where there is internet (synthkit models pull NAME)", e.Err, need)
	if Offline(e.Err) {
		// The raw resolver error means little to most users; say it plainly first.
		msg = fmt.Sprintf("cannot pull %s: the Ollama server cannot reach the model registry (offline?)\n(%v)\nthe run needs %s: pull it where there is internet (synthkit models pull NAME)", need, e.Err, need)
	}
	if len(e.Have) == 0 {
		return msg + "; this server has no models yet"
	}
	return msg + " or use one this server has: " + strings.Join(e.Have, ", ")
}

// offlineSigns are the phrases of a pull that failed because the server
// has no route to the registry (Ollama returns them as text, so there is
// no typed error to match).
var offlineSigns = []string{"no such host", "network is unreachable", "server misbehaving",
	"connection refused", "i/o timeout", "TLS handshake timeout", "no route to host", "temporary failure in name resolution"}

// Offline reports whether err is a pull that could not reach the registry.
func Offline(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	for _, s := range offlineSigns {
		if strings.Contains(msg, strings.ToLower(s)) {
			return true
		}
	}
	return false
}

func (e *ModelUnavailableError) Unwrap() error { return e.Err }

// ModelError classifies a failure to resolve or pull the run's models: a
// server that is not there stays a server problem; anything else means
// the models are not available.
func ModelError(ctx context.Context, client *local.Client, names []string, err error) error {
	var ns *local.NoServerError
	if ctx.Err() != nil || errors.As(err, &ns) {
		return err
	}
	if lost := asServerLost(err); lost != nil {
		return lost
	}
	e := &ModelUnavailableError{Models: names, Err: err}
	if client != nil {
		if have, lerr := client.ListModels(ctx); lerr == nil {
			for _, m := range have {
				e.Have = append(e.Have, m.Name)
			}
		}
	}
	return e
}
