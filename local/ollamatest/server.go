package ollamatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// Environment variables the test rig reads. scripts/test.sh sets both.
const (
	// EnvHost is the base URL of a running test server, e.g.
	// http://127.0.0.1:41234. [Host] reads it.
	EnvHost = "SYNTHKIT_TEST_OLLAMA"
	// EnvBin is the path of the ollama binary [StartServer] runs.
	EnvBin = "SYNTHKIT_OLLAMA_BIN"
)

// OllamaVersion is the Ollama release the rig builds and tests against.
const OllamaVersion = "v0.6.5"

const (
	readyTimeout    = 60 * time.Second
	registerTimeout = 2 * time.Minute
	stopTimeout     = 10 * time.Second
)

// Server is a private `ollama serve` that one test owns; see [StartServer].
type Server struct {
	t         testing.TB
	bin       string
	port      int
	modelsDir string
	logPath   string
	env       []string
	register  bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// ServerOption changes how [StartServer] runs the server.
type ServerOption func(*Server)

// WithEnv adds environment variables ("KEY=value") to the server's
// environment, after the defaults, so they override them.
func WithEnv(kv ...string) ServerOption {
	return func(s *Server) { s.env = append(s.env, kv...) }
}

// WithoutModels skips registering [TinyModel] and [TinyModelB].
func WithoutModels() ServerOption {
	return func(s *Server) { s.register = false }
}

// StartServer starts a private `ollama serve` from $SYNTHKIT_OLLAMA_BIN on a
// free loopback port with its own models directory, waits until it answers,
// registers [TinyModel] and [TinyModelB], and stops it when the test ends.
// Use it for tests that kill or restart the server; tests that only need a
// server should share the one from [Host].
//
// The server runs with OLLAMA_NUM_PARALLEL=8, OLLAMA_MAX_LOADED_MODELS=4 and
// OLLAMA_KEEP_ALIVE=30m unless [WithEnv] says otherwise.
func StartServer(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	s := &Server{
		t:         t,
		bin:       bin,
		modelsDir: filepath.Join(dir, "models"),
		logPath:   filepath.Join(dir, "ollama.log"),
		register:  true,
	}
	home := filepath.Join(dir, "home")
	for _, d := range []string{s.modelsDir, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("couldn't create %s: %v", d, err)
		}
	}
	s.env = append(s.env,
		"HOME="+home, // ollama serve writes a key pair under $HOME/.ollama
		"OLLAMA_MODELS="+s.modelsDir,
		"OLLAMA_NUM_PARALLEL=8",
		"OLLAMA_MAX_LOADED_MODELS=4",
		"OLLAMA_KEEP_ALIVE=30m",
		"OLLAMA_NOPRUNE=1",
	)
	for _, o := range opts {
		o(s)
	}
	t.Cleanup(s.cleanup)

	// A port that was free a moment ago can be taken before the server binds
	// it; try a few.
	var err error
	for range 5 {
		s.port, err = freePort()
		if err != nil {
			t.Fatalf("couldn't find a free port: %v", err)
		}
		if err = s.start(); !errors.Is(err, errExited) {
			break
		}
	}
	if err != nil {
		t.Fatalf("couldn't start ollama serve: %v\n%s", err, s.LogTail(40))
	}
	if s.register {
		if err := s.registerFixtures(); err != nil {
			t.Fatalf("couldn't register the fixture models: %v\n%s", err, s.LogTail(40))
		}
	}
	return s
}

// URL returns the server's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

// Client returns an Ollama API client for the server.
func (s *Server) Client() *api.Client {
	return api.NewClient(&url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(s.port)}, http.DefaultClient)
}

// ModelsDir returns the server's OLLAMA_MODELS directory.
func (s *Server) ModelsDir() string { return s.modelsDir }

// Kill stops the server and its runners with SIGKILL, as a crash would, and
// waits until they are gone. Requests in flight fail.
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	killGroup(s.cmd)
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on the same port with the same models
// directory, killing it first if it still runs, and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	// The old listener is gone once the process is, but give the kernel a
	// moment if the port still looks busy.
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for {
		if err = s.start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("couldn't restart ollama serve on port %d: %v\n%s", s.port, err, s.LogTail(40))
	}
	if s.register {
		if err := s.registerFixtures(); err != nil {
			s.t.Fatalf("couldn't register the fixture models after restart: %v\n%s", err, s.LogTail(40))
		}
	}
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "ollama serve log (last lines):\n" + strings.Join(lines, "\n")
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("server already running")
	}

	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("couldn't open server log: %w", err)
	}
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = append(os.Environ(), "OLLAMA_HOST=127.0.0.1:"+strconv.Itoa(s.port))
	cmd.Env = append(cmd.Env, s.env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("couldn't run %s serve: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()

	if err := waitReady(s.URL(), exited, readyTimeout); err != nil {
		killGroup(cmd)
		<-exited
		return err
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

func (s *Server) registerFixtures() error {
	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	return registerFixtures(ctx, s.Client())
}

// cleanup stops the server: SIGTERM, then SIGKILL if it lingers.
func (s *Server) cleanup() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		termGroup(cmd)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			killGroup(cmd)
			<-exited
		}
	}
	if s.t.Failed() {
		s.t.Log(s.LogTail(30))
	}
}

var errExited = errors.New("ollama serve exited before it was ready")

// waitReady polls GET /api/version until it answers 200, the process exits
// or the timeout passes.
func waitReady(base string, exited <-chan struct{}, timeout time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(base + "/api/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /api/version: %s", resp.Status)
		}
		select {
		case <-exited:
			return errExited
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ollama serve at %s not ready after %v: %w", base, timeout, err)
		}
	}
}

// freePort returns a loopback TCP port that nothing listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
