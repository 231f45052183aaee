//go:build !unix

package ollamatest

import "context"

// lockName is a no-op where flock is missing; registration is still
// idempotent, only not serialized across processes.
func lockName(ctx context.Context, name string) (unlock func(), err error) {
	return func() {}, nil
}
