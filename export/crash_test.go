package export

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash tests re-run this test binary as a child that appends to a
// journal or exports, and SIGKILL it midway.
const childEnv = "SYNTHKIT_EXPORT_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := runChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runChild(mode string) error {
	dir := os.Getenv("CHILD_DIR")
	switch mode {
	case "append":
		n, _ := strconv.Atoi(os.Getenv("CHILD_N"))
		workers, _ := strconv.Atoi(os.Getenv("CHILD_WORKERS"))
		return childAppend(dir, n, workers)
	case "export":
		if os.Getenv("CHILD_SLOW_PUBLISH") != "" {
			publishHook = func(string) { time.Sleep(30 * time.Millisecond) }
		}
		_, err := Export(context.Background(), dir, crashExportOpts)
		return err
	case "mountns":
		return childMountNS(os.Getenv("CHILD_CASE"), dir)
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

// crashRow is unit i's row for the crash tests: a few KB, so a kill often
// lands in the middle of a write.
func crashRow(i int) SFT {
	r := sftFixture(i)
	r.Messages[2].Content = strings.Repeat(r.Messages[2].Content, 8)
	return r
}

// childAppend adds units 0..n-1 that are not done yet with several workers,
// printing "ack ID" once each Add has returned (the unit is durable).
func childAppend(dir string, n, workers int) error {
	r, err := OpenRun(dir, testManifest(), false)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := r.Add(unitID(i), Provenance{}, crashRow(i)); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %s\n", unitID(i))
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		if !r.Done(unitID(i)) {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return r.Close()
}

func child(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestCrashDuringAppend kills a writer several times at random points,
// resumes it each time and checks that the final dataset equals an
// uninterrupted run's: every acknowledged unit kept, none duplicated,
// none lost, byte-identical Parquet.
func TestCrashDuringAppend(t *testing.T) {
	const n, workers = 2000, 4
	base := t.TempDir()

	ref := filepath.Join(base, "ref")
	r := mustOpen(t, ref, testManifest(), false)
	for i := range n {
		ok(t, r.Add(unitID(i), Provenance{}, crashRow(i)))
	}
	ok(t, r.Close())
	_, err := Export(context.Background(), ref, ExportOptions{})
	ok(t, err)

	dir := filepath.Join(base, "crashy")
	rng := rand.New(rand.NewPCG(3, 4))
	acked := map[string]bool{}
	kills, repaired := 0, 0
	for round := 0; ; round++ {
		cmd := child(t, "append", "CHILD_DIR="+dir, "CHILD_N="+strconv.Itoa(n), "CHILD_WORKERS="+strconv.Itoa(workers))
		stdout, err := cmd.StdoutPipe()
		ok(t, err)
		ok(t, cmd.Start())
		killAt := 100 + rng.IntN(250)
		lines := bufio.NewScanner(stdout)
		seen := 0
		killed := false
		for lines.Scan() {
			id, isAck := strings.CutPrefix(lines.Text(), "ack ")
			if !isAck {
				continue
			}
			acked[id] = true
			seen++
			if round < 4 && seen == killAt {
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				ok(t, cmd.Process.Signal(syscall.SIGKILL))
				killed = true
				break
			}
		}
		io.Copy(io.Discard, stdout)
		err = cmd.Wait()
		if !killed {
			ok(t, err)
			break
		}
		kills++

		// Everything acknowledged before the kill survives it.
		r := mustOpen(t, dir, testManifest(), false)
		if r.Repaired().Bytes > 0 {
			repaired++
		}
		for id := range acked {
			if !r.Done(id) {
				t.Fatalf("round %d: acknowledged unit %s lost", round, id)
			}
		}
		ok(t, r.Close())
	}
	t.Logf("%d kills, %d of them left a torn tail", kills, repaired)
	if kills < 4 {
		t.Fatalf("only %d kills happened", kills)
	}

	r = mustOpen(t, dir, testManifest(), false)
	c := r.Counts()
	ok(t, r.Close())
	if c.Accepted != n || c.Generated != n {
		t.Fatalf("counts after crashes = %+v, want %d", c, n)
	}
	res, err := Export(context.Background(), dir, ExportOptions{})
	ok(t, err)
	if res.Configs[0].Rows != n {
		t.Fatalf("exported %d rows, want %d", res.Configs[0].Rows, n)
	}
	equalMaps(t, "crashed-and-resumed run vs uninterrupted run", parquetTree(t, dir), parquetTree(t, ref))
}

var crashExportOpts = ExportOptions{MaxRowGroupBytes: 64 << 10, MaxShardBytes: 256 << 10}

// TestCrashDuringExport kills an export while it writes shards and while it
// moves them into place; the next export must produce exactly what an
// uninterrupted one does, and the journal must not change.
func TestCrashDuringExport(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	r := mustOpen(t, src, testManifest(), false)
	for i := range 3000 {
		ok(t, r.Add(unitID(i), Provenance{}, crashRow(i)))
	}
	ok(t, r.Close())
	journal := hashTree(t, filepath.Join(src, journalDir))

	// Same base name everywhere: the card's title is the directory's name.
	ref := filepath.Join(base, "ref", "run")
	copyRun(t, src, ref)
	_, err := Export(context.Background(), ref, crashExportOpts)
	ok(t, err)
	want := hashTree(t, ref)
	delete(want, manifestFile) // identical anyway; journal compared separately

	tests := []struct {
		name  string
		slow  bool
		ready func(dir string) bool // kill once this holds
	}{
		{"writing shards", false, func(dir string) bool { return countFiles(filepath.Join(dir, stagingDir, "data"), "part-") >= 3 }},
		{"moving into place", true, func(dir string) bool { return countFiles(filepath.Join(dir, "data"), "train-") >= 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, strings.ReplaceAll(tt.name, " ", "-"), "run")
			copyRun(t, src, dir)
			env := []string{"CHILD_DIR=" + dir}
			if tt.slow {
				env = append(env, "CHILD_SLOW_PUBLISH=1")
			}
			cmd := child(t, "export", env...)
			ok(t, cmd.Start())
			deadline := time.Now().Add(60 * time.Second)
			for !tt.ready(dir) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("export never reached the kill point")
				}
				time.Sleep(200 * time.Microsecond)
			}
			ok(t, cmd.Process.Signal(syscall.SIGKILL))
			if err := cmd.Wait(); err == nil {
				t.Fatal("export finished before the kill")
			}
			equalMaps(t, "journal after a killed export", hashTree(t, filepath.Join(dir, journalDir)), journal)

			_, err := Export(context.Background(), dir, crashExportOpts)
			ok(t, err)
			got := hashTree(t, dir)
			for k := range got {
				if strings.HasPrefix(k, journalDir+"/") || k == manifestFile {
					delete(got, k)
				}
			}
			for k := range want {
				if strings.HasPrefix(k, journalDir+"/") {
					delete(want, k)
				}
			}
			equalMaps(t, "export after a killed export", got, want)
		})
	}
}

func countFiles(dir, prefix string) int {
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			n++
		}
	}
	return n
}

// copyRun copies a run's manifest and journal (what export reads).
func copyRun(t *testing.T, src, dst string) {
	t.Helper()
	ok(t, os.MkdirAll(filepath.Join(dst, journalDir), 0o755))
	for rel := range hashTree(t, src) {
		if rel != manifestFile && !strings.HasPrefix(rel, journalDir+"/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, rel))
		ok(t, err)
		ok(t, os.WriteFile(filepath.Join(dst, rel), b, 0o644))
	}
}
