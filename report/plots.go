package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot is one figure of the report: a PNG and what it shows.
type Plot struct {
	// Name is the file name (without .png) and the figure's anchor.
	Name    string
	Title   string
	Caption string
	PNG     []byte
}

var (
	accent    = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	warn      = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	emptyCell = color.RGBA{R: 0xe6, G: 0xe6, B: 0xe6, A: 0xff}
)

// plots draws every figure the report has data for.
func (r *Report) plots() ([]Plot, error) {
	var out []Plot
	add := func(name, title, caption string, p *plot.Plot, w, h vg.Length, err error) error {
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		png, err := render(p, w, h)
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		out = append(out, Plot{Name: name, Title: title, Caption: caption, PNG: png})
		return nil
	}
	if len(r.Nearest) > 1 {
		p, err := r.nearestPlot()
		caption := "For each measured record, its highest cosine similarity to another one. A spike near 1 means near copies."
		if r.Threshold > 0 {
			caption += fmt.Sprintf(" The red line is the run's novelty threshold (%.2f): nothing accepted is above it.", r.Threshold)
		}
		if err := add("nearest", "Nearest-neighbour similarity", caption, p, 16*vg.Centimeter, 9*vg.Centimeter, err); err != nil {
			return nil, err
		}
	}
	if r.PCA == nil && len(r.vectors) > 2 {
		var err error
		if r.PCA, r.PCAExplained, err = PCA2(r.vectors); err != nil {
			return nil, err
		}
	}
	if len(r.PCA) > 2 {
		p, err := r.pcaPlot()
		caption := fmt.Sprintf("The embeddings projected on their two main directions (PCA; %.0f%% and %.0f%% of the variance). Tight clumps are records that say much the same thing.",
			100*r.PCAExplained[0], 100*r.PCAExplained[1])
		if r.QD != nil && len(r.sampleQDFirstLabel) > 0 {
			caption += fmt.Sprintf(" Colours are the QD axis %q.", r.QD.Axes[0].Name)
		}
		if err := add("pca", "2-D projection of the embeddings", caption, p, 16*vg.Centimeter, 12*vg.Centimeter, err); err != nil {
			return nil, err
		}
	}
	if r.Rouge != nil {
		p, err := r.rougePlot()
		caption := fmt.Sprintf("For each measured record, its highest ROUGE-L F against the %d seed tasks (%s). Self-Instruct drops tasks above %.1f (red line).",
			r.Rouge.Seeds, r.Rouge.Source, RougeThreshold)
		if err := add("rouge", "ROUGE-L to the seed tasks", caption, p, 16*vg.Centimeter, 9*vg.Centimeter, err); err != nil {
			return nil, err
		}
	}
	if q := r.QD; q != nil && q.Candidates > 0 {
		p, err := r.heatPlot()
		caption := fmt.Sprintf("Each square is one cell of the archive: its elite's quality (0 light, 1 dark), grey when empty. %d of %d cells filled.", q.Filled, q.Cells)
		if len(q.Axes) > 2 {
			caption += fmt.Sprintf(" The archive has %d axes: this is the first two, each square showing the best elite over the other axes.", len(q.Axes))
		}
		h := vg.Length(4+1.2*float64(len(q.Grid))) * vg.Centimeter
		if err := add("qd_heatmap", "QD archive", caption, p, 18*vg.Centimeter, h, err); err != nil {
			return nil, err
		}
		p, err = r.qdSeriesPlot()
		caption = fmt.Sprintf("The archive replayed in candidate order: coverage (cells filled) and the QD-score divided by the number of cells (%d), both from 0 to 1.", q.Cells)
		if err := add("qd_progress", "QD-score and coverage over the run", caption, p, 16*vg.Centimeter, 9*vg.Centimeter, err); err != nil {
			return nil, err
		}
	}
	if len(r.Rejects) > 0 {
		p, err := r.rejectPlot()
		h := vg.Length(3+0.7*float64(len(r.Rejects))) * vg.Centimeter
		if err := add("rejects", "Rejected units by reason", "How many units each filter or check rejected (see the table below for what each reason means).",
			p, 16*vg.Centimeter, h, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func render(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (r *Report) nearestPlot() (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text = "cosine similarity to the nearest other record"
	p.Y.Label.Text = "records"
	h, err := plotter.NewHist(plotter.Values(r.Nearest), 40)
	if err != nil {
		return nil, err
	}
	h.FillColor = accent
	h.LineStyle.Width = 0
	p.Add(h)
	if r.Threshold > 0 {
		p.Add(vline(r.Threshold, h))
	}
	return p, nil
}

// vline is a red vertical line at x spanning the histogram's height.
func vline(x float64, h *plotter.Histogram) *plotter.Line {
	top := 0.0
	for _, b := range h.Bins {
		top = math.Max(top, b.Weight)
	}
	l, _ := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top}})
	l.Color = warn
	l.Width = vg.Points(1.5)
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	return l
}

func (r *Report) pcaPlot() (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text = "first principal component"
	p.Y.Label.Text = "second principal component"
	groups := map[string]plotter.XYs{}
	var order []string
	for i, xy := range r.PCA {
		g := ""
		if r.QD != nil && i < len(r.sampleQDFirstLabel) {
			g = r.sampleQDFirstLabel[i]
		}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], plotter.XY{X: xy[0], Y: xy[1]})
	}
	if r.QD != nil && len(r.sampleQDFirstLabel) > 0 {
		order = sortedKeys(groups)
	}
	for i, g := range order {
		s, err := plotter.NewScatter(groups[g])
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Radius = vg.Points(2)
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		s.GlyphStyle.Color = accent
		if len(order) > 1 {
			s.GlyphStyle.Color = plotutil.Color(i)
			name := g
			if name == "" {
				name = "(not in the archive)"
			}
			p.Legend.Add(name, s)
		}
		p.Add(s)
	}
	p.Legend.Top = true
	return p, nil
}

