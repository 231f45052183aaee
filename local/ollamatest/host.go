package ollamatest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ollama/ollama/api"
)

const hint = "run scripts/test.sh (it starts a test Ollama) or set " + EnvHost

// Host returns the base URL of the shared test server named by
// $SYNTHKIT_TEST_OLLAMA, after making sure [TinyModel] and [TinyModelB] are
// registered there (once per process and URL).
//
// Without the variable the test is skipped under -short and fails
// otherwise: the real-server tests must never be skipped silently in CI.
func Host(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvHost)
	if raw == "" {
		if testing.Short() {
			t.Skip(EnvHost + " is not set; " + hint)
		}
		t.Fatal(EnvHost + " is not set: " + hint)
	}
	base, err := normalizeURL(raw)
	if err != nil {
		t.Fatalf("bad %s=%q: %v", EnvHost, raw, err)
	}
	if err := hostReady(base); err != nil {
		t.Fatalf("test Ollama at %s is not usable: %v (%s)", base, err, hint)
	}
	return base
}

// HostClient returns an Ollama API client for [Host].
func HostClient(t testing.TB) *api.Client {
	t.Helper()
	return NewClient(t, Host(t))
}

// NewClient returns an Ollama API client for the server at base.
func NewClient(t testing.TB, base string) *api.Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("couldn't parse server URL %q: %v", base, err)
	}
	return api.NewClient(u, http.DefaultClient)
}

// Binary returns the ollama binary tests run: $SYNTHKIT_OLLAMA_BIN, else the
// one scripts/ensure-ollama.sh caches. Like [Host], it skips under -short
// and fails otherwise when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(EnvBin); bin != "" {
		return bin
	}
	cache, err := os.UserCacheDir()
	if err == nil {
		bin := filepath.Join(cache, "synthkit", "ollama-"+OllamaVersion, "ollama")
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
	}
	if testing.Short() {
		t.Skip(EnvBin + " is not set; run scripts/test.sh (it builds ollama) or set " + EnvBin)
	}
	t.Fatal(EnvBin + " is not set and no cached ollama found: run scripts/test.sh (it builds ollama) or set " + EnvBin)
	return ""
}

// hostState remembers, per URL, whether the fixtures are registered.
var hostState struct {
	sync.Mutex
	done map[string]error
}

func hostReady(base string) error {
	hostState.Lock()
	defer hostState.Unlock()
	if err, ok := hostState.done[base]; ok {
		return err
	}
	u, _ := url.Parse(base)
	c := api.NewClient(u, http.DefaultClient)
	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	err := registerFixtures(ctx, c)
	if hostState.done == nil {
		hostState.done = make(map[string]error)
	}
	hostState.done[base] = err
	return err
}

func registerFixtures(ctx context.Context, c *api.Client) error {
	for _, m := range []struct {
		name string
		seed int64
	}{{TinyModel, TinySeed}, {TinyModelB, TinySeedB}} {
		if err := RegisterModel(ctx, c, m.name, m.seed); err != nil {
			return err
		}
	}
	return nil
}

// normalizeURL accepts "host:port" as OLLAMA_HOST does and returns a base URL
// without a trailing slash.
func normalizeURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", fmt.Errorf("no host in %q", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
