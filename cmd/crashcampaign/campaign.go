package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"synthkit/export"
)

// Config says what the campaign runs.
type Config struct {
	// Bin is the synthkit binary under test.
	Bin string
	// Ollama is the server the runs talk to (with the tiny test models).
	Ollama string
	// Models are two chat models on that server.
	Models [2]string
	// Work is a scratch directory.
	Work string
	// Kills is how many SIGKILLs each scenario takes.
	Kills int
	// Seed makes the kill moments reproducible.
	Seed uint64
	// Scenarios to run (nil: all).
	Scenarios []string
	// Log receives one line per run.
	Log io.Writer
}

// Result is one scenario's outcome.
type Result struct {
	Scenario string
	Kills    int // SIGKILLs that landed while the process ran
	Runs     int
	Units    int // accepted units in the reference
	Problems []string
}

// scenario is a command that is killed and rerun.
type scenario struct {
	name string
	// args are the command's arguments for run directory dir.
	args func(c *Config, dir string) []string
}

func scenarios(prompts string) []scenario {
	gen := func(dir string, extra ...string) []string {
		return append(extra, "--out", dir, "--concurrency", "1", "--seed", "7", "--num-predict", "96", "--num-ctx", "1024")
	}
	return []scenario{
		{"respond", func(c *Config, dir string) []string {
			return append([]string{"respond", "--prompts", prompts, "--models", c.Models[0] + "," + c.Models[1], "--ollama", c.Ollama}, gen(dir)...)
		}},
		{"self-instruct", func(c *Config, dir string) []string {
			return append([]string{"instruct", "--method", "self-instruct", "--model", c.Models[0], "-n", "6", "--max-requests", "3000", "--ollama", c.Ollama}, gen(dir)...)
		}},
		{"evol", func(c *Config, dir string) []string {
			return append([]string{"instruct", "--method", "evol", "--prompts", prompts, "--rounds", "2", "--model", c.Models[0], "--ollama", c.Ollama}, gen(dir)...)
		}},
		{"critique", func(c *Config, dir string) []string {
			return append([]string{"critique", "--prompts", prompts, "--model", c.Models[0], "--revisions", "1", "-n", "3", "--ollama", c.Ollama}, gen(dir)...)
		}},
		{"prefer", func(c *Config, dir string) []string {
			return append([]string{"prefer", "--prompts", prompts, "--chosen-model", c.Models[0], "--rejected-model", c.Models[1], "--ollama", c.Ollama}, gen(dir)...)
		}},
		{"magpie", func(c *Config, dir string) []string {
			return append([]string{"instruct", "--method", "magpie", "--model", c.Models[0], "-n", "5", "--turns", "2", "--ollama", c.Ollama}, gen(dir)...)
		}},
	}
}

