package diversity

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkArchiveStep is the archive's bookkeeping for one candidate
// (choose a target, draw 3 LMX-near parents, insert) on a half-filled
// archive: what QDAIF adds per candidate besides the model calls.
func BenchmarkArchiveStep(b *testing.B) {
	for _, shape := range [][]int{{8, 6, 3}, {20, 20, 25}} {
		var axes []Axis
		cells := 1
		for i, n := range shape {
			ax := Axis{Name: fmt.Sprint("a", i), Ordinal: i == len(shape)-1}
			for j := 0; j < n; j++ {
				ax.Labels = append(ax.Labels, fmt.Sprint("l", j))
			}
			axes = append(axes, ax)
			cells *= n
		}
		b.Run(fmt.Sprintf("cells=%d", cells), func(b *testing.B) {
			a, err := NewArchive(axes)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(42, 42))
			for ix := 0; ix < cells; ix += 2 {
				a.Insert(a.cell(ix), Elite{ID: "e", Quality: rng.Float64()})
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t := a.Target(rng)
				sink = a.Parents(t, 3, rng)
				a.Insert(a.cell(rng.IntN(cells)), Elite{ID: "x", Quality: rng.Float64()})
			}
		})
	}
}

var sink []Elite
