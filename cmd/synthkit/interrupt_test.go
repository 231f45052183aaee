package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"synthkit/export"
	"synthkit/local/ollamatest"
)

func TestResumeCommand(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"same command", []string{"synthkit", "instruct", "--method", "magpie", "-n", "40", "--out", "out/m"},
			"synthkit instruct --method magpie -n 40 --out out/m"},
		// Rerunning with --fresh would move the kept work aside.
		{"drops --fresh", []string{"./bin/synthkit", "respond", "--fresh", "--prompts", "p.jsonl", "--fresh=true"},
			"./bin/synthkit respond --prompts p.jsonl"},
		{"keeps --fresh=false", []string{"synthkit", "respond", "--fresh=false"}, "synthkit respond --fresh=false"},
		{"quotes for the shell", []string{"synthkit", "critique", "--system", "You are kind; it's fine", "--out", "my run"},
			`synthkit critique --system 'You are kind; it'\''s fine' --out 'my run'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resumeCommand(tt.argv); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestPrintInterrupted(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"text", []string{"synthkit", "respond", "--prompts", "-"},
			"synthkit: interrupted; completed work is kept (inputs read from stdin must be given again); to resume, run:\n  synthkit respond --prompts -\n"},
		{"json", []string{"synthkit", "respond", "--log-format", "json", "--fresh"},
			`"event":"interrupted","message":"interrupted; completed work is kept","resume":"synthkit respond --log-format json"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printInterrupted(&b, tt.argv)
			if !strings.Contains(b.String(), tt.want) {
				t.Fatalf("got %q, want %q", b.String(), tt.want)
			}
		})
	}
}

// buildBinary builds synthkit once per test, as a user runs it.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "synthkit")
	cmd := exec.Command("go", "build", "-o", bin, "synthkit/cmd/synthkit")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestCtrlCWithTheRealBinary sends SIGINT to a running synthkit: it exits
// 130 soon, names the command that resumes, leaves a journal every line of
// which reads back, and that very command (run through a shell) finishes
// the job without redoing what was kept.
func TestCtrlCWithTheRealBinary(t *testing.T) {
	host := ollamatest.Host(t)
	bin := buildBinary(t)
	out := filepath.Join(t.TempDir(), "run dir") // a space: the printed command must quote it
	args := append([]string{"instruct", "--method", "magpie", "--model", ollamatest.TinyModel, "-n", "60", "--fresh"},
		common(host, out)...)
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Interrupt once some units are journaled, as a user pressing Ctrl-C.
	deadline := time.Now().Add(2 * time.Minute)
	for rows(out) < 5 {
		select {
		case err := <-exited:
			t.Fatalf("the run ended before the interrupt: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no progress in the journal\n%s", stderr.String())
		}
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 30 s after SIGINT\n%s", stderr.String())
	}
	took := time.Since(sent)
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d after SIGINT, want %d\n%s", code, exitInterrupted, stderr.String())
	}
	wantResume := bin + " " + strings.Join(args[:len(args)-len(common(host, out))-1], " ") + " " +
		strings.Replace(strings.Join(common(host, out), " "), out, "'"+out+"'", 1)
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	if len(lines) < 2 || lines[len(lines)-2] != "synthkit: interrupted; completed work is kept; to resume, run:" ||
		lines[len(lines)-1] != "  "+wantResume {
		t.Fatalf("stderr does not end with the resume command\nwant:  %s\n%s", wantResume, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped: interrupted") {
		t.Errorf("the progress line does not say it was interrupted:\n%s", stderr.String())
	}
	kept := rows(out)
	if kept < 5 {
		t.Fatalf("%d rows kept", kept)
	}
	journalReadsBack(t, out)
	t.Logf("exited %s after SIGINT with %d rows kept", took.Round(time.Millisecond), kept)

	// The printed command, exactly as printed, resumes.
	re := exec.Command("sh", "-c", strings.TrimPrefix(lines[len(lines)-1], "  "))
	var reErr bytes.Buffer
	re.Stderr = &reErr
	if err := re.Run(); err != nil {
		t.Fatalf("the printed resume command failed: %v\n%s", err, reErr.String())
	}
	if !strings.Contains(reErr.String(), "resuming ") {
		t.Fatalf("the rerun did not resume:\n%s", reErr.String())
	}
	m := manifestOf(t, out)
	if m.Counts.Accepted != 60 || parquetRows(t, out) != 60 {
		t.Fatalf("after resuming: %+v, %d Parquet rows", m.Counts, parquetRows(t, out))
	}
	if _, err := os.Stat(out + ".prev"); err == nil {
		t.Fatalf("the resume moved the run aside (--fresh was not dropped)")
	}
}

// rows counts the journaled rows of a run (0 while there is none).
func rows(dir string) int {
	n := 0
	if m, err := export.ReadManifest(dir); err != nil || m == nil {
		return 0
	}
	export.ReadRows(dir, func(string, []export.Row) error { n++; return nil })
	return n
}

// journalReadsBack checks every journal line is whole JSON: an interrupt
// must not leave a torn line.
func journalReadsBack(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "journal", "*"))
	if len(files) == 0 {
		t.Fatalf("no journal in %s", dir)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatalf("%s ends in a torn line", f)
		}
		for i, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			if len(l) > 0 && !json.Valid(l) {
				t.Fatalf("%s:%d is not JSON: %.80s", f, i+1, l)
			}
		}
	}
}
