package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"synthkit/progress"
)

// printInterrupted says that completed work is kept and prints the exact
// command that resumes it (a JSON "interrupted" object with
// --log-format json).
func printInterrupted(w io.Writer, argv []string) {
	cmd := resumeCommand(argv)
	msg := "interrupted; completed work is kept"
	if slices.Contains(argv[1:], "-") {
		msg += " (inputs read from stdin must be given again)"
	}
	if jsonLogs(argv[1:]) {
		progress.WriteEvent(w, "interrupted", map[string]any{"message": msg, "resume": cmd})
		return
	}
	fmt.Fprintf(w, "synthkit: %s; to resume, run:\n  %s\n", msg, cmd)
}

// resumeCommand is the command line that continues an interrupted run:
// the same one, less --fresh (which would move the kept work aside).
func resumeCommand(argv []string) string {
	var parts []string
	for i, a := range argv {
		if i > 0 && isFresh(a) {
			continue
		}
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// isFresh reports whether a is --fresh switched on.
func isFresh(a string) bool {
	if a == "--fresh" {
		return true
	}
	v, ok := strings.CutPrefix(a, "--fresh=")
	on, err := strconv.ParseBool(v)
	return ok && err == nil && on
}

// jsonLogs reports whether the arguments ask for --log-format json (main
// sees them before any command parses them).
func jsonLogs(args []string) bool {
	for i, a := range args {
		if a == "--" {
			return false
		}
		if a == "--log-format=json" || a == "--log-format" && i+1 < len(args) && args[i+1] == "json" {
			return true
		}
	}
	return false
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
