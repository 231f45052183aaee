package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"synthkit/local/ollamatest"
)

// runCLI runs synthkit in-process and returns exit status and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCLIUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout
		wantErr  string // in stderr
	}{
		{"no args prints help", nil, exitUsage, "COMMANDS", ""},
		{"help", []string{"--help"}, exitOK, "EXIT STATUS", ""},
		{"help for a command", []string{"help", "doctor"}, exitOK, "--ollama", ""},
		{"command help shows defaults", []string{"models", "--help"}, exitOK, `(default "auto")`, ""},
		{"version", []string{"version"}, exitOK, "synthkit " + version, ""},
		{"unknown command suggests", []string{"docter"}, exitUsage, "", `did you mean "doctor"`},
		{"unknown flag", []string{"doctor", "--bogus"}, exitUsage, "", "unknown flag: --bogus"},
		{"bad concurrency", []string{"doctor", "--concurrency", "zero"}, exitUsage, "", "--concurrency must be auto or a number"},
		{"bad timeout", []string{"doctor", "--timeout", "-1s"}, exitUsage, "", "--timeout must be positive"},
		{"license the Hub does not know", []string{"export", "somewhere", "--license", "apache2"}, exitUsage, "", "apache-2.0"},
		{"models without subcommand", []string{"models"}, exitUsage, "", "models needs a subcommand"},
		{"report needs a run directory", []string{"report"}, exitUsage, "", "report needs exactly one run directory"},
		{"report has no model flags", []string{"report", "--model", "x", "out"}, exitUsage, "", "unknown flag: --model"},
		{"unreachable server", []string{"doctor", "--ollama", "127.0.0.1:1", "--no-start"}, exitNoServer, "", "no Ollama at http://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantOut, out)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errOut)
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic:") {
				t.Errorf("stack trace on stderr:\n%s", errOut)
			}
		})
	}
}

// TestOllamaFlagsOnlyWhereUsed: commands that never talk to a server do
// not offer the Ollama flags.
func TestOllamaFlagsOnlyWhereUsed(t *testing.T) {
	for cmd, want := range map[string]bool{"export": false, "push": false, "version": false,
		"doctor": true, "models": true, "instruct": true, "respond": true} {
		_, out, _ := runCLI(t, cmd, "--help")
		if got := strings.Contains(out, "--ollama"); got != want {
			t.Errorf("%s --help lists --ollama: %v, want %v", cmd, got, want)
		}
	}
}

func TestDoctorAndModelsAgainstOllama(t *testing.T) {
	host := ollamatest.Host(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"doctor lists models", []string{"doctor", "--ollama", host}, exitOK,
			[]string{"ollama    ✓ " + host, ollamatest.TinyModel, "llama"}, ""},
		{"doctor checks a named model", []string{"doctor", "--ollama", host, ollamatest.TinyModel}, exitOK,
			[]string{"check     ✓ " + ollamatest.TinyModel}, ""},
		{"doctor names the fix", []string{"doctor", "--ollama", host, "absent-model:1b"}, exitNoModel,
			[]string{"synthkit models pull absent-model:1b"}, "is not pulled"},
		{"models list", []string{"models", "list", "--ollama", host}, exitOK,
			[]string{"DIGEST", "CONTEXT", ollamatest.TinyModelB}, ""},
		{"models show", []string{"models", "show", ollamatest.TinyModel, "--ollama", host}, exitOK,
			[]string{`"digest": "`, `"context_length": `}, ""},
		{"pull unknown fails cleanly", []string{"models", "pull", "no-such-model-zz9", "--ollama", host}, exitNoModel,
			nil, "no-such-model-zz9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errOut)
			}
		})
	}
}
