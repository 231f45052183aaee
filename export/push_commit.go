package export

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

const (
	// maxCommitOps bounds the files (added or deleted) in one commit: the
	// Hub asks for commits of fewer than 100 files (storage-limits.md),
	// and `hf upload` splits bigger uploads into several commits too.
	maxCommitOps = 100
	// maxPushRounds bounds how often a push plans again after someone
	// else moved the branch under it.
	maxPushRounds = 3
)

// commitOp is one line of a commit: a file to add or a path to delete.
type commitOp struct {
	file   *localFile // nil for a deletion
	delete string
}

func (o commitOp) path() string {
	if o.file != nil {
		return o.file.path
	}
	return o.delete
}

// commitOps orders a change for the commits: the shards first and the card
// last, then the deletions of stale shards, so that when a push is split
// into several commits the card and the deletions land with the last one
// and the repository never describes shards it does not hold yet.
func commitOps(files []*localFile, deleted []string) []commitOp {
	rank := func(f *localFile) int {
		switch {
		case strings.Contains(f.path, "/"):
			return 0
		case f.path == "README.md":
			return 2
		}
		return 1
	}
	sorted := slices.Clone(files)
	slices.SortStableFunc(sorted, func(a, b *localFile) int { return cmp.Or(rank(a)-rank(b), strings.Compare(a.path, b.path)) })
	var ops []commitOp
	for _, f := range sorted {
		ops = append(ops, commitOp{file: f})
	}
	for _, d := range deleted {
		ops = append(ops, commitOp{delete: d})
	}
	return ops
}

// commitAll commits ops on top of *head, in commits of at most
// maxCommitOps, each naming the previous one as its parent. It records
// what it committed in res and committed, and moves *head along. If
// someone else moved the branch meanwhile it stops, sets *head to the new
// head and returns the tree there, for the caller to plan again.
func (p *pusher) commitAll(ctx context.Context, msg string, ops []commitOp, head *string, res *PushResult,
	committed map[string]bool) (map[string]remoteEntry, error) {
	n := (len(ops) + maxCommitOps - 1) / maxCommitOps
	for i := range n {
		part := ops[i*maxCommitOps : min((i+1)*maxCommitOps, len(ops))]
		summary := msg
		if n > 1 {
			summary = fmt.Sprintf("%s (part %d/%d)", msg, i+1, n)
		}
		c, err := p.commit(ctx, summary, part, *head)
		if err != nil {
			return nil, err
		}
		if c.moved != nil {
			*head = c.oid
			return c.moved, nil
		}
		*head, res.CommitURL = c.oid, c.url
		for _, o := range part {
			committed[o.path()] = true
			if o.file == nil {
				res.Deleted = append(res.Deleted, o.delete)
			} else {
				p.progress(o.file.path, "committed")
			}
		}
	}
	return nil, nil
}

type commitResult struct {
	oid, url string
	// moved is the tree at the branch's new head (oid) when someone else
	// committed first and the commit was not made.
	moved map[string]remoteEntry
}

