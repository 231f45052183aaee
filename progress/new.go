package progress

import (
	"fmt"
	"io"
	"os"
	"time"
)

// Format is how a display writes: text for people, json for machines.
type Format string

const (
	// FormatText is live lines on a terminal, periodic plain lines
	// elsewhere.
	FormatText Format = "text"
	// FormatJSON is one JSON object per line, per update and event (see
	// JSONFieldsHelp for the fields).
	FormatJSON Format = "json"
)

// ParseFormat reads a --log-format value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", FormatText:
		return FormatText, nil
	case FormatJSON:
		return FormatJSON, nil
	}
	return "", fmt.Errorf("--log-format must be text or json, not %q", s)
}

// Options choose a renderer. The zero value is text, with the default
// interval between plain lines.
type Options struct {
	// Format is text (the default) or json.
	Format Format
	// Quiet shows nothing at all (errors are the caller's to print).
	Quiet bool
	// Interval is how often plain lines are printed when the writer is
	// not a terminal (0: 10 s). Terminals redraw continuously; JSON writes
	// every update.
	Interval time.Duration
}

// DefaultInterval is the period of plain progress lines: often enough
// for a CI log to show life, rare enough to stay readable.
const DefaultInterval = 10 * time.Second

// New returns the display that opts ask for on w: quiet, JSON lines, a
// live multi-line display when w is a terminal, else plain periodic
// lines.
func New(w io.Writer, opts Options) Display {
	switch {
	case opts.Quiet:
		return quiet{}
	case opts.Format == FormatJSON:
		return newJSON(w)
	case IsTerminal(w):
		return newTerminal(w)
	}
	every := opts.Interval
	if every <= 0 {
		every = DefaultInterval
	}
	return newPlain(w, every)
}

// IsTerminal reports whether w is a terminal, where lines can be redrawn.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Reporter is what every Stage that New returns also does: messages and
// the final summary, tagged with the stage. The lifecycle uses it when a
// caller (a recipe) hands it a Stage rather than a Display.
type Reporter interface {
	// Logf prints a message about the stage.
	Logf(format string, args ...any)
	// Summary prints the stage's closing report: text for people, fields
	// (a struct or map, marshalled to JSON) for machines.
	Summary(text string, fields any)
}

// quiet shows nothing.
type quiet struct{}

func (quiet) Stage(string, int64) Stage { return quiet{} }
func (quiet) Logf(string, ...any)       {}
func (quiet) Close()                    {}
func (quiet) Update(Snapshot)           {}
func (quiet) Done(Snapshot, error)      {}
func (quiet) Summary(string, any)       {}
