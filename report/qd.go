package report

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"synthkit/export"
)

// Row metadata and run state a QDAIF run writes (the contract with
// prompts' QD loop): every row of an archive candidate carries its cell
// (axis name → label), its judged quality in [0, 1] and its iteration
// (the candidate's index in the run); the run state "qd_axes" lists the
// axes with their labels in order, so empty cells are known too.
const (
	MetaQDCell      = "qd_cell"
	MetaQDQuality   = "qd_quality"
	MetaQDIteration = "qd_iteration"
	StateQDAxes     = "qd_axes"
)

// Axis is one descriptor axis of a QD archive.
type Axis struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
}

type qdPoint struct {
	unit      string
	cell      map[string]string
	quality   float64
	iteration int64
}

// qdPointOf reads the QD metadata of a unit's rows. ok is false when the
// rows carry none; bad is set when they carry some of it but not in the
// contract's shape.
func qdPointOf(unit string, rows []export.Row) (p qdPoint, ok, bad bool) {
	for _, row := range rows {
		md := metadataOf(row)
		rawCell, hasCell := md[MetaQDCell]
		rawQ, hasQ := md[MetaQDQuality]
		rawIt, hasIt := md[MetaQDIteration]
		if !hasCell && !hasQ && !hasIt {
			continue
		}
		cm, okCell := rawCell.(map[string]any)
		q, okQ := rawQ.(float64)
		it, okIt := rawIt.(float64)
		if !okCell || !okQ || !okIt || len(cm) == 0 || math.IsNaN(q) || it != math.Trunc(it) {
			return qdPoint{}, false, true
		}
		p = qdPoint{unit: unit, cell: make(map[string]string, len(cm)), quality: q, iteration: int64(it)}
		for k, v := range cm {
			s, ok := v.(string)
			if !ok {
				return qdPoint{}, false, true
			}
			p.cell[k] = s
		}
		return p, true, false
	}
	return qdPoint{}, false, false
}

// parseAxes decodes the "qd_axes" state: a list of {name, labels} (extra
// fields are ignored), or an object holding such a list under "axes".
func parseAxes(raw json.RawMessage) ([]Axis, error) {
	var axes []Axis
	if err := json.Unmarshal(raw, &axes); err != nil {
		var wrapped struct {
			Axes []Axis `json:"axes"`
		}
		if err2 := json.Unmarshal(raw, &wrapped); err2 != nil || wrapped.Axes == nil {
			return nil, fmt.Errorf("run state %q is not a list of {name, labels}: %w", StateQDAxes, err)
		}
		axes = wrapped.Axes
	}
	if len(axes) == 0 {
		return nil, fmt.Errorf("run state %q lists no axes", StateQDAxes)
	}
	for i, a := range axes {
		if a.Name == "" || len(a.Labels) == 0 {
			return nil, fmt.Errorf("run state %q: axis %d has no name or no labels", StateQDAxes, i+1)
		}
	}
	return axes, nil
}

// axesFromPoints is the fallback when the run state has no axes: the axes
// and labels the rows show (sorted), which misses labels no row reached.
func axesFromPoints(ps []qdPoint) []Axis {
	labels := map[string]map[string]bool{}
	for _, p := range ps {
		for a, l := range p.cell {
			if labels[a] == nil {
				labels[a] = map[string]bool{}
			}
			labels[a][l] = true
		}
	}
	var axes []Axis
	for _, name := range sortedKeys(labels) {
		axes = append(axes, Axis{Name: name, Labels: sortedKeys(labels[name])})
	}
	return axes
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// QDStep is the archive after one candidate.
type QDStep struct {
	Iteration int64
	Score     float64 // Σ elite quality
	Coverage  float64 // filled cells / all cells
}

// QD is the replayed archive of a QDAIF run.
type QD struct {
	Axes []Axis
	// Cells is the number of cells (Π labels per axis); Filled how many
	// hold an elite at the end.
	Cells, Filled int
	Score         float64
	Coverage      float64
	// Candidates is how many rows were replayed; Outside how many named a
	// cell off the axes (skipped).
	Candidates, Outside int
	// Series is the archive after each candidate, in iteration order.
	Series []QDStep
	// Grid is the heat map: Grid[y][x] is the best quality over the cells
	// with label x on the first axis and label y on the second (over the
	// other axes when there are more), NaN when empty. One row for a
	// single axis.
	Grid [][]float64
	// GridCount[y][x] counts the filled cells folded into Grid[y][x].
	GridCount [][]int
}

// replayQD inserts the points in iteration order into a MAP-Elites archive
// over axes (a strictly better candidate replaces an elite) and records
// QD-score and coverage after each.
func replayQD(axes []Axis, ps []qdPoint) *QD {
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, func(a, b qdPoint) int {
		if a.iteration != b.iteration {
			if a.iteration < b.iteration {
				return -1
			}
			return 1
		}
		return strings.Compare(a.unit, b.unit)
	})
	index := make([]map[string]int, len(axes))
	cells := 1
	for i, a := range axes {
		index[i] = map[string]int{}
		for j, l := range a.Labels {
			index[i][l] = j
		}
		cells *= len(a.Labels)
	}
	q := &QD{Axes: axes, Cells: cells}
	best := map[int]float64{}
	for _, p := range ps {
		q.Candidates++
		c, ok := 0, len(p.cell) == len(axes)
		for i, a := range axes {
			j, hit := index[i][p.cell[a.Name]]
			if !hit {
				ok = false
				break
			}
			c = c*len(a.Labels) + j
		}
		if !ok {
			q.Outside++
			continue
		}
		if old, filled := best[c]; !filled || p.quality > old {
			if filled {
				q.Score -= old
			} else {
				q.Filled++
			}
			best[c] = p.quality
			q.Score += p.quality
		}
		q.Coverage = float64(q.Filled) / float64(cells)
		q.Series = append(q.Series, QDStep{Iteration: p.iteration, Score: q.Score, Coverage: q.Coverage})
	}
	// Heat map over the first two axes.
	nx, ny := len(axes[0].Labels), 1
	if len(axes) > 1 {
		ny = len(axes[1].Labels)
	}
	q.Grid = make([][]float64, ny)
	q.GridCount = make([][]int, ny)
	for y := range q.Grid {
		q.Grid[y] = make([]float64, nx)
		q.GridCount[y] = make([]int, nx)
		for x := range q.Grid[y] {
			q.Grid[y][x] = math.NaN()
		}
	}
	rest := cells / nx / ny
	for c, v := range best {
		x := c / (cells / nx)
		y := 0
		if len(axes) > 1 {
			y = (c / rest) % ny
		}
		if math.IsNaN(q.Grid[y][x]) || v > q.Grid[y][x] {
			q.Grid[y][x] = v
		}
		q.GridCount[y][x]++
	}
	return q
}