// commit makes one commit of ops on top of parent, exactly once.
//
// The commit request is never simply sent again: a 5xx or a dropped
// connection does not prove the commit was not made. Before each retry
// commit reads the branch head; if it moved to a tree that holds ops, the
// earlier try landed and is reported as the commit. The header's
// parentCommit makes the Hub refuse (412) a commit on a stale head, so
// even a head read that lags behind cannot make it commit twice.
func (p *pusher) commit(ctx context.Context, summary string, ops []commitOp, parent string) (commitResult, error) {
	body, err := commitBody(summary, ops, parent)
	if err != nil {
		return commitResult{}, err
	}
	req := hubRequest{op: "commit", method: http.MethodPost, url: p.api("commit", url.PathEscape(p.rev)), body: body,
		contentType: "application/x-ndjson", header: map[string]string{"Accept": "application/json"}}
	conflicts := 0
	var lastErr error
	for attempt := 0; ; attempt++ {
		if lastErr != nil {
			if attempt > p.c.retries {
				return commitResult{}, fmt.Errorf("%w\nthe commit may or may not have been made: run push again, it skips what the Hub already has", lastErr)
			}
			if err := sleepCtx(ctx, p.c.backoff<<(attempt-1)); err != nil {
				return commitResult{}, err
			}
			head, err := p.head(ctx)
			if err != nil {
				if !transient(err) {
					return commitResult{}, err
				}
				lastErr = err
				continue
			}
			if head != parent {
				remote, err := p.listRemote(ctx, cmp.Or(head, p.rev))
				if err != nil {
					if !transient(err) {
						return commitResult{}, err
					}
					lastErr = err
					continue
				}
				if holds(remote, ops) {
					return commitResult{oid: head, url: p.c.endpoint + "/datasets/" + p.repo + "/commit/" + head}, nil
				}
				return commitResult{oid: head, moved: remote}, nil
			}
		}
		resp, err := p.c.once(ctx, req)
		if err == nil {
			defer resp.Body.Close()
			var out struct {
				CommitURL string `json:"commitUrl"`
				CommitOID string `json:"commitOid"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				return commitResult{}, fmt.Errorf("commit: decode answer: %w", err)
			}
			return commitResult{oid: out.CommitOID, url: out.CommitURL}, nil
		}
		if ctx.Err() != nil {
			return commitResult{}, ctx.Err()
		}
		lastErr = err
		var he *HubError
		switch {
		case errors.As(err, &he) && he.StatusCode == http.StatusPreconditionFailed:
			// parent is stale: our earlier try, or someone else, moved
			// the branch; the head read above tells which.
		case errors.As(err, &he) && he.StatusCode == http.StatusConflict:
			// Another operation holds the repository: read the head and
			// try once more.
			if conflicts++; conflicts > 1 {
				return commitResult{}, fmt.Errorf("%w\nthe repository stayed busy with another operation: run push again in a moment", err)
			}
		case transient(err):
		default:
			return commitResult{}, err
		}
	}
}

// commitBody is the NDJSON the commit API expects: a header line, then one
// line per operation.
func commitBody(summary string, ops []commitOp, parent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	line := func(key string, value any) error { return enc.Encode(map[string]any{"key": key, "value": value}) }
	header := map[string]string{"summary": summary, "description": ""}
	if parent != "" {
		header["parentCommit"] = parent
	}
	if err := line("header", header); err != nil {
		return nil, err
	}
	for _, o := range ops {
		var err error
		switch f := o.file; {
		case f == nil:
			err = line("deletedFile", map[string]string{"path": o.delete})
		case f.lfs:
			err = line("lfsFile", map[string]any{"path": f.path, "algo": "sha256", "oid": f.sha256, "size": f.size})
		default:
			content, rerr := os.ReadFile(f.abs)
			if rerr != nil {
				return nil, fmt.Errorf("read %s: %w", f.abs, rerr)
			}
			err = line("file", map[string]string{"path": f.path, "content": base64.StdEncoding.EncodeToString(content), "encoding": "base64"})
		}
		if err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// holds reports whether a remote tree already has every change in ops.
func holds(remote map[string]remoteEntry, ops []commitOp) bool {
	for _, o := range ops {
		r, ok := remote[o.path()]
		switch f := o.file; {
		case f == nil:
			if ok {
				return false
			}
		case f.lfs:
			if !ok || r.LFS == nil || r.LFS.OID != f.sha256 {
				return false
			}
		default:
			if !ok || r.OID != f.gitOID {
				return false
			}
		}
	}
	return true
}

// transient reports whether a failed request may succeed if sent again:
// no answer at all, 429 or a 5xx.
func transient(err error) bool {
	var ne *netError
	var he *HubError
	switch {
	case errors.As(err, &ne):
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	case errors.As(err, &he):
		return he.StatusCode == http.StatusTooManyRequests || he.StatusCode >= 500
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
