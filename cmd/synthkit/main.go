// Command synthkit turns a local Ollama into a synthetic-data factory for
// LLM post-training: instructions (SFT), preferences and critiques, written
// as Parquet with a Hugging Face dataset card.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first Ctrl-C synthkit winds down (requests in flight
	// cancelled, the journal closed, a server it started stopped); a
	// second one kills it the default way.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if ctx.Err() != nil && code != 0 {
		printInterrupted(os.Stderr, os.Args)
		code = exitInterrupted
	}
	stop()
	os.Exit(code)
}
