package export

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "hf_testTOKEN0123456789abcdefghijklmnop"

// exportedRun makes what an export of a small run named tiny-sft leaves
// for push: a card with a license, run.json and one shard. Push reads
// these files as bytes only, so they are written directly, which keeps
// these tests independent of Export itself.
func exportedRun(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny-sft")
	ok(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	card := "---\npretty_name: \"tiny-sft\"\nlicense: \"apache-2.0\"\ntask_categories:\n- \"text-generation\"\n" +
		"configs:\n- config_name: \"sft\"\n  default: true\n  data_files:\n  - split: train\n    path: \"data/train-*\"\n---\n\n" +
		"# tiny-sft\n\n" + strings.Repeat("Synthetic data generated locally with synthkit.\n", 20)
	ok(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte(card), 0o644))
	ok(t, os.WriteFile(filepath.Join(dir, "run.json"), []byte(`{"synthkit_version": "test", "seed": 7, "counts": {"accepted": 20}}`+"\n"), 0o644))
	shard := []byte("PAR1")
	for i := 0; len(shard) < 4800; i++ {
		shard = fmt.Appendf(shard, "row %d: naïve café 漢字 %x;", i, sha256.Sum256([]byte{byte(i)}))
	}
	shard = append(shard, "PAR1"...)
	ok(t, os.WriteFile(filepath.Join(dir, "data", "train-00000-of-00001.parquet"), shard, 0o644))
	return dir
}

