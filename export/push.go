package export

import (
	"bytes"
	"cmp"
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
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// PushOptions configures [Push]. The zero value gives the defaults.
type PushOptions struct {
	// Private creates the repository as private (when Push creates it).
	Private bool
	// Revision is the branch to commit to; default "main".
	Revision string
	// CommitMessage defaults to "Upload dataset with synthkit".
	CommitMessage string
	// Token overrides HF_TOKEN and the token file (for tests and callers
	// that manage credentials themselves). Never logged.
	Token string
	// Endpoint overrides HF_ENDPOINT (default https://huggingface.co).
	Endpoint string
	// HTTPClient defaults to http.DefaultClient; deadlines come from ctx.
	HTTPClient *http.Client
	// KeepStale keeps remote shards that this export no longer has; by
	// default they are deleted with the (last) commit, like
	// `hf upload --delete "data/*"`.
	KeepStale bool
	// Progress, when set, is told about each file as it is handled
	// ("unchanged", "already stored", "uploading", "committed").
	Progress func(path, status string)
}

// PushResult says what Push did.
type PushResult struct {
	// CommitURL is the last commit's; empty when nothing changed and no
	// commit was made.
	CommitURL string
	// Uploaded, Unchanged and Deleted are repository paths, sorted.
	Uploaded  []string
	Unchanged []string
	Deleted   []string
}

// Push uploads an exported run (README.md, run.json and the Parquet shards;
// never the journal or vectors) to the dataset repository repo ("user/name")
// over the Hub's HTTP API: create the repository if needed (or, when the
// token may not create repositories, check that it exists), read the
// branch head and the files there, ask the Hub how each file is stored
// (preupload), send Parquet through Git LFS (batch API, then PUT to the
// storage URL, single or multipart; empty files go inline), then commit on
// top of that head. Files the repository already has with the same content
// are skipped. More than 100 files go in several commits, the card and the
// deletions in the last one.
//
// Before any request, the card's license is checked against the Hub's list
// (see [CheckLicense]). A commit is never made twice: after a 5xx or a lost
// connection the head is read again before a retry, and the commit names
// its parent so the Hub refuses a stale one; if someone else commits in
// between, Push plans again on top of their commit.
//
// The token comes from HF_TOKEN or the huggingface_hub token file; it is
// sent only to the Hub's host and never printed or written, and it is taken
// out of any server message that echoes it.
func Push(ctx context.Context, dir, repo string, opts PushOptions) (*PushResult, error) {
	ns, name, ok := strings.Cut(repo, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("push: repository %q is not of the form user/name", repo)
	}
	// Local checks first: nothing is sent for a push that cannot succeed.
	files, err := localFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", dir, err)
	}
	if err := checkCardLicense(dir); err != nil {
		return nil, fmt.Errorf("push %s: %w", dir, err)
	}
	token := opts.Token
	if token == "" {
		var err error
		if token, err = hubToken(); err != nil {
			return nil, fmt.Errorf("push: %w", err)
		}
	}
	endpoint := strings.TrimRight(opts.Endpoint, "/")
	if endpoint == "" {
		endpoint = hubEndpoint()
	}
	eu, err := url.Parse(endpoint)
	if err != nil || eu.Host == "" {
		return nil, fmt.Errorf("push: bad Hub endpoint %q", endpoint)
	}
	rev := opts.Revision
	if rev == "" {
		rev = "main"
	}
	msg := opts.CommitMessage
	if msg == "" {
		msg = "Upload dataset with synthkit"
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	p := &pusher{
		c:        &hubClient{endpoint: endpoint, host: eu.Host, token: token, http: hc, retries: 4, backoff: hubBackoff},
		repo:     repo,
		rev:      rev,
		progress: opts.Progress,
	}
	if p.progress == nil {
		p.progress = func(string, string) {}
	}
	res, err := p.push(ctx, ns, name, files, opts.Private, opts.KeepStale, msg)
	if err != nil {
		return nil, p.c.scrub(fmt.Errorf("push to %s: %w", repo, err))
	}
	return res, nil
}

// push does the network part of [Push].
func (p *pusher) push(ctx context.Context, ns, name string, files []*localFile, private, keepStale bool, msg string) (*PushResult, error) {
	if err := p.createRepo(ctx, ns, name, private); err != nil {
		return nil, err
	}
	head, err := p.head(ctx)
	if err != nil {
		return nil, err
	}
	remote, err := p.listRemote(ctx, cmp.Or(head, p.rev))
	if err != nil {
		return nil, err
	}
	if err := p.preupload(ctx, files); err != nil {
		return nil, err
	}
	res := &PushResult{}
	committed := map[string]bool{} // paths our commits added or deleted
	stored := map[string]bool{}    // LFS objects the Hub has confirmed
	for round := 0; ; round++ {
		changed, unchanged, deleted := plan(files, remote, keepStale)
		if round == 0 {
			for _, f := range unchanged {
				p.progress(f, "unchanged")
			}
		}
		if len(changed) == 0 && len(deleted) == 0 {
			break
		}
		if round == maxPushRounds {
			return nil, fmt.Errorf("branch %s keeps moving: someone else is committing to %s at the same time; run push again when they are done", p.rev, p.repo)
		}
		var lfsFiles []*localFile
		for _, f := range changed {
			if f.lfs && !stored[f.sha256] {
				lfsFiles = append(lfsFiles, f)
			}
		}
		if err := p.uploadLFS(ctx, lfsFiles); err != nil {
			return nil, err
		}
		for _, f := range lfsFiles {
			stored[f.sha256] = true
		}
		moved, err := p.commitAll(ctx, msg, commitOps(changed, deleted), &head, res, committed)
		if err != nil {
			return nil, err
		}
		if moved == nil {
			break
		}
		remote = moved // someone else committed: plan again on top of it
	}
	for _, f := range files {
		switch {
		case f.ignore:
		case committed[f.path]:
			res.Uploaded = append(res.Uploaded, f.path)
		default:
			res.Unchanged = append(res.Unchanged, f.path)
		}
	}
	slices.Sort(res.Deleted)
	return res, nil
}

// plan compares the local files with the remote tree: what to upload,
// what is already there, and which stale shards to delete.
func plan(files []*localFile, remote map[string]remoteEntry, keepStale bool) (changed []*localFile, unchanged, deleted []string) {
	for _, f := range files {
		r, ok := remote[f.path]
		switch {
		case f.ignore:
			continue
		case ok && f.lfs && r.LFS != nil && r.LFS.OID == f.sha256:
			unchanged = append(unchanged, f.path)
		case ok && !f.lfs && r.OID == f.gitOID:
			unchanged = append(unchanged, f.path)
		default:
			changed = append(changed, f)
		}
	}
	if !keepStale {
		local := map[string]bool{}
		for _, f := range files {
			local[f.path] = true
		}
		for path := range remote {
			if d, base := filepath.Split(path); isShardDir(filepath.Base(d)) && shardPattern.MatchString(base) && !local[path] {
				deleted = append(deleted, path)
			}
		}
		slices.Sort(deleted)
	}
	return changed, unchanged, deleted
}

// recipeStages returns the stage run directories of a recipe's output
// folder (a folder with recipe-state.json and no run.json of its own),
// sorted; nil for a run directory.
func recipeStages(dir string) ([]string, error) {
	if fileExists(filepath.Join(dir, manifestFile)) || !fileExists(filepath.Join(dir, "recipe-state.json")) {
		return nil, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	stages := []string{}
	for _, e := range ents {
		if e.IsDir() && fileExists(filepath.Join(dir, e.Name(), manifestFile)) {
			stages = append(stages, e.Name())
		}
	}
	return stages, nil
}

func isShardDir(d string) bool { return d == defaultDataDir || slices.Contains(knownConfigs, d) }

type localFile struct {
	path   string // in the repository, forward slashes
	abs    string
	size   int64
	sample []byte // first 512 bytes, for preupload
	sha256 string
	gitOID string // git blob id, to compare with the remote tree
	lfs    bool
	ignore bool
}

// localFiles lists what a push uploads: the card, run.json and every shard
// an export wrote. The journal, vectors and temp files stay local.
func localFiles(dir string) ([]*localFile, error) {
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		return nil, fmt.Errorf("no README.md: run `synthkit export %s` first", dir)
	}
	paths := []string{"README.md", manifestFile}
	runs := []string{""}
	if stages, err := recipeStages(dir); err != nil {
		return nil, err
	} else if stages != nil {
		// A recipe's folder: the combined card points into each stage's
		// run directory, so those go up under the same names.
		paths, runs = []string{"README.md"}, stages
	}
	for _, run := range runs {
		prefix := ""
		if run != "" {
			prefix = run + "/"
			paths = append(paths, prefix+manifestFile)
		}
		for _, d := range append([]string{defaultDataDir}, knownConfigs...) {
			ents, err := os.ReadDir(filepath.Join(dir, run, d))
			if err != nil {
				continue
			}
			for _, e := range ents {
				if !e.IsDir() && shardPattern.MatchString(e.Name()) {
					paths = append(paths, prefix+d+"/"+e.Name())
				}
			}
		}
	}
	slices.Sort(paths)
	var out []*localFile
	for _, p := range paths {
		f, err := hashFile(dir, p)
		if errors.Is(err, os.ErrNotExist) && filepath.Base(p) == manifestFile {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func hashFile(dir, rel string) (*localFile, error) {
	abs := filepath.Join(dir, filepath.FromSlash(rel))
	fh, err := os.Open(abs)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", abs, err)
	}
	s256, s1 := sha256.New(), sha1.New()
	fmt.Fprintf(s1, "blob %d\x00", st.Size())
	var head bytes.Buffer
	if _, err := io.Copy(io.MultiWriter(s256, s1, &limitedBuffer{&head, 512}), fh); err != nil {
		return nil, fmt.Errorf("read %s: %w", abs, err)
	}
	return &localFile{path: rel, abs: abs, size: st.Size(), sample: head.Bytes(),
		sha256: hex.EncodeToString(s256.Sum(nil)), gitOID: hex.EncodeToString(s1.Sum(nil))}, nil
}

type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (w *limitedBuffer) Write(p []byte) (int, error) {
	if room := w.n - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

type pusher struct {
	c        *hubClient
	repo     string
	rev      string
	progress func(path, status string)
}

func (p *pusher) api(parts ...string) string {
	return p.c.endpoint + "/api/datasets/" + p.repo + "/" + strings.Join(parts, "/")
}

// createRepo makes sure the repository exists, creating it if it can. Like
// huggingface_hub's create_repo(exist_ok=True), a refusal to create (a
// token scoped to existing repositories gets 403) is not the end: if the
// repository is there, the push goes on.
func (p *pusher) createRepo(ctx context.Context, ns, name string, private bool) error {
	body := map[string]any{"name": name, "organization": ns, "type": "dataset", "private": private}
	err := p.c.doJSON(ctx, "create repo", http.MethodPost, p.c.endpoint+"/api/repos/create", body, nil, "")
	var he *HubError
	if !errors.As(err, &he) {
		return err
	}
	switch he.StatusCode {
	case http.StatusConflict:
		return nil // exists already
	case http.StatusUnauthorized, http.StatusForbidden:
	default:
		return err
	}
	ierr := p.c.doJSON(ctx, "read dataset info", http.MethodGet, p.c.endpoint+"/api/datasets/"+p.repo, nil, nil, "")
	var ie *HubError
	switch {
	case ierr == nil:
		return nil // the token may not create, but the repository is there
	case errors.As(ierr, &ie) && ie.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w\nthe token cannot create repositories under %q, and %s does not exist (or the token cannot see it): "+
			"create the dataset repository at %s/new-dataset and push again, or use a token that may create repositories in %q",
			err, ns, p.repo, p.c.endpoint, ns)
	default:
		return err // the create's own error says more (a bad token, the Hub down)
	}
}

// head returns the commit the branch points at, or "" when the Hub does
// not know the branch (yet). Commits name it as their parent, so the Hub
// refuses one made on a stale view (412) instead of applying it twice.
func (p *pusher) head(ctx context.Context) (string, error) {
	var info struct {
		SHA string `json:"sha"`
	}
	err := p.c.doJSON(ctx, "read branch head", http.MethodGet, p.api("revision", url.PathEscape(p.rev)), nil, &info, "")
	var he *HubError
	if errors.As(err, &he) && he.StatusCode == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return info.SHA, nil
}

type remoteEntry struct {
	Type string  `json:"type"`
	Path string  `json:"path"`
	OID  string  `json:"oid"`
	Size flexInt `json:"size"`
	LFS  *struct {
		OID  string  `json:"oid"`
		Size flexInt `json:"size"`
	} `json:"lfs"`
}

// listRemote returns the files in the repository at ref, a commit or a
// branch (none for a new repository), following the tree API's pagination.
func (p *pusher) listRemote(ctx context.Context, ref string) (map[string]remoteEntry, error) {
	out := map[string]remoteEntry{}
	next := p.api("tree", url.PathEscape(ref)) + "?recursive=true&expand=false"
	for next != "" {
		resp, err := p.c.do(ctx, hubRequest{op: "list files", method: http.MethodGet, url: next})
		var he *HubError
		if errors.As(err, &he) && he.StatusCode == http.StatusNotFound {
			return out, nil // empty repository or branch
		}
		if err != nil {
			return nil, err
		}
		var ents []remoteEntry
		err = json.NewDecoder(resp.Body).Decode(&ents)
		link := resp.Header.Get("Link")
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("list files: decode answer: %w", err)
		}
		for _, e := range ents {
			if e.Type == "file" {
				out[e.Path] = e
			}
		}
		next = nextLink(link)
		if next != "" && strings.HasPrefix(next, "/") {
			next = p.c.endpoint + next
		}
	}
	return out, nil
}

// nextLink extracts the rel="next" target of an HTTP Link header.
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if ok && strings.Contains(params, `rel="next"`) {
			return strings.Trim(strings.TrimSpace(target), "<>")
		}
	}
	return ""
}

