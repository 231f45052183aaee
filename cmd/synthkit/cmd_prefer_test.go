package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"synthkit/export"
	"synthkit/local/ollamatest"
)

// duckQuery runs one SQL query in DuckDB through node and returns its rows
// (an independent reader of the Parquet synthkit writes).
func duckQuery(t *testing.T, sql string) []map[string]any {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed; this test reads Parquet back with DuckDB from npm (run scripts/npm-tools.sh)")
	}
	npm := os.Getenv("SYNTHKIT_NPM_DIR")
	if npm == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		npm = filepath.Join(cache, "synthkit", "npm")
	}
	script := `const { createRequire } = require('node:module');
const path = require('node:path');
const { DuckDBInstance } = createRequire(path.join(process.env.SYNTHKIT_NPM_DIR, 'package.json'))('@duckdb/node-api');
(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const r = await conn.runAndReadAll(process.argv[1]);
  process.stdout.write(JSON.stringify(r.getRowObjectsJson()));
})().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });`
	cmd := exec.Command("node", "-e", script, sql)
	cmd.Env = append(os.Environ(), "SYNTHKIT_NPM_DIR="+npm)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, stderr.String())
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("duckdb output %s: %v", out, err)
	}
	return rows
}

// tableTitled returns the card table whose title starts with title.
func tableTitled(m *export.Manifest, title string) *export.CardTable {
	for i, t := range m.Tables {
		if strings.HasPrefix(t.Title, title) {
			return &m.Tables[i]
		}
	}
	return nil
}

// num reads a DuckDB number (BIGINT comes back as a string).
func num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		f, _ := strconv.ParseFloat(x, 64)
		return f
	}
	return -1
}

// configFiles returns the Parquet files of one config of a run, as a
// DuckDB list: the default config is under data/, the others in a folder
// named after the config.
func configFiles(t *testing.T, dir, config string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, config, "*.parquet"))
	if len(files) == 0 {
		files, _ = filepath.Glob(filepath.Join(dir, "data", "*.parquet"))
	}
	if len(files) == 0 {
		t.Fatalf("no %s Parquet in %s", config, dir)
	}
	b, _ := json.Marshal(files)
	return strings.ReplaceAll(string(b), `"`, `'`)
}

// checkTRL reads the preferences config with DuckDB and checks TRL's
// conversational columns: prompt, chosen and rejected as role/content
// lists (a user turn; one assistant turn each side).
func checkTRL(t *testing.T, dir string) []map[string]any {
	t.Helper()
	prefs := duckQuery(t, "SELECT prompt[1].role AS pr, prompt[1].content AS pc, chosen[1].role AS cr, rejected[1].role AS rr, "+
		"len(chosen) AS nc, len(rejected) AS nr, score_chosen, score_rejected, chosen_model, rejected_model FROM read_parquet("+configFiles(t, dir, "preferences")+")")
	for _, p := range prefs {
		if p["pr"] != "user" || p["pc"] == "" || p["cr"] != "assistant" || p["rr"] != "assistant" || num(p["nc"]) != 1 || num(p["nr"]) != 1 {
			t.Fatalf("preference row is not TRL conversational: %v", p)
		}
	}
	return prefs
}

