package diversity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkNovelty measures the novelty filter's check + insert against
// chromem-go's own exhaustive query on the same store, in one run, at
// 10k and 100k stored 768-dim vectors (and 1M with SYNTHKIT_BENCH_1M=1;
// it needs about 4 GB and a few minutes). Run it with
// -benchtime 1x: each size runs a fixed set of queries whatever b.N is,
// and reports percentiles and agreement as metrics:
//
//	p50-ms, p99-ms          Novelty.Check + Settle (the vector stored when novel)
//	chromem-p50-ms, -p99-ms chromem-go's QueryEmbedding(k=1) on the same collection
//	speedup-p50             chromem-p50 / p50
//	agree-near-%, agree-fresh-%  decisions equal to the exhaustive scan's, for
//	                        queries within ±0.03 of the threshold of a stored
//	                        vector and for fresh random ones
//	rescored/op             exact dot products per check
//	heap-MB, prefilter-MB   live heap after the build (vectors, chromem-go's
//	                        documents, index) and the signatures' share
//
// scripts/bench-novelty.sh runs it and prints a table.
func BenchmarkNovelty(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if os.Getenv("SYNTHKIT_BENCH_1M") != "" {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchmarkNovelty(b, n, 768, 0.9) })
	}
}

// benchStore builds a store of n random unit vectors of dim floats
// (seeded), signing on every core.
func benchStore(b *testing.B, n, dim int) (*Store, [][]float32) {
	ctx := context.Background()
	st, err := NewStore(dim)
	if err != nil {
		b.Fatal(err)
	}
	vecs := make([][]float32, n)
	sigs := make([]Signature, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(42, uint64(w)))
			for i := w; i < n; i += workers {
				vecs[i] = randUnit(rng, dim)
				sigs[i] = st.Sign(vecs[i])
			}
		}()
	}
	wg.Wait()
	for i, v := range vecs {
		if err := st.Add(ctx, fmt.Sprintf("u%07d", i), v, sigs[i], nil); err != nil {
			b.Fatal(err)
		}
	}
	return st, vecs
}

func benchmarkNovelty(b *testing.B, n, dim int, tau float64) {
	ctx := context.Background()
	start := time.Now()
	st, vecs := benchStore(b, n, dim)
	build := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapMB := float64(ms.HeapAlloc) / (1 << 20)
	prefilterMB := float64(n*SignatureBits/8) / (1 << 20)

	queries := 400
	chromemQueries := map[int]int{10_000: 100, 100_000: 30, 1_000_000: 8}[n]
	if n >= 1_000_000 {
		queries = 200
	}
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	type query struct {
		v    []float32
		near bool // built near a stored vector
	}
	qs := make([]query, queries)
	for i := range qs {
		if i%2 == 0 {
			qs[i] = query{near(rng, vecs[rng.IntN(n)], tau-0.03+0.06*rng.Float64()), true}
		} else {
			qs[i] = query{randUnit(rng, dim), false}
		}
	}
	nv, err := NewNovelty(st, tau)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		var ours, theirs []time.Duration
		agree := map[bool][2]int{} // near → {agreeing, total}
		rescored := 0
		for i, q := range qs {
			// The exhaustive answer first, on the store as the check sees it.
			exact := st.NearestSince(q.v, 0)
			wantNear := exact.Index >= 0 && float64(exact.Similarity) > tau

			t0 := time.Now()
			d, err := nv.Check(fmt.Sprintf("q%d", i), q.v)
			if err != nil {
				b.Fatal(err)
			}
			if !d.Near {
				if err := nv.Settle(ctx, fmt.Sprintf("q%d", i), true); err != nil {
					b.Fatal(err)
				}
			}
			ours = append(ours, time.Since(t0))
			rescored += d.Rescored
			a := agree[q.near]
			a[1]++
			if d.Near == wantNear {
				a[0]++
			}
			agree[q.near] = a

			if i < chromemQueries {
				t0 := time.Now()
				if _, err := st.NearestExact(ctx, q.v); err != nil {
					b.Fatal(err)
				}
				theirs = append(theirs, time.Since(t0))
			}
		}
		b.StopTimer()
		p50, p99 := percentile(ours, 50), percentile(ours, 99)
		c50, c99 := percentile(theirs, 50), percentile(theirs, 99)
		b.ReportMetric(ms1(p50), "p50-ms")
		b.ReportMetric(ms1(p99), "p99-ms")
		b.ReportMetric(ms1(c50), "chromem-p50-ms")
		b.ReportMetric(ms1(c99), "chromem-p99-ms")
		b.ReportMetric(float64(c50)/float64(p50), "speedup-p50")
		b.ReportMetric(100*float64(agree[true][0])/float64(agree[true][1]), "agree-near-%")
		b.ReportMetric(100*float64(agree[false][0])/float64(agree[false][1]), "agree-fresh-%")
		b.ReportMetric(float64(rescored)/float64(len(qs)), "rescored/op")
		b.ReportMetric(heapMB, "heap-MB")
		b.ReportMetric(prefilterMB, "prefilter-MB")
		b.ReportMetric(build.Seconds(), "build-s")
		b.StartTimer()
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

func ms1(d time.Duration) float64 { return float64(d) / 1e6 }
