package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"synthkit/prompts/runner"
)

// globalOptions are the Ollama flags, on every command that talks to a
// server.
type globalOptions struct {
	ollama      string
	ollamaBin   string
	concurrency string
	timeout     time.Duration
	retries     int
	pull        bool
	noStart     bool
	backend     string
	baseURL     string
	apiKeyEnv   string

	concurrencyN int // parsed --concurrency; 0 = auto

	stage stageFunc // set by `synthkit run`: a recipe stage takes the built method (cmd_run.go)
}

func (g *globalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.ollama, "ollama", "", "Ollama servers as `HOST[,HOST...]`; requests are spread over all of them (default $OLLAMA_HOST, then 127.0.0.1:11434)")
	fs.StringVar(&g.ollamaBin, "ollama-bin", "", "ollama `binary` to start when no server answers (default: ollama on PATH)")
	fs.BoolVar(&g.noStart, "no-start", false, "never start an Ollama server, fail instead")
	fs.StringVar(&g.concurrency, "concurrency", "auto", "requests in flight per host: a number, or auto to find the fastest")
	fs.DurationVar(&g.timeout, "timeout", 10*time.Minute, "per-request timeout (slow local models need a generous one)")
	fs.IntVar(&g.retries, "retries", 6, "retries of a failed request (connection refused, 5xx, timeout) with exponential backoff")
	fs.BoolVar(&g.pull, "pull", true, "pull missing models (--pull=false refuses and says what to pull)")
	fs.StringVar(&g.backend, "backend", "ollama", "server API: ollama, or openai for any OpenAI-compatible server (vLLM, SGLang, llama.cpp server, a hosted endpoint); openai never pulls models")
	fs.StringVar(&g.baseURL, "base-url", "", "with --backend openai: the servers' base `URL[,URL...]`, e.g. http://gpu-box:8000/v1")
	fs.StringVar(&g.apiKeyEnv, "api-key-env", "", "with --backend openai: the environment `variable` that holds the API key (the key itself is never printed or written)")
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
	switch g.backend {
	case "", "ollama":
		if g.baseURL != "" || g.apiKeyEnv != "" {
			return usagef("--base-url and --api-key-env go with --backend openai; for Ollama use --ollama")
		}
	case "openai":
		if g.baseURL == "" {
			return usagef("--backend openai needs --base-url, e.g. http://gpu-box:8000/v1")
		}
		if g.ollama != "" || g.ollamaBin != "" {
			return usagef("--ollama and --ollama-bin go with --backend ollama; for an OpenAI-compatible server use --base-url")
		}
	default:
		return usagef("--backend must be ollama or openai, not %q", g.backend)
	}
	return nil
}

// connect finds or starts Ollama; models is how many models the command
// will use, so a started server can keep them loaded.
func (g *globalOptions) connect(ctx context.Context, notify io.Writer, models int) (*runner.Conn, error) {
	return runner.Connect(ctx, runner.ConnectOptions{Hosts: g.ollama, Bin: g.ollamaBin, NoStart: g.noStart,
		Concurrency: g.concurrencyN, Timeout: g.timeout, Retries: g.retries, Models: models,
		Backend: g.backend, BaseURL: g.baseURL, APIKeyEnv: g.apiKeyEnv}, notify)
}
