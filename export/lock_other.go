//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package export

import (
	"fmt"
	"os"
)

// lockDir only opens dir here: this platform has no flock, so concurrent
// runs on one directory are not detected.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s to lock it: %w", dir, err)
	}
	return f, nil
}
