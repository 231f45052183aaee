package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synthkit/local/ollamatest"
)

// The OpenAI-compatible backend through the CLI: flag mistakes are usage
// errors, and doctor and models work against the real Ollama's /v1 (list,
// no pull), never showing the API key.
func TestOpenAIBackendCLI(t *testing.T) {
	const key = "sk-cli-secret-0123456789"
	t.Setenv("SYNTHKIT_TEST_KEY", key)
	t.Setenv("SYNTHKIT_EMPTY_KEY", "")
	base := ollamatest.Host(t) + "/v1"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"unknown backend", []string{"doctor", "--backend", "vllm"}, exitUsage, nil, "--backend must be ollama or openai"},
		{"openai needs a base URL", []string{"doctor", "--backend", "openai"}, exitUsage, nil, "needs --base-url"},
		{"base URL without the backend", []string{"doctor", "--base-url", base}, exitUsage, nil, "go with --backend openai"},
		{"--ollama with openai", []string{"doctor", "--backend", "openai", "--base-url", base, "--ollama", "x:1"}, exitUsage, nil, "--ollama and --ollama-bin go with --backend ollama"},
		{"bad base URL", []string{"doctor", "--backend", "openai", "--base-url", "gpu:8000"}, exitUsage, nil, "want http(s)"},
		{"empty key variable", []string{"doctor", "--backend", "openai", "--base-url", base, "--api-key-env", "SYNTHKIT_EMPTY_KEY"}, exitUsage, nil, "SYNTHKIT_EMPTY_KEY: the variable is unset or empty"},
		{"nothing there", []string{"doctor", "--backend", "openai", "--base-url", "http://127.0.0.1:1/v1"}, exitNoServer, nil, "no OpenAI-compatible server answers at http://127.0.0.1:1/v1"},
		{"doctor lists served models", []string{"doctor", "--backend", "openai", "--base-url", base, "--api-key-env", "SYNTHKIT_TEST_KEY", ollamatest.TinyModel}, exitOK,
			[]string{"openai    ✓ " + base, "served", "openai-model-id:", "check     ✓ " + ollamatest.TinyModel, "lacks"}, ""},
		{"models list", []string{"models", "list", "--backend", "openai", "--base-url", base}, exitOK, []string{ollamatest.TinyModelB}, ""},
		{"models pull refuses", []string{"models", "pull", "qwen2.5:0.5b", "--backend", "openai", "--base-url", base}, exitNoModel, nil, "never pulls"},
		{"doctor with a model not served", []string{"doctor", "--backend", "openai", "--base-url", base, "absent-model:1b"}, exitNoModel, []string{"never pulls"}, "never pulls"},
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
			if strings.Contains(out+errOut, key) {
				t.Errorf("the API key was printed:\n%s\n%s", out, errOut)
			}
		})
	}
}

// TestOpenAIBackendGenerates runs respond and self-instruct end to end
// through the real Ollama's OpenAI-compatible endpoint: rows, run.json
// recording the backend's identity, and a magpie run refused clearly (the
// API does not expose the chat template).
func TestOpenAIBackendGenerates(t *testing.T) {
	base := ollamatest.Host(t) + "/v1"
	dir := t.TempDir()
	prompts := filepath.Join(dir, "p.txt")
	os.WriteFile(prompts, []byte("Explain how rivers form.\nGive three uses of copper.\n"), 0o644)
	flags := []string{"--backend", "openai", "--base-url", base, "--num-predict", "128", "--concurrency", "2"}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"respond", []string{"respond", "--prompts", prompts, "--models", ollamatest.TinyModel}},
		{"self-instruct", []string{"instruct", "--method", "self-instruct", "--model", ollamatest.TinyModel, "-n", "2", "--num-predict", "256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name)
			code, stdout, errOut := runCLI(t, append(append(tc.args, "--out", out), flags...)...)
			if code != exitOK {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, errOut)
			}
			m := manifestOf(t, out)
			if !strings.HasPrefix(m.Models[0].Digest, "openai-model-id:") || m.Counts.Accepted == 0 || parquetRows(t, out) != m.Counts.Accepted {
				t.Fatalf("run.json %+v", m)
			}
		})
	}
	code, _, errOut := runCLI(t, append([]string{"instruct", "--method", "magpie", "--model", ollamatest.TinyModel, "-n", "1",
		"--out", filepath.Join(dir, "magpie")}, flags...)...)
	if code == exitOK || !strings.Contains(errOut, "magpie") {
		t.Fatalf("magpie over the OpenAI API: exit %d\n%s", code, errOut)
	}
}
