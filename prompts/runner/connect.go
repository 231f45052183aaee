package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"synthkit/local"
)

// ConnectOptions say how to reach Ollama; they mirror the Ollama flags.
type ConnectOptions struct {
	// Hosts is a comma-separated list of servers (default $OLLAMA_HOST,
	// then 127.0.0.1:11434).
	Hosts string
	// Bin is the ollama binary to start when no server answers.
	Bin string
	// NoStart forbids starting a server.
	NoStart bool
	// Concurrency is the requests in flight per host (0: auto).
	Concurrency int
	// Timeout bounds one request; Retries is how often a failed one is
	// retried (negative: never).
	Timeout time.Duration
	Retries int
	// Models is how many models the job uses, so a started server can
	// keep them loaded.
	Models int
	// Backend is "ollama" (or empty) or "openai": then BaseURL lists the
	// OpenAI-compatible servers ("URL[,URL…]") and APIKeyEnv names the
	// environment variable holding the API key (empty: no key). Hosts,
	// Bin and NoStart do not apply.
	Backend   string
	BaseURL   string
	APIKeyEnv string
}

// Conn is a ready client plus the server synthkit may have started.
type Conn struct {
	Client  *local.Client
	managed *local.ManagedServer
}

// Close stops a server synthkit started.
func (c *Conn) Close() {
	if c != nil && c.managed != nil {
		c.managed.Stop()
	}
}

// Connect finds the Ollama hosts (starting one if none answers and none was
// named elsewhere) and builds the scheduled client. Notices ("started
// ollama serve …") go to notify.
func Connect(ctx context.Context, o ConnectOptions, notify io.Writer) (*Conn, error) {
	if o.Backend == local.BackendOpenAI {
		return connectOpenAI(ctx, o)
	}
	hosts, err := local.ParseHosts(o.Hosts)
	if err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("--ollama: %v", err)}
	}
	parallel := o.Concurrency
	if parallel == 0 {
		parallel = 4 // more rarely pays on one machine
	}
	live, managed, err := local.FindOrStart(ctx, local.ServerOptions{
		Hosts: hosts, Bin: o.Bin, NoStart: o.NoStart,
		NumParallel: parallel, MaxLoadedModels: max(o.Models, 1),
		Notify: func(s string) { fmt.Fprintln(notify, s) },
	})
	if err != nil {
		return nil, err
	}
	opts := local.SchedulerOptions{Concurrency: o.Concurrency, RequestTimeout: o.Timeout, MaxRetries: o.Retries}
	if o.Retries == 0 {
		opts.MaxRetries = -1 // zero retries, not the default
	}
	if managed != nil && o.Concurrency == 0 {
		// The server runs `parallel` requests at once: start there. Up to
		// as many again may wait in its queue, so it never idles between
		// replies; auto climbs to them only if they pay.
		opts.StartConcurrency = parallel
		opts.MaxConcurrency = 2 * parallel
	}
	client, err := local.NewClient(live, opts, nil)
	if err != nil {
		managed.Stop()
		return nil, err
	}
	return &Conn{Client: client, managed: managed}, nil
}

// connectOpenAI builds a client for OpenAI-compatible servers and checks
// that each answers GET /models. The key is read from the named variable
// here and goes nowhere but the client.
func connectOpenAI(ctx context.Context, o ConnectOptions) (*Conn, error) {
	bases, err := local.ParseBaseURLs(o.BaseURL)
	if err != nil {
		return nil, &UsageError{Msg: "--base-url: " + err.Error()}
	}
	key := ""
	if name := strings.TrimSpace(o.APIKeyEnv); name != "" {
		key = os.Getenv(name)
		if key == "" {
			return nil, &UsageError{Msg: fmt.Sprintf("--api-key-env %s: the variable is unset or empty", name)}
		}
	}
	opts := local.SchedulerOptions{Concurrency: o.Concurrency, RequestTimeout: o.Timeout, MaxRetries: o.Retries}
	if o.Retries == 0 {
		opts.MaxRetries = -1
	}
	client, err := local.NewOpenAIClient(bases, key, opts, nil)
	if err != nil {
		return nil, err
	}
	if _, err := client.ListModels(ctx); err != nil {
		return nil, err
	}
	return &Conn{Client: client}, nil
}

// UsageError is a mistake in what the user asked for (exit status 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }
