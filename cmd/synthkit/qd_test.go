package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/local/ollamatest"
	"synthkit/prompts"
)

// qdParquetRow is what a QD run's Parquet rows are read back as.
type qdParquetRow struct {
	ID       string           `parquet:"id"`
	Messages []export.Message `parquet:"messages,list"`
	Metadata string           `parquet:"metadata"`
	Method   string           `parquet:"method"`
}

// TestQDAgainstOllama runs --diversity qd end to end against the real
// server with the tiny models as generator and judge, for each mutation
// operator: -n candidates are evaluated, the Parquet file holds one elite
// per filled cell with the qd_ metadata contract, replaced elites are in
// the journal but not in Parquet, run.json and the run state describe the
// archive, the card has its table, and a rerun changes nothing.
func TestQDAgainstOllama(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	promptFile := filepath.Join(base, "prompts.txt")
	os.WriteFile(promptFile, []byte("Explain how rivers form.\nGive three uses of copper.\nWrite a haiku about rain.\n"), 0o644)
	axesFile := filepath.Join(base, "axes.yaml")
	os.WriteFile(axesFile, []byte("axes:\n  - name: topic\n    labels: [nature, people, things]\n  - name: level\n    ordinal: true\n    labels: [easy, hard]\n"), 0o644)

	tests := []struct {
		name, method string
		judge        string
		args         []string
		cells        int
	}{
		{"self-instruct", "qd-self-instruct", ollamatest.TinyModelB, []string{"--method", "self-instruct"}, 144},
		{"evol with axes file", "qd-evol-instruct", ollamatest.TinyModelB, []string{"--method", "evol", "--prompts", promptFile, "--axes", axesFile}, 6},
		// The generator judges itself: one model, two roles.
		{"magpie", "qd-magpie", ollamatest.TinyModel, []string{"--method", "magpie", "--qd-labels", "schema"}, 144},
	}
	const n = 8
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(base, strings.Fields(tt.name)[0])
			args := append([]string{"instruct", "--model", ollamatest.TinyModel, "--diversity", "qd", "--judge", tt.judge,
				"-n", "8", "--json-retries", "1"}, tt.args...)
			args = append(args, common(host, out)...)
			code, stdout, stderr := runCLI(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			m := manifestOf(t, out)
			if m.Method != tt.method || m.Options["diversity"] != "qd" || len(m.Models) != 2 || m.Models[1].Role != "judge" ||
				m.TemplateHashes["qd axes"] == "" || m.Counts.Generated != n {
				t.Fatalf("run.json: method %q options %v models %+v hashes %v counts %+v", m.Method, m.Options, m.Models, m.TemplateHashes, m.Counts)
			}
			t.Logf("counts %+v", m.Counts)
			if !strings.Contains(stderr, "QD-score") || !strings.Contains(stderr, "coverage") {
				t.Errorf("stderr does not show the QD-score and coverage:\n%s", stderr)
			}
			// The summary (after the invocation line) repeats the final figure.
			if _, after, _ := strings.Cut(stderr, "this invocation:"); !strings.Contains(after, "QD-score") {
				t.Errorf("the summary does not end with the QD-score:\n%s", stderr)
			}

			// The run state names every axis and label, for the report.
			run, err := export.OpenRun(out, *m, false)
			if err != nil {
				t.Fatal(err)
			}
			var axes []diversity.Axis
			found, err := run.State(prompts.StateQDAxes, &axes)
			run.Close()
			cells := 1
			for _, a := range axes {
				cells *= len(a.Labels)
			}
			if !found || err != nil || cells != tt.cells {
				t.Fatalf("run state qd_axes: %+v (found %v, %v), %d cells, want %d", axes, found, err, cells, tt.cells)
			}

			// Parquet holds the final archive: one elite per filled cell.
			files, _ := filepath.Glob(filepath.Join(out, "data", "*.parquet"))
			if len(files) == 0 {
				t.Fatalf("no Parquet written (counts %+v)", m.Counts)
			}
			var rows []qdParquetRow
			for _, f := range files {
				rs, err := parquet.ReadFile[qdParquetRow](f)
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, rs...)
			}
			seenCells := map[string]string{}
			for _, r := range rows {
				var md map[string]any
				if err := json.Unmarshal([]byte(r.Metadata), &md); err != nil {
					t.Fatalf("%s metadata %q: %v", r.ID, r.Metadata, err)
				}
				cell, _ := md["qd_cell"].(map[string]any)
				q, okQ := md["qd_quality"].(float64)
				it, okIt := md["qd_iteration"].(float64)
				if len(cell) != len(axes) || !okQ || q < 0 || q > 1 || !okIt || it < 0 || it >= n || it != float64(int(it)) {
					t.Fatalf("%s metadata %v breaks the qd_ contract", r.ID, md)
				}
				for _, a := range axes {
					if l, _ := cell[a.Name].(string); !slices.Contains(a.Labels, l) {
						t.Fatalf("%s: %s label %q is not on the axis", r.ID, a.Name, l)
					}
				}
				key, _ := json.Marshal(cell)
				if prev, dup := seenCells[string(key)]; dup {
					t.Fatalf("cell %s exported twice: %s and %s", key, prev, r.ID)
				}
				seenCells[string(key)] = r.ID
				if r.Method != tt.method || len(r.Messages) < 2 || r.Messages[len(r.Messages)-1].Role != "assistant" {
					t.Fatalf("row %+v", r)
				}
			}
			journal := journalRows(t, out)
			if int64(len(journal)) != m.Counts.Accepted || len(rows) > len(journal) || len(rows) == 0 {
				t.Fatalf("%d Parquet rows, %d accepted in the journal (counts %+v)", len(rows), len(journal), m.Counts)
			}
			card, _ := os.ReadFile(filepath.Join(out, "README.md"))
			if !strings.Contains(string(card), "QDAIF archive") {
				t.Errorf("the card has no QDAIF table")
			}

			// Rerun: nothing left to evaluate.
			code, _, stderr = runCLI(t, args...)
			if code != exitOK || !strings.Contains(stderr, "resuming") {
				t.Fatalf("rerun: exit %d\n%s", code, stderr)
			}
			if after := manifestOf(t, out).Counts; after.Generated != n || after.Accepted != m.Counts.Accepted {
				t.Fatalf("rerun changed counts %+v → %+v", m.Counts, after)
			}
		})
	}
}

