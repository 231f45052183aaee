package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// projector turns one journal row (decoded as In) into Parquet rows.
type projector[In, Out any] func(unit string, p provColumns, in *In, emit func(Out, int64)) error

// envelope decodes a journal line with its rows typed as In (rows of other
// configs in the same line decode loosely and are skipped).
type envelope[In any] struct {
	Prov Provenance `json:"prov"`
	Rows []In       `json:"rows"`
}

// configOutput is what writing one config produced (in the staging dir).
type configOutput struct {
	files    []string // final base names, train-00000-of-0000N.parquet
	rows     int64
	sample   any // first row, for the card
	methods  map[string]bool
	features []feature
}

const batchRows = 256

type rowBatch[Out any] struct {
	rows    []Out
	sizes   []int64
	methods map[string]bool
	err     error
}

// writeConfig streams the rows of ix (sorted by unit id) into Parquet shards
// in outDir. Decoding runs on a few workers; results are written in index
// order, so output bytes do not depend on scheduling. It stops between
// batches of rows once ctx is done, removing what it wrote.
func writeConfig[In, Out any](ctx context.Context, jdir, outDir string, ix *rowIndex, project projector[In, Out], o *ExportOptions, progress func(int64)) (*configOutput, error) {
	if err := mkdirAll(outDir); err != nil {
		return nil, err
	}
	sw := &shardWriter[Out]{dir: outDir, opts: o}
	out := &configOutput{methods: map[string]bool{}}

	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	defer halt()

	type job struct {
		units []string
		lines [][]byte
		rows  []uint16
		res   chan rowBatch[Out]
	}
	jobs := make(chan job)
	order := make(chan chan rowBatch[Out], 2*runtime.GOMAXPROCS(0))
	readErr := make(chan error, 1)

	// Reader: one goroutine walks the index (the line reader is not
	// concurrent) and hands out batches.
	go func() {
		defer close(order)
		defer close(jobs)
		lr := newLineReader(jdir)
		defer lr.Close()
		for i := 0; i < len(ix.ents); i += batchRows {
			end := min(i+batchRows, len(ix.ents))
			j := job{res: make(chan rowBatch[Out], 1)}
			for k := i; k < end; k++ {
				e := &ix.ents[k]
				line, err := lr.read(e)
				if err == nil && !checkLine(line) {
					err = fmt.Errorf("journal segment %08d changed during export at byte %d", e.seg, e.off)
				}
				if err != nil {
					readErr <- err
					return
				}
				j.units = append(j.units, string(ix.unit(e)))
				j.lines = append(j.lines, append([]byte(nil), line...))
				j.rows = append(j.rows, e.row)
			}
			select {
			case order <- j.res:
			case <-stop:
				return
			}
			select {
			case jobs <- j:
			case <-stop:
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var b rowBatch[Out]
				b.methods = map[string]bool{}
				for k, line := range j.lines {
					var env envelope[In]
					if err := json.Unmarshal(line, &env); err != nil {
						b.err = fmt.Errorf("decode journal entry of %q: %w", j.units[k], plainJSON(err))
						break
					}
					if int(j.rows[k]) >= len(env.Rows) {
						b.err = fmt.Errorf("journal entry of %q has no row %d", j.units[k], j.rows[k])
						break
					}
					b.methods[env.Prov.Method] = true
					err := project(j.units[k], provOf(&env.Prov), &env.Rows[j.rows[k]], func(r Out, size int64) {
						b.rows = append(b.rows, r)
						b.sizes = append(b.sizes, size)
					})
					if err != nil {
						b.err = err
						break
					}
				}
				j.res <- b
			}
		}()
	}

	var werr error
	for res := range order {
		if werr != nil {
			// Stopping: drain without waiting, since the reader may have
			// queued a batch it then never handed to a worker.
			continue
		}
		b := <-res
		if b.err == nil {
			b.err = ctx.Err()
		}
		if b.err != nil {
			werr = b.err
			halt()
			continue
		}
		for m := range b.methods {
			out.methods[m] = true
		}
		for k := range b.rows {
			if out.sample == nil {
				s := b.rows[k]
				out.sample = &s
			}
			if err := sw.add(b.rows[k], b.sizes[k]); err != nil {
				werr = err
				halt()
				break
			}
		}
		if progress != nil && werr == nil {
			progress(sw.total)
		}
	}
	halt()
	wg.Wait()
	select {
	case err := <-readErr:
		if werr == nil {
			werr = err
		}
	default:
	}
	if werr != nil {
		sw.abort()
		return nil, werr
	}
	files, err := sw.finish()
	if err != nil {
		return nil, err
	}
	out.files, out.rows = files, sw.total
	out.features = featuresOf(parquet.SchemaOf(new(Out)))
	return out, nil
}

