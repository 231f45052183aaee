package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"synthkit/local"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	ollama      string
	ollamaBin   string
	concurrency string
	timeout     time.Duration
	retries     int
	pull        bool
	noStart     bool

	concurrencyN int // parsed --concurrency; 0 = auto
}

func (g *globalOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.ollama, "ollama", "", "Ollama servers as `HOST[,HOST...]`; requests are spread over all of them (default $OLLAMA_HOST, then 127.0.0.1:11434)")
	fs.StringVar(&g.ollamaBin, "ollama-bin", "", "ollama `binary` to start when no server answers (default: ollama on PATH)")
	fs.BoolVar(&g.noStart, "no-start", false, "never start an Ollama server, fail instead")
	fs.StringVar(&g.concurrency, "concurrency", "auto", "requests in flight per host: a number, or auto to find the fastest")
	fs.DurationVar(&g.timeout, "timeout", 10*time.Minute, "per-request timeout (slow local models need a generous one)")
	fs.IntVar(&g.retries, "retries", 6, "retries of a failed request (connection refused, 5xx, timeout) with exponential backoff")
	fs.BoolVar(&g.pull, "pull", true, "pull missing models (--pull=false refuses and says what to pull)")
}

func (g *globalOptions) validate() error {
	c := strings.TrimSpace(g.concurrency)
	if c == "" || c == "auto" {
		g.concurrencyN = 0
	} else {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return usagef("--concurrency must be auto or a number ≥ 1, not %q", g.concurrency)
		}
		g.concurrencyN = n
	}
	if g.timeout <= 0 {
		return usagef("--timeout must be positive, not %s", g.timeout)
	}
	if g.retries < 0 {
		return usagef("--retries must be ≥ 0, not %d", g.retries)
	}
	return nil
}

// connection is a ready client plus the server synthkit may have started.
type connection struct {
	client  *local.Client
	managed *local.ManagedServer
}

func (c *connection) Close() {
	if c != nil && c.managed != nil {
		c.managed.Stop()
	}
}

// connect finds the Ollama hosts (starting one if none answers and none was
// named elsewhere) and builds the scheduled client. models is how many
// models the command will use, so a started server can keep them loaded.
func (g *globalOptions) connect(ctx context.Context, errOut io.Writer, models int) (*connection, error) {
	hosts, err := local.ParseHosts(g.ollama)
	if err != nil {
		return nil, usagef("--ollama: %v", err)
	}
	parallel := g.concurrencyN
	if parallel == 0 {
		parallel = 4 // auto tops out here on a server we start; more rarely pays on one machine
	}
	live, managed, err := local.FindOrStart(ctx, local.ServerOptions{
		Hosts: hosts, Bin: g.ollamaBin, NoStart: g.noStart,
		NumParallel: parallel, MaxLoadedModels: max(models, 1),
		Notify: func(s string) { fmt.Fprintln(errOut, s) },
	})
	if err != nil {
		return nil, err
	}
	opts := local.SchedulerOptions{Concurrency: g.concurrencyN, RequestTimeout: g.timeout, MaxRetries: g.retries}
	if g.retries == 0 {
		opts.MaxRetries = -1 // zero retries, not the default
	}
	if managed != nil && g.concurrencyN == 0 {
		opts.MaxConcurrency = parallel
	}
	client, err := local.NewClient(live, opts, nil)
	if err != nil {
		managed.Stop()
		return nil, err
	}
	return &connection{client: client, managed: managed}, nil
}
