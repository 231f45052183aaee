//go:build linux

package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// These tests give a child process its own mount namespace, so it can
// mount a read-only bind of a run or a tiny tmpfs without touching the
// host's mounts; the namespace and its mounts vanish when the child exits.
// It needs root (CAP_SYS_ADMIN); without it the tests skip and say why.

const exitNoMount = 42

func runMountChild(t *testing.T, tcase, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a mount namespace; TestReadOnlyDir covers read-only dirs without root")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=mountns", "CHILD_CASE="+tcase, "CHILD_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == exitNoMount || err != nil && errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot mount in a private namespace here: %v %s", err, stderr.String())
	}
	if err != nil {
		t.Fatalf("child %s: %v\n%s%s", tcase, err, out, stderr.String())
	}
	return string(out)
}

func childMountNS(tcase, dir string) error {
	mount := func(src, target, fstype string, flags uintptr, data string) {
		if err := syscall.Mount(src, target, fstype, flags, data); err != nil {
			fmt.Fprintln(os.Stderr, "mount:", err)
			os.Exit(exitNoMount)
		}
	}
	switch tcase {
	case "readonly":
		// Mount the parent, so the run itself is not a mount point.
		parent := filepath.Dir(dir)
		mount(parent, parent, "", syscall.MS_BIND, "")
		mount("", parent, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, "")
		_, err := Export(context.Background(), dir, ExportOptions{})
		fmt.Printf("export: %v\n", err)
		_, err = OpenRun(dir, testManifest(), false)
		fmt.Printf("open: %v\n", err)
		_, err = OpenRun(dir, testManifest(), true)
		fmt.Printf("fresh: %v\n", err)
		return nil
	case "full":
		mount("tmpfs", dir, "tmpfs", 0, "size=512k")
		run := filepath.Join(dir, "run")
		r, err := OpenRun(run, testManifest(), false)
		if err != nil {
			return err
		}
		acked := 0
		var addErr error
		for i := 0; addErr == nil; i++ {
			if addErr = r.Add(unitID(i), Provenance{}, crashRow(i)); addErr == nil {
				acked++
			}
		}
		fmt.Printf("add: %v\n", addErr)
		r.Close()
		// The journal holds exactly the acknowledged units, with no torn tail.
		lines := 0
		scan, err := scanJournal(filepath.Join(run, journalDir), scanStrict, func(_ linePos, h header, _ []byte) error {
			if h.unit != unitID(lines) {
				return fmt.Errorf("line %d is %s", lines, h.unit)
			}
			lines++
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Printf("acked %d journaled %d torn %d\n", acked, lines, scan.dropped)
		before, err := os.ReadFile(filepath.Join(run, journalDir, segmentName(1, journalExt)))
		if err != nil {
			return err
		}
		_, err = Export(context.Background(), run, ExportOptions{})
		fmt.Printf("export: %v\n", err)
		after, err := os.ReadFile(filepath.Join(run, journalDir, segmentName(1, journalExt)))
		if err != nil {
			return err
		}
		fmt.Printf("journal unchanged: %v\n", string(before) == string(after))
		return nil
	}
	return fmt.Errorf("unknown case %q", tcase)
}

func TestReadOnlyMount(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 20)
	ok(t, r.Close())
	before := hashTree(t, dir)
	out := runMountChild(t, "readonly", dir)
	t.Logf("child said:\n%s", out)
	for _, want := range []string{"export: ", "open: ", "fresh: "} {
		line := lineWith(out, want)
		if !strings.Contains(line, "read-only file system") || !strings.Contains(line, "choose a writable --out") {
			t.Errorf("%q, want a read-only error with a hint", line)
		}
	}
	equalMaps(t, "run after failures on a read-only mount", hashTree(t, dir), before)
}

func TestDiskFullMount(t *testing.T) {
	dir := t.TempDir()
	out := runMountChild(t, "full", dir)
	if l := lineWith(out, "add: "); !strings.Contains(l, "no space left on device") || !strings.Contains(l, "disk is full") {
		t.Errorf("%q, want ENOSPC with a hint", l)
	}
	var acked, journaled, torn int
	if _, err := fmt.Sscanf(lineWith(out, "acked "), "acked %d journaled %d torn %d", &acked, &journaled, &torn); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	if acked == 0 || journaled != acked || torn != 0 {
		t.Errorf("acked %d units, journal holds %d with %d torn bytes", acked, journaled, torn)
	}
	if l := lineWith(out, "export: "); !strings.Contains(l, "no space left on device") {
		t.Errorf("%q, want ENOSPC", l)
	}
	if l := lineWith(out, "journal unchanged: "); !strings.HasSuffix(l, "true") {
		t.Errorf("%q", l)
	}
}

func lineWith(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
