package report

import (
	"math"
	"slices"
	"testing"
)

// qdMeta is one candidate's metadata in the contract's shape.
func qdMeta(domain, difficulty string, quality float64, iteration int) map[string]any {
	return map[string]any{
		MetaQDCell:      map[string]any{"domain": domain, "difficulty": difficulty},
		MetaQDQuality:   quality,
		MetaQDIteration: iteration,
	}
}

func TestQDReplay(t *testing.T) {
	// Candidates in journal order; iterations say the run's order.
	cands := []map[string]any{
		qdMeta("science", "easy", 0.5, 0),
		qdMeta("arts", "hard", 0.25, 2),
		qdMeta("science", "easy", 0.5, 3),  // equal: does not replace
		qdMeta("science", "easy", 0.75, 1), // better, earlier in the run
		qdMeta("code", "medium", 0.9, 4),
		qdMeta("science", "easy", 0.25, 5), // worse: no change
		qdMeta("arts", "impossible", 1, 6), // off the axes
	}
	texts := randomTexts(4, len(cands))
	f := fixtureRun{method: "evol", texts: texts, meta: func(i int) map[string]any { return cands[i] },
		// The first elite lost its cell (export.Run.Supersede marks it).
		state: map[string]any{StateQDAxes: qdAxes, supersededPrefix + "u-000000": true}}
	r := build(t, f.build(t), Options{})
	q := r.QD
	if q == nil {
		t.Fatal("no QD section for a run with qd_ metadata")
	}
	// The superseded elite is replayed but not measured: export leaves it out.
	if r.Population != 6 || slices.Contains(r.sampleUnits, "u-000000") {
		t.Fatalf("measured %d records (%v), want the 6 that are exported", r.Population, r.sampleUnits)
	}
	if q.Cells != 12 || q.Filled != 3 || q.Candidates != 7 || q.Outside != 1 {
		t.Fatalf("cells %d filled %d candidates %d outside %d", q.Cells, q.Filled, q.Candidates, q.Outside)
	}
	if math.Abs(q.Score-(0.75+0.25+0.9)) > 1e-12 || math.Abs(q.Coverage-3.0/12) > 1e-12 {
		t.Fatalf("QD-score %v, coverage %v", q.Score, q.Coverage)
	}
	wantScores := []float64{0.5, 0.75, 1.0, 1.0, 1.9, 1.9}
	var got []float64
	var its []int64
	for _, s := range q.Series {
		got = append(got, math.Round(s.Score*1e9)/1e9)
		its = append(its, s.Iteration)
	}
	if !slices.Equal(got, wantScores) || !slices.Equal(its, []int64{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("series scores %v at iterations %v, want %v at 0..5", got, its, wantScores)
	}
	// Grid[y = difficulty][x = domain].
	cell := func(x, y int) float64 { return q.Grid[y][x] }
	if cell(0, 0) != 0.75 || cell(1, 2) != 0.25 || cell(2, 1) != 0.9 || !math.IsNaN(cell(3, 0)) {
		t.Fatalf("grid %v", q.Grid)
	}
	if len(r.Notes) == 0 || !containsAny(r.Notes, "off the axes") {
		t.Fatalf("notes %q do not say a row was off the axes", r.Notes)
	}
	if fig := r.Figures(); !containsAny(flat(fig), "QD-score") || !containsAny(flat(fig), "3 of 12 cells") {
		t.Fatalf("figures lack the QD rows: %v", fig)
	}
}

func TestQDThreeAxesFoldOntoTwo(t *testing.T) {
	axes := []map[string]any{
		{"name": "domain", "labels": []string{"a", "b"}},
		{"name": "tone", "labels": []string{"x", "y"}},
		{"name": "length", "labels": []string{"short", "long"}},
	}
	meta := []map[string]any{
		{MetaQDCell: map[string]any{"domain": "a", "tone": "y", "length": "short"}, MetaQDQuality: 0.25, MetaQDIteration: 0},
		{MetaQDCell: map[string]any{"domain": "a", "tone": "y", "length": "long"}, MetaQDQuality: 0.75, MetaQDIteration: 1},
		{MetaQDCell: map[string]any{"domain": "b", "tone": "x", "length": "long"}, MetaQDQuality: 0.5, MetaQDIteration: 2},
	}
	f := fixtureRun{method: "evol", texts: randomTexts(5, 3), meta: func(i int) map[string]any { return meta[i] },
		state: map[string]any{StateQDAxes: axes}}
	r := build(t, f.build(t), Options{})
	q := r.QD
	if q.Cells != 8 || q.Filled != 3 {
		t.Fatalf("cells %d filled %d", q.Cells, q.Filled)
	}
	if q.Grid[1][0] != 0.75 || q.GridCount[1][0] != 2 || q.Grid[0][1] != 0.5 || !math.IsNaN(q.Grid[0][0]) {
		t.Fatalf("grid %v counts %v", q.Grid, q.GridCount)
	}
	if !containsAny(r.Notes, "first two axes") {
		t.Fatalf("notes %q do not say the heat map folds axes", r.Notes)
	}
}

func TestQDAxesFallbackAndBadMetadata(t *testing.T) {
	meta := []map[string]any{
		qdMeta("science", "easy", 0.5, 0),
		qdMeta("arts", "hard", 0.5, 1),
		{MetaQDCell: "science/easy", MetaQDQuality: 0.5, MetaQDIteration: 2}, // not an object
		{MetaQDCell: map[string]any{"domain": "arts"}, MetaQDQuality: "high", MetaQDIteration: 3},
	}
	f := fixtureRun{method: "evol", texts: randomTexts(6, len(meta)), meta: func(i int) map[string]any { return meta[i] }}
	r := build(t, f.build(t), Options{})
	if r.QD == nil || r.QD.Cells != 4 || r.QD.Filled != 2 {
		t.Fatalf("fallback axes: %+v", r.QD)
	}
	if !containsAny(r.Notes, "has no qd_axes") || !containsAny(r.Notes, "2 row(s) carry qd_ metadata not in the expected shape") {
		t.Fatalf("notes %q", r.Notes)
	}
}

func TestParseAxes(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want int // axes; -1 for an error
	}{
		{"list", `[{"name":"a","labels":["x","y"],"description":"d","ordinal":true}]`, 1},
		{"wrapped", `{"axes":[{"name":"a","labels":["x"]},{"name":"b","labels":["y","z"]}]}`, 2},
		{"empty list", `[]`, -1},
		{"no labels", `[{"name":"a"}]`, -1},
		{"map", `{"a":["x","y"]}`, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			axes, err := parseAxes([]byte(tt.raw))
			if (err != nil) != (tt.want < 0) || (err == nil && len(axes) != tt.want) {
				t.Fatalf("parseAxes(%s) = %v, %v", tt.raw, axes, err)
			}
		})
	}
}

func containsAny(ss []string, sub string) bool {
	for _, s := range ss {
		if contains(s, sub) {
			return true
		}
	}
	return false
}

func flat(rows [][3]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r[:]...)
	}
	return out
}
