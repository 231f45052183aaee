package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenRun exports a fixed run with every config into dir.
func goldenRun(t *testing.T) (string, *ExportResult) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	order := make([]int, 40)
	for i := range order {
		order[i] = len(order) - 1 - i
	}
	mixedRun(t, dir, order)
	res, err := Export(context.Background(), dir, ExportOptions{MaxRowGroupBytes: 4 << 10, MaxShardBytes: 16 << 10})
	ok(t, err)
	if len(res.Configs) != len(knownConfigs) {
		t.Fatalf("golden run exports %d configs, want all %d", len(res.Configs), len(knownConfigs))
	}
	return dir, res
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		ok(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	ok(t, err)
	if got != string(want) {
		t.Fatalf("%s differs from what export writes now (run with -update only if the change is intended, and say so in the card):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestConfigSchemasGolden pins every config's Parquet schema as parquet-go
// writes it (names, order, physical and logical types, repetition,
// encodings) and the bytes of every file of a fixed run: a refactor of the
// config specs must change neither.
func TestConfigSchemasGolden(t *testing.T) {
	dir, res := goldenRun(t)
	var schemas, hashes strings.Builder
	for _, c := range res.Configs {
		f, err := os.Open(filepath.Join(dir, c.Files[0]))
		ok(t, err)
		st, err := f.Stat()
		ok(t, err)
		pf, err := parquet.OpenFile(f, st.Size())
		ok(t, err)
		fmt.Fprintf(&schemas, "# %s\n%s\n\n", c.Name, pf.Schema())
		f.Close()
		for _, name := range c.Files {
			b, err := os.ReadFile(filepath.Join(dir, name))
			ok(t, err)
			sum := sha256.Sum256(b)
			fmt.Fprintf(&hashes, "%s %s\n", hex.EncodeToString(sum[:]), name)
		}
	}
	golden(t, "schemas.parquet-go.golden", schemas.String())
	golden(t, "files.sha256.golden", hashes.String())
}

// TestConfigSchemasDuckDB pins every config's columns as DuckDB reads them.
func TestConfigSchemasDuckDB(t *testing.T) {
	requireReaders(t)
	dir, res := goldenRun(t)
	var b strings.Builder
	for _, c := range res.Configs {
		dump := dumpParquet(t, filepath.Join(dir, c.Files[0]))
		fmt.Fprintf(&b, "# %s\n", c.Name)
		for _, col := range dump[0].Columns {
			fmt.Fprintf(&b, "%s %s\n", col.Name, col.Type)
		}
		b.WriteString("\n")
	}
	golden(t, "schemas.duckdb.golden", b.String())
}