type exchange struct {
	Request struct {
		Method   string            `json:"method"`
		Host     string            `json:"host"`
		Path     string            `json:"path"`
		Query    *string           `json:"query"`
		Auth     bool              `json:"auth"`
		Headers  map[string]string `json:"headers"`
		JSON     json.RawMessage   `json:"json"`
		NDJSON   []json.RawMessage `json:"ndjson"`
		BodyFile string            `json:"body_file"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		JSON    json.RawMessage   `json:"json"`
		// Drop closes the connection without an answer (a network error).
		Drop bool `json:"drop"`
	} `json:"response"`
}

// replayHub serves a recorded exchange on two servers, the Hub and its
// storage, checking each request against the next recorded one.
type replayHub struct {
	t         *testing.T
	hub, blob *httptest.Server
	mu        sync.Mutex
	script    []exchange
	next      int
	dir       string
	failures  []string
}

var (
	sizeRe  = regexp.MustCompile(`"\$\{SIZE:([^}]+)\}"`)
	placeRe = regexp.MustCompile(`\$\{(SHA256|GITOID|SAMPLE|CONTENT|SIZESTR):([^}]+)\}`)
)

func newReplayHub(t *testing.T, script, dir string) *replayHub {
	t.Helper()
	fastRetries(t)
	h := &replayHub{t: t, dir: dir}
	h.hub = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve("hub", w, r) }))
	h.blob = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve("storage", w, r) }))
	t.Cleanup(h.hub.Close)
	t.Cleanup(h.blob.Close)
	raw, err := os.ReadFile(filepath.Join("testdata", "push", script))
	ok(t, err)
	var doc struct {
		Exchanges []exchange `json:"exchanges"`
	}
	ok(t, json.Unmarshal([]byte(h.fill(string(raw))), &doc))
	h.script = doc.Exchanges
	return h
}

// fill substitutes the placeholders from the exported files.
func (h *replayHub) fill(s string) string {
	file := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(h.dir, p))
		if err != nil {
			h.t.Fatalf("placeholder file %s: %v", p, err)
		}
		return b
	}
	s = sizeRe.ReplaceAllStringFunc(s, func(m string) string {
		return fmt.Sprint(len(file(sizeRe.FindStringSubmatch(m)[1])))
	})
	s = placeRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := placeRe.FindStringSubmatch(m)
		b := file(sub[2])
		switch sub[1] {
		case "SHA256":
			sum := sha256.Sum256(b)
			return hex.EncodeToString(sum[:])
		case "GITOID":
			sum := sha1.Sum(append([]byte(fmt.Sprintf("blob %d\x00", len(b))), b...))
			return hex.EncodeToString(sum[:])
		case "SAMPLE":
			return base64.StdEncoding.EncodeToString(b[:min(512, len(b))])
		case "SIZESTR":
			return fmt.Sprint(len(b))
		default:
			return base64.StdEncoding.EncodeToString(b)
		}
	})
	return strings.NewReplacer("${TOKEN}", testToken, "${HUB}", h.hub.URL, "${STORAGE}", h.blob.URL).Replace(s)
}

func (h *replayHub) fail(w http.ResponseWriter, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	h.failures = append(h.failures, msg)
	// 418: not retried, so the mismatch surfaces at once.
	http.Error(w, msg, http.StatusTeapot)
}

func (h *replayHub) serve(host string, w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	if h.next >= len(h.script) {
		h.fail(w, "unexpected request %s %s after the recorded exchange ended", r.Method, r.URL.Path)
		return
	}
	x := h.script[h.next]
	h.next++
	want := x.Request
	if want.Host == "" {
		want.Host = "hub"
	}
	where := fmt.Sprintf("exchange %d (%s %s)", h.next, want.Method, want.Path)
	if host != want.Host || r.Method != want.Method || r.URL.Path != want.Path {
		h.fail(w, "%s: got %s %s on %s", where, r.Method, r.URL.Path, host)
		return
	}
	if want.Query != nil {
		wq, _ := url.ParseQuery(*want.Query)
		if !reflect.DeepEqual(r.URL.Query(), wq) {
			h.fail(w, "%s: query %q, want %q", where, r.URL.RawQuery, *want.Query)
			return
		}
	}
	auth := r.Header.Get("Authorization")
	if want.Auth && auth != "Bearer "+testToken {
		h.fail(w, "%s: missing or wrong Authorization", where)
		return
	}
	if !want.Auth && auth != "" {
		h.fail(w, "%s: token sent where it must not go", where)
		return
	}
	for k, v := range want.Headers {
		if got := r.Header.Get(k); got != v {
			h.fail(w, "%s: header %s = %q, want %q", where, k, got, v)
			return
		}
	}
	switch {
	case want.JSON != nil:
		if !sameJSON(body, want.JSON) {
			h.fail(w, "%s: body\n got  %s\n want %s", where, body, want.JSON)
			return
		}
	case want.NDJSON != nil:
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		if len(lines) != len(want.NDJSON) {
			h.fail(w, "%s: %d NDJSON lines, want %d:\n%s", where, len(lines), len(want.NDJSON), body)
			return
		}
		for i, l := range lines {
			if !sameJSON([]byte(l), want.NDJSON[i]) {
				h.fail(w, "%s: NDJSON line %d\n got  %s\n want %s", where, i, l, want.NDJSON[i])
				return
			}
		}
	case want.BodyFile != "":
		b, _ := os.ReadFile(filepath.Join(h.dir, want.BodyFile))
		if !bytes.Equal(body, b) {
			h.fail(w, "%s: uploaded %d bytes that differ from %s", where, len(body), want.BodyFile)
			return
		}
	}
	if x.Response.Drop {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			h.t.Errorf("%s: cannot drop the connection: %v", where, err)
			return
		}
		conn.Close()
		return
	}
	for k, v := range x.Response.Headers {
		w.Header().Set(k, v)
	}
	if x.Response.JSON != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(x.Response.Status)
	w.Write(x.Response.JSON)
}

// fastRetries shortens the pause between retries for the test.
func fastRetries(t *testing.T) {
	old := hubBackoff
	hubBackoff = time.Millisecond
	t.Cleanup(func() { hubBackoff = old })
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func (h *replayHub) check() {
	h.t.Helper()
	for _, f := range h.failures {
		h.t.Error(f)
	}
	if h.next != len(h.script) {
		h.t.Errorf("only %d of %d recorded requests were made", h.next, len(h.script))
	}
}

func TestPushRecordedExchange(t *testing.T) {
	t.Run("new repository", func(t *testing.T) {
		dir := exportedRun(t)
		hub := newReplayHub(t, "new.json", dir)
		var progress []string
		res, err := Push(context.Background(), dir, "alice/tiny-sft", PushOptions{Private: true, Token: testToken,
			Endpoint: hub.hub.URL, Progress: func(p, s string) { progress = append(progress, p+" "+s) }})
		hub.check()
		ok(t, err)
		if !slices.Equal(res.Uploaded, []string{"README.md", "data/train-00000-of-00001.parquet", "run.json"}) || len(res.Deleted) != 0 {
			t.Fatalf("result = %+v", res)
		}
		if !strings.HasSuffix(res.CommitURL, "/commit/5f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6") {
			t.Fatalf("commit URL %q", res.CommitURL)
		}
		if !slices.Contains(progress, "data/train-00000-of-00001.parquet uploading") {
			t.Fatalf("progress = %v", progress)
		}
		assertNoToken(t, dir)
	})
	t.Run("update with stale shards", func(t *testing.T) {
		dir := exportedRun(t)
		hub := newReplayHub(t, "update.json", dir)
		res, err := Push(context.Background(), dir, "alice/tiny-sft", PushOptions{Token: testToken, Endpoint: hub.hub.URL, CommitMessage: "Re-export"})
		hub.check()
		ok(t, err)
		if !slices.Equal(res.Uploaded, []string{"README.md"}) ||
			!slices.Equal(res.Unchanged, []string{"data/train-00000-of-00001.parquet", "run.json"}) ||
			!slices.Equal(res.Deleted, []string{"data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"}) {
			t.Fatalf("result = %+v", res)
		}
	})
}

// TestPushRecordedFaults replays the Hub's refusals and failures that
// issue 12 item 8 found push mishandling, each as a recorded exchange (see
// testdata/push/README.md).
func TestPushRecordedFaults(t *testing.T) {
	const hub = "HUB" // stands for the fake Hub's URL in want strings
	tests := []struct {
		script  string
		prepare func(t *testing.T, dir string)
		wantErr []string // all must appear; none: the push succeeds
		check   func(t *testing.T, res *PushResult, hubURL string)
	}{
		{script: "create_forbidden.json", check: func(t *testing.T, res *PushResult, _ string) {
			if len(res.Uploaded) != 0 || len(res.Unchanged) != 3 || res.CommitURL != "" {
				t.Fatalf("result = %+v", res)
			}
		}},
		{script: "create_forbidden_missing.json",
			wantErr: []string{"403", "cannot create repositories", "alice/tiny-sft does not exist", "HUB/new-dataset"}},
		{script: "create_unauthorized.json", wantErr: []string{"create repo", "401", "is the token valid"}},
		{script: "commit_500_landed.json", check: wantCommit("b000000000000000000000000000000000000002")},
		{script: "commit_drop_landed.json", check: wantCommit("b000000000000000000000000000000000000002")},
		{script: "commit_500_retry.json", check: wantCommit("b000000000000000000000000000000000000002")},
		{script: "commit_409_retry.json", check: wantCommit("b000000000000000000000000000000000000002")},
		{script: "commit_409_twice.json", wantErr: []string{"409", "another conflicting operation", "run push again"}},
		{script: "commit_412_replan.json", check: wantCommit("b000000000000000000000000000000000000002")},
		{script: "lfs_xet.json", wantErr: []string{`"xet" transfer`, "basic", "multipart", "hf upload"}},
		{script: "lfs_lenient.json", check: func(t *testing.T, res *PushResult, _ string) {
			if !slices.Equal(res.Uploaded, []string{"data/train-00000-of-00001.parquet"}) {
				t.Fatalf("result = %+v", res)
			}
		}},
		{script: "empty_file.json",
			prepare: func(t *testing.T, dir string) { ok(t, os.WriteFile(filepath.Join(dir, "run.json"), nil, 0o644)) },
			check: func(t *testing.T, res *PushResult, _ string) {
				if !slices.Equal(res.Uploaded, []string{"run.json"}) {
					t.Fatalf("result = %+v", res)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.script, ".json"), func(t *testing.T) {
			dir := exportedRun(t)
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			h := newReplayHub(t, tt.script, dir)
			var progress []string
			res, err := Push(context.Background(), dir, "alice/tiny-sft", PushOptions{Token: testToken, Endpoint: h.hub.URL,
				Progress: func(p, s string) { progress = append(progress, s+" "+p) }})
			h.check()
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Push succeeded (%+v), want an error with %q", res, tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), strings.ReplaceAll(w, hub, h.hub.URL)) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			ok(t, err)
			if tt.check != nil {
				tt.check(t, res, h.hub.URL)
			}
		})
	}
}

// wantCommit checks that the push reports the commit sha, made once.
func wantCommit(sha string) func(t *testing.T, res *PushResult, hubURL string) {
	return func(t *testing.T, res *PushResult, hubURL string) {
		t.Helper()
		if want := hubURL + "/datasets/alice/tiny-sft/commit/" + sha; res.CommitURL != want {
			t.Fatalf("commit URL %q, want %q", res.CommitURL, want)
		}
		if !slices.Equal(res.Uploaded, []string{"README.md"}) {
			t.Fatalf("result = %+v", res)
		}
	}
}

// assertNoToken: the token appears in no file of the run directory.
func assertNoToken(t *testing.T, dir string) {
	t.Helper()
	for rel := range hashTree(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		ok(t, err)
		if bytes.Contains(b, []byte(testToken)) {
			t.Fatalf("token written to %s", rel)
		}
	}
}

// TestPushMultipart: a large file goes up in parts to the storage URLs the
// batch answer lists, then the upload is completed with the parts' ETags.
func TestPushMultipart(t *testing.T) {
	dir := exportedRun(t)
	shard := filepath.Join(dir, "data", "train-00000-of-00001.parquet")
	content, err := os.ReadFile(shard)
	ok(t, err)
	const chunk = 1000
	parts := map[int][]byte{}
	var completed map[string]any
	var mu sync.Mutex
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "" {
			t.Errorf("token sent to storage: %s %s", r.Method, r.URL.Path)
		}
		b, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/part/"):
			var n int
			fmt.Sscanf(r.URL.Path, "/part/%d", &n)
			parts[n] = b
			w.Header().Set("ETag", fmt.Sprintf(`"etag-%d"`, n))
		case r.Method == http.MethodPost && r.URL.Path == "/complete":
			json.Unmarshal(b, &completed)
		default:
			t.Errorf("storage: unexpected %s %s", r.Method, r.URL.Path)
		}
	}))
	defer storage.Close()
	nparts := (len(content) + chunk - 1) / chunk
	var committed []string
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("hub request without the token: %s", r.URL.Path)
		}
		b, _ := io.ReadAll(r.Body)
		switch {
		case strings.HasSuffix(r.URL.Path, "/repos/create"):
		case strings.Contains(r.URL.Path, "/revision/"):
			w.WriteHeader(http.StatusNotFound)
		case strings.Contains(r.URL.Path, "/tree/"):
			w.WriteHeader(http.StatusNotFound)
		case strings.Contains(r.URL.Path, "/preupload/"):
			var req struct{ Files []struct{ Path string } }
			json.Unmarshal(b, &req)
			var files []map[string]any
			for _, f := range req.Files {
				mode := "regular"
				if strings.HasSuffix(f.Path, ".parquet") {
					mode = "lfs"
				}
				files = append(files, map[string]any{"path": f.Path, "uploadMode": mode})
			}
			json.NewEncoder(w).Encode(map[string]any{"files": files})
		case strings.HasSuffix(r.URL.Path, "/objects/batch"):
			var req struct{ Objects []struct{ OID string } }
			json.Unmarshal(b, &req)
			hdr := map[string]string{"chunk_size": fmt.Sprint(chunk)}
			for i := 1; i <= nparts; i++ {
				hdr[fmt.Sprintf("%05d", i)] = fmt.Sprintf("%s/part/%d?sig=x", storage.URL, i)
			}
			json.NewEncoder(w).Encode(map[string]any{"transfer": "multipart", "objects": []any{map[string]any{
				"oid": req.Objects[0].OID, "size": len(content),
				"actions": map[string]any{"upload": map[string]any{"href": storage.URL + "/complete", "header": hdr}}}}})
		case strings.Contains(r.URL.Path, "/commit/"):
			committed = strings.Split(strings.TrimSpace(string(b)), "\n")
			json.NewEncoder(w).Encode(map[string]string{"commitUrl": "u"})
		default:
			t.Errorf("hub: unexpected %s %s", r.Method, r.URL.Path)
		}
	}))
	defer hub.Close()

	_, err = Push(context.Background(), dir, "alice/tiny-sft", PushOptions{Token: testToken, Endpoint: hub.URL})
	ok(t, err)
	var joined []byte
	for i := 1; i <= nparts; i++ {
		joined = append(joined, parts[i]...)
	}
	if len(parts) != nparts || !bytes.Equal(joined, content) {
		t.Fatalf("got %d parts (want %d), reassembled %d bytes (want %d)", len(parts), nparts, len(joined), len(content))
	}
	sum := sha256.Sum256(content)
	if completed["oid"] != hex.EncodeToString(sum[:]) || len(completed["parts"].([]any)) != nparts {
		t.Fatalf("completion = %v", completed)
	}
	if p := completed["parts"].([]any)[1].(map[string]any); p["partNumber"] != 2.0 || p["etag"] != `"etag-2"` {
		t.Fatalf("part 2 completion = %v", p)
	}
	if len(committed) != 4 || !strings.Contains(committed[1], `"lfsFile"`) {
		t.Fatalf("commit = %.300v", committed)
	}
}

// TestPushEnvironment: the token comes from HF_TOKEN or the token file,
// HF_ENDPOINT is honoured, and the token never shows in errors.
func TestPushEnvironment(t *testing.T) {
	dir := exportedRun(t)
	var gotAuth []string
	var mu sync.Mutex
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("X-Error-Message", "Invalid credentials in Authorization header")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer hub.Close()
	t.Setenv("HF_ENDPOINT", hub.URL)

	tests := []struct {
		name    string
		env     map[string]string
		file    string // token file content under HF_HOME
		want    string // token the Hub must see
		wantErr string
	}{
		{"HF_TOKEN", map[string]string{"HF_TOKEN": testToken}, "", testToken, "401"},
		{"token file", map[string]string{"HF_TOKEN": ""}, testToken + "\n", testToken, "401"},
		{"none", map[string]string{"HF_TOKEN": ""}, "", "", "no Hugging Face token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HF_HOME", home)
			t.Setenv("HF_TOKEN_PATH", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.file != "" {
				ok(t, os.WriteFile(filepath.Join(home, "token"), []byte(tt.file), 0o600))
			}
			gotAuth = nil
			_, err := Push(context.Background(), dir, "alice/tiny-sft", PushOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Push = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Fatal("the error message shows the token")
			}
			// The create's 401 is not retried; push then reads the
			// dataset info once (a token may write without creating).
			if tt.want != "" && (len(gotAuth) != 2 || gotAuth[0] != "Bearer "+tt.want || gotAuth[1] != gotAuth[0]) {
				t.Fatalf("hub saw %v, want the create and one dataset info read", gotAuth)
			}
			if tt.want == "" && len(gotAuth) != 0 {
				t.Fatal("a request was sent without a token")
			}
		})
	}
	assertNoToken(t, dir)
}

func TestPushErrors(t *testing.T) {
	for _, repo := range []string{"", "alice", "alice/", "/x", "a/b/c"} {
		if _, err := Push(context.Background(), t.TempDir(), repo, PushOptions{Token: "t"}); err == nil || !strings.Contains(err.Error(), "user/name") {
			t.Errorf("repo %q: %v", repo, err)
		}
	}
	_, err := Push(context.Background(), t.TempDir(), "a/b", PushOptions{Token: "t", Endpoint: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "synthkit export") {
		t.Fatalf("push of an unexported dir: %v", err)
	}
}

func TestNextLink(t *testing.T) {
	for h, want := range map[string]string{
		`<https://hf.co/api/x?cursor=2>; rel="next"`:                   "https://hf.co/api/x?cursor=2",
		`<https://hf.co/a>; rel="prev", <https://hf.co/b>; rel="next"`: "https://hf.co/b",
		``:                              "",
		`<https://hf.co/a>; rel="prev"`: "",
	} {
		if got := nextLink(h); got != want {
			t.Errorf("nextLink(%q) = %q, want %q", h, got, want)
		}
	}
}