// TestQDBadUsage: mistakes are refused with exit 2 before any run
// directory exists, and the message says what to fix.
func TestQDBadUsage(t *testing.T) {
	base := t.TempDir()
	badAxes := filepath.Join(base, "axes.yaml")
	os.WriteFile(badAxes, []byte("axes:\n  - name: topic\n    labels: [nature]\n"), 0o644)
	unknownKey := filepath.Join(base, "unknown.yaml")
	os.WriteFile(unknownKey, []byte("axes:\n  - name: topic\n    lables: [a, b]\n"), 0o644)
	prompts := filepath.Join(base, "p.txt")
	os.WriteFile(prompts, []byte("Explain tides.\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no judge", []string{"instruct", "--model", "m", "--diversity", "qd"}, "--diversity qd needs --judge"},
		{"one label", []string{"instruct", "--model", "m", "--diversity", "qd", "--judge", "j", "--axes", badAxes}, "axes.yaml:3: axis \"topic\" has 1 labels"},
		{"unknown key", []string{"instruct", "--model", "m", "--diversity", "qd", "--judge", "j", "--axes", unknownKey}, "unknown.yaml:3: unknown key \"lables\""},
		{"missing file", []string{"instruct", "--model", "m", "--diversity", "qd", "--judge", "j", "--axes", filepath.Join(base, "nope.yaml")}, "nope.yaml"},
		{"axes without qd", []string{"instruct", "--model", "m", "--axes", badAxes}, "go with --diversity qd"},
		{"rounds with qd", []string{"instruct", "--method", "evol", "--prompts", prompts, "--rounds", "2", "--model", "m", "--diversity", "qd", "--judge", "j"}, "--rounds does not go"},
		{"bad labels mode", []string{"instruct", "--model", "m", "--diversity", "qd", "--judge", "j", "--qd-labels", "vibes"}, "--qd-labels must be"},
		{"qd on respond", []string{"respond", "--prompts", prompts, "--models", "m", "--diversity", "qd"}, "synthkit instruct"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(base, "out-"+strings.ReplaceAll(tt.name, " ", "-"))
			// No server is needed: validation comes first.
			code, _, stderr := runCLI(t, append(tt.args, "--out", out, "--ollama", "http://127.0.0.1:1")...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("%s was created", out)
			}
		})
	}
}
