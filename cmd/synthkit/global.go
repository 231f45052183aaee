package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"synthkit/progress"
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
	quiet       bool
	logFormat   string
	progressDur time.Duration

	concurrencyN int             // parsed --concurrency; 0 = auto
	format       progress.Format // parsed --log-format

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
	fs.BoolVarP(&g.quiet, "quiet", "q", false, "print nothing on stderr but errors: no progress, notices or summary")
	fs.StringVar(&g.logFormat, "log-format", "text", "stderr `format`: text (live lines on a terminal, a plain line every --progress-interval elsewhere) or json (one object per line; "+
		"fields: time, event progress|done|log|summary|pull|interrupted, stage, done, target, accepted, rejected, requests, output_tokens, tokens_per_s, elapsed_s, eta_s, concurrency, status, error, message; see LOG FORMAT)")
	fs.DurationVar(&g.progressDur, "progress-interval", progress.DefaultInterval, "how often progress prints a plain line when stderr is not a terminal (CI, nohup)")
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
	format, err := progress.ParseFormat(g.logFormat)
	if err != nil {
		return usagef("%v", err)
	}
	g.format = format
	if g.progressDur <= 0 {
		return usagef("--progress-interval must be positive, not %s", g.progressDur)
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
	notify = g.notices(notify)
	return runner.Connect(ctx, runner.ConnectOptions{Hosts: g.ollama, Bin: g.ollamaBin, NoStart: g.noStart,
		Concurrency: g.concurrencyN, Timeout: g.timeout, Retries: g.retries, Models: models,
		Backend: g.backend, BaseURL: g.baseURL, APIKeyEnv: g.apiKeyEnv}, notify)
}

// display is how runs show progress, notices and their summary.
func (g *globalOptions) display() progress.Options {
	return progress.Options{Format: g.format, Quiet: g.quiet, Interval: g.progressDur}
}

// notices is where one-off notices ("started ollama serve …") go: w for
// text, JSON log objects for json, nowhere with --quiet.
func (g *globalOptions) notices(w io.Writer) io.Writer {
	switch {
	case g.quiet:
		return io.Discard
	case g.format == progress.FormatJSON:
		return progress.LogWriter(progress.New(w, g.display()).Logf)
	}
	return w
}

// serverHelp is the help section of the commands that take these flags:
// the fields of --log-format json.
func serverHelp(c *command) string {
	if !c.server {
		return ""
	}
	return progress.JSONFieldsHelp + "\n\n"
}
