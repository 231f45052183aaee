//go:build !linux

package export

import (
	"errors"
	"testing"
)

func childMountNS(string, string) error { return errors.New("mount namespaces need Linux") }

func TestReadOnlyMount(t *testing.T) { t.Skip("needs Linux mount namespaces") }

func TestDiskFullMount(t *testing.T) { t.Skip("needs Linux mount namespaces") }
