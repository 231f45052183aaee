package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ServerOptions says where to look for Ollama and how to start one.
type ServerOptions struct {
	// Hosts are base URLs from [ParseHosts].
	Hosts []string
	// Bin is the ollama binary to start when no server answers; empty
	// means "ollama" on PATH.
	Bin string
	// NoStart forbids starting a server.
	NoStart bool
	// NumParallel and MaxLoadedModels go to a started server as
	// OLLAMA_NUM_PARALLEL and OLLAMA_MAX_LOADED_MODELS (0 leaves its default).
	NumParallel     int
	MaxLoadedModels int
	// StartTimeout bounds the wait for a started server to answer.
	StartTimeout time.Duration
	// Notify receives one-line notices ("started ollama serve …"); may be nil.
	Notify func(string)
}

// ManagedServer is an `ollama serve` that synthkit started and must stop.
type ManagedServer struct {
	URL     string
	LogPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Probe asks a host for its version. Like any request it is retried (a few
// attempts with backoff, [ProbeAttempts]) when the connection fails, the
// reply is cut off or the server answers 5xx, so one bad reply from a
// running server does not count as "no server". Nothing answering gives a
// [*NoServerError]; an HTTP server that answers without Ollama's
// /api/version shape gives a [*NotOllamaError].
func Probe(ctx context.Context, host string) (string, error) {
	return versionWithRetry(ctx, http.DefaultClient, host)
}

// ProbeAttempts is how many times [Probe] asks before giving up, and
// probeTimeout bounds each attempt.
const ProbeAttempts = 4

var probeTimeout = 3 * time.Second

func versionWithRetry(ctx context.Context, hc *http.Client, host string) (string, error) {
	if _, err := url.Parse(host); err != nil {
		return "", fmt.Errorf("bad Ollama host %q: %w", host, err)
	}
	var lastErr error
	for attempt := 0; attempt < ProbeAttempts; attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, probeBackoff<<(attempt-1)); err != nil {
				return "", err
			}
		}
		v, retry, err := versionOnce(ctx, hc, host)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return "", lastErr
}

// versionOnce asks once and says whether asking again may help.
func versionOnce(ctx context.Context, hc *http.Client, host string) (v string, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(host, "/")+"/api/version", nil)
	if err != nil {
		return "", false, fmt.Errorf("bad Ollama host %q: %w", host, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", true, &NoServerError{Host: host, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		// Cut off mid-reply: the server is there, the reply was not.
		return "", true, &NoServerError{Host: host, Err: fmt.Errorf("reading /api/version: %w", err)}
	}
	notOllama := &NotOllamaError{Host: host, Status: resp.Status, Body: firstLine(shorten(strings.TrimSpace(string(body)), 200))}
	if resp.StatusCode != http.StatusOK {
		// 5xx may be a proxy or a server in trouble; a 4xx will not change.
		return "", resp.StatusCode >= 500, notOllama
	}
	var reply struct {
		Version *string `json:"version"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		// Not JSON may be a reply cut off without a length to tell; ask again.
		return "", true, notOllama
	}
	if reply.Version == nil {
		return "", false, notOllama
	}
	return *reply.Version, false, nil
}

// FindOrStart returns the hosts that answer. When none does and every host
// given is on this machine, it starts `ollama serve` on a free loopback port
// (the caller must Stop the returned server). Hosts that do not answer while
// others do are dropped with a notice.
func FindOrStart(ctx context.Context, opts ServerOptions) ([]string, *ManagedServer, error) {
	notify := opts.Notify
	if notify == nil {
		notify = func(string) {}
	}
	var live []string
	var firstErr error
	var notOllama *NotOllamaError
	for _, h := range opts.Hosts {
		if _, err := Probe(ctx, h); err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			if firstErr == nil {
				firstErr = err
			}
			if notOllama == nil {
				errors.As(err, &notOllama)
			}
			continue
		}
		live = append(live, h)
	}
	if len(live) > 0 {
		if len(live) < len(opts.Hosts) {
			notify(fmt.Sprintf("warning: %v; continuing with %s", firstErr, strings.Join(live, ", ")))
		}
		return live, nil, nil
	}
	if notOllama != nil {
		// Something else holds the address: starting a server elsewhere
		// would hide the mistake.
		return nil, nil, notOllama
	}
	if opts.NoStart || !allLocal(opts.Hosts) {
		return nil, nil, firstErr
	}
	bin, err := findOllamaBin(opts.Bin)
	if err != nil {
		return nil, nil, fmt.Errorf("%w; %v", firstErr, err)
	}
	srv, err := StartServer(ctx, bin, opts)
	if err != nil {
		return nil, nil, err
	}
	notify(fmt.Sprintf("no Ollama was running: started %s serve at %s (log %s); it stops when synthkit exits", bin, srv.URL, srv.LogPath))
	return []string{srv.URL}, srv, nil
}

func allLocal(hosts []string) bool {
	for _, h := range hosts {
		u, err := url.Parse(h)
		if err != nil {
			return false
		}
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}

func findOllamaBin(bin string) (string, error) {
	if bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("--ollama-bin %s: %w", bin, err)
		}
		return bin, nil
	}
	p, err := exec.LookPath("ollama")
	if err != nil {
		return "", errors.New("no ollama binary on PATH to start (install Ollama, or pass --ollama-bin)")
	}
	return p, nil
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartServer starts `bin serve` on a free loopback port and waits until it
// answers. The server runs in its own process group and is told to die with
// synthkit, so even a killed synthkit leaves no server behind.
func StartServer(ctx context.Context, bin string, opts ServerOptions) (*ManagedServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logf, err := os.CreateTemp("", "synthkit-ollama-*.log")
	if err != nil {
		return nil, fmt.Errorf("create server log: %w", err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "OLLAMA_HOST="+addr)
	if opts.NumParallel > 0 {
		cmd.Env = append(cmd.Env, "OLLAMA_NUM_PARALLEL="+strconv.Itoa(opts.NumParallel))
	}
	if opts.MaxLoadedModels > 0 {
		cmd.Env = append(cmd.Env, "OLLAMA_MAX_LOADED_MODELS="+strconv.Itoa(opts.MaxLoadedModels))
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = serverProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	logf.Close()
	srv := &ManagedServer{URL: "http://" + addr, LogPath: logf.Name(), cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(srv.exited) }()

	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		if _, _, err := versionOnce(ctx, http.DefaultClient, srv.URL); err == nil {
			return srv, nil
		}
		select {
		case <-srv.exited:
			return nil, fmt.Errorf("%s serve exited at start: %s", bin, logTail(srv.LogPath))
		case <-ctx.Done():
			srv.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			srv.Stop()
			return nil, fmt.Errorf("%s serve did not answer within %s: %s", bin, timeout, logTail(srv.LogPath))
		}
	}
}

// Stop ends the server: SIGTERM to its process group, SIGKILL after 5 s.
func (s *ManagedServer) Stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	// The log only matters when the server failed; a clean stop removes it.
	defer os.Remove(s.LogPath)
	select {
	case <-s.exited:
		return nil
	default:
	}
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-s.exited
	}
	return nil
}

func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log)"
	}
	defer f.Close()
	st, _ := f.Stat()
	if st != nil && st.Size() > 2000 {
		f.Seek(st.Size()-2000, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return fmt.Sprintf("log %s ends with:\n%s", filepath.Base(path), strings.TrimSpace(string(b)))
}
