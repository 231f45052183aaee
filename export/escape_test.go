package export

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportStaysInDir: names that come from a run's data (unit ids,
// metadata, provenance, rejection reasons, the card's title, the default
// config) never become paths. Export writes only under DIR, and only the
// fixed names of the Hub layout.
func TestExportStaysInDir(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "out", "run")
	m := testManifest()
	m.Method = "../../method"
	m.Models[0].Name = "../../../model:latest"
	r := mustOpen(t, dir, m, false)
	evil := []string{"../escape", "../../etc/passwd", "/abs/path", "a/../../b", `..\win`, "data/../../x", "sft/../../../y"}
	for i, id := range evil {
		row := sftFixture(i)
		row.Metadata = map[string]any{"config": "../" + id, "path": id, "file": "../../README.md"}
		ok(t, r.Add(id, Provenance{Method: id, Model: id, TemplateHash: id}, row))
		ok(t, r.Reject(id+"-r", "../"+id, Provenance{Method: id}))
	}
	ok(t, r.Close())
	before := listFiles(t, base)

	_, err := Export(context.Background(), dir, ExportOptions{PrettyName: "../../name", Repo: "../../repo", DefaultConfig: "../sft",
		ReasonMeanings: map[string]string{"../x": "../../y"}})
	if err != nil && !strings.Contains(err.Error(), "config") {
		t.Fatal(err)
	}
	if err != nil { // an unknown default config is refused; export without it
		_, err = Export(context.Background(), dir, ExportOptions{PrettyName: "../../name", Repo: "../../repo"})
		ok(t, err)
	}
	after := listFiles(t, base)
	allowed := []string{"out/run/run.json", "out/run/README.md", "out/run/journal/", "out/run/vectors/", "out/run/data/", "out/run/data/train-"}
	for f := range after {
		if before[f] {
			continue
		}
		good := false
		for _, a := range allowed {
			if f == a || strings.HasPrefix(f, a) && !strings.Contains(strings.TrimPrefix(f, a), "/") {
				good = true
			}
		}
		if !good {
			t.Errorf("export wrote %s, outside the fixed layout of %s", f, dir)
		}
	}
	if len(after) == len(before) {
		t.Fatal("export wrote nothing")
	}
}

// listFiles lists every file and directory under root (slash paths, with
// a trailing slash for directories).
func listFiles(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		out[rel] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	delete(out, "./")
	return out
}