// Run runs every scenario: an uninterrupted reference run, then the same
// command killed at random moments and rerun until it finishes, then the
// two run directories compared unit by unit and file by file. export and
// --fresh are campaigned on the reference of the first scenario.
func Run(ctx context.Context, c *Config) ([]Result, error) {
	if c.Log == nil {
		c.Log = io.Discard
	}
	prompts := filepath.Join(c.Work, "prompts.txt")
	var lines []string
	for _, s := range []string{"rivers", "copper", "rain", "volcanoes", "tea", "bridges"} {
		lines = append(lines, fmt.Sprintf("Write two sentences about %s.", s))
	}
	if err := os.WriteFile(prompts, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x5eed))
	var out []Result
	var firstRef string
	for _, sc := range scenarios(prompts) {
		if c.Scenarios != nil && !slices.Contains(c.Scenarios, sc.name) {
			continue
		}
		res, ref, err := c.generation(ctx, sc, rng)
		if err != nil {
			return out, fmt.Errorf("%s: %w", sc.name, err)
		}
		out = append(out, res)
		if firstRef == "" {
			firstRef = ref
		}
	}
	if firstRef == "" {
		return out, nil
	}
	for _, name := range []string{"export", "fresh"} {
		if c.Scenarios != nil && !slices.Contains(c.Scenarios, name) {
			continue
		}
		var res Result
		var err error
		if name == "export" {
			res, err = c.exportCampaign(ctx, firstRef, rng)
		} else {
			res, err = c.freshCampaign(ctx, firstRef, rng, scenarios(prompts)[0])
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// run starts synthkit with args and, if killAfter > 0, SIGKILLs it then.
// It returns the exit status (-1 when killed) and how long it ran.
func (c *Config) run(ctx context.Context, args []string, killAfter time.Duration) (code int, took time.Duration, stderr string, err error) {
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	var eb bytes.Buffer
	cmd.Stderr = &eb
	cmd.Stdout = io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	if killAfter > 0 {
		select {
		case werr = <-done:
		case <-time.After(killAfter):
			cmd.Process.Signal(syscall.SIGKILL)
			werr = <-done
		}
	} else {
		werr = <-done
	}
	took = time.Since(start)
	var ee *exec.ExitError
	switch {
	case werr == nil:
		return 0, took, eb.String(), nil
	case errors.As(werr, &ee):
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return -1, took, eb.String(), nil
		}
		return ee.ExitCode(), took, eb.String(), nil
	}
	return 0, took, eb.String(), werr
}

// finished reports a run that ended on its own (not killed, not failed).
func finished(code int) bool { return code == 0 || code == 5 }

func (c *Config) generation(ctx context.Context, sc scenario, rng *rand.Rand) (Result, string, error) {
	res := Result{Scenario: sc.name}
	ref := filepath.Join(c.Work, sc.name+"-reference")
	code, took, stderr, err := c.run(ctx, sc.args(c, ref), 0)
	if err != nil || !finished(code) {
		return res, ref, fmt.Errorf("reference run: exit %d, %v\n%s", code, err, stderr)
	}
	fmt.Fprintf(c.Log, "%s: reference run took %s (exit %d)\n", sc.name, took.Round(time.Millisecond), code)
	// Each crashed directory is run until it finishes, killed at random
	// moments on the way; then a new one starts, until enough kills landed.
	for dirs := 0; res.Kills < c.Kills || dirs == 0; dirs++ {
		crash := filepath.Join(c.Work, fmt.Sprintf("%s-crashed-%d", sc.name, dirs))
		for {
			// Anywhere from process start to a little past the reference
			// run's length: startup, generation, journal writes, export.
			at := time.Duration(rng.Float64() * 1.2 * float64(took))
			code, _, stderr, err := c.run(ctx, sc.args(c, crash), max(at, time.Millisecond))
			res.Runs++
			if err != nil {
				return res, ref, err
			}
			if code == -1 {
				res.Kills++
				continue
			}
			if !finished(code) {
				res.Problems = append(res.Problems, fmt.Sprintf("%s: run %d exited %d: %s", filepath.Base(crash), res.Runs, code, lastLine(stderr)))
			} else {
				res.Problems = append(res.Problems, compareRuns(ref, crash, &res)...)
			}
			break
		}
	}
	fmt.Fprintf(c.Log, "%s: %d kills over %d runs\n", sc.name, res.Kills, res.Runs)
	return res, ref, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// compareRuns checks that the crashed run holds exactly the reference's
// units with the same rows, the same counts, and the same Parquet files.
func compareRuns(ref, crash string, res *Result) []string {
	var problems []string
	a, err := rowsByUnit(ref)
	if err != nil {
		return []string{err.Error()}
	}
	b, err := rowsByUnit(crash)
	if err != nil {
		return []string{err.Error()}
	}
	res.Units = len(a)
	for u, ra := range a {
		rb, ok := b[u]
		switch {
		case !ok:
			problems = append(problems, "unit "+u+" lost")
		case ra != rb:
			problems = append(problems, "unit "+u+" differs")
		}
	}
	for u := range b {
		if _, ok := a[u]; !ok {
			problems = append(problems, "unit "+u+" only in the crashed run")
		}
	}
	ma, err1 := export.ReadManifest(ref)
	mb, err2 := export.ReadManifest(crash)
	if err := errors.Join(err1, err2); err != nil {
		return append(problems, err.Error())
	}
	res.Units = int(ma.Counts.Generated)
	if ca, cb := fmt.Sprint(ma.Counts), fmt.Sprint(mb.Counts); ca != cb {
		problems = append(problems, fmt.Sprintf("counts differ: reference %s, crashed %s", ca, cb))
	}
	fa, err1 := treeHashes(ref, "data")
	fb, err2 := treeHashes(crash, "data")
	if err := errors.Join(err1, err2); err != nil {
		return append(problems, err.Error())
	}
	if !mapsEqual(fa, fb) {
		problems = append(problems, fmt.Sprintf("Parquet files differ: reference %v, crashed %v", fa, fb))
	}
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("… and %d more", len(problems)-10))
	}
	return problems
}

// rowsByUnit reads a run's accepted rows as canonical JSON per unit.
func rowsByUnit(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := export.ReadRows(dir, func(unit string, rows []export.Row) error {
		if _, dup := out[unit]; dup {
			return fmt.Errorf("%s: unit %s read twice", dir, unit)
		}
		b, err := json.Marshal(rows)
		out[unit] = string(b)
		return err
	})
	return out, err
}

