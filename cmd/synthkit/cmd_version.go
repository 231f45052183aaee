package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/pflag"
)

func versionCommand() *command {
	return &command{
		name: "version", summary: "print the synthkit version", usage: "",
		long: "Print synthkit's version, the Go version and the platform.",
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			return func(_ context.Context, _ []string, out, _ io.Writer) error {
				fmt.Fprintf(out, "synthkit %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			}
		},
	}
}
