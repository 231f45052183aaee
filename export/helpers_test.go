package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func testManifest() Manifest {
	return Manifest{
		Version: "test",
		Command: []string{"synthkit", "self-instruct", "--model", "tiny:latest", "--seed", "7", "--out", "out/run"},
		Method:  "self-instruct",
		Models: []ModelInfo{{Name: "tiny:latest", Role: "generator", Digest: "sha256:" + strings.Repeat("ab", 32),
			Family: "llama", ParameterSize: "1M", Quantization: "F32", ContextLength: 2048}},
		Options:        map[string]any{"temperature": 0.7, "num_ctx": 2048},
		Seed:           7,
		TemplateHashes: map[string]string{"self-instruct/generate": "sha256:" + strings.Repeat("cd", 32)},
	}
}

func unitID(i int) string { return fmt.Sprintf("u%07d", i) }

// sftFixture is unit i's SFT row: deterministic, with text that stresses
// JSON and Parquet (quotes, newlines, markup, non-ASCII, long lines).
func sftFixture(i int) SFT {
	body := strings.Repeat(fmt.Sprintf("Step %d: compute \"x<%d>\" & print it\\n — naïve café 漢字 ", i, i%7), 3+i%5)
	return SFT{
		Messages: []Message{
			{Role: "system", Content: "You are terse."},
			{Role: "user", Content: fmt.Sprintf("Task %d:\nwrite <code> for {\"k\": %d}", i, i)},
			{Role: "assistant", Content: body},
		},
		Metadata: map[string]any{"index": i, "topic": []string{"a", "b", "c"}[i%3]},
	}
}

func mustOpen(t testing.TB, dir string, m Manifest, fresh bool) *Run {
	t.Helper()
	r, err := OpenRun(dir, m, fresh)
	if err != nil {
		t.Fatalf("OpenRun(%s): %v", dir, err)
	}
	return r
}

func addSFT(t testing.TB, r *Run, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := r.Add(unitID(i), Provenance{}, sftFixture(i)); err != nil {
			t.Fatalf("Add(%d): %v", i, err)
		}
	}
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// hashTree maps every file under root (relative path) to its SHA-256.
func hashTree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// parquetTree hashes only the exported Parquet files of a run.
func parquetTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range hashTree(t, dir) {
		if strings.HasSuffix(k, ".parquet") && !strings.HasPrefix(k, stagingDir) {
			out[k] = v
		}
	}
	return out
}

func equalMaps(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d files, want %d\ngot:  %v\nwant: %v", what, len(got), len(want), keys(got), keys(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: %s differs (got %.12s, want %.12s)", what, k, got[k], v)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// npmDir is where scripts/npm-tools.sh installs the independent readers.
func npmDir() string {
	if d := os.Getenv("SYNTHKIT_NPM_DIR"); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "synthkit", "npm")
}

// requireReaders fails (not skips) when the independent readers are
// missing, unless -short: a green run must have checked the files.
func requireReaders(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the independent Parquet readers (node)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed; the export tests read Parquet back with DuckDB and hyparquet from npm (run scripts/npm-tools.sh)")
	}
	for _, p := range []string{"@duckdb/node-api", "hyparquet", "hyparquet-compressors", "yaml"} {
		if _, err := os.Stat(filepath.Join(npmDir(), "node_modules", p, "package.json")); err != nil {
			t.Fatalf("%s is not installed in %s: run scripts/npm-tools.sh (or set SYNTHKIT_NPM_DIR)", p, npmDir())
		}
	}
}

// pqFile is pqdump.cjs's view of one Parquet file.
type pqFile struct {
	Path    string `json:"path"`
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
	Rows          []map[string]any `json:"rows"`
	NumRows       int64            `json:"num_rows"`
	NumRowGroups  int              `json:"num_row_groups"`
	CreatedBy     string           `json:"created_by"`
	Compression   []string         `json:"compression"`
	RowGroupBytes []int64          `json:"row_group_bytes"`
	PageIndex     bool             `json:"page_index"`
	HyRows        []map[string]any `json:"hyparquet_rows"`
}

func nodeDump(t testing.TB, out any, args ...string) {
	t.Helper()
	cmd := exec.Command("node", append([]string{filepath.Join("testdata", "pqdump.cjs")}, args...)...)
	cmd.Env = append(os.Environ(), "SYNTHKIT_NPM_DIR="+npmDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node pqdump.cjs %s: %v\n%s", args[0], err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decode pqdump output: %v", err)
	}
}

func dumpParquet(t testing.TB, files ...string) []pqFile {
	t.Helper()
	var out []pqFile
	nodeDump(t, &out, append([]string{"parquet"}, files...)...)
	return out
}

func parseCard(t testing.TB, path string) map[string]any {
	t.Helper()
	var out map[string]any
	nodeDump(t, &out, "card", path)
	return out
}
