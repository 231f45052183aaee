package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"go.yaml.in/yaml/v3"

	"synthkit/export"
	"synthkit/local/ollamatest"
	"synthkit/prompts/inputs"
	"synthkit/recipe"
)

// e2eRecipe chains the four commands: instructions from the built-in
// seeds, answers by two models, pairs (model-ranked: the tiny judge's
// gibberish would parse as nothing) and revisions of the answers.
const e2eRecipe = `name: e2e
out: OUT
vars:
  model: ` + ollamatest.TinyModel + `
stages:
  instructions:
    command: instruct
    method: self-instruct
    model: ${model}
    count: 4
    max-requests: 3000
    seed: 7
    num-predict: 96
    num-ctx: 1024
  answers:
    command: respond
    prompts: instructions
    models: ["${model}", ` + ollamatest.TinyModelB + `]
    num-predict: 96
    num-ctx: 1024
  pairs:
    command: prefer
    prompts: instructions
    chosen-model: ${model}
    rejected-model: ` + ollamatest.TinyModelB + `
    num-predict: 96
    num-ctx: 1024
  revisions:
    command: critique
    responses: answers
    model: ${model}
    revisions: 1
    num-predict: 96
    num-ctx: 1024
`

func buildSynthkit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "synthkit")
	if out, err := exec.Command("go", "build", "-o", bin, "synthkit/cmd/synthkit").CombinedOutput(); err != nil {
		t.Fatalf("build synthkit: %v\n%s", err, out)
	}
	return bin
}

// runBin runs the binary, SIGKILLing it after killAfter (if > 0); code is
// -1 when the kill landed.
func runBin(t *testing.T, bin string, killAfter time.Duration, args ...string) (code int, took time.Duration, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var eb bytes.Buffer
	cmd.Stderr, cmd.Stdout = &eb, &eb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	if killAfter > 0 {
		select {
		case err = <-done:
		case <-time.After(killAfter):
			cmd.Process.Signal(syscall.SIGKILL)
			err = <-done
		}
	} else {
		err = <-done
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, time.Since(start), eb.String()
	case errors.As(err, &ee):
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return -1, time.Since(start), eb.String()
		}
		return ee.ExitCode(), time.Since(start), eb.String()
	}
	t.Fatal(err)
	return
}

// stageRows returns every row of a run by unit, as JSON, from its journal.
func stageRows(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := export.ReadRows(dir, func(unit string, rows []export.Row) error {
		b, err := json.Marshal(rows)
		out[unit] = string(b)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return out
}

// parquetHashes hashes every Parquet file under dir by relative path.
func parquetHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			data, _ := os.ReadFile(p)
			sum := sha256.Sum256(data)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = hex.EncodeToString(sum[:])
		}
		return nil
	})
	return out
}

// TestRecipeKilledAndResumed runs a four-stage recipe against the real
// Ollama uninterrupted, then again SIGKILLed at several moments and rerun
// until it finishes: every stage must hold the same rows and the same
// Parquet bytes as the uninterrupted run. A rerun of a finished recipe
// skips every stage; the combined card is read back.
func TestRecipeKilledAndResumed(t *testing.T) {
	host := ollamatest.Host(t)
	bin := buildSynthkit(t)
	base := t.TempDir()
	write := func(name string) (string, string) {
		out := filepath.Join(base, name)
		p := filepath.Join(base, name+".yaml")
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(e2eRecipe, "OUT", out)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p, out
	}
	args := func(p string) []string { return []string{"run", p, "--ollama", host, "--concurrency", "1"} }

	refRecipe, refOut := write("reference")
	code, took, log := runBin(t, bin, 0, args(refRecipe)...)
	if code != exitOK {
		t.Fatalf("reference run: exit %d\n%s", code, log)
	}
	t.Logf("reference run took %s", took.Round(time.Millisecond))

	crashRecipe, crashOut := write("crashed")
	kills := 0
	for _, frac := range []float64{0.15, 0.35, 0.55, 0.8} {
		code, _, log := runBin(t, bin, time.Duration(frac*float64(took)), args(crashRecipe)...)
		switch code {
		case -1:
			kills++
		case exitOK:
		default:
			t.Fatalf("run after a kill: exit %d\n%s", code, log)
		}
	}
	if kills < 2 {
		t.Fatalf("only %d of the kills landed: the machine is too fast for this schedule", kills)
	}
	code, _, log = runBin(t, bin, 0, args(crashRecipe)...)
	if code != exitOK {
		t.Fatalf("final resume: exit %d\n%s", code, log)
	}

	for _, stage := range []string{"instructions", "answers", "pairs", "revisions"} {
		want, got := stageRows(t, filepath.Join(refOut, stage)), stageRows(t, filepath.Join(crashOut, stage))
		if len(want) == 0 {
			t.Errorf("%s: the reference has no rows", stage)
		}
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Errorf("%s: rows differ after %d kills: reference %d units, crashed %d", stage, kills, len(want), len(got))
		}
	}
	if w, g := parquetHashes(t, refOut), parquetHashes(t, crashOut); fmt.Sprint(w) != fmt.Sprint(g) || len(w) < 6 {
		t.Errorf("Parquet files differ:\nreference %v\ncrashed   %v", w, g)
	}

	// A finished recipe is recognised: every stage skipped, quickly.
	code, again, log := runBin(t, bin, 0, args(crashRecipe)...)
	if code != exitOK || strings.Count(log, "finished earlier, skipped") != 4 {
		t.Errorf("rerun of a finished recipe: exit %d\n%s", code, log)
	}
	t.Logf("rerun of the finished recipe took %s", again.Round(time.Millisecond))
	code, plan, errOut := runCLI(t, "run", crashRecipe, "--ollama", host, "--dry-run")
	if code != exitOK || strings.Count(plan, "finished: skipped") != 4 {
		t.Errorf("dry-run of a finished recipe: exit %d\n%s\n%s", code, plan, errOut)
	}

	checkCombinedCard(t, refOut)
}