// preupload asks the Hub which files go through LFS and which it ignores.
func (p *pusher) preupload(ctx context.Context, files []*localFile) error {
	for start := 0; start < len(files); start += 256 {
		chunk := files[start:min(start+256, len(files))]
		type fileReq struct {
			Path   string `json:"path"`
			Sample string `json:"sample"`
			Size   int64  `json:"size"`
		}
		var req struct {
			Files []fileReq `json:"files"`
		}
		for _, f := range chunk {
			req.Files = append(req.Files, fileReq{Path: f.path, Sample: base64.StdEncoding.EncodeToString(f.sample), Size: f.size})
		}
		var resp struct {
			Files []struct {
				Path         string `json:"path"`
				UploadMode   string `json:"uploadMode"`
				ShouldIgnore bool   `json:"shouldIgnore"`
			} `json:"files"`
		}
		if err := p.c.doJSON(ctx, "preupload", http.MethodPost, p.api("preupload", url.PathEscape(p.rev)), req, &resp, ""); err != nil {
			return err
		}
		byPath := map[string]*localFile{}
		for _, f := range chunk {
			byPath[f.path] = f
		}
		for _, r := range resp.Files {
			if f := byPath[r.Path]; f != nil {
				// Storage refuses empty LFS uploads; huggingface_hub sends
				// empty files inline whatever the Hub says, and so do we.
				f.lfs = r.UploadMode == "lfs" && f.size > 0
				f.ignore = r.ShouldIgnore
				delete(byPath, r.Path)
			}
		}
		if len(byPath) > 0 {
			return fmt.Errorf("preupload: the Hub did not say how to upload %d file(s)", len(byPath))
		}
	}
	return nil
}

