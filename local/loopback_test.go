package local_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synthkit/local"
	"synthkit/local/ollamatest"
)

// recordingOllama writes a stand-in for the ollama binary that records the
// OLLAMA_HOST and arguments it was started with, then runs the real one.
func recordingOllama(t *testing.T) (bin, record string) {
	t.Helper()
	dir := t.TempDir()
	record = filepath.Join(dir, "started")
	bin = filepath.Join(dir, "ollama")
	script := "#!/bin/sh\nprintf '%s|%s\\n' \"$OLLAMA_HOST\" \"$*\" >> '" + record + "'\nexec '" + ollamatest.Binary(t) + "' \"$@\"\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, record
}

// TestStartedServerIsLoopbackOnly: a server synthkit starts listens on
// 127.0.0.1 only, even when the user's environment says OLLAMA_HOST=0.0.0.0
// (which would expose the models to the network), and is not reachable on
// the machine's other addresses.
func TestStartedServerIsLoopbackOnly(t *testing.T) {
	bin, record := recordingOllama(t)
	t.Setenv("HOME", t.TempDir()) // the started server keeps its models there
	t.Setenv("OLLAMA_MODELS", filepath.Join(t.TempDir(), "models"))
	t.Setenv("OLLAMA_HOST", "0.0.0.0:11434")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Nothing answers at the (local) address given: FindOrStart starts one.
	hosts, srv, err := local.FindOrStart(ctx, local.ServerOptions{Hosts: []string{"http://127.0.0.1:1"}, Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	u, err := url.Parse(srv.URL)
	if err != nil || len(hosts) != 1 || hosts[0] != srv.URL {
		t.Fatalf("started %q, hosts %q: %v", srv.URL, hosts, err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("started server at %s, want 127.0.0.1", srv.URL)
	}
	started, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if want := u.Host + "|serve\n"; string(started) != want {
		t.Fatalf("ollama started with OLLAMA_HOST|args %q, want %q", started, want)
	}
	// Not reachable on the machine's other addresses.
	addrs, _ := net.InterfaceAddrs()
	tried := 0
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		tried++
		addr := net.JoinHostPort(ipn.IP.String(), u.Port())
		if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.Close()
			t.Errorf("the started server answers on %s, not only on loopback", addr)
		}
	}
	t.Logf("server at %s; checked it is not reachable on %d other addresses", srv.URL, tried)
}

// TestNoStartForRemoteHosts: when the hosts given are not on this machine,
// FindOrStart reports that nothing answers and starts nothing (a server it
// started could not be the one the user meant).
func TestNoStartForRemoteHosts(t *testing.T) {
	bin, record := recordingOllama(t)
	for _, h := range []string{"http://gpu-box.invalid:11434", "http://gpu-box.invalid:11434,http://localhost:1"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, srv, err := local.FindOrStart(ctx, local.ServerOptions{Hosts: strings.Split(h, ","), Bin: bin})
		cancel()
		if err == nil || srv != nil {
			srv.Stop()
			t.Fatalf("FindOrStart(%s) = %v, %v; want an error and no server", h, srv, err)
		}
		if !strings.Contains(err.Error(), "gpu-box.invalid") {
			t.Errorf("error does not name the host: %v", err)
		}
	}
	if _, err := os.Stat(record); err == nil {
		t.Fatal("ollama was started for a remote host")
	}
}
