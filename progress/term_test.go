package progress

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ansi matches the escape sequences a redrawing display writes.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[a-zA-Z]`)

// TestTerminalThroughPTY drives the live display on a real pseudo-terminal:
// the bar line redraws, a message lands above it, the finished line stays
// and the summary follows it.
func TestTerminalThroughPTY(t *testing.T) {
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer master.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 40, Cols: 160}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var raw bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			raw.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()

	d := New(tty, Options{})
	if _, ok := d.(*terminal); !ok {
		t.Fatalf("a terminal got a %T", d)
	}
	d.Logf("before any stage")
	s := d.Stage("magpie", 40)
	s.Update(Snapshot{Target: 40, Concurrency: 4})
	s.Update(Snapshot{Done: 12, Target: 40, Accepted: 12, Rejected: 1, OutputTokens: 2400, Elapsed: 6 * time.Second, Concurrency: 4, Status: "QD-score 41.2"})
	time.Sleep(500 * time.Millisecond)
	d.Logf("resuming out/x")
	time.Sleep(300 * time.Millisecond)
	s.Done(Snapshot{Done: 40, Target: 40, Accepted: 40, Rejected: 2, OutputTokens: 8000, Elapsed: 20 * time.Second, Concurrency: 4}, nil)
	s.(Reporter).Summary("done in 20s; run totals: 42 generated", nil)
	d.Close()
	time.Sleep(200 * time.Millisecond)
	tty.Close()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	mu.Lock()
	out := raw.String()
	mu.Unlock()
	plain := strings.ReplaceAll(ansi.ReplaceAllString(out, ""), "\r", "")
	if !strings.Contains(out, "\x1b[") {
		t.Errorf("no redraw escapes on a terminal:\n%q", out)
	}
	for _, want := range []string{
		"before any stage",
		"magpie 12/40 (30%) [", "] accepted 12  rejected 1  400 tok/s  ETA 14s  concurrency 4  QD-score 41.2",
		"resuming out/x",
		"magpie 40/40 (100%) [====================] accepted 40", "finished",
		"done in 20s; run totals: 42 generated",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("terminal lacks %q:\n%s", want, plain)
		}
	}
	if i, j := strings.LastIndex(plain, "finished"), strings.LastIndex(plain, "done in 20s"); i < 0 || j < i {
		t.Errorf("summary is not after the finished line:\n%s", plain)
	}
	if i, j := strings.Index(plain, "resuming out/x"), strings.LastIndex(plain, "magpie 40/40"); i < 0 || j < i {
		t.Errorf("the message is not above the final line:\n%s", plain)
	}
}