// The LFS batch answer is decoded leniently: sizes, codes and header
// values have been seen both as JSON numbers and as strings.
type lfsAction struct {
	Href   string     `json:"href"`
	Header flexHeader `json:"header"`
}

type lfsObject struct {
	OID     string  `json:"oid"`
	Size    flexInt `json:"size"`
	Actions *struct {
		Upload *lfsAction `json:"upload"`
		Verify *lfsAction `json:"verify"`
	} `json:"actions"`
	Error *struct {
		Code    flexInt `json:"code"`
		Message string  `json:"message"`
	} `json:"error"`
}

// lfsTransfers are the transfer adapters synthkit offers the batch API
// and can carry out. An answer without "transfer" means basic (Git LFS
// batch API spec).
var lfsTransfers = []string{"basic", "multipart"}

const lfsMediaType = "application/vnd.git-lfs+json"

func (p *pusher) uploadLFS(ctx context.Context, files []*localFile) error {
	for start := 0; start < len(files); start += 256 {
		chunk := files[start:min(start+256, len(files))]
		type obj struct {
			OID  string `json:"oid"`
			Size int64  `json:"size"`
		}
		req := map[string]any{
			"operation": "upload",
			"transfers": lfsTransfers,
			"hash_algo": "sha256",
			"ref":       map[string]string{"name": p.rev},
		}
		var objs []obj
		byOID := map[string]*localFile{}
		for _, f := range chunk {
			objs = append(objs, obj{OID: f.sha256, Size: f.size})
			byOID[f.sha256] = f
		}
		req["objects"] = objs
		var resp struct {
			Transfer string      `json:"transfer"`
			Objects  []lfsObject `json:"objects"`
		}
		u := p.c.endpoint + "/datasets/" + p.repo + ".git/info/lfs/objects/batch"
		if err := p.c.doJSON(ctx, "lfs batch", http.MethodPost, u, req, &resp, lfsMediaType); err != nil {
			return err
		}
		// Only the chosen adapter gives "no actions" its meaning ("already
		// stored" for basic/multipart); under another one (xet: the objects
		// come bare and the client uploads by another protocol) taking it
		// so would commit pointers to data the Hub never got.
		if resp.Transfer != "" && !slices.Contains(lfsTransfers, resp.Transfer) {
			return fmt.Errorf("lfs batch: the Hub chose the %q transfer, which synthkit does not speak (it offered %s); "+
				"upload this folder with `hf upload %s DIR --repo-type dataset` instead",
				resp.Transfer, strings.Join(lfsTransfers, " and "), p.repo)
		}
		for _, o := range resp.Objects {
			f := byOID[o.OID]
			if f == nil {
				return fmt.Errorf("lfs batch: the Hub answered for an object we did not send")
			}
			delete(byOID, o.OID)
			if o.Error != nil {
				return fmt.Errorf("lfs batch: %s: %d %s", f.path, o.Error.Code, o.Error.Message)
			}
			if o.Actions == nil || o.Actions.Upload == nil {
				p.progress(f.path, "already stored")
				continue
			}
			p.progress(f.path, "uploading")
			if err := p.uploadObject(ctx, f, o.Actions.Upload); err != nil {
				return err
			}
			if v := o.Actions.Verify; v != nil {
				body := map[string]any{"oid": f.sha256, "size": f.size}
				if err := p.c.doJSONHeaders(ctx, "lfs verify "+f.path, p.fixURL(v.Href), body, v.Header.strings()); err != nil {
					return err
				}
			}
		}
		for _, f := range byOID {
			return fmt.Errorf("lfs batch: the Hub did not answer for %s", f.path)
		}
	}
	return nil
}

