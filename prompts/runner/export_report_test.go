package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synthkit/export"
)

// writeSFTRun journals n SFT rows (and their vectors) like a generating
// command, without a model.
func writeSFTRun(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	r, err := export.OpenRun(dir, export.Manifest{Version: "test", Method: "magpie", Seed: 1,
		Models: []export.ModelInfo{{Name: "m", Digest: "sha256:0"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	topics := []string{"rivers", "prime numbers", "bread", "volcanoes", "chess", "tax forms", "jazz", "bridges"}
	for i := range n {
		q := fmt.Sprintf("Explain %s to a %d year old, with example %d.", topics[i%len(topics)], 5+i%7, i)
		row := export.SFT{Messages: []export.Message{{Role: "user", Content: q}, {Role: "assistant", Content: "Sure."}}}
		if err := r.Add(fmt.Sprintf("u-%04d", i), export.Provenance{}, row); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Reject("x-0001", "empty_query", export.Provenance{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExportRunCardHasDiversityTable(t *testing.T) {
	dir := writeSFTRun(t, 60)
	var out bytes.Buffer
	if _, err := ExportRun(context.Background(), dir, export.ExportOptions{}, &out); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	card := string(first)
	for _, s := range []string{"### Diversity", "| Vendi score |", "| distinct-2 |", "| records measured | 60 |"} {
		if !strings.Contains(card, s) {
			t.Fatalf("card lacks %q:\n%s", s, card)
		}
	}
	// Same journal, same card, byte for byte (the sample is seeded).
	if _, err := ExportRun(context.Background(), dir, export.ExportOptions{}, &out); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	if !bytes.Equal(first, second) {
		t.Fatal("re-export changed the card")
	}
	if strings.Contains(out.String(), "left out") {
		t.Fatalf("export warned: %s", out.String())
	}
}

func TestExportRunSurvivesUnmeasurableRun(t *testing.T) {
	dir := writeSFTRun(t, 10)
	// Vectors of two sizes (an embedder changed under the run): the card
	// goes without the diversity table, the export goes on and says so.
	m, err := export.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := export.OpenRun(dir, *m, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, dim := range []int{4, 8} {
		v := make([]float32, dim)
		v[0] = 1
		if err := r.AddVector(fmt.Sprintf("u-%04d", i), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := ExportRun(context.Background(), dir, export.ExportOptions{}, &out); err != nil {
		t.Fatal(err)
	}
	card, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	if strings.Contains(string(card), "### Diversity") || !strings.Contains(out.String(), "diversity figures left out of the card") {
		t.Fatalf("output %q; card has the table: %v", out.String(), strings.Contains(string(card), "### Diversity"))
	}
}
