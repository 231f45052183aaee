package export

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPushRecipeFolder: a recipe's output folder uploads its combined card
// and every stage's run.json and shards under the stage's name (what the
// card's data_files point at), never a journal; stale stage shards are
// deleted, other remote files kept.
func TestPushRecipeFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		ok(t, os.MkdirAll(filepath.Dir(p), 0o755))
		ok(t, os.WriteFile(p, []byte(rel), 0o644))
	}
	for _, rel := range []string{"README.md", "recipe-state.json",
		"instr/run.json", "instr/README.md", "instr/data/train-00000-of-00001.parquet", "instr/journal/00000001.jsonl",
		"crit/run.json", "crit/critiques_sft/train-00000-of-00001.parquet", "crit/vectors/v.bin",
		"notes/readme.txt"} {
		write(rel)
	}
	files, err := localFiles(dir)
	ok(t, err)
	var got []string
	for _, f := range files {
		got = append(got, f.path)
	}
	want := []string{"README.md", "crit/critiques_sft/train-00000-of-00001.parquet", "crit/run.json",
		"instr/data/train-00000-of-00001.parquet", "instr/run.json"}
	if !slices.Equal(got, want) {
		t.Fatalf("recipe folder uploads %v, want %v", got, want)
	}
	remote := map[string]remoteEntry{
		"instr/data/train-00000-of-00002.parquet": {}, "instr/data/train-00001-of-00002.parquet": {},
		"instr/other.parquet": {}, "extra/notes.md": {},
	}
	_, _, deleted := plan(files, remote, false)
	if !slices.Equal(deleted, []string{"instr/data/train-00000-of-00002.parquet", "instr/data/train-00001-of-00002.parquet"}) {
		t.Fatalf("deleted %v", deleted)
	}

	// A run directory is unchanged by this: its own files only.
	ok(t, os.Remove(filepath.Join(dir, "recipe-state.json")))
	if _, err := localFiles(dir); err != nil {
		t.Fatal(err)
	}
	files, err = localFiles(filepath.Join(dir, "instr"))
	ok(t, err)
	got = got[:0]
	for _, f := range files {
		got = append(got, f.path)
	}
	if !slices.Equal(got, []string{"README.md", "data/train-00000-of-00001.parquet", "run.json"}) {
		t.Fatalf("run directory uploads %v", got)
	}
}
