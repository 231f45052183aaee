package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"synthkit/local"
)

// Exit statuses, documented in every command's help.
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
  0 success; 1 error; 2 bad usage; 3 Ollama unreachable; 4 model missing or
  unknown; 5 stopped before -n (request budget used up, or the model kept
  failing the filters): what was made is kept and exported, rerun to go on;
  130 interrupted (completed work is kept; rerun to resume).`

// usageError marks a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
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
	var ue *usageError
	var ns *local.NoServerError
	var mm *local.ModelMissingError
	var um *local.UnknownModelError
	var pe *partialError
	switch {
	case errors.As(err, &pe):
		return exitPartial
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ns):
		return exitNoServer
	case errors.As(err, &mm), errors.As(err, &um):
		return exitNoModel
	}
	return exitError
}
