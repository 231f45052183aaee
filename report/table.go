package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"synthkit/export"
)

// CardTitle is the title of the diversity table in the dataset card.
const CardTitle = "Diversity"

// Figures are the report's numbers as rows of (metric, value, how it was
// measured): the dataset card's table, the command's output and the
// page's summary all print these, so they always agree.
func (r *Report) Figures() [][3]string {
	f3 := func(x float64) string { return fmt.Sprintf("%.3f", x) }
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	sample := fmt.Sprintf("%d records", r.Sampled)
	if r.Sampled < r.Population {
		sample = fmt.Sprintf("seeded sample of %d of %d records", r.Sampled, r.Population)
	}
	rows := [][3]string{
		{"records measured", fmt.Sprint(r.Sampled), sample + ", text: " + r.On},
		{"distinct-1", f3(r.Distinct1), "distinct words / words"},
		{"distinct-2", f3(r.Distinct2), "distinct word pairs / word pairs"},
		{"mean pairwise cosine similarity", f3(r.MeanCosine), "embeddings: " + r.embedderText()},
		{"Vendi score", fmt.Sprintf("%.1f", r.Vendi), fmt.Sprintf("effective number of distinct records, 1 to %d", r.Sampled)},
	}
	if len(r.Nearest) > 1 {
		rows = append(rows, [3]string{"nearest-neighbour similarity", fmt.Sprintf("median %.3f, p90 %.3f", r.NearestMedian, r.NearestP90),
			"highest cosine similarity of each record to another"})
	}
	if r.Rouge != nil {
		rows = append(rows, [3]string{"ROUGE-L to seed tasks", fmt.Sprintf("mean %.3f, median %.3f", r.Rouge.Mean, r.Rouge.Median),
			fmt.Sprintf("max over %d seeds (%s); %s above %.1f", r.Rouge.Seeds, r.Rouge.Source, pct(r.Rouge.Above), RougeThreshold)})
	}
	if q := r.QD; q != nil {
		rows = append(rows,
			[3]string{"QD-score", fmt.Sprintf("%.2f", q.Score), fmt.Sprintf("sum of elite quality over %d cells", q.Cells)},
			[3]string{"QD coverage", pct(q.Coverage), fmt.Sprintf("%d of %d cells filled after %d candidates", q.Filled, q.Cells, q.Candidates)})
	}
	return rows
}

func (r *Report) embedderText() string {
	if r.FromVectors {
		return r.Embedder + " (the run's stored vectors)"
	}
	return r.Embedder
}

// CardTable is [Report.Figures] as a dataset card table.
func (r *Report) CardTable() export.CardTable {
	t := export.CardTable{Title: CardTitle, Header: []string{"metric", "value", "how"}}
	for _, f := range r.Figures() {
		t.Rows = append(t.Rows, []string{f[0], f[1], f[2]})
	}
	return t
}

// WriteText prints the figures, the rejection reasons and the notes.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range r.Figures() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f[0], f[1], f[2])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Rejects) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "rejected\tunits\treason\n")
		for _, x := range r.Rejects {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", x.Reason, x.Count, x.Meaning)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintf(w, "note: %s\n", strings.TrimSpace(n)); err != nil {
			return err
		}
	}
	return nil
}
