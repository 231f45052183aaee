package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"synthkit/export"
	"synthkit/local/ollamatest"
)

// retriedRe reads the summary's "N requests (R retried, F failed)".
var retriedRe = regexp.MustCompile(`(\d+) requests \((\d+) retried, (\d+) failed\)`)

// emptyTurns counts a run's rows and those with an empty model-written
// text (an assistant turn, a chosen or rejected answer, a critique step),
// from the journal that the Parquet files are exported from.
func emptyTurns(t *testing.T, dir string) (rows, empty int) {
	t.Helper()
	blank := func(ms []export.Message) bool {
		for _, m := range ms {
			if m.Role == "assistant" && strings.TrimSpace(m.Content) == "" {
				return true
			}
		}
		return false
	}
	err := export.ReadRows(dir, func(unit string, rs []export.Row) error {
		for _, r := range rs {
			rows++
			bad := false
			switch r := r.(type) {
			case export.SFT:
				bad = blank(r.Messages)
			case export.Preference:
				bad = blank(r.Chosen) || blank(r.Rejected) || len(r.Chosen) == 0 || len(r.Rejected) == 0
			case export.Critique:
				bad = strings.TrimSpace(r.Initial) == ""
				for _, st := range r.Steps {
					bad = bad || strings.TrimSpace(st.Critique) == "" || strings.TrimSpace(st.Revision) == ""
				}
			}
			if bad {
				empty++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows, empty
}

// TestFaultCampaign runs every instruction method and respond through a
// proxy that resets connections, cuts replies (on the wire and inside the
// JSON), answers 500 "runner terminated" and stalls past --timeout, in
// front of the real server. Every run must finish with its documented
// status, count retries, and never turn a spoiled reply into a row.
func TestFaultCampaign(t *testing.T) {
	host := ollamatest.Host(t)
	counts := &ollamatest.FaultCounts{}
	proxy := ollamatest.StartFaultProxy(t, host, ollamatest.FaultOptions{Seed: 5, StallFor: 7 * time.Second, Counts: counts,
		Rates: map[ollamatest.Fault]float64{ollamatest.FaultReset: 0.06, ollamatest.FaultTruncate: 0.06,
			ollamatest.FaultCutJSON: 0.06, ollamatest.Fault500: 0.06, ollamatest.FaultStall: 0.01}})
	base := t.TempDir()
	prompts := filepath.Join(base, "prompts.txt")
	var lines []string
	for i := 0; i < 8; i++ {
		lines = append(lines, "Tell me about the number "+strconv.Itoa(i)+".")
	}
	os.WriteFile(prompts, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	// --timeout sits below the stall and well above a normal reply on a
	// busy 2-core machine.
	flags := []string{"--ollama", proxy, "--timeout", "5s", "--retries", "8", "--concurrency", "2", "--num-predict", "128", "--seed", "3"}
	tests := []struct {
		name  string
		args  []string
		codes []int
	}{
		{"respond", []string{"respond", "--prompts", prompts, "--models", ollamatest.TinyModel + "," + ollamatest.TinyModelB}, []int{exitOK}},
		{"self-instruct", []string{"instruct", "--method", "self-instruct", "--model", ollamatest.TinyModel, "-n", "4", "--max-requests", "600"}, []int{exitOK}},
		{"magpie", []string{"instruct", "--method", "magpie", "--model", ollamatest.TinyModel, "-n", "4"}, []int{exitOK}},
		{"critique", []string{"critique", "--prompts", prompts, "--model", ollamatest.TinyModel, "--revisions", "1", "-n", "3"}, []int{exitOK}},
		{"prefer", []string{"prefer", "--prompts", prompts, "--chosen-model", ollamatest.TinyModel, "--rejected-model", ollamatest.TinyModelB, "-n", "3"}, []int{exitOK}},
		// The tiny model's evolutions are all eliminated: 5 is its documented end.
		{"evol", []string{"instruct", "--method", "evol", "--prompts", prompts, "--rounds", "1", "--model", ollamatest.TinyModel}, []int{exitOK, exitPartial}},
	}
	retried := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(base, tt.name)
			code, stdout, errOut := runCLI(t, append(append(tt.args, "--out", out), flags...)...)
			ok := false
			for _, c := range tt.codes {
				ok = ok || code == c
			}
			if !ok {
				t.Fatalf("exit %d, want one of %v\nstdout: %s\nstderr: %s", code, tt.codes, stdout, errOut)
			}
			m := retriedRe.FindStringSubmatch(errOut)
			if m == nil {
				t.Fatalf("no request summary:\n%s", errOut)
			}
			n, _ := strconv.Atoi(m[2])
			retried += n
			rows, empty := emptyTurns(t, out)
			if empty > 0 {
				t.Fatalf("%d of %d rows have an empty answer: a spoiled reply became a row", empty, rows)
			}
			if accepted := manifestOf(t, out).Counts.Accepted; accepted > 0 && parquetRowsAll(t, out) == 0 {
				t.Fatalf("%d accepted units but no Parquet rows", accepted)
			}
		})
	}
	if counts.Faults() == 0 || retried == 0 {
		t.Fatalf("faults injected: %s; retries counted: %d — the campaign exercised nothing", counts, retried)
	}
	t.Logf("faults injected: %s; retries counted: %d", counts, retried)
}

// TestServerKilledAndRestartedMidRun: a run whose server dies and comes
// back within the retry window finishes with every row.
func TestServerKilledAndRestartedMidRun(t *testing.T) {
	srv := ollamatest.StartServer(t)
	base := t.TempDir()
	prompts := filepath.Join(base, "prompts.txt")
	var lines []string
	for i := 0; i < 40; i++ {
		lines = append(lines, "Tell me about the number "+strconv.Itoa(i)+".")
	}
	os.WriteFile(prompts, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out := filepath.Join(base, "run")
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(400 * time.Millisecond)
		srv.Kill()
		time.Sleep(time.Second)
		srv.Restart()
	}()
	code, stdout, errOut := runCLI(t, "respond", "--prompts", prompts, "--models", ollamatest.TinyModel, "--out", out,
		"--ollama", srv.URL(), "--no-start", "--retries", "10", "--concurrency", "2", "--num-predict", "128")
	<-done
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, errOut)
	}
	if rows, empty := emptyTurns(t, out); rows+int(manifestOf(t, out).Counts.RejectedTotal()) != 40 || empty > 0 {
		t.Fatalf("%d rows (%d empty) + %d rejected, want 40 units", rows, empty, manifestOf(t, out).Counts.RejectedTotal())
	}
	if m := retriedRe.FindStringSubmatch(errOut); m == nil || m[2] == "0" {
		t.Fatalf("the server's death cost no retry — did the kill land during the run?\n%s", errOut)
	}
}

// parquetRowsAll counts the rows of every Parquet file of a run.
func parquetRowsAll(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			return err
		}
		n += pf.NumRows()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
