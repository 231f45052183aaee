package diversity

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults of [Batch] for an embedding model (see [Embedder.InProcess]).
const (
	// DefaultEmbedBatch is the most texts one gathered call sends.
	DefaultEmbedBatch = 32
	// DefaultEmbedWait is how long the first text of a batch waits for
	// others: well under one embedding call, so a lone worker hardly
	// notices it.
	DefaultEmbedWait = 2 * time.Millisecond
)

// Batch returns an EmbedFunc that gathers the texts of concurrent calls
// into one call of embed: the first text opens a batch, texts arriving
// within wait join it, and it is sent when wait is over or it holds size
// texts (a call with size texts or more goes out on its own). Workers
// each embedding their record then cost the server one request per batch
// instead of one per record.
//
// Nothing waits on a lock while a model works: the batch is sent by a
// goroutine of its own, each caller waits only for its batch (or its own
// context), and new batches open while earlier ones are in flight. The
// call's context keeps the values of the first caller's and is cancelled
// only when every caller in the batch has given up, so one caller's
// cancellation does not fail the others.
func Batch(embed EmbedFunc, size int, wait time.Duration) EmbedFunc {
	b := &batcher{embed: embed, size: max(size, 1), wait: wait}
	return b.Embed
}

type batcher struct {
	embed EmbedFunc
	size  int
	wait  time.Duration

	mu   sync.Mutex
	open *gathered // the batch taking texts, nil when none
}

// gathered is one batch: its texts, then its result.
type gathered struct {
	texts []string
	full  chan struct{} // closed when the batch reaches size
	done  chan struct{} // closed when vecs and err are set

	ctx    context.Context
	cancel context.CancelFunc
	live   int  // callers still waiting (guarded by batcher.mu)
	dead   bool // every caller gave up: take no more texts

	vecs [][]float32
	err  error
}

// Embed implements [EmbedFunc].
func (b *batcher) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	if len(texts) >= b.size {
		return b.embed(ctx, texts)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g, off := b.join(ctx, texts)
	stop := context.AfterFunc(ctx, func() { b.leave(g) })
	select {
	case <-g.done:
		stop()
		if g.err != nil {
			return nil, g.err
		}
		return g.vecs[off : off+len(texts) : off+len(texts)], nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// join adds texts to the open batch (opening one if there is none, or if
// they do not fit) and returns it with the texts' offset in it.
func (b *batcher) join(ctx context.Context, texts []string) (*gathered, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.open
	if g == nil || g.dead || len(g.texts)+len(texts) > b.size {
		if g != nil {
			close(g.full) // it cannot take these: send it now
		}
		callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		g = &gathered{full: make(chan struct{}), done: make(chan struct{}), ctx: callCtx, cancel: cancel}
		b.open = g
		go b.send(g)
	}
	off := len(g.texts)
	g.texts = append(g.texts, texts...)
	g.live++
	if len(g.texts) == b.size {
		close(g.full)
		b.open = nil
	}
	return g, off
}

// leave records that a caller gave up; the last one cancels the call.
func (b *batcher) leave(g *gathered) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g.live--
	if g.live == 0 {
		g.dead = true
		g.cancel()
	}
}

// send waits until g is full or its wait is over, closes it to new texts
// and embeds them.
func (b *batcher) send(g *gathered) {
	defer g.cancel()
	t := time.NewTimer(b.wait)
	select {
	case <-g.full:
		t.Stop()
	case <-t.C:
		b.mu.Lock()
		if b.open == g {
			b.open = nil
		}
		b.mu.Unlock()
	}
	// No caller appends to g.texts any more: it left b.open under the lock.
	vecs, err := b.embed(g.ctx, g.texts)
	if err == nil && len(vecs) != len(g.texts) {
		err = fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(g.texts))
	}
	g.vecs, g.err = vecs, err
	close(g.done)
}