// fixURL points Hub URLs at a custom HF_ENDPOINT (mirrors), as
// huggingface_hub does.
func (p *pusher) fixURL(u string) string {
	if p.c.endpoint != defaultHubEndpoint && strings.HasPrefix(u, defaultHubEndpoint+"/") {
		return p.c.endpoint + strings.TrimPrefix(u, defaultHubEndpoint)
	}
	return u
}

func (p *pusher) uploadObject(ctx context.Context, f *localFile, up *lfsAction) error {
	href := p.fixURL(up.Href)
	hdr := up.Header.strings()
	cs, multipart := hdr["chunk_size"]
	if !multipart {
		op := "upload " + f.path
		resp, err := p.c.do(ctx, hubRequest{op: op, method: http.MethodPut, url: href, header: hdr,
			bodyFrom: fileSection(f.abs, 0, f.size)})
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil
	}
	chunk, err := strconv.ParseInt(cs, 10, 64)
	if err != nil || chunk <= 0 {
		return fmt.Errorf("upload %s: bad chunk_size %q from the Hub", f.path, cs)
	}
	type part struct {
		n   int
		url string
	}
	var parts []part
	for k, v := range hdr {
		if n, err := strconv.Atoi(k); err == nil && n > 0 {
			parts = append(parts, part{n, v})
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].n < parts[j].n })
	if want := (f.size + chunk - 1) / chunk; int64(len(parts)) != want {
		return fmt.Errorf("upload %s: the Hub offered %d parts for %d bytes in chunks of %d", f.path, len(parts), f.size, chunk)
	}
	type done struct {
		PartNumber int    `json:"partNumber"`
		ETag       string `json:"etag"`
	}
	var etags []done
	for i, pt := range parts {
		off := int64(i) * chunk
		op := fmt.Sprintf("upload %s part %d/%d", f.path, i+1, len(parts))
		resp, err := p.c.do(ctx, hubRequest{op: op, method: http.MethodPut, url: p.fixURL(pt.url),
			bodyFrom: fileSection(f.abs, off, min(chunk, f.size-off))})
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		etag := resp.Header.Get("ETag")
		if etag == "" {
			return fmt.Errorf("%s: storage returned no ETag", op)
		}
		etags = append(etags, done{PartNumber: i + 1, ETag: etag})
	}
	body := map[string]any{"oid": f.sha256, "parts": etags}
	return p.c.doJSON(ctx, "complete upload "+f.path, http.MethodPost, href, body, nil, lfsMediaType)
}

// fileSection re-opens the file for each try, so a retried PUT resends it.
func fileSection(path string, off, n int64) func() (io.Reader, int64, error) {
	return func() (io.Reader, int64, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, err
		}
		return &sectionCloser{io.NewSectionReader(f, off, n), f}, n, nil
	}
}

// sectionCloser closes the file once the HTTP client is done with the body.
type sectionCloser struct {
	*io.SectionReader
	f *os.File
}

func (s *sectionCloser) Close() error { return s.f.Close() }

func (c *hubClient) doJSONHeaders(ctx context.Context, op, u string, in any, hdr map[string]string) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	h := map[string]string{"Accept": lfsMediaType}
	for k, v := range hdr {
		h[k] = v
	}
	resp, err := c.do(ctx, hubRequest{op: op, method: http.MethodPost, url: u, body: body, contentType: lfsMediaType, header: h})
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
