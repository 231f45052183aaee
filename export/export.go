package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// ExportOptions configures [Export]. The zero value gives the defaults.
type ExportOptions struct {
	// License is the dataset's own license id in the card; default
	// "apache-2.0". The generating models' terms apply on top of it, which
	// the card says.
	License string
	// PrettyName is the card title; default the run directory's name.
	PrettyName string
	// ReasonMeanings explains each rejection reason in one line; the card
	// then lists the rejections as a table with their meaning.
	ReasonMeanings map[string]string
	// Tables are card tables computed at export time (the diversity
	// figures); each replaces a run table of the same title.
	Tables []CardTable
	// Language lists ISO 639-1 codes for the card; empty leaves them out.
	Language []string
	// Repo is the Hub repository id ("user/name") the card's loading
	// example uses; default the placeholder USER/REPO.
	Repo string
	// DefaultConfig is the config stored under data/ and marked default;
	// default the first of sft, preferences, critiques, ratings with rows.
	DefaultConfig string
	// Version goes into each file's created_by; default the run's
	// synthkit version.
	Version string
	// MaxRowGroupBytes bounds a row group (uncompressed estimate); default
	// 100 MB, what `datasets` and the Dataset Viewer expect.
	MaxRowGroupBytes int64
	// MaxShardBytes bounds a file (uncompressed estimate); default 500 MB,
	// the `datasets` shard size.
	MaxShardBytes int64
	// Progress, when set, is called as units are written.
	Progress func(config string, done, total int64)
	// SkipDamaged exports the valid records of a damaged journal, skipping
	// exactly the damaged lines: [ExportResult.Skipped] lists them and the
	// card notes them. Without it, Export refuses a damaged journal with a
	// [*DamagedJournalError]. A torn tail (an unfinished last write) is
	// always skipped; it is not damage.
	SkipDamaged bool
}

const (
	defaultLicense          = "apache-2.0"
	defaultMaxRowGroupBytes = 100 << 20
	defaultMaxShardBytes    = 500 << 20
	stagingDir              = ".export.tmp"
	defaultDataDir          = "data"
)

