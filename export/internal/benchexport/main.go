//go:build unix

// Command benchexport measures synthkit's export for scripts/bench-export.sh.
//
//	benchexport gen DIR N     make a run with N SFT rows of 2–5 KB (seeded)
//	benchexport export DIR    export it and print one JSON line of measurements
//
// Peak memory is the process's maximum resident set size (getrusage), so
// generation and export run as separate processes.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"synthkit/export"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchexport:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: benchexport gen DIR N | export DIR")
	}
	switch args[0] {
	case "gen":
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		return gen(args[1], n)
	case "export":
		return doExport(args[1])
	}
	return fmt.Errorf("unknown command %q", args[0])
}

var words = strings.Fields(`the of and to in is that for it as with was on be by this are or from at an
which not have has but can all more one will their they been if were so would about also into these some
model data training set each example answer question step result value function return error list map
string number file time first second value using because however therefore example between through
order sort merge index parquet column row group page journal crash resume export seed token prompt
response chosen rejected rating critique revision principle diversity archive niche quality novelty
python go rust sql query table join select where update insert delete create server client request`)

// text returns about n bytes of word salad with some structure, so it
// compresses roughly like model output does.
func text(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		switch r.IntN(40) {
		case 0:
			b.WriteString("\n\n```python\ndef f(x):\n    return x * 2\n```\n\n")
		case 1:
			b.WriteString("\n- ")
		case 2:
			fmt.Fprintf(&b, " %d", r.IntN(100000))
		default:
			b.WriteString(words[r.IntN(len(words))])
			if r.IntN(12) == 0 {
				b.WriteString(". ")
			} else {
				b.WriteByte(' ')
			}
		}
	}
	return b.String()
}

func gen(dir string, n int) error {
	m := export.Manifest{
		Version: "bench", Command: []string{"synthkit", "bench"}, Method: "self-instruct", Seed: 1,
		Models:         []export.ModelInfo{{Name: "bench:latest", Digest: "sha256:" + strings.Repeat("0", 64)}},
		TemplateHashes: map[string]string{"t": "sha256:" + strings.Repeat("1", 64)},
	}
	r, err := export.OpenRun(dir, m, true)
	if err != nil {
		return err
	}
	// Enough workers that group commit batches the fsyncs.
	const workers = 256
	start := time.Now()
	next := make(chan int, workers)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rng := rand.New(rand.NewPCG(uint64(i), 42))
				row := export.SFT{Messages: []export.Message{
					{Role: "user", Content: text(rng, 150+rng.IntN(350))},
					{Role: "assistant", Content: text(rng, 1850+rng.IntN(2650))},
				}, Metadata: map[string]any{"worker": w % 4}}
				if err := r.Add(fmt.Sprintf("si-%08d", i), export.Provenance{}, row); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	if err := r.Close(); err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "generated %d rows in %.1fs (%.0f journal appends/s with %d workers)\n", n, el, float64(n)/el, workers)
	return nil
}

func doExport(dir string) error {
	if p := os.Getenv("BENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	in := dirSize(filepath.Join(dir, "journal"))
	start := time.Now()
	res, err := export.Export(context.Background(), dir, export.ExportOptions{})
	if err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	var out, rows int64
	for _, c := range res.Configs {
		out += c.DownloadSize
		rows += c.Rows
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"tool": "synthkit", "rows": rows, "seconds": el, "input_bytes": in, "output_bytes": out,
		"files": len(res.Configs[0].Files), "peak_rss_kb": ru.Maxrss,
		"cpu_seconds": float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9,
	})
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
