package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"synthkit/export"
	"synthkit/local/ollamatest"
)

// TestRespondExplanationTuning runs respond with the Orca pool, erasure and
// verification by a judge against the real Ollama, and the bad inputs of
// those flags.
func TestRespondExplanationTuning(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	tasks := filepath.Join(base, "tasks.jsonl")
	var b strings.Builder
	for i, q := range []string{"2+2", "3+4", "5+1", "9-3"} {
		json.NewEncoder(&b).Encode(map[string]any{"instruction": "Compute " + q + ".", "answer": []string{"4", "7", "6", "6"}[i]})
	}
	os.WriteFile(tasks, []byte(b.String()), 0o644)
	out := filepath.Join(base, "orca")
	code, stdout, errOut := runCLI(t, "respond", "--prompts", tasks, "--model", ollamatest.TinyModel, "--system-pool", "orca",
		"--erase-system", "--reference-column", "answer", "--verify", "--judge", ollamatest.TinyModelB,
		"--out", out, "--ollama", host, "--num-predict", "96", "--concurrency", "2", "--json-retries", "1")
	// The tiny judge's verdicts are random: rows are kept or rejected, and
	// a run that kept none ends with status 5.
	if code != exitOK && code != exitPartial {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, errOut)
	}
	m := manifestOf(t, out)
	if len(m.Models) != 2 || m.Models[1].Role != "judge" || m.TemplateHashes["system-prompt pool"] == "" ||
		m.TemplateHashes["respond_verify"] == "" || m.Counts.Generated != 4 {
		t.Fatalf("run.json %+v", m)
	}
	if m.Counts.Accepted > 0 {
		files, _ := filepath.Glob(filepath.Join(out, "data", "*.parquet"))
		rows, err := parquet.ReadFile[struct {
			Messages []export.Message `parquet:"messages,list"`
			Metadata string           `parquet:"metadata"`
		}](files[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			var md map[string]any
			json.Unmarshal([]byte(r.Metadata), &md)
			if r.Messages[0].Role == "system" || md["erased_system"] == "" || md["system_id"] == nil || md["reference_verdict"] == nil {
				t.Fatalf("row %+v: want no system message, erased_system, system_id and reference_verdict", r)
			}
		}
	}

	dup := filepath.Join(base, "dup.txt")
	os.WriteFile(dup, []byte("Be brief.\nBe brief.\n"), 0o644)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"missing reference column":  {[]string{"--reference-column", "solution", "--verify"}, `tasks.jsonl:1: no column "solution"; the record has "answer" and "instruction"`},
		"pool with a duplicate":     {[]string{"--system-pool", dup}, "dup.txt:2: the same system prompt as line 1"},
		"verify without references": {[]string{"--verify"}, "--verify needs --reference-column"},
		"erase without a system":    {[]string{"--erase-system"}, "--erase-system needs --system-pool or --system"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(base, strings.ReplaceAll(name, " ", "-"))
			code, _, errOut := runCLI(t, append([]string{"respond", "--prompts", tasks, "--model", ollamatest.TinyModel,
				"--out", dir, "--ollama", host}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want 2 with %q:\n%s", code, tc.want, errOut)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Fatalf("%s was created", dir)
			}
		})
	}
}