// TestPushLicense: a card license the Hub does not list stops the push
// before any request, naming close matches; the Hub's ids pass.
func TestPushLicense(t *testing.T) {
	var requests []string
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.Method+" "+r.URL.Path)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer hub.Close()
	tests := []struct {
		line string   // the card's license line
		want []string // in the error; none: the license passes
	}{
		{`license: "apache2"`, []string{`"apache2"`, "apache-2.0", "synthkit export", "--license"}},
		{`license: MIT`, []string{`"MIT"`, "mit"}},
		{`license: "cc-by-4"`, []string{"cc-by-4.0"}},
		{`license: "llama-3.1"`, []string{"llama3.1"}},
		{`license: "my-own-license"`, []string{"other", "repositories-licenses"}},
		{`license: "apache-2.0"`, nil},
		{`license: llama3.1`, nil},
		{`license: 'cc-by-nc-sa-4.0'`, nil},
		{`license: "other"`, nil},
	}
	dir := exportedRun(t)
	card, err := os.ReadFile(filepath.Join(dir, "README.md"))
	ok(t, err)
	if !bytes.Contains(card, []byte("\nlicense: \"apache-2.0\"\n")) {
		t.Fatalf("the exported card has no license line:\n%.300s", card)
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			requests = nil
			edited := bytes.Replace(card, []byte(`license: "apache-2.0"`), []byte(tt.line), 1)
			ok(t, os.WriteFile(filepath.Join(dir, "README.md"), edited, 0o644))
			_, err := Push(context.Background(), dir, "alice/tiny-sft", PushOptions{Token: testToken, Endpoint: hub.URL})
			if err == nil {
				t.Fatal("Push succeeded against a Hub that refuses everything")
			}
			if tt.want == nil {
				if len(requests) == 0 || strings.Contains(err.Error(), "license") {
					t.Fatalf("a valid license stopped the push: %v", err)
				}
				return
			}
			if len(requests) != 0 {
				t.Fatalf("requests sent before the license was checked: %v", requests)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestPushTokenNeverShows runs pushes with a recognizable token through
// failure paths, against a Hub that echoes the Authorization header in its
// error messages, and checks that the token appears in no returned error
// (nor anything it wraps), no progress line and no file of the run.
func TestPushTokenNeverShows(t *testing.T) {
	fastRetries(t)
	const token = "hf_SECRETsecretSECRET0000000000000000000"
	echo := func(w http.ResponseWriter, r *http.Request, status int) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Error-Message", "rejected credentials "+auth)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error": "rejected %s"}`, auth)
	}
	// fails answers every request with its status; ok lets a push reach
	// the commit, which then fails with status.
	fails := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { echo(w, r, status) }
	}
	commitFails := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/api/repos/create":
				w.Write([]byte(`{}`))
			case strings.Contains(r.URL.Path, "/revision/"), strings.Contains(r.URL.Path, "/tree/"):
				w.WriteHeader(http.StatusNotFound)
			case strings.Contains(r.URL.Path, "/preupload/"):
				var req struct{ Files []struct{ Path string } }
				json.NewDecoder(r.Body).Decode(&req)
				var files []map[string]any
				for _, f := range req.Files {
					files = append(files, map[string]any{"path": f.Path, "uploadMode": "regular"})
				}
				json.NewEncoder(w).Encode(map[string]any{"files": files})
			default:
				echo(w, r, status)
			}
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens (network error)
		env     bool             // token from HF_TOKEN instead of PushOptions
		wantErr string           // the step that failed
	}{
		{"401 on create", fails(http.StatusUnauthorized), false, "create repo: hub answered 401"},
		{"403 on create", fails(http.StatusForbidden), true, "create repo: hub answered 403"},
		{"500 everywhere", fails(http.StatusInternalServerError), false, "create repo: hub answered 500"},
		{"400 on commit", commitFails(http.StatusBadRequest), false, "commit: hub answered 400"},
		{"500 on commit", commitFails(http.StatusInternalServerError), true, "commit: hub answered 500"},
		{"network error", nil, false, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := exportedRun(t)
			var endpoint string
			if tt.handler != nil {
				srv := httptest.NewServer(tt.handler)
				defer srv.Close()
				endpoint = srv.URL
			} else {
				srv := httptest.NewServer(http.NotFoundHandler())
				endpoint = srv.URL
				srv.Close()
			}
			opts := PushOptions{Endpoint: endpoint}
			if tt.env {
				t.Setenv("HF_TOKEN", token)
			} else {
				opts.Token = token
			}
			var progress bytes.Buffer
			opts.Progress = func(p, s string) { fmt.Fprintln(&progress, s, p) }
			res, err := Push(context.Background(), dir, "alice/tiny-sft", opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Push = %+v, %v; want an error with %q", res, err, tt.wantErr)
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				if s := fmt.Sprintf("%v %+v %#v", e, e, e); strings.Contains(s, token) {
					t.Fatalf("the token is in the error: %s", s)
				}
			}
			if strings.Contains(progress.String(), token) {
				t.Fatal("the token is in a progress line")
			}
			for rel := range hashTree(t, dir) {
				b, err := os.ReadFile(filepath.Join(dir, rel))
				ok(t, err)
				if bytes.Contains(b, []byte(token)) {
					t.Fatalf("the token is written to %s", rel)
				}
			}
		})
	}
}

// TestPushManyFiles: a push of more than 100 files is split into commits
// of at most 100 files, chained by parentCommit, the card and the
// deletions of stale shards in the last one.
func TestPushManyFiles(t *testing.T) {
	fastRetries(t)
	dir := exportedRun(t)
	ok(t, os.Remove(filepath.Join(dir, "data", "train-00000-of-00001.parquet")))
	const shards = 151
	for i := range shards {
		name := fmt.Sprintf("train-%05d-of-%05d.parquet", i, shards)
		ok(t, os.WriteFile(filepath.Join(dir, "data", name), []byte(fmt.Sprintf("PAR1 shard %d PAR1", i)), 0o644))
	}
	type entry struct {
		OID string         `json:"oid"`
		LFS map[string]any `json:"lfs,omitempty"`
	}
	var mu sync.Mutex
	head := "0000000000000000000000000000000000000000"
	tree := map[string]entry{
		"data/train-00000-of-00002.parquet": {OID: "4444444444444444444444444444444444444444", LFS: map[string]any{"oid": strings.Repeat("5", 64), "size": 9}},
		"data/train-00001-of-00002.parquet": {OID: "6666666666666666666666666666666666666666", LFS: map[string]any{"oid": strings.Repeat("7", 64), "size": 9}},
	}
	type commit struct {
		summary, parent string
		paths           []string
	}
	var commits []commit
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/api/repos/create":
			w.WriteHeader(http.StatusConflict)
		case strings.Contains(r.URL.Path, "/revision/"):
			json.NewEncoder(w).Encode(map[string]string{"sha": head})
		case strings.Contains(r.URL.Path, "/tree/"):
			var ents []map[string]any
			for p, e := range tree {
				ents = append(ents, map[string]any{"type": "file", "path": p, "oid": e.OID, "size": 1, "lfs": e.LFS})
			}
			json.NewEncoder(w).Encode(ents)
		case strings.Contains(r.URL.Path, "/preupload/"):
			var req struct{ Files []struct{ Path string } }
			json.Unmarshal(b, &req)
			var files []map[string]any
			for _, f := range req.Files {
				mode := "regular"
				if strings.HasSuffix(f.Path, ".parquet") {
					mode = "lfs"
				}
				files = append(files, map[string]any{"path": f.Path, "uploadMode": mode})
			}
			json.NewEncoder(w).Encode(map[string]any{"files": files})
		case strings.HasSuffix(r.URL.Path, "/objects/batch"):
			var req struct{ Objects []map[string]any }
			json.Unmarshal(b, &req)
			json.NewEncoder(w).Encode(map[string]any{"transfer": "basic", "objects": req.Objects}) // all stored already
		case strings.Contains(r.URL.Path, "/commit/"):
			var c commit
			for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var line struct {
					Key   string
					Value map[string]any
				}
				ok(t, json.Unmarshal([]byte(l), &line))
				v := line.Value
				p, _ := v["path"].(string)
				switch line.Key {
				case "header":
					c.summary, _ = v["summary"].(string)
					c.parent, _ = v["parentCommit"].(string)
					if i != 0 || c.parent != head {
						t.Errorf("commit %d: header %v at line %d, head is %s", len(commits)+1, v, i, head)
					}
					continue
				case "file":
					content, _ := base64.StdEncoding.DecodeString(v["content"].(string))
					sum := sha1.Sum(append([]byte(fmt.Sprintf("blob %d\x00", len(content))), content...))
					tree[p] = entry{OID: hex.EncodeToString(sum[:])}
				case "lfsFile":
					tree[p] = entry{OID: "9999999999999999999999999999999999999999", LFS: map[string]any{"oid": v["oid"], "size": v["size"]}}
				case "deletedFile":
					delete(tree, p)
					p = "-" + p
				}
				c.paths = append(c.paths, p)
			}
			commits = append(commits, c)
			head = fmt.Sprintf("%040d", len(commits))
			json.NewEncoder(w).Encode(map[string]string{"commitOid": head, "commitUrl": "/c/" + head})
		default:
			t.Errorf("hub: unexpected %s %s", r.Method, r.URL.Path)
		}
	}))
	defer hub.Close()

	res, err := Push(context.Background(), dir, "alice/tiny-sft", PushOptions{Token: testToken, Endpoint: hub.URL, CommitMessage: "Big"})
	ok(t, err)
	if len(commits) != 2 {
		t.Fatalf("%d commits, want 2 (153 files and 2 deletions, at most 100 a commit)", len(commits))
	}
	for i, c := range commits {
		if len(c.paths) > 100 || c.summary != fmt.Sprintf("Big (part %d/2)", i+1) {
			t.Errorf("commit %d: %q with %d files", i+1, c.summary, len(c.paths))
		}
	}
	last := commits[1].paths
	if !slices.Contains(last, "README.md") || !slices.Contains(last, "-data/train-00000-of-00002.parquet") ||
		slices.Contains(commits[0].paths, "README.md") {
		t.Errorf("the card and the deletions must land in the last commit: %v", last)
	}
	if len(res.Uploaded) != shards+2 || len(res.Deleted) != 2 || res.CommitURL != "/c/"+head {
		t.Errorf("result: %d uploaded, deleted %v, commit %q", len(res.Uploaded), res.Deleted, res.CommitURL)
	}
	if len(tree) != shards+2 {
		t.Errorf("the repository holds %d files, want %d", len(tree), shards+2)
	}
}
