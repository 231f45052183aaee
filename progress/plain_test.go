package progress

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPlainLines: without a terminal a stage prints its line every
// interval and a final line when it ends; messages print as they come.
func TestPlainLines(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantEnd string
	}{
		{"finished", nil, "magpie  40/40 (100%)  accepted 40  rejected 2"},
		{"stopped", errors.New("interrupted"), "stopped: interrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf syncBuffer
			d := New(&buf, Options{Interval: 40 * time.Millisecond})
			if _, ok := d.(*plain); !ok {
				t.Fatalf("a buffer got a %T, want plain lines", d)
			}
			s := d.Stage("magpie", 40)
			time.Sleep(100 * time.Millisecond)
			if got := buf.String(); got != "" {
				t.Fatalf("lines before the first snapshot: %q", got)
			}
			s.Update(Snapshot{Done: 0, Target: 40, Concurrency: 4})
			s.Update(Snapshot{Done: 12, Target: 40, Accepted: 12, Rejected: 1, OutputTokens: 2400, Elapsed: 6 * time.Second, Concurrency: 4})
			d.Logf("resuming out/x: %d accepted", 3)
			time.Sleep(130 * time.Millisecond)
			s.Done(Snapshot{Done: 40, Target: 40, Accepted: 40, Rejected: 2, OutputTokens: 8000, Elapsed: 20 * time.Second, Concurrency: 4}, tt.err)
			s.(Reporter).Summary("\ndone in 20s; run totals: 42 generated\n", map[string]int{"generated": 42})
			d.Close()

			lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
			periodic := 0
			for _, l := range lines {
				if strings.HasPrefix(l, "magpie  12/40 (30%)  accepted 12  rejected 1  400 tok/s  ETA 14s  concurrency 4") {
					periodic++
				}
			}
			if periodic < 2 {
				t.Fatalf("want ≥ 2 periodic lines, got %d:\n%s", periodic, buf.String())
			}
			if !strings.Contains(buf.String(), "resuming out/x: 3 accepted\n") {
				t.Fatalf("message missing:\n%s", buf.String())
			}
			end := lines[len(lines)-3]
			if !strings.Contains(end, tt.wantEnd) || !strings.HasSuffix(end, endText(tt.err)) {
				t.Fatalf("final line %q, want %q … %q", end, tt.wantEnd, endText(tt.err))
			}
			if lines[len(lines)-1] != "done in 20s; run totals: 42 generated" {
				t.Fatalf("summary not last: %q", lines[len(lines)-1])
			}
			// Nothing after Close: the ticker is gone.
			n := len(buf.String())
			time.Sleep(100 * time.Millisecond)
			if len(buf.String()) != n {
				t.Fatalf("output after Close:\n%s", buf.String()[n:])
			}
		})
	}
}

func TestQuietShowsNothing(t *testing.T) {
	var buf syncBuffer
	d := New(&buf, Options{Quiet: true, Format: FormatJSON, Interval: time.Millisecond})
	s := d.Stage("magpie", 4)
	s.Update(Snapshot{Done: 1, Target: 4})
	d.Logf("resuming")
	s.(Reporter).Logf("note")
	time.Sleep(20 * time.Millisecond)
	s.Done(Snapshot{Done: 4, Target: 4}, nil)
	s.(Reporter).Summary("done in 1s", map[string]int{"accepted": 4})
	d.Close()
	if got := buf.String(); got != "" {
		t.Fatalf("quiet wrote %q", got)
	}
}

func TestLogWriter(t *testing.T) {
	var got []string
	w := LogWriter(func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) })
	for _, s := range []string{"started ollama ", "serve\nsecond line\n", "third", "\n"} {
		io.WriteString(w, s)
	}
	if want := []string{"started ollama serve", "second line", "third"}; !slices.Equal(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
}