// checkCombinedCard reads the combined card back: its configs point at
// Parquet files that hold num_examples rows, the default is the last
// stage's, and the input loader reads a config through the card as a Hub
// folder.
func checkCombinedCard(t *testing.T, out string) {
	t.Helper()
	card, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(string(card), "---\n", 3)
	if len(parts) != 3 {
		t.Fatalf("card has no front matter:\n%s", card)
	}
	var fm struct {
		Configs []struct {
			Name      string `yaml:"config_name"`
			Default   bool   `yaml:"default"`
			DataFiles []struct {
				Split string `yaml:"split"`
				Path  string `yaml:"path"`
			} `yaml:"data_files"`
		} `yaml:"configs"`
		DatasetInfo []struct {
			Name   string `yaml:"config_name"`
			Splits []struct {
				Name     string `yaml:"name"`
				Examples int64  `yaml:"num_examples"`
			} `yaml:"splits"`
		} `yaml:"dataset_info"`
	}
	if err := yaml.Unmarshal([]byte(parts[1]), &fm); err != nil {
		t.Fatalf("front matter: %v", err)
	}
	examples := map[string]int64{}
	for _, d := range fm.DatasetInfo {
		examples[d.Name] = d.Splits[0].Examples
	}
	want := []string{"instructions_sft", "answers_sft", "pairs_preferences", "revisions_critiques", "revisions_critiques_preferences", "revisions_critiques_sft"}
	var names []string
	for _, c := range fm.Configs {
		names = append(names, c.Name)
		if c.Default != (c.Name == "revisions_critiques") {
			t.Errorf("config %s: default %v", c.Name, c.Default)
		}
		files, _ := filepath.Glob(filepath.Join(out, c.DataFiles[0].Path))
		var rows int64
		for _, f := range files {
			pf, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := pf.Stat()
			r, err := parquet.OpenFile(pf, st.Size())
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			rows += r.NumRows()
			pf.Close()
		}
		if len(files) == 0 || rows != examples[c.Name] || rows == 0 {
			t.Errorf("config %s: %d files with %d rows, card says %d", c.Name, len(files), rows, examples[c.Name])
		}
	}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("configs %v, want %v", names, want)
	}
	set, err := inputs.Load(out, inputs.Options{Config: "answers_sft"})
	if err != nil {
		t.Fatalf("load the combined folder's answers_sft: %v", err)
	}
	if int64(len(set.Records)) != examples["answers_sft"] {
		t.Errorf("answers_sft through the card: %d records, card says %d", len(set.Records), examples["answers_sft"])
	}
	st, err := recipe.ReadState(out)
	if err != nil || len(st.Stages) != 4 {
		t.Errorf("state: %v %+v", err, st)
	}
}

// TestRecipeDryRunAndModels: --dry-run prints the stages in run order with
// their estimates and says which models the server has; a missing model
// that cannot be pulled stops the recipe before anything is written.
func TestRecipeDryRunAndModels(t *testing.T) {
	host := ollamatest.Host(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// answers comes first in the file but reads instructions: it runs second.
	p := writeRecipe(t, dir, `out: `+out+`
stages:
  answers:
    command: respond
    prompts: instructions
    models: [`+ollamatest.TinyModel+`, absent-model-zz9:1b]
  labels:
    command: critique
    label-pairs: answers
    judge: `+ollamatest.TinyModel+`
  instructions:
    command: instruct
    method: self-instruct
    model: `+ollamatest.TinyModel+`
    count: 30
`)
	code, stdout, stderr := runCLI(t, "run", p, "--ollama", host, "--dry-run")
	if code != exitOK {
		t.Fatalf("dry-run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		// instructions runs first; 30 rows at ≈1.3 requests a row
		`\n1\s+instructions\s+instruct self-instruct\s+—\s+\S+\s+30\s+40\s+≈12k\s+new`,
		// answers: 30 prompts × 2 models
		`\n2\s+answers\s+respond\s+instructions\s+\S+\s+60\s+60\s`,
		// labels: a pair per prompt (two answers each), 2 orders × 5 votes
		`\n3\s+labels\s+critique rlaif\s+answers\s+\S+\s+30\s+300\s`,
		`\n\s+total\s+400\s`,
		`\n  ` + regexp.QuoteMeta(ollamatest.TinyModel) + `\s+present\s+[0-9a-f]{12}\n`,
		`\n  absent-model-zz9:1b\s+to pull\s+\(synthkit models pull absent-model-zz9:1b\)`,
	} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("plan does not match %s:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("--dry-run wrote %s", out)
	}
	tests := []struct {
		name  string
		extra []string
		want  string
	}{
		{"--pull=false names the pull command", []string{"--pull=false"}, "(--pull=false)\npull it: synthkit models pull absent-model-zz9:1b"},
		{"a pull that fails lists the models there", nil, "models on this server: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"run", p, "--ollama", host}, tt.extra...)...)
			if code != exitNoModel || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, ollamatest.TinyModel) {
				t.Errorf("exit %d, want %d with %q and the server's models:\n%s", code, exitNoModel, tt.want, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a recipe stopped for a missing model wrote %s", out)
			}
		})
	}
}
