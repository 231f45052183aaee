package export

import (
	"context"
	"testing"
)

// A critique whose revisions kept the answer unchanged has no preference
// pair (chosen would equal rejected); its SFT row stays.
func TestUnchangedCritiqueMakesNoPair(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, testManifest(), false)
	changed := critiqueFixture(1)
	same := critiqueFixture(2)
	for i := range same.Steps {
		same.Steps[i].Revision = same.Initial
	}
	ok(t, r.Add("c1", Provenance{}, changed))
	ok(t, r.Add("c2", Provenance{}, same))
	ok(t, r.Finish())
	ok(t, r.Close())
	res, err := Export(context.Background(), dir, ExportOptions{})
	ok(t, err)
	rows := map[string]int64{}
	for _, c := range res.Configs {
		rows[c.Name] = c.Rows
	}
	if rows[ConfigCritiquePreferences] != 1 || rows[ConfigCritiqueSFT] != 2 || rows[ConfigCritiques] != 2 {
		t.Fatalf("rows per config %v: want 2 critiques, 2 SFT rows and 1 pair", rows)
	}
}