func (o ExportOptions) withDefaults(dir string, m *Manifest) ExportOptions {
	if o.License == "" {
		o.License = defaultLicense
	}
	if o.PrettyName == "" {
		o.PrettyName = filepath.Base(dir)
	}
	if o.Repo == "" {
		o.Repo = "USER/REPO"
	}
	if o.Version == "" {
		o.Version = m.Version
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.MaxRowGroupBytes <= 0 {
		o.MaxRowGroupBytes = defaultMaxRowGroupBytes
	}
	if o.MaxShardBytes <= 0 {
		o.MaxShardBytes = defaultMaxShardBytes
	}
	return o
}

// ExportResult describes what Export wrote.
type ExportResult struct {
	// Configs in card order: the default config first, then by name.
	Configs []ConfigResult
	// Counts are the journal's counts (what the card reports).
	Counts Counts
	// Skipped lists the damaged journal ranges passed over with
	// [ExportOptions.SkipDamaged]; SkippedLines and SkippedBytes are their
	// totals. Units whose line was damaged are in no config and no count.
	Skipped      []DamagedRange
	SkippedLines int
	SkippedBytes int64
	// TornBytes is the size of a torn tail at the end of the journal (an
	// unfinished write of a crashed or still running command), not exported.
	TornBytes int64
}

// ConfigResult is one exported config.
type ConfigResult struct {
	Name    string
	Default bool
	// Dir is the config's folder relative to the run: "data" for the
	// default config, else the config name.
	Dir string
	// Files are relative to the run directory, in shard order.
	Files []string
	Rows  int64
	// NumBytes is the uncompressed size (Σ row-group sizes); DownloadSize
	// is the sum of file sizes.
	NumBytes     int64
	DownloadSize int64

	features []feature
	sample   any
	methods  map[string]bool
}

// Export projects the journal of the run in dir to Parquet files (one
// folder per config) and a dataset card, README.md.
//
// Rows are written sorted by unit id (bytewise), so the same journal always
// yields byte-identical files, whatever order workers finished in. Export
// streams: it keeps an index of about 32 bytes plus the unit id per row,
// never the rows. Files are written to dir/.export.tmp and renamed into
// place when complete; shards of a previous export that are no longer part
// of the dataset are removed. Export never writes to the journal, and can
// run while a command is still appending (it exports what is durable).
//
// Export stops soon after ctx is done (between batches of rows) and returns
// an error that wraps ctx.Err(); it then has published nothing, so the
// files of a previous export stay as they were. Once it starts moving files
// into place (a few renames) it finishes, so a dataset folder is never left
// half published by a cancellation.
func Export(ctx context.Context, dir string, opts ExportOptions) (*ExportResult, error) {
	dir = filepath.Clean(dir)
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	o := opts.withDefaults(dir, m)
	jdir := filepath.Join(dir, journalDir)
	if !dirExists(jdir) {
		return nil, fmt.Errorf("export %s: no journal/ directory: is this a synthkit run?", dir)
	}

	staging := filepath.Join(dir, stagingDir)
	release, err := lockStaging(staging)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	defer release()

	st := newReplayState()
	sources := map[string]*rowIndex{}
	mode := scanStrict
	if o.SkipDamaged {
		mode = scanSkipDamaged
	}
	lines := 0
	scan, err := scanJournal(jdir, mode, func(pos linePos, h header, line []byte) error {
		if lines++; lines%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		first, err := st.apply(h, line)
		if err != nil || !first || h.kind != kindRow {
			return err
		}
		for i, c := range h.configs {
			ix := sources[c]
			if ix == nil {
				ix = &rowIndex{}
				sources[c] = ix
			}
			ix.add(h.unit, pos, i)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, withDir(err, dir))
	}
	counts := st.snapshot()
	// run.json's counts are written only from acknowledged (synced)
	// records, so a journal that holds fewer has lost some: a tail cut off
	// or zeroed, a segment removed. Never export that silently.
	if counts.Accepted < m.Counts.Accepted && !o.SkipDamaged {
		return nil, fmt.Errorf("export %s: the journal holds %d accepted records but run.json recorded %d: records were lost "+
			"(the end of the last journal segment is unreadable, or a segment is missing); "+
			"run `synthkit export %s --skip-damaged` to export what is left", dir, counts.Accepted, m.Counts.Accepted, dir)
	}
	res := &ExportResult{Counts: counts, Skipped: scan.skipped, TornBytes: scan.dropped}
	for _, d := range scan.skipped {
		res.SkippedLines += d.Lines
		res.SkippedBytes += d.Bytes()
	}

	dropSuperseded(sources, st.states)
	plans, err := planConfigs(sources, o.DefaultConfig)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	if len(plans) == 0 {
		return nil, fmt.Errorf("export %s: %w (%d rejected)", dir, errNoRows, counts.RejectedTotal())
	}
	for _, ix := range sources {
		ix.sort()
	}

	for _, p := range plans {
		cr, err := p.write(ctx, jdir, filepath.Join(staging, p.dir), &o)
		if err != nil {
			return nil, fmt.Errorf("export %s: config %s: %w", dir, p.name, err)
		}
		res.Configs = append(res.Configs, *cr)
	}

	card, err := renderCard(m, res, &o)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	// Last chance to stop: from here on files move into place, and a
	// cancellation would leave a mix of this export and the previous one.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	if err := publish(dir, staging, res.Configs); err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "README.md"), card); err != nil {
		return nil, fmt.Errorf("export %s: write dataset card: %w", dir, err)
	}
	return res, nil
}

// configPlan is one config to write: its rows come from a source index
// (derived configs share the index of the config they derive from).
type configPlan struct {
	spec      *configSpec
	name, dir string
	isDefault bool
	ix        *rowIndex
}

func planConfigs(sources map[string]*rowIndex, def string) ([]configPlan, error) {
	for c := range sources {
		if s := specOf(c); s == nil || s.from != "" {
			return nil, fmt.Errorf("journal has rows of unknown config %q (written by a newer synthkit?)", c)
		}
	}
	if def == "" {
		for _, s := range configSpecs {
			if s.from == "" && sources[s.name] != nil {
				def = s.name
				break
			}
		}
	}
	var plans []configPlan
	for _, s := range configSpecs {
		src := s.name
		if s.from != "" {
			src = s.from
		}
		if ix := sources[src]; ix != nil {
			plans = append(plans, configPlan{spec: s, name: s.name, dir: s.name, ix: ix})
		}
	}
	found := false
	for i := range plans {
		if plans[i].name == def {
			plans[i].isDefault, plans[i].dir = true, defaultDataDir
			found = true
		}
	}
	if !found && len(plans) > 0 {
		return nil, fmt.Errorf("default config %q has no rows (configs with rows: %s)", def, planNames(plans))
	}
	// Card order: default first, then by name (the Hub viewer's order).
	slices.SortStableFunc(plans, func(a, b configPlan) int {
		switch {
		case a.isDefault != b.isDefault:
			if a.isDefault {
				return -1
			}
			return 1
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return plans, nil
}

func planNames(plans []configPlan) string {
	var s string
	for i, p := range plans {
		if i > 0 {
			s += ", "
		}
		s += p.name
	}
	return s
}

func (p configPlan) write(ctx context.Context, jdir, outDir string, o *ExportOptions) (*ConfigResult, error) {
	total := int64(len(p.ix.ents))
	var progress func(int64)
	if o.Progress != nil {
		progress = func(done int64) { o.Progress(p.name, done, total) }
	}
	out, err := p.spec.write(ctx, jdir, outDir, p.ix, o, progress)
	if err != nil {
		return nil, err
	}
	cr := &ConfigResult{Name: p.name, Default: p.isDefault, Dir: p.dir, features: out.features, sample: out.sample, methods: out.methods}
	// Verify after writing: the footers must add up to the rows written.
	for _, f := range out.files {
		rows, nb, size, err := parquetStats(filepath.Join(outDir, f))
		if err != nil {
			return nil, err
		}
		cr.Files = append(cr.Files, p.dir+"/"+f)
		cr.Rows += rows
		cr.NumBytes += nb
		cr.DownloadSize += size
	}
	if cr.Rows != out.rows {
		return nil, fmt.Errorf("wrote %d rows but the files hold %d", out.rows, cr.Rows)
	}
	return cr, nil
}

// publishHook runs before each rename into place; crash tests slow the
// publish phase with it to kill a process in the middle of it.
var publishHook = func(path string) {}

var shardPattern = regexp.MustCompile(`^train-[0-9]{5}-of-[0-9]{5}\.parquet$`)

// publish moves the staged shards into place and removes shards of an
// earlier export that are not part of this one. Only files named like our
// shards are ever removed.
func publish(dir, staging string, configs []ConfigResult) error {
	keep := map[string]bool{}
	for _, c := range configs {
		final := filepath.Join(dir, c.Dir)
		if err := mkdirAll(final); err != nil {
			return err
		}
		for _, f := range c.Files {
			keep[f] = true
			publishHook(f)
			if err := os.Rename(filepath.Join(staging, f), filepath.Join(dir, f)); err != nil {
				return fmt.Errorf("move %s into place: %w", f, diskHint(err))
			}
		}
		if err := syncDir(final); err != nil {
			return err
		}
	}
	for _, d := range append([]string{defaultDataDir}, knownConfigs...) {
		ents, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			continue
		}
		removed := false
		for _, e := range ents {
			rel := d + "/" + e.Name()
			if !e.IsDir() && shardPattern.MatchString(e.Name()) && !keep[rel] {
				if err := os.Remove(filepath.Join(dir, rel)); err != nil {
					return fmt.Errorf("remove stale shard %s: %w", rel, diskHint(err))
				}
				removed = true
			}
		}
		if removed {
			os.Remove(filepath.Join(dir, d)) // only succeeds when now empty
			if err := syncDir(filepath.Join(dir, d)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return syncDir(dir)
}

// lockStaging creates (or takes over) the staging directory, locks it
// against a concurrent export, and clears what a crashed export left.
func lockStaging(staging string) (release func(), err error) {
	if err := os.Mkdir(staging, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create %s: %w", staging, diskHint(err))
	}
	l, err := lockDir(staging)
	if err != nil {
		if errors.Is(err, errLocked) {
			return nil, errors.New("another export of this run is in progress")
		}
		return nil, err
	}
	ents, err := os.ReadDir(staging)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("read %s: %w", staging, err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(staging, e.Name())); err != nil {
			l.Close()
			return nil, fmt.Errorf("clear %s: %w", staging, diskHint(err))
		}
	}
	return func() {
		os.RemoveAll(staging)
		l.Close()
	}, nil
}
