package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"synthkit/local"
	"synthkit/local/ollamatest"
	"synthkit/progress"
)

// TestProgressOutputs runs a real generation (stderr not a terminal) in
// each output mode and reads stderr back as a CI log or a machine would.
func TestProgressOutputs(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	periodic := regexp.MustCompile(`(?m)^magpie  \d+/12 \(\d+%\)  accepted \d+  rejected \d+  \d+ tok/s  ETA \S+  concurrency \d+$`)
	final := regexp.MustCompile(`(?m)^magpie  12/12 \(100%\)  accepted 12  rejected \d+  \d+ tok/s  ETA 0s  concurrency \d+  finished$`)
	tests := []struct {
		name  string
		flags []string
		check func(t *testing.T, stderr string, accepted int64)
	}{
		{"plain lines", []string{"--progress-interval", "100ms"}, func(t *testing.T, stderr string, _ int64) {
			if !periodic.MatchString(stderr) || !final.MatchString(stderr) {
				t.Fatalf("want periodic lines and a final line:\n%s", stderr)
			}
			if f, s := final.FindStringIndex(stderr), strings.Index(stderr, "done in"); s < f[1] {
				t.Fatalf("the summary comes before the final line:\n%s", stderr)
			}
		}},
		{"json", []string{"--log-format", "json"}, func(t *testing.T, stderr string, accepted int64) {
			var kinds []string
			var last map[string]any
			for i, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
				var e map[string]any
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatalf("stderr line %d is not JSON: %v\n%s", i+1, err, l)
				}
				kinds = append(kinds, e["event"].(string))
				if e["event"] == "done" && (e["stage"] != "magpie" || e["target"] != 12.0 || e["done"] != 12.0) {
					t.Fatalf("done event %v", e)
				}
				last = e
			}
			joined := strings.Join(kinds, " ")
			if !strings.HasPrefix(joined, "progress") || !strings.Contains(joined, "done summary") {
				t.Fatalf("events %s", joined)
			}
			if last["event"] != "summary" || last["accepted"] != float64(accepted) || last["requests"].(float64) < 12 {
				t.Fatalf("the last object is not the summary of the run: %v", last)
			}
		}},
		{"quiet", []string{"--quiet"}, func(t *testing.T, stderr string, _ int64) {
			if stderr != "" {
				t.Fatalf("--quiet printed %q", stderr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(base, strings.ReplaceAll(tt.name, " ", "-"))
			args := append([]string{"instruct", "--method", "magpie", "--model", ollamatest.TinyModel, "-n", "12"}, common(host, out)...)
			code, stdout, stderr := runCLI(t, append(args, tt.flags...)...)
			if code != exitOK {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, "dataset card") {
				t.Fatalf("stdout lacks the export listing: %s", stdout)
			}
			if n := parquetRows(t, out); n != 12 {
				t.Fatalf("%d Parquet rows", n)
			}
			tt.check(t, stderr, manifestOf(t, out).Counts.Accepted)
		})
	}
}

func TestLogFormatFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"doctor", "--log-format", "yaml"}, "--log-format must be text or json"},
		{[]string{"models", "list", "--progress-interval", "0s"}, "--progress-interval must be positive"},
	}
	for cmd, want := range map[string]bool{"instruct": true, "models": true, "export": false} {
		if _, out, _ := runCLI(t, cmd, "--help"); strings.Contains(out, "LOG FORMAT") != want || want && !strings.Contains(out, `"tokens_per_s"`) {
			t.Errorf("%s --help documents the JSON fields: %v, want %v", cmd, !want, want)
		}
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
}

// TestPullBarModes: model downloads obey --quiet and --log-format too.
func TestPullBarModes(t *testing.T) {
	steps := []local.PullProgress{{Status: "pulling manifest"}, {Status: "pulling 6a0746a1ec1a", Digest: "sha256:6a07", Total: 1000, Completed: 400},
		{Status: "pulling 6a0746a1ec1a", Digest: "sha256:6a07", Total: 1000, Completed: 1000}, {Status: "success"}}
	tests := []struct {
		name  string
		g     globalOptions
		check func(t *testing.T, out string)
	}{
		{"text", globalOptions{format: progress.FormatText}, func(t *testing.T, out string) {
			// Not a terminal: each new status once (byte counts at most every 5 s).
			if out != "pulling manifest\nsuccess\n" {
				t.Fatalf("text pull output %q", out)
			}
		}},
		{"json", globalOptions{format: progress.FormatJSON}, func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if len(lines) != 3 { // each new status once
				t.Fatalf("%d objects, want 3:\n%s", len(lines), out)
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e["event"] != "pull" || e["digest"] != "sha256:6a07" ||
				e["total"] != 1000.0 || e["completed"] != 400.0 {
				t.Fatalf("pull object %v (%v)", e, err)
			}
		}},
		{"quiet", globalOptions{quiet: true}, func(t *testing.T, out string) {
			if out != "" {
				t.Fatalf("--quiet printed %q", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			bar := tt.g.newPullBar(&b)
			for _, p := range steps {
				bar.update(p)
			}
			bar.done()
			tt.check(t, b.String())
		})
	}
}
