package export

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkAppend measures durable appends with 1 to 64 concurrent workers:
// with one worker every Add waits for its own fsync; with more, group
// commit shares each fsync among the rows queued meanwhile.
func BenchmarkAppend(b *testing.B) {
	for _, workers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "run")
			r := mustOpen(b, dir, testManifest(), false)
			rows := make([]SFT, 64)
			for i := range rows {
				rows[i] = sftFixture(i)
			}
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						if err := r.Add(unitID(i), Provenance{}, rows[i%len(rows)]); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			st := &r.journal.stats
			st.mu.Lock()
			if st.commits > 0 {
				b.ReportMetric(float64(st.records)/float64(st.commits), "rows/fsync")
				b.ReportMetric(float64(st.syncTime.Microseconds())/float64(st.commits), "µs/fsync")
			}
			st.mu.Unlock()
			ok(b, r.Close())
		})
	}
}
