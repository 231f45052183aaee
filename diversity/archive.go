package diversity

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Axis is one descriptor of a MAP-Elites archive: a name and its labels.
// On an ordinal axis (difficulty: easy, medium, hard) labels are ordered
// and the distance between two is how many steps apart they are; on a
// categorical axis any two different labels are one step apart.
type Axis struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Labels      []string `json:"labels"`
	Ordinal     bool     `json:"ordinal,omitempty"`
}

// Cell is one bin of an archive: a label index per axis, in axis order.
type Cell []int

// Elite is the best candidate found for a cell.
type Elite struct {
	// ID is the candidate's journal unit.
	ID string `json:"id"`
	// Quality is the judged fitness in [0, 1].
	Quality float64 `json:"quality"`
	// Iteration is the candidate's index in the run.
	Iteration int `json:"iteration"`
	// Text is what mutation shows as a few-shot example.
	Text string `json:"text,omitempty"`
}

// MaxArchiveCells bounds the cells of an archive: a grid this size already
// needs thousands of candidates to fill.
const MaxArchiveCells = 10000

// Archive is a MAP-Elites archive over labelled axes: one elite per cell,
// replaced only by a strictly better candidate. It is pure bookkeeping
// (no model calls, no locks: the caller serializes) and deterministic
// given the order of calls and the random source.
type Archive struct {
	axes   []Axis
	radix  []int
	elites []*Elite // by cell index; nil when empty
	tries  []int    // how often each cell was chosen as a target
	filled int
	score  float64
}

// NewArchive makes an empty archive over axes. Every axis needs a name and
// two or more distinct labels; names are distinct; the grid has at most
// [MaxArchiveCells] cells.
func NewArchive(axes []Axis) (*Archive, error) {
	if len(axes) == 0 {
		return nil, errors.New("an archive needs at least one axis")
	}
	total := 1
	names := map[string]bool{}
	for i, ax := range axes {
		if strings.TrimSpace(ax.Name) == "" {
			return nil, fmt.Errorf("axis %d has no name", i+1)
		}
		if names[ax.Name] {
			return nil, fmt.Errorf("axis %q is named twice", ax.Name)
		}
		names[ax.Name] = true
		if len(ax.Labels) < 2 {
			return nil, fmt.Errorf("axis %q needs at least two labels", ax.Name)
		}
		seen := map[string]bool{}
		for _, l := range ax.Labels {
			if strings.TrimSpace(l) == "" {
				return nil, fmt.Errorf("axis %q has an empty label", ax.Name)
			}
			if seen[l] {
				return nil, fmt.Errorf("axis %q has the label %q twice", ax.Name, l)
			}
			seen[l] = true
		}
		total *= len(ax.Labels)
		if total > MaxArchiveCells {
			return nil, fmt.Errorf("the axes make more than %d cells; use fewer axes or labels", MaxArchiveCells)
		}
	}
	a := &Archive{axes: slices.Clone(axes), radix: make([]int, len(axes)), elites: make([]*Elite, total), tries: make([]int, total)}
	for i, ax := range axes {
		a.radix[i] = len(ax.Labels)
	}
	return a, nil
}

// Axes returns the archive's axes.
func (a *Archive) Axes() []Axis { return slices.Clone(a.axes) }

// Total is the number of cells.
func (a *Archive) Total() int { return len(a.elites) }

// Filled is the number of cells with an elite.
func (a *Archive) Filled() int { return a.filled }

// Coverage is Filled / Total.
func (a *Archive) Coverage() float64 { return float64(a.filled) / float64(len(a.elites)) }

// QDScore is the sum of the elites' qualities.
func (a *Archive) QDScore() float64 { return a.score }

// index maps a cell to its slot (mixed radix, first axis most significant).
func (a *Archive) index(c Cell) (int, error) {
	if len(c) != len(a.axes) {
		return 0, fmt.Errorf("cell has %d coordinates, the archive %d axes", len(c), len(a.axes))
	}
	ix := 0
	for i, v := range c {
		if v < 0 || v >= a.radix[i] {
			return 0, fmt.Errorf("cell coordinate %d of axis %q out of range", v, a.axes[i].Name)
		}
		ix = ix*a.radix[i] + v
	}
	return ix, nil
}

func (a *Archive) cell(ix int) Cell {
	c := make(Cell, len(a.axes))
	a.decode(ix, c)
	return c
}

// decode writes the cell of slot ix into c (len(c) == number of axes).
func (a *Archive) decode(ix int, c Cell) {
	for i := len(a.axes) - 1; i >= 0; i-- {
		c[i] = ix % a.radix[i]
		ix /= a.radix[i]
	}
}

// CellOf maps labels (axis name → label) to a cell.
func (a *Archive) CellOf(labels map[string]string) (Cell, error) {
	c := make(Cell, len(a.axes))
	for i, ax := range a.axes {
		l, ok := labels[ax.Name]
		if !ok {
			return nil, fmt.Errorf("no label for axis %q", ax.Name)
		}
		j := slices.Index(ax.Labels, l)
		if j < 0 {
			return nil, fmt.Errorf("%q is not a label of axis %q", l, ax.Name)
		}
		c[i] = j
	}
	return c, nil
}

