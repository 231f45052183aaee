package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"synthkit/diversity"
	"synthkit/export"
)

// writeBenchRun journals n SFT rows with stored hashed-n-gram vectors (as
// --diversity novelty leaves them) and some rejections, with 8 writers as
// a command's workers would.
func writeBenchRun(tb testing.TB, dir string, n int) {
	m := export.Manifest{Version: "bench", Method: "magpie", Seed: 1, Models: []export.ModelInfo{{Name: "m", Digest: "sha256:0"}},
		Options: map[string]any{"diversity": "novelty", "diversity_embedder": "hashed-ngrams-v1/512", "diversity_on": "prompt", "diversity_max_similarity": 0.85}}
	r, err := export.OpenRun(dir, m, false)
	if err != nil {
		tb.Fatal(err)
	}
	texts := randomTexts(42, n)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				unit := fmt.Sprintf("u-%07d", i)
				if err := r.AddVector(unit, diversity.HashNGrams(texts[i], diversity.HashedNGramDim)); err != nil {
					errs <- err
					return
				}
				row := export.SFT{Messages: []export.Message{{Role: "user", Content: texts[i]}, {Role: "assistant", Content: "An answer of a few words."}}}
				if err := r.Add(unit, export.Provenance{}, row); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					if err := r.Reject(fmt.Sprintf("x-%07d", i), "near_duplicate", export.Provenance{}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	if err := r.Finish(); err != nil {
		tb.Fatal(err)
	}
	if err := r.Close(); err != nil {
		tb.Fatal(err)
	}
}

var (
	benchMu   sync.Mutex
	benchRuns = map[int]string{}
)

// benchRun returns a run of n rows, built once per process.
func benchRun(b *testing.B, n int) string {
	benchMu.Lock()
	defer benchMu.Unlock()
	if dir, ok := benchRuns[n]; ok {
		return dir
	}
	if dir := os.Getenv("SYNTHKIT_BENCH_RUN"); dir != "" && n == 10000 {
		if _, err := os.Stat(filepath.Join(dir, "run.json")); err == nil {
			return dir // written by TestWriteBenchRun (scripts/bench-report.sh)
		}
	}
	root, err := os.MkdirTemp("", "synthkit-bench-report")
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(root, "run")
	writeBenchRun(b, dir, n)
	if _, err := export.Export(context.Background(), dir, export.ExportOptions{}); err != nil {
		b.Fatal(err)
	}
	benchRuns[n] = dir
	return dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range benchRuns {
		os.RemoveAll(filepath.Dir(dir))
	}
	os.Exit(code)
}

// TestWriteBenchRun writes the benchmark's run to $SYNTHKIT_BENCH_RUN
// (scripts/bench-report.sh times the CLI on it).
func TestWriteBenchRun(t *testing.T) {
	dir := os.Getenv("SYNTHKIT_BENCH_RUN")
	if dir == "" {
		t.Skip("SYNTHKIT_BENCH_RUN not set (scripts/bench-report.sh sets it)")
	}
	writeBenchRun(t, dir, 10000)
}

// BenchmarkReport measures the report on a 10k-row run: the figures alone
// (what every export adds) and the figures plus plots and page.
func BenchmarkReport(b *testing.B) {
	dir := benchRun(b, 10000)
	ctx := context.Background()
	b.Run("figures/n=10000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Build(ctx, dir, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page/n=10000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := Build(ctx, dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.Write(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkExportCard is the cost the diversity table adds to an export of
// a 10k-row run: "plain" exports as before, "diversity" measures first.
// scripts/bench-report.sh runs the two alternately.
func BenchmarkExportCard(b *testing.B) {
	dir := benchRun(b, 10000)
	ctx := context.Background()
	for _, withTable := range []bool{false, true} {
		name := "plain"
		if withTable {
			name = "diversity"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var opts export.ExportOptions
				if withTable {
					r, err := Build(ctx, dir, Options{})
					if err != nil {
						b.Fatal(err)
					}
					opts.Tables = []export.CardTable{r.CardTable()}
				}
				if _, err := export.Export(ctx, dir, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