// treeHashes hashes every file under dir/sub.
func treeHashes(dir, sub string) (map[string]string, error) {
	out := map[string]string{}
	root := filepath.Join(dir, sub)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return nil // no export: nothing was accepted
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(sum[:8])
		return nil
	})
	return out, err
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// copyRun copies a run's journal, vectors and run.json (not its export).
func copyRun(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "data" || rel == "README.md" || strings.HasSuffix(rel, ".lock") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// exportCampaign kills `synthkit export` of a copy of ref at random
// moments; the final export must equal ref's byte for byte.
func (c *Config) exportCampaign(ctx context.Context, ref string, rng *rand.Rand) (Result, error) {
	res := Result{Scenario: "export"}
	dir := filepath.Join(c.Work, "export-crashed")
	if err := copyRun(ref, dir); err != nil {
		return res, err
	}
	_, took, _, err := c.run(ctx, []string{"export", ref}, 0)
	if err != nil {
		return res, err
	}
	for res.Kills < c.Kills && res.Runs < 20*c.Kills {
		at := time.Duration(rng.Float64() * 1.5 * float64(took))
		code, _, stderr, err := c.run(ctx, []string{"export", dir}, max(at, time.Millisecond))
		res.Runs++
		if err != nil {
			return res, err
		}
		if code == -1 {
			res.Kills++
		} else if code != 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("export after %d kills exited %d: %s", res.Kills, code, lastLine(stderr)))
		}
	}
	code, _, stderr, err := c.run(ctx, []string{"export", dir}, 0)
	res.Runs++
	if err != nil || code != 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("final export exited %d: %v %s", code, err, lastLine(stderr)))
		return res, nil
	}
	fa, err1 := treeHashes(ref, "data")
	fb, err2 := treeHashes(dir, "data")
	if err := errors.Join(err1, err2); err != nil {
		return res, err
	}
	res.Units = len(fa)
	if !mapsEqual(fa, fb) {
		res.Problems = append(res.Problems, fmt.Sprintf("export after kills differs: %v vs %v", fa, fb))
	}
	return res, nil
}

// freshCampaign kills `--fresh` runs over a copy of ref: every kill must
// leave the previous complete run intact somewhere (moved aside, never
// deleted), and the final run must equal ref.
func (c *Config) freshCampaign(ctx context.Context, ref string, rng *rand.Rand, sc scenario) (Result, error) {
	res := Result{Scenario: "fresh"}
	dir := filepath.Join(c.Work, "fresh-crashed")
	if err := copyRun(ref, dir); err != nil {
		return res, err
	}
	want, err := rowsByUnit(ref)
	if err != nil {
		return res, err
	}
	_, took, _, _ := c.run(ctx, append(sc.args(c, filepath.Join(c.Work, "fresh-timing")), "--fresh"), 0)
	for res.Kills < c.Kills && res.Runs < 20*c.Kills {
		at := time.Duration(rng.Float64() * 1.2 * float64(took))
		code, ran, stderr, err := c.run(ctx, append(sc.args(c, dir), "--fresh"), max(at, time.Millisecond))
		res.Runs++
		if err != nil {
			return res, err
		}
		if code != -1 {
			// The timing run may have paid a model load the later runs do
			// not: aim the next kills within a run as long as this one.
			took = ran
		}
		if code == -1 {
			res.Kills++
		} else if !finished(code) {
			res.Problems = append(res.Problems, fmt.Sprintf("--fresh after %d kills exited %d: %s", res.Kills, code, lastLine(stderr)))
		}
	}
	// The original complete run must survive among the moved-aside ones.
	olds, _ := filepath.Glob(dir + ".old-*")
	sort.Strings(olds)
	kept := false
	for _, o := range olds {
		if got, err := rowsByUnit(o); err == nil && len(got) == len(want) {
			same := true
			for u, r := range want {
				same = same && got[u] == r
			}
			kept = kept || same
		}
	}
	if !kept {
		res.Problems = append(res.Problems, fmt.Sprintf("the complete run that --fresh replaced is not intact in any of %d moved-aside folders", len(olds)))
	}
	code, _, stderr, err := c.run(ctx, append(sc.args(c, dir), "--fresh"), 0)
	res.Runs++
	if err != nil || !finished(code) {
		res.Problems = append(res.Problems, fmt.Sprintf("final --fresh run exited %d: %v %s", code, err, lastLine(stderr)))
		return res, nil
	}
	res.Problems = append(res.Problems, compareRuns(ref, dir, &res)...)
	return res, nil
}