// Labels maps a cell back to axis name → label.
func (a *Archive) Labels(c Cell) map[string]string {
	out := make(map[string]string, len(a.axes))
	for i, ax := range a.axes {
		if i < len(c) && c[i] >= 0 && c[i] < len(ax.Labels) {
			out[ax.Name] = ax.Labels[c[i]]
		}
	}
	return out
}

// Elite returns the elite of c, if the cell is filled.
func (a *Archive) Elite(c Cell) (Elite, bool) {
	ix, err := a.index(c)
	if err != nil || a.elites[ix] == nil {
		return Elite{}, false
	}
	return *a.elites[ix], true
}

// Better reports whether a candidate of quality q would enter cell c: the
// cell is empty or its elite is strictly worse.
func (a *Archive) Better(c Cell, q float64) bool {
	ix, err := a.index(c)
	if err != nil || math.IsNaN(q) {
		return false
	}
	return a.elites[ix] == nil || q > a.elites[ix].Quality
}

// Insert puts e into cell c if the cell is empty or e is strictly better
// than its elite. It returns whether e entered and the elite it replaced.
// A quality outside [0, 1] (or NaN) is an error: the QD-score sums them.
func (a *Archive) Insert(c Cell, e Elite) (inserted bool, replaced *Elite, err error) {
	ix, err := a.index(c)
	if err != nil {
		return false, nil, err
	}
	if math.IsNaN(e.Quality) || e.Quality < 0 || e.Quality > 1 {
		return false, nil, fmt.Errorf("quality %v of %s is outside [0, 1]", e.Quality, e.ID)
	}
	old := a.elites[ix]
	if old != nil && e.Quality <= old.Quality {
		return false, nil, nil
	}
	if old == nil {
		a.filled++
	} else {
		a.score -= old.Quality
	}
	a.score += e.Quality
	a.elites[ix] = &e
	return true, old, nil
}

// Distance is how far apart two cells are: the sum over axes of 1 for
// different labels of a categorical axis, or the steps between labels of
// an ordinal one.
func (a *Archive) Distance(x, y Cell) int {
	d := 0
	for i := range a.axes {
		if i >= len(x) || i >= len(y) {
			break
		}
		switch {
		case x[i] == y[i]:
		case a.axes[i].Ordinal:
			d += max(x[i]-y[i], y[i]-x[i])
		default:
			d++
		}
	}
	return d
}

// Target picks the cell the next candidate should aim at: an empty cell
// chosen least often so far (ties at random), or, once every cell is
// filled, one of the weakest quarter of elites (least chosen first), where
// a better candidate is easiest to find. The choice is counted.
func (a *Archive) Target(rng *rand.Rand) Cell {
	var pool []int
	if a.filled < len(a.elites) {
		for ix, e := range a.elites {
			if e == nil {
				pool = append(pool, ix)
			}
		}
	} else {
		pool = make([]int, len(a.elites))
		for i := range pool {
			pool[i] = i
		}
		slices.SortStableFunc(pool, func(x, y int) int {
			qx, qy := a.elites[x].Quality, a.elites[y].Quality
			switch {
			case qx < qy:
				return -1
			case qx > qy:
				return 1
			}
			return 0
		})
		pool = pool[:max(1, len(pool)/4)]
	}
	least := math.MaxInt
	for _, ix := range pool {
		least = min(least, a.tries[ix])
	}
	var cands []int
	for _, ix := range pool {
		if a.tries[ix] == least {
			cands = append(cands, ix)
		}
	}
	ix := cands[rng.IntN(len(cands))]
	a.tries[ix]++
	return a.cell(ix)
}

// Parents picks up to k elites for few-shot mutation toward target, without
// replacement, each with weight 1/(1+d³) where d is its cell's distance to
// target (LMX-near): nearby elites are likely, far ones still possible.
// Fewer than k are returned when fewer cells are filled.
func (a *Archive) Parents(target Cell, k int, rng *rand.Rand) []Elite {
	type cand struct {
		e *Elite
		w float64
	}
	var cands []cand
	sum := 0.0
	buf := make(Cell, len(a.axes))
	for ix, e := range a.elites {
		if e == nil {
			continue
		}
		a.decode(ix, buf)
		d := float64(a.Distance(target, buf))
		w := 1 / (1 + d*d*d)
		cands = append(cands, cand{e, w})
		sum += w
	}
	var out []Elite
	for len(out) < k && len(cands) > 0 {
		r := rng.Float64() * sum
		pick := len(cands) - 1
		for i, c := range cands {
			if r < c.w {
				pick = i
				break
			}
			r -= c.w
		}
		out = append(out, *cands[pick].e)
		sum -= cands[pick].w
		cands = slices.Delete(cands, pick, pick+1)
	}
	return out
}

// Elites calls fn for every filled cell, in cell order.
func (a *Archive) Elites(fn func(c Cell, e Elite)) {
	for ix, e := range a.elites {
		if e != nil {
			fn(a.cell(ix), *e)
		}
	}
}

// Restore puts old back as the elite of c (nil empties the cell): it
// undoes an Insert whose candidate could not be kept after all.
func (a *Archive) Restore(c Cell, old *Elite) error {
	ix, err := a.index(c)
	if err != nil {
		return err
	}
	if cur := a.elites[ix]; cur != nil {
		a.score -= cur.Quality
		a.filled--
	}
	a.elites[ix] = nil
	if old != nil {
		e := *old
		a.elites[ix] = &e
		a.score += e.Quality
		a.filled++
	}
	return nil
}