func TestPreferAgainstOllama(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	promptFile := filepath.Join(base, "prompts.txt")
	os.WriteFile(promptFile, []byte("Explain how rivers form.\nGive three uses of copper.\nWrite a haiku about rain.\n"), 0o644)
	a, b := ollamatest.TinyModel, ollamatest.TinyModelB
	run := func(t *testing.T, out string, wantCode int, args ...string) string {
		t.Helper()
		args = append([]string{"prefer"}, append(args, common(host, out)...)...)
		code, stdout, stderr := runCLI(t, args...)
		if code != wantCode {
			t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, wantCode, stdout, stderr)
		}
		return stderr
	}

	t.Run("ratings with the TRL columns", func(t *testing.T) {
		out := filepath.Join(base, "ratings")
		firstStderr := run(t, out, exitOK, "--prompts", promptFile, "--models", a+","+b, "--judge", a, "--pairs", "best-worst", "--calibrate-every", "0")
		m := manifestOf(t, out)
		roles := map[string]bool{}
		for _, mi := range m.Models {
			roles[mi.Role] = true
		}
		if m.Method != "prefer" || !roles["judge"] || !roles["responder"] {
			t.Fatalf("run.json %+v", m)
		}
		notes := strings.Join(m.Notes, "\n")
		if !strings.Contains(notes, "self-preference") || len(m.Tables) == 0 || !strings.HasPrefix(m.Tables[0].Title, "Judge score histogram") || tableTitled(m, "Judge cost") == nil {
			t.Errorf("notes lack self-judging or the card lacks the histogram:\n%s\n%+v", notes, m.Tables)
		}
		card, _ := os.ReadFile(filepath.Join(out, "README.md"))
		if !strings.Contains(string(card), "| score (rounded) | completions |") {
			t.Errorf("the card shows no score histogram table")
		}
		if !strings.Contains(firstStderr, "Judge score histogram (") || !strings.Contains(firstStderr, "Judge cost (") {
			t.Errorf("the summary does not show the judge's tables:\n%s", firstStderr)
		}
		// Every prompt judged: 3 ratings with 2 completions of 4 aspects.
		rows := duckQuery(t, "SELECT id, completion_index, completion_model, completion_model_digest, len(ratings) AS n, ratings[1].aspect AS a1, overall, model, model_digest FROM read_parquet("+configFiles(t, out, "ratings")+") ORDER BY id, completion_index")
		if len(rows)+int(m.Counts.RejectedTotal()*2) != 6 && len(rows) == 0 {
			t.Fatalf("ratings rows %v (counts %+v)", rows, m.Counts)
		}
		for _, r := range rows {
			if num(r["n"]) != 4 || r["a1"] != "instruction_following" || r["model"] != a ||
				!strings.HasPrefix(r["completion_model_digest"].(string), "sha256:") && len(r["completion_model_digest"].(string)) < 12 {
				t.Fatalf("ratings row %v", r)
			}
		}
		// The tiny judge's ratings are noise and may tie everywhere: pairs
		// are checked when there are some (model-ranked pairs below always
		// make them).
		var prefs []map[string]any
		if m.Counts.Rows["preferences"] > 0 {
			prefs = checkTRL(t, out)
			for _, p := range prefs {
				if num(p["score_chosen"]) <= num(p["score_rejected"]) || p["chosen_model"] == p["rejected_model"] {
					t.Fatalf("preference row %v", p)
				}
			}
		}
		t.Logf("%d ratings rows, %d pairs, counts %+v", len(rows), len(prefs), m.Counts)

		// Resume: nothing is redone.
		stderr := run(t, out, exitOK, "--prompts", promptFile, "--models", a+","+b, "--judge", a, "--pairs", "best-worst", "--calibrate-every", "0")
		after := manifestOf(t, out)
		if !strings.Contains(stderr, "resuming") || after.Counts.Generated != m.Counts.Generated {
			t.Fatalf("rerun changed the run: %+v → %+v\n%s", m.Counts, after.Counts, stderr)
		}
	})

	t.Run("text judge and a calibration file", func(t *testing.T) {
		// The tiny judge writes gibberish, so free-text judgments mostly
		// fail to parse: this checks the plumbing (requests without a
		// format reach the server, retries, the reason counted, the
		// file's calibration item judged at the start and after two judged
		// prompts), not the verdicts.
		cal := filepath.Join(base, "cal.jsonl")
		os.WriteFile(cal, []byte(`{"prompt": "2+2?", "completions": ["4", "5", "fish"], "expected_scores": [3, 2, 1]}`+"\n"), 0o644)
		out := filepath.Join(base, "text")
		code, _, stderr := runCLI(t, append([]string{"prefer", "--prompts", promptFile, "--models", a + "," + b, "--judge", b,
			"--judge-mode", "pairwise", "--judge-format", "text", "--calibration", cal, "--calibrate-every", "2", "--json-retries", "1"}, common(host, out)...)...)
		if code != exitOK && code != exitPartial {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		m := manifestOf(t, out)
		if m.TemplateHashes["prefer_text"] == "" || !strings.Contains(strings.Join(m.Notes, "\n"), "free text (--judge-format text)") {
			t.Fatalf("run.json does not record the text judge: %+v %q", m.TemplateHashes, m.Notes)
		}
		if m.Counts.Generated+m.Counts.RejectedTotal() < 3 {
			t.Fatalf("not every prompt was judged: %+v", m.Counts)
		}
		c := tableTitled(m, "Judge calibration")
		if c == nil || len(c.Rows) != 2 || !strings.HasSuffix(c.Rows[0][2], "of 1") || c.Rows[0][1] != "0" || num(c.Rows[1][1]) < 2 {
			t.Fatalf("calibration passes (start, after 2): %+v", c)
		}
		if !strings.Contains(strings.Join(m.Notes, "\n"), "calibration on 1 items from --calibration") {
			t.Errorf("notes %q", m.Notes)
		}
		t.Logf("counts %+v; calibration %v", m.Counts, c.Rows)
	})

	t.Run("pairwise and model-ranked", func(t *testing.T) {
		out := filepath.Join(base, "pairwise")
		run(t, out, exitOK, "--prompts", promptFile, "--models", a+","+b, "--judge", b, "--judge-mode", "pairwise", "-n", "2", "--calibrate-every", "0")
		m := manifestOf(t, out)
		if m.Counts.Generated < 2 || tableTitled(m, "Pairwise position bias") == nil && m.Counts.Accepted > 0 {
			t.Fatalf("pairwise run %+v tables %+v", m.Counts, m.Tables)
		}
		if tableTitled(m, "Judge calibration") != nil {
			t.Fatal("--calibrate-every 0 still calibrated")
		}
		out = filepath.Join(base, "models")
		run(t, out, exitOK, "--prompts", promptFile, "--chosen-model", a, "--rejected-model", b)
		prefs := checkTRL(t, out)
		if len(prefs) != 3 {
			t.Fatalf("model-ranked pairs %v", prefs)
		}
		for _, p := range prefs {
			if p["chosen_model"] != a || p["rejected_model"] != b || p["score_chosen"] != nil {
				t.Fatalf("model-ranked pair %v", p)
			}
		}
	})

	t.Run("judge a respond run", func(t *testing.T) {
		sft := filepath.Join(base, "sft")
		code, _, stderr := runCLI(t, append([]string{"respond", "--prompts", promptFile, "--models", a + "," + b}, common(host, sft)...)...)
		if code != exitOK {
			t.Fatalf("respond: %d %s", code, stderr)
		}
		out := filepath.Join(base, "judged")
		stderr = run(t, out, exitOK, "--completions", sft, "--judge", b, "--judge-mode", "rank")
		// Judge health by default: the built-in calibration items judged
		// at the start (the tiny judge's agreement is whatever its noise
		// gives); the card and the summary show the pass.
		card, _ := os.ReadFile(filepath.Join(out, "README.md"))
		if !strings.Contains(string(card), "### Judge calibration ("+b) || !strings.Contains(string(card), "| pass | after judged prompts |") ||
			!strings.Contains(string(card), "judge health: calibration on the built-in items") {
			t.Errorf("the card shows no calibration table or health note:\n%s", card)
		}
		if c := tableTitled(manifestOf(t, out), "Judge calibration"); c == nil || len(c.Rows) != 1 || !strings.HasSuffix(c.Rows[0][2], "of 5") {
			t.Errorf("calibration table %+v", c)
		}
		if !strings.Contains(stderr, "Judge calibration (") || !strings.Contains(stderr, "Judge score histogram (") {
			t.Errorf("the summary does not show the judge's tables:\n%s", stderr)
		}
		rows := duckQuery(t, "SELECT DISTINCT completion_model FROM read_parquet("+configFiles(t, out, "ratings")+") ORDER BY 1")
		if len(rows) != 2 || rows[0]["completion_model"] != a && rows[1]["completion_model"] != a {
			t.Fatalf("completion models of the judged respond run: %v", rows)
		}
		if m := manifestOf(t, out); len(m.Models) != 1 || m.Models[0].Role != "judge" {
			t.Fatalf("only the judge runs when judging earlier answers: %+v", m.Models)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		bad := filepath.Join(base, "bad.yaml")
		os.WriteFile(bad, []byte("criteria: Is it right?\nscores:\n  1: wrong\n  2: half\n  4: right\n"), 0o644)
		broken := filepath.Join(base, "broken.yaml")
		os.WriteFile(broken, []byte("criteria: Is it right?\nscores:\n  1: wrong\n   2: half\n"), 0o644)
		badCal := filepath.Join(base, "badcal.jsonl")
		os.WriteFile(badCal, []byte(`{"prompt": "x", "completions": ["a", "b"], "best_index": 1}`+"\n"+`{"prompt": "y", "completions": ["a", "b"]}`+"\n"), 0o644)
		noScores := filepath.Join(base, "noscores.yaml")
		os.WriteFile(noScores, []byte("criteria: Is it right?\n"), 0o644)
		one := filepath.Join(base, "one.jsonl")
		os.WriteFile(one, []byte(`{"prompt": "A?", "completion": "a"}`+"\n"+`{"prompt": "B?", "completion": "b"}`+"\n"), 0o644)
		tests := []struct {
			name   string
			args   []string
			code   int
			stderr string
		}{
			{"missing judge", []string{"--prompts", promptFile, "--models", a + "," + b}, exitUsage, "needs a judge"},
			{"one model, one sample", []string{"--prompts", promptFile, "--models", a, "--judge", a}, exitUsage, "cannot make a pair"},
			{"rubric with a missing score", []string{"--prompts", promptFile, "--models", a + "," + b, "--judge", a, "--rubric", bad}, exitUsage, "bad.yaml:3: rubric: score 3 is missing"},
			{"rubric that is not YAML", []string{"--prompts", promptFile, "--models", a + "," + b, "--judge", a, "--rubric", broken}, exitUsage, "broken.yaml:4"},
			{"one answer per prompt", []string{"--completions", one, "--judge", a}, exitUsage, "no prompt has two or more answers"},
			{"calibration file with a bad line", []string{"--prompts", promptFile, "--models", a + "," + b, "--judge", a, "--calibration", badCal}, exitUsage, "badcal.jsonl:2: say what the right judgment is"},
			{"calibration file missing", []string{"--prompts", promptFile, "--models", a + "," + b, "--judge", a, "--calibration", filepath.Join(base, "nope.jsonl")}, exitUsage, "nope.jsonl"},
			{"unknown judge format", []string{"--prompts", promptFile, "--models", a + "," + b, "--judge", a, "--judge-format", "yaml"}, exitUsage, "unknown --judge-format"},
			{"negative calibration interval", []string{"--prompts", promptFile, "--models", a + "," + b, "--judge", a, "--calibrate-every", "-1"}, exitUsage, "--calibrate-every must be"},
			{"rubric without scores", []string{"--prompts", promptFile, "--models", a + "," + b, "--judge", a, "--rubric", noScores}, exitUsage, "noscores.yaml:1: rubric: scores are missing"},
			{"judge that is not there", []string{"--prompts", promptFile, "--models", a + "," + b, "--judge", "no-such-judge-zz9"}, exitNoModel, "no-such-judge-zz9"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				out := filepath.Join(base, "bad", string(rune('a'+i)))
				args := append([]string{"prefer"}, append(tt.args, common(host, out)...)...)
				code, _, stderr := runCLI(t, args...)
				if code != tt.code || !strings.Contains(stderr, tt.stderr) {
					t.Fatalf("exit %d (want %d), stderr:\n%s\nwant %q", code, tt.code, stderr, tt.stderr)
				}
				if _, err := os.Stat(out); err == nil {
					t.Errorf("%s was written for a run that could not start", out)
				}
			})
		}
	})
}
