package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"synthkit/local"
	"synthkit/progress"
)

// isTerminal reports whether w is a terminal, where progress redraws one
// line; elsewhere (logs, CI) it prints a line now and then.
func isTerminal(w io.Writer) bool { return progress.IsTerminal(w) }

// pullBar renders pull progress as a bar with size and speed, as JSON
// "pull" objects with --log-format json, or not at all with --quiet.
type pullBar struct {
	w        io.Writer
	tty      bool
	quiet    bool
	json     bool
	last     time.Time
	lastLine string
	start    time.Time
}

func newPullBar(w io.Writer) *pullBar {
	return &pullBar{w: w, tty: isTerminal(w), start: time.Now()}
}

// newPullBar is a pull bar that obeys --quiet and --log-format.
func (g *globalOptions) newPullBar(w io.Writer) *pullBar {
	b := newPullBar(w)
	b.quiet, b.json = g.quiet, g.format == progress.FormatJSON
	return b
}

func (b *pullBar) update(p local.PullProgress) {
	switch {
	case b.quiet:
		return
	case b.json:
		// Each new status once, byte counts at most every 5 s.
		if p.Status != b.lastLine || time.Since(b.last) > 5*time.Second {
			progress.WriteEvent(b.w, "pull", map[string]any{"status": p.Status, "digest": p.Digest, "completed": p.Completed, "total": p.Total})
			b.last, b.lastLine = time.Now(), p.Status
		}
		return
	}
	line := p.Status
	if p.Total > 0 {
		frac := min(max(float64(p.Completed)/float64(p.Total), 0), 1)
		const width = 30
		filled := int(frac * width)
		speed := float64(p.Completed) / max(time.Since(b.start).Seconds(), 0.001)
		line = fmt.Sprintf("%-28s [%s%s] %5.1f%% %s/%s %s/s", truncate(p.Status, 28),
			strings.Repeat("=", filled), strings.Repeat(" ", width-filled), 100*frac,
			humanBytes(p.Completed), humanBytes(p.Total), humanBytes(int64(speed)))
	}
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		return
	}
	// Without a terminal: each new status once, progress at most every 5 s.
	if p.Total == 0 && line != b.lastLine || time.Since(b.last) > 5*time.Second {
		fmt.Fprintln(b.w, line)
		b.last = time.Now()
	}
	b.lastLine = line
}

func (b *pullBar) done() {
	if b.tty && !b.quiet && !b.json {
		fmt.Fprintln(b.w)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

func fprintf(w io.Writer, format string, args ...any) { fmt.Fprintf(w, format, args...) }
