package diversity

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func testAxes() []Axis {
	return []Axis{
		{Name: "domain", Labels: []string{"science", "history", "cooking", "sport"}},
		{Name: "difficulty", Labels: []string{"easy", "medium", "hard"}, Ordinal: true},
	}
}

func mustArchive(t *testing.T, axes []Axis) *Archive {
	t.Helper()
	a, err := NewArchive(axes)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNewArchiveRefusesBadAxes(t *testing.T) {
	many := make([]string, 101)
	for i := range many {
		many[i] = strings.Repeat("x", i+1)
	}
	tests := []struct {
		name string
		axes []Axis
		want string
	}{
		{"no axes", nil, "at least one axis"},
		{"no name", []Axis{{Labels: []string{"a", "b"}}}, "no name"},
		{"one label", []Axis{{Name: "x", Labels: []string{"a"}}}, "two labels"},
		{"duplicate label", []Axis{{Name: "x", Labels: []string{"a", "a"}}}, "twice"},
		{"empty label", []Axis{{Name: "x", Labels: []string{"a", " "}}}, "empty label"},
		{"duplicate axis", []Axis{{Name: "x", Labels: []string{"a", "b"}}, {Name: "x", Labels: []string{"c", "d"}}}, "named twice"},
		{"too many cells", []Axis{{Name: "x", Labels: many}, {Name: "y", Labels: many}}, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewArchive(tt.axes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestArchiveInsertReplacesOnlyWhenStrictlyBetter(t *testing.T) {
	a := mustArchive(t, testAxes())
	c := Cell{1, 2}
	steps := []struct {
		id       string
		q        float64
		inserted bool
		replaced string
		score    float64
	}{
		{"a", 0.5, true, "", 0.5},  // empty cell: enters
		{"b", 0.5, false, "", 0.5}, // equal: the incumbent stays
		{"c", 0.4, false, "", 0.5}, // worse: stays
		{"d", 0.7, true, "a", 0.7}, // strictly better: replaces
		{"e", 0.69, false, "", 0.7},
	}
	for _, s := range steps {
		ok, old, err := a.Insert(c, Elite{ID: s.id, Quality: s.q})
		if err != nil {
			t.Fatal(err)
		}
		gotOld := ""
		if old != nil {
			gotOld = old.ID
		}
		if ok != s.inserted || gotOld != s.replaced || math.Abs(a.QDScore()-s.score) > 1e-12 {
			t.Fatalf("insert %s (%.2f): inserted %v replaced %q score %v; want %v %q %v", s.id, s.q, ok, gotOld, a.QDScore(), s.inserted, s.replaced, s.score)
		}
	}
	if e, _ := a.Elite(c); e.ID != "d" || a.Filled() != 1 {
		t.Fatalf("elite %+v filled %d", e, a.Filled())
	}
	if ok, _, _ := a.Insert(Cell{0, 0}, Elite{ID: "f", Quality: 0.2}); !ok {
		t.Fatal("an empty cell refused a candidate")
	}
	if a.Filled() != 2 || math.Abs(a.Coverage()-2.0/12) > 1e-12 || math.Abs(a.QDScore()-0.9) > 1e-12 {
		t.Fatalf("filled %d coverage %v score %v", a.Filled(), a.Coverage(), a.QDScore())
	}
	for _, bad := range []struct {
		c Cell
		q float64
	}{{Cell{0, 0}, 1.5}, {Cell{0, 0}, -0.1}, {Cell{0, 0}, math.NaN()}, {Cell{4, 0}, 0.5}, {Cell{0}, 0.5}} {
		if _, _, err := a.Insert(bad.c, Elite{ID: "x", Quality: bad.q}); err == nil {
			t.Errorf("Insert(%v, %v) accepted", bad.c, bad.q)
		}
	}
	if !a.Better(Cell{3, 1}, 0) || a.Better(c, 0.7) || !a.Better(c, 0.71) {
		t.Fatal("Better disagrees with Insert's rule")
	}
	// Restore undoes an insert: the old elite back, or the cell empty.
	_, old, _ := a.Insert(c, Elite{ID: "g", Quality: 0.8})
	if err := a.Restore(c, old); err != nil {
		t.Fatal(err)
	}
	if e, _ := a.Elite(c); e.ID != "d" || math.Abs(a.QDScore()-0.9) > 1e-12 || a.Filled() != 2 {
		t.Fatalf("after Restore: elite %+v score %v filled %d", e, a.QDScore(), a.Filled())
	}
	a.Insert(Cell{3, 1}, Elite{ID: "h", Quality: 0.4})
	a.Restore(Cell{3, 1}, nil)
	if _, ok := a.Elite(Cell{3, 1}); ok || a.Filled() != 2 || math.Abs(a.QDScore()-0.9) > 1e-12 {
		t.Fatalf("Restore(nil) left the cell filled (filled %d, score %v)", a.Filled(), a.QDScore())
	}
}

func TestArchiveDistance(t *testing.T) {
	a := mustArchive(t, testAxes())
	tests := []struct {
		x, y Cell
		want int
	}{
		{Cell{0, 0}, Cell{0, 0}, 0},
		{Cell{0, 0}, Cell{3, 0}, 1}, // categorical: any other label is one step
		{Cell{0, 0}, Cell{0, 1}, 1},
		{Cell{0, 0}, Cell{0, 2}, 2}, // ordinal: easy → hard is two steps
		{Cell{1, 2}, Cell{2, 0}, 3},
	}
	for _, tt := range tests {
		if got := a.Distance(tt.x, tt.y); got != tt.want || a.Distance(tt.y, tt.x) != tt.want {
			t.Errorf("Distance(%v, %v) = %d, want %d (both ways)", tt.x, tt.y, got, tt.want)
		}
	}
}

func TestArchiveTargetPrefersEmptyLeastTriedCells(t *testing.T) {
	a := mustArchive(t, testAxes())
	rng := rand.New(rand.NewPCG(1, 2))
	for ix := 0; ix < a.Total()-2; ix++ {
		a.Insert(a.cell(ix), Elite{ID: "e", Quality: 0.9})
	}
	empty := []Cell{a.cell(a.Total() - 2), a.cell(a.Total() - 1)}
	seen := map[int]int{}
	for i := 0; i < 10; i++ {
		c := a.Target(rng)
		if !slices.ContainsFunc(empty, func(e Cell) bool { return slices.Equal(e, c) }) {
			t.Fatalf("target %v is filled while %v are empty", c, empty)
		}
		ix, _ := a.index(c)
		seen[ix]++
	}
	// Least tried first: the two empty cells take turns.
	for ix, n := range seen {
		if n != 5 {
			t.Fatalf("cell %d targeted %d times of 10, want 5 (%v)", ix, n, seen)
		}
	}
	// Full archive: the weakest quarter (3 of 12 cells) is the target,
	// each of them in turn.
	full := mustArchive(t, testAxes())
	for ix := 0; ix < full.Total(); ix++ {
		full.Insert(full.cell(ix), Elite{ID: "e", Quality: 0.9 - float64((ix*5)%12)/20})
	}
	weak := map[float64]int{}
	for i := 0; i < 9; i++ {
		e, _ := full.Elite(full.Target(rng))
		weak[e.Quality]++
	}
	if len(weak) != 3 || weak[0.9-11.0/20] != 3 || weak[0.9-10.0/20] != 3 || weak[0.9-9.0/20] != 3 {
		t.Fatalf("full archive targets by quality %v, want the three weakest three times each", weak)
	}
}

func TestArchiveParentsAreNearAndDistinct(t *testing.T) {
	a := mustArchive(t, testAxes())
	// Fill everything; ids name the cell.
	for ix := 0; ix < a.Total(); ix++ {
		a.Insert(a.cell(ix), Elite{ID: string(rune('A' + ix)), Quality: 0.5})
	}
	target := Cell{0, 0}
	rng := rand.New(rand.NewPCG(7, 7))
	byDist := map[int]int{}
	for i := 0; i < 2000; i++ {
		ps := a.Parents(target, 3, rng)
		if len(ps) != 3 {
			t.Fatalf("%d parents, want 3", len(ps))
		}
		ids := map[string]bool{}
		for _, p := range ps {
			if ids[p.ID] {
				t.Fatalf("parent %s picked twice", p.ID)
			}
			ids[p.ID] = true
			byDist[a.Distance(target, a.cell(int(p.ID[0]-'A')))]++
		}
	}
	// One cell at distance 0, four at 1, … : per cell, nearer is likelier.
	cells := map[int]int{}
	for ix := 0; ix < a.Total(); ix++ {
		cells[a.Distance(target, a.cell(ix))]++
	}
	perCell := func(d int) float64 { return float64(byDist[d]) / float64(cells[d]) }
	if !(perCell(0) > perCell(1) && perCell(1) > perCell(2) && perCell(2) > perCell(3)) {
		t.Fatalf("picks per cell by distance %v (cells %v): nearer cells must be picked more often", byDist, cells)
	}
	// Fewer filled cells than asked: all of them, once.
	b := mustArchive(t, testAxes())
	b.Insert(Cell{3, 2}, Elite{ID: "only", Quality: 0.3})
	if ps := b.Parents(target, 3, rng); len(ps) != 1 || ps[0].ID != "only" {
		t.Fatalf("parents %+v", ps)
	}
	if ps := mustArchive(t, testAxes()).Parents(target, 3, rng); len(ps) != 0 {
		t.Fatalf("empty archive gave parents %+v", ps)
	}
}

func TestArchiveIsDeterministicGivenSeed(t *testing.T) {
	play := func() []string {
		a := mustArchive(t, testAxes())
		rng := rand.New(rand.NewPCG(42, 1))
		var log []string
		for i := 0; i < 40; i++ {
			c := a.Target(rng)
			a.Insert(Cell{rng.IntN(4), rng.IntN(3)}, Elite{ID: string(rune('a' + i%26)), Quality: rng.Float64()})
			for _, p := range a.Parents(c, 3, rng) {
				log = append(log, p.ID)
			}
		}
		return log
	}
	if x, y := play(), play(); !slices.Equal(x, y) {
		t.Fatal("same seed, same calls, different choices")
	}
}

func TestArchiveCellLabels(t *testing.T) {
	a := mustArchive(t, testAxes())
	c, err := a.CellOf(map[string]string{"domain": "cooking", "difficulty": "hard"})
	if err != nil || !slices.Equal(c, Cell{2, 2}) {
		t.Fatalf("CellOf = %v, %v", c, err)
	}
	if got := a.Labels(c); got["domain"] != "cooking" || got["difficulty"] != "hard" {
		t.Fatalf("Labels = %v", got)
	}
	for _, bad := range []map[string]string{{"domain": "cooking"}, {"domain": "opera", "difficulty": "hard"}} {
		if _, err := a.CellOf(bad); err == nil {
			t.Errorf("CellOf(%v) accepted", bad)
		}
	}
}
