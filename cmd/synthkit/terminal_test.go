package main

import (
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"synthkit/local/ollamatest"
)

// TestLiveDisplayInATerminal runs the real binary on a pseudo-terminal
// (stdout and stderr both on it, as in a shell): the live line redraws,
// and when the run ends the final line, the export listing and the
// summary all stand whole on the screen, none drawn over.
func TestLiveDisplayInATerminal(t *testing.T) {
	host := ollamatest.Host(t)
	bin := buildBinary(t)
	out := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, append([]string{"instruct", "--method", "magpie", "--model", ollamatest.TinyModel, "-n", "16"},
		common(host, out)...)...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 180})
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer f.Close()
	var raw bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&raw, f); close(copied) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("the run did not finish")
	}
	<-copied // the terminal closes when the process is gone
	if err != nil {
		t.Fatalf("exit: %v\n%s", err, raw.String())
	}
	screen := render(raw.String())
	t.Logf("screen at the end:\n%s", screen)
	if !strings.Contains(raw.String(), "\x1b[") {
		t.Fatalf("no redraws on a terminal")
	}
	// In this order, each whole: the finished line, what was written, the summary.
	at := 0
	for _, re := range []string{
		`(?m)^magpie 16/16 \(100%\) \[=+\] accepted 16 .* finished$`,
		`(?m)^sft\s+16 rows  data/train-00000-of-00001\.parquet$`,
		`(?m)^dataset card: .*README\.md$`,
		`(?m)^   \(or: hf upload .*'vectors/\*'\)$`,
		`(?m)^done in \d+s; run totals: 16 generated, 16 accepted, 0 rejected$`,
	} {
		loc := regexp.MustCompile(re).FindStringIndex(screen[at:])
		if loc == nil {
			t.Fatalf("the screen lacks %s after what came before", re)
		}
		at += loc[1]
	}
}

// render replays what a terminal shows from the bytes written to it: the
// cursor moves and line erasures mpb and the pull bar use.
func render(s string) string {
	var lines []string
	row, col := 0, 0
	put := func(r rune) {
		for len(lines) <= row {
			lines = append(lines, "")
		}
		l := []rune(lines[row])
		for len(l) < col {
			l = append(l, ' ')
		}
		if col < len(l) {
			l[col] = r
		} else {
			l = append(l, r)
		}
		lines[row] = string(l)
		col++
	}
	esc := regexp.MustCompile(`^\x1b\[([0-9;?]*)([A-Za-z])`)
	for i := 0; i < len(s); {
		if m := esc.FindStringSubmatch(s[i:]); m != nil {
			n := 1
			if m[1] != "" && !strings.ContainsAny(m[1], ";?") {
				n = atoi(m[1])
			}
			switch m[2] {
			case "A": // up
				row = max(row-n, 0)
			case "G": // to column
				col = n - 1
			case "J", "K": // erase below / to line end
				if row < len(lines) {
					l := []rune(lines[row])
					lines[row] = string(l[:min(col, len(l))])
				}
				if m[2] == "J" && row+1 < len(lines) {
					lines = lines[:row+1]
				}
			}
			i += len(m[0])
			continue
		}
		r := []rune(s[i:])[0]
		switch r {
		case '\r':
			col = 0
		case '\n':
			row, col = row+1, 0
		default:
			put(r)
		}
		i += len(string(r))
	}
	return strings.Join(lines, "\n")
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
