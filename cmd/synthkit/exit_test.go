package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"synthkit/local/ollamatest"
)

// TestExitCodes runs one real case per documented exit status through the
// CLI (the generating ones against the real test Ollama).
func TestExitCodes(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	prompts := filepath.Join(base, "prompts.txt")
	os.WriteFile(prompts, []byte("Explain how rivers form.\nGive three uses of copper.\nWrite a haiku about rain.\n"), 0o644)
	badUTF8 := filepath.Join(base, "bad.txt")
	os.WriteFile(badUTF8, []byte("A fine prompt.\nA broken \xff\xfe prompt.\n"), 0o644)
	notARun := filepath.Join(base, "empty")
	os.MkdirAll(notARun, 0o755)
	notOllama := httptest.NewServer(http.NotFoundHandler())
	defer notOllama.Close()
	// Chat requests get their connection reset; the version probe and the
	// model listing pass, so the run starts and then loses its server.
	resets := ollamatest.StartFaultProxy(t, host, ollamatest.FaultOptions{Schedule: []ollamatest.Fault{ollamatest.FaultReset}, Paths: []string{"/api/chat"}})

	respond := func(out string, extra ...string) []string {
		return append([]string{"respond", "--prompts", prompts, "--models", ollamatest.TinyModel, "--out", filepath.Join(base, out),
			"--num-predict", "256", "--concurrency", "2", "--ollama", host}, extra...)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		noOut  string // a directory that must not have been created
	}{
		{"success", respond("ok"), exitOK, "done in", ""},
		{"error: export of a folder that is not a run", []string{"export", notARun}, exitError, "synthkit:", ""},
		{"usage: unknown flag", []string{"respond", "--bogus"}, exitUsage, "unknown flag", ""},
		{"usage: invalid UTF-8 input, before any run directory", append(respond("utf8"), "--prompts", badUTF8), exitUsage, "bad.txt:2", filepath.Join(base, "utf8")},
		{"no server", append(respond("noserver"), "--ollama", "127.0.0.1:1", "--no-start"), exitNoServer, "no Ollama at", ""},
		{"not Ollama", append(respond("notollama"), "--ollama", notOllama.URL, "--no-start"), exitNoServer, "not Ollama", ""},
		{"server lost mid-run", append(respond("lost"), "--ollama", resets, "--retries", "1"), exitNoServer, "run the same command again", ""},
		{"model missing and cannot be pulled", append(respond("nomodel"), "--models", "no-such-model-zz9"), exitNoModel, "or use one this server has: ", filepath.Join(base, "nomodel")},
		{"partial: -n not reached", append(respond("partial"), "-n", "10"), exitPartial, "-n 10 was not reached", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, errOut)
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic:") {
				t.Errorf("stack trace on stderr:\n%s", errOut)
			}
			if tt.noOut != "" {
				if _, err := os.Stat(tt.noOut); err == nil {
					t.Errorf("%s was created for a run that could not start", tt.noOut)
				}
			}
		})
	}
}

// TestExportDamagedJournal: damage inside a journal is refused with the
// byte range and the fix; --skip-damaged exports the rest and says so; the
// card explains every rejection reason.
func TestExportDamagedJournal(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	prompts := filepath.Join(base, "prompts.txt")
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, "Say something about the number "+strconv.Itoa(i)+".")
	}
	lines = append(lines, strings.Repeat("Make this prompt far too long for the context window. ", 400))
	os.WriteFile(prompts, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out := filepath.Join(base, "run")
	code, _, errOut := runCLI(t, "respond", "--prompts", prompts, "--models", ollamatest.TinyModel, "--out", out,
		"--num-predict", "64", "--num-ctx", "1024", "--concurrency", "2", "--ollama", host)
	if code != exitOK {
		t.Fatalf("respond exit %d: %s", code, errOut)
	}
	card, _ := os.ReadFile(filepath.Join(out, "README.md"))
	if !strings.Contains(string(card), "| `prompt_too_long` | 1 | the prompt did not fit the context window") {
		t.Errorf("card lacks the explained rejection:\n%s", card)
	}
	segs, _ := filepath.Glob(filepath.Join(out, "journal", "*.jsonl"))
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	mid := len(data) / 2
	copy(data[mid:], "XXXX")
	os.WriteFile(segs[0], data, 0o644)

	code, _, errOut = runCLI(t, "export", out)
	if code != exitError || !strings.Contains(errOut, "damaged") || !strings.Contains(errOut, "--skip-damaged") {
		t.Fatalf("export of a damaged journal: exit %d\n%s", code, errOut)
	}
	code, stdout, errOut := runCLI(t, "export", out, "--skip-damaged")
	if code != exitOK || !strings.Contains(stdout, "skipped 1 damaged journal line") {
		t.Fatalf("export --skip-damaged: exit %d\n%s\n%s", code, stdout, errOut)
	}
}