func (r *Report) rougePlot() (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text = "ROUGE-L F to the closest seed task"
	p.Y.Label.Text = "records"
	p.X.Min, p.X.Max = 0, 1
	h, err := plotter.NewHist(plotter.Values(r.Rouge.Scores), 20)
	if err != nil {
		return nil, err
	}
	h.FillColor = accent
	h.LineStyle.Width = 0
	p.Add(h, vline(RougeThreshold, h))
	return p, nil
}

// grid is a QD heat map as gonum's GridXYZ: cell (c, r) at (c, r).
type grid [][]float64

func (g grid) Dims() (c, r int)   { return len(g[0]), len(g) }
func (g grid) Z(c, r int) float64 { return g[r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }

func (r *Report) heatPlot() (*plot.Plot, error) {
	q := r.QD
	pal, err := brewer.GetPalette(brewer.TypeSequential, "YlGn", 9)
	if err != nil {
		return nil, err
	}
	hm := plotter.NewHeatMap(grid(q.Grid), pal)
	hm.Min, hm.Max = 0, 1
	cs := pal.Colors()
	hm.Underflow, hm.Overflow, hm.NaN = cs[0], cs[len(cs)-1], emptyCell
	p := plot.New()
	p.Add(hm)
	var labels plotter.XYLabels
	for y, row := range q.Grid {
		for x, v := range row {
			if !math.IsNaN(v) {
				labels.XYs = append(labels.XYs, plotter.XY{X: float64(x), Y: float64(y)})
				labels.Labels = append(labels.Labels, fmt.Sprintf("%.2f", v))
			}
		}
	}
	if len(labels.XYs) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
			if v, _ := strconv.ParseFloat(labels.Labels[i], 64); v > 0.55 {
				l.TextStyle[i].Color = color.White // readable on the dark end
			}
		}
		p.Add(l)
	}
	p.NominalX(q.Axes[0].Labels...)
	p.X.Label.Text = q.Axes[0].Name
	if len(q.Axes) > 1 {
		p.NominalY(q.Axes[1].Labels...)
		p.Y.Label.Text = q.Axes[1].Name
	} else {
		p.HideY()
	}
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	return p, nil
}

func (r *Report) qdSeriesPlot() (*plot.Plot, error) {
	q := r.QD
	p := plot.New()
	p.X.Label.Text = "candidate (qd_iteration)"
	p.Y.Min, p.Y.Max = 0, 1
	cov, score := make(plotter.XYs, len(q.Series)), make(plotter.XYs, len(q.Series))
	for i, s := range q.Series {
		cov[i] = plotter.XY{X: float64(s.Iteration), Y: s.Coverage}
		score[i] = plotter.XY{X: float64(s.Iteration), Y: s.Score / float64(q.Cells)}
	}
	for i, s := range []struct {
		name string
		xys  plotter.XYs
	}{{"coverage", cov}, {"QD-score / cells", score}} {
		if len(s.xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	// Both curves rise: the bottom right corner stays clear for the legend.
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Points(12)
	return p, nil
}

func (r *Report) rejectPlot() (*plot.Plot, error) {
	p := plot.New()
	vals := make(plotter.Values, len(r.Rejects))
	names := make([]string, len(r.Rejects))
	// Bottom to top: the most frequent reason on top.
	for i, x := range r.Rejects {
		j := len(r.Rejects) - 1 - i
		vals[j], names[j] = float64(x.Count), x.Reason
	}
	b, err := plotter.NewBarChart(vals, vg.Points(12))
	if err != nil {
		return nil, err
	}
	b.Horizontal = true
	b.Color = warn
	b.LineStyle.Width = 0
	p.Add(b)
	p.NominalY(names...)
	p.X.Label.Text = "units"
	return p, nil
}
