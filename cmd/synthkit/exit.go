package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"synthkit/local"
	"synthkit/prompts/runner"
)

// Exit statuses, documented in every command's help. exitCode is the one
// place errors become statuses.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitNoServer    = 3
	exitNoModel     = 4
	exitPartial     = 5
	exitInterrupted = 130
)

const exitStatusHelp = `EXIT STATUS
  0 success; 1 error; 2 bad usage or unreadable input; 3 Ollama unreachable
  (at start or lost mid-run: completed work is kept, rerun to resume);
  4 model missing or unknown (or it could not be pulled); 5 stopped before
  the target (request budget used up, the model kept failing the filters,
  the inputs ran out before -n, or nothing was accepted): what was made is
  kept and exported, rerun to go on; 130 interrupted (completed work is
  kept; rerun to resume).`

// usageError marks a mistake in the command line or its input files.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// inputError marks a failure to read the user's input files (exit 2): it
// happens before anything is generated.
func inputError(err error) error { return &usageError{msg: err.Error()} }

// exitRules maps error types to statuses, first match wins.
var exitRules = []struct {
	code  int
	match func(error) bool
}{
	{exitPartial, isA[*runner.PartialError]},
	{exitUsage, func(err error) bool { return isA[*usageError](err) || isA[*runner.UsageError](err) }},
	{exitNoServer, func(err error) bool {
		return isA[*local.NoServerError](err) || isA[*local.NotOllamaError](err) || isA[*runner.ServerLostError](err)
	}},
	{exitNoModel, func(err error) bool {
		return isA[*local.ModelMissingError](err) || isA[*local.UnknownModelError](err) || isA[*runner.ModelUnavailableError](err)
	}},
}

func isA[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// exitCode maps an error to an exit status and prints it once, plainly:
// no stack traces for user mistakes.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, context.Canceled) {
		return exitInterrupted // main says what happened and how to resume
	}
	fmt.Fprintf(stderr, "synthkit: %v\n", err)
	for _, r := range exitRules {
		if r.match(err) {
			return r.code
		}
	}
	return exitError
}
