package export

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestSupersededUnitsAreNotExported: a unit marked superseded keeps its
// journal rows (ReadRows replays it) but is left out of the Parquet data,
// also across a resume; marking is idempotent.
func TestSupersededUnitsAreNotExported(t *testing.T) {
	tests := []struct {
		name        string
		supersede   []int
		wantParq    []string
		wantJournal int
	}{
		{"none marked", nil, []string{unitID(0), unitID(1), unitID(2), unitID(3)}, 4},
		{"two marked", []int{1, 3}, []string{unitID(0), unitID(2)}, 4},
		{"marked twice", []int{2, 2}, []string{unitID(0), unitID(1), unitID(3)}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			r := mustOpen(t, dir, testManifest(), false)
			addSFT(t, r, 0, 2)
			half := len(tt.supersede) / 2
			for _, i := range tt.supersede[:half] {
				ok(t, r.Supersede(unitID(i)))
			}
			ok(t, r.Close())
			// Resume: the marks replay, and more can be added.
			r = mustOpen(t, dir, testManifest(), false)
			for _, i := range tt.supersede[:half] {
				if !r.Superseded(unitID(i)) {
					t.Fatalf("%s not superseded after resume", unitID(i))
				}
			}
			addSFT(t, r, 2, 4)
			for _, i := range tt.supersede[half:] {
				ok(t, r.Supersede(unitID(i)))
			}
			if r.Superseded(unitID(0)) {
				t.Fatal("an unmarked unit reads as superseded")
			}
			ok(t, r.Finish())
			ok(t, r.Close())
			if _, err := Export(context.Background(), dir, ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "data", "*.parquet"))
			var ids []string
			for _, f := range files {
				rows, err := parquet.ReadFile[struct {
					ID string `parquet:"id"`
				}](f)
				ok(t, err)
				for _, row := range rows {
					ids = append(ids, row.ID)
				}
			}
			if !slices.Equal(ids, tt.wantParq) {
				t.Fatalf("Parquet ids %v, want %v", ids, tt.wantParq)
			}
			n := 0
			ok(t, ReadRows(dir, func(string, []Row) error { n++; return nil }))
			if n != tt.wantJournal {
				t.Fatalf("journal replays %d units, want %d (superseded rows stay in the journal)", n, tt.wantJournal)
			}
			// A later command reading this run as input sees the data, not the journal.
			var data []string
			ok(t, ReadDataRows(dir, func(u string, _ []Row) error { data = append(data, u); return nil }))
			if !slices.Equal(data, tt.wantParq) {
				t.Fatalf("ReadDataRows units %v, want %v (the exported ones)", data, tt.wantParq)
			}
		})
	}
}
