package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
)

// Where [Report.Write] puts its files, in the run directory.
const (
	HTMLFile = "report.html"
	PlotDir  = "report_files"
)

//go:embed report.html.tmpl
var pageText string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"join": strings.Join,
	"pct":  func(x float64) float64 { return 100 * x },
}).Parse(pageText))

// knownPlots are every plot file a report can write, so a rerun removes
// the ones it no longer draws (a run that is no longer QD, say).
var knownPlots = []string{"nearest", "pca", "rouge", "qd_heatmap", "qd_progress", "rejects"}

// Write draws the plots and writes dir/report.html (plots embedded, so the
// page is one self-contained file) and the plots as PNG files in
// dir/report_files/. It returns the page's path.
func (r *Report) Write(dir string) (string, error) {
	plots, err := r.plots()
	if err != nil {
		return "", err
	}
	type pagePlot struct {
		Plot
		Src template.URL
	}
	data := struct {
		Name     string
		R        *Report
		Rejected int64
		Figures  [][3]string
		Plots    []pagePlot
		PlotDir  string
	}{Name: filepath.Base(filepath.Clean(dir)), R: r, Rejected: r.Counts.RejectedTotal(), Figures: r.Figures(), PlotDir: PlotDir}
	for _, p := range plots {
		// A data: URI of our own PNG bytes: safe to mark as a URL.
		data.Plots = append(data.Plots, pagePlot{p, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(p.PNG))})
	}
	var html bytes.Buffer
	if err := page.Execute(&html, data); err != nil {
		return "", fmt.Errorf("render %s: %w", HTMLFile, err)
	}
	pdir := filepath.Join(dir, PlotDir)
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", pdir, err)
	}
	drawn := map[string]bool{}
	for _, p := range plots {
		drawn[p.Name] = true
		if err := writeAtomic(filepath.Join(pdir, p.Name+".png"), p.PNG); err != nil {
			return "", err
		}
	}
	for _, name := range knownPlots {
		if !drawn[name] {
			if err := os.Remove(filepath.Join(pdir, name+".png")); err != nil && !os.IsNotExist(err) {
				return "", fmt.Errorf("remove stale plot: %w", err)
			}
		}
	}
	path := filepath.Join(dir, HTMLFile)
	if err := writeAtomic(path, html.Bytes()); err != nil {
		return "", err
	}
	return path, nil
}

// writeAtomic writes a temporary file next to path and renames it into
// place, so a reader never sees half a page.
func writeAtomic(path string, b []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
