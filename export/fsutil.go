package export

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Test seams: tests swap these to simulate a full or failing disk.
var (
	// fileWrite performs every data write of the package (journal, vectors,
	// Parquet, card), so one seam covers them all.
	fileWrite = func(f *os.File, b []byte) (int, error) { return f.Write(b) }
	// createTemp creates every temporary file that is later renamed.
	createTemp = os.CreateTemp
)

// dataFileMode is the mode of every file Export and OpenRun publish (run.json,
// README.md, Parquet shards), whatever the umask: the folder is shared as is.
const dataFileMode = 0o644

// fileWriter adapts fileWrite to io.Writer for libraries (parquet-go).
type fileWriter struct{ f *os.File }

func (w fileWriter) Write(b []byte) (int, error) { return fileWrite(w.f, b) }

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new file, never a torn one: temp file in the same directory,
// write, fsync, rename, fsync the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := createTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", path, diskHint(err))
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	n, err := fileWrite(f, data)
	if err == nil && n != len(data) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(data))
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), diskHint(err))
	}
	// os.CreateTemp makes the file 0600; a dataset folder is meant to be
	// shared, so every file in it is 0644 like the Parquet shards.
	if err := f.Chmod(dataFileMode); err != nil {
		return fmt.Errorf("chmod %s: %w", f.Name(), diskHint(err))
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.Name(), diskHint(err))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), diskHint(err))
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, diskHint(err))
	}
	return syncDir(dir)
}

// syncDir makes a rename or create in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		// EINVAL: some file systems cannot fsync a directory; nothing to do.
		return fmt.Errorf("sync dir %s: %w", dir, diskHint(err))
	}
	return nil
}

// mkdirAll creates dir and makes its entry durable in the parent.
func mkdirAll(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, diskHint(err))
	}
	return syncDir(filepath.Dir(dir))
}

// diskHint adds what the user can do to the errors a full, read-only or
// forbidden output directory produces.
func diskHint(err error) error {
	var hint string
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(*hintError)):
		return err // already explained
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		hint = "the disk is full: free some space and run the same command again; the journal keeps everything acknowledged so far"
	case errors.Is(err, syscall.EROFS):
		hint = "the file system is read-only: choose a writable --out directory"
	case errors.Is(err, fs.ErrPermission):
		hint = "permission denied: choose a writable --out directory or fix its permissions"
	default:
		return err
	}
	// Our messages already name the file; drop the op and path an
	// *os.PathError would repeat (the errno stays for errors.Is).
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return &hintError{err: err, hint: hint}
}

type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + " (" + e.hint + ")" }
func (e *hintError) Unwrap() error { return e.err }