// shardWriter cuts a row stream into row groups of at most MaxRowGroupBytes
// and shards of at most MaxShardBytes (uncompressed estimates), writing
// part files that finish renames once the shard count is known.
type shardWriter[T any] struct {
	dir  string
	opts *ExportOptions

	f       *os.File
	w       *parquet.GenericWriter[T]
	pending []T
	parts   []string

	shardBytes, rgBytes int64
	shardRows, rgRows   int64
	total               int64
}

func (s *shardWriter[T]) add(row T, size int64) error {
	if s.w != nil && s.shardRows > 0 && s.shardBytes+size > s.opts.MaxShardBytes {
		if err := s.closeShard(); err != nil {
			return err
		}
	}
	if s.w == nil {
		if err := s.openShard(); err != nil {
			return err
		}
	}
	if s.rgRows > 0 && s.rgBytes+size > s.opts.MaxRowGroupBytes {
		if err := s.writePending(); err != nil {
			return err
		}
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("flush row group of %s: %w", s.f.Name(), diskHint(err))
		}
		s.rgBytes, s.rgRows = 0, 0
	}
	s.pending = append(s.pending, row)
	s.shardBytes += size
	s.rgBytes += size
	s.shardRows++
	s.rgRows++
	s.total++
	if len(s.pending) >= batchRows {
		return s.writePending()
	}
	return nil
}

func (s *shardWriter[T]) writePending() error {
	if len(s.pending) == 0 {
		return nil
	}
	if _, err := s.w.Write(s.pending); err != nil {
		return fmt.Errorf("write rows to %s: %w", s.f.Name(), diskHint(err))
	}
	clear(s.pending)
	s.pending = s.pending[:0]
	return nil
}

func (s *shardWriter[T]) openShard() error {
	path := filepath.Join(s.dir, fmt.Sprintf("part-%05d.parquet.tmp", len(s.parts)))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, dataFileMode)
	if err != nil {
		return fmt.Errorf("create shard %s: %w", path, diskHint(err))
	}
	if err := f.Chmod(dataFileMode); err != nil { // whatever the umask
		f.Close()
		return fmt.Errorf("chmod shard %s: %w", path, diskHint(err))
	}
	s.f = f
	s.parts = append(s.parts, path)
	s.w = parquet.NewGenericWriter[T](fileWriter{f},
		parquet.Compression(&parquet.Zstd),
		// A fixed created_by keeps re-exports byte-identical; the version
		// is synthkit's, not the build's.
		parquet.CreatedBy("synthkit", s.opts.Version, "parquet-go"),
		// v1 data pages are the most widely readable (see the reference notes).
		parquet.DataPageVersion(1),
		parquet.PageBufferSize(1<<20),
	)
	s.shardBytes, s.rgBytes, s.shardRows, s.rgRows = 0, 0, 0, 0
	return nil
}

func (s *shardWriter[T]) closeShard() error {
	if err := s.writePending(); err != nil {
		return err
	}
	name := s.f.Name()
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("finish shard %s: %w", name, diskHint(err))
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync shard %s: %w", name, diskHint(err))
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close shard %s: %w", name, diskHint(err))
	}
	s.f, s.w = nil, nil
	return nil
}

// finish closes the last shard and gives every part its final name.
func (s *shardWriter[T]) finish() ([]string, error) {
	if s.w != nil {
		if err := s.closeShard(); err != nil {
			s.abort()
			return nil, err
		}
	}
	var names []string
	for i, p := range s.parts {
		name := shardName(i, len(s.parts))
		if err := os.Rename(p, filepath.Join(s.dir, name)); err != nil {
			return nil, fmt.Errorf("name shard %s: %w", p, diskHint(err))
		}
		names = append(names, name)
	}
	return names, syncDir(s.dir)
}

func (s *shardWriter[T]) abort() {
	if s.f != nil {
		s.f.Close()
	}
	for _, p := range s.parts {
		os.Remove(p)
	}
}

func shardName(i, n int) string { return fmt.Sprintf("train-%05d-of-%05d.parquet", i, n) }

// parquetStats reads the footer of a written file: rows and the
// uncompressed size the card reports as num_bytes.
func parquetStats(path string) (rows, bytes, fileSize int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("stat %s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read footer of %s: %w", path, err)
	}
	for _, rg := range pf.Metadata().RowGroups {
		bytes += rg.TotalByteSize
	}
	return pf.NumRows(), bytes, st.Size(), nil
}

var errNoRows = errors.New("the journal has no accepted rows yet")
