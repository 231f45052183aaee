package export

import (
	"bytes"
	"context"
	"encoding/json"
)

// configSpec is one config as data: see configs.go, where every config is
// defined, and configSpecs, which lists them.
type configSpec struct {
	name string
	// from is the config a derived config is projected from ("" for a
	// config commands append with [Run.Add]).
	from string
	// use is the card's one-line description of the config.
	use string
	// tags are the card tags the config adds.
	tags []string
	// decode reads a journal row of the config back into its [Row] type
	// (configs commands append only).
	decode func(json.RawMessage) (Row, error)
	// write streams the rows of a (sorted) index to Parquet shards.
	write func(ctx context.Context, jdir, outDir string, ix *rowIndex, o *ExportOptions, progress func(int64)) (*configOutput, error)
}

// primary makes the spec of a config commands append as rows of type R;
// export decodes them as In and projects them to Parquet rows Out.
func primary[R Row, In, Out any](name string, project projector[In, Out], use string, tags ...string) *configSpec {
	s := derivedFrom("", name, project, use, tags...)
	s.decode = func(raw json.RawMessage) (Row, error) {
		var r R
		if err := json.Unmarshal(raw, &r); err != nil {
			return r, plainJSON(err)
		}
		return r, nil
	}
	return s
}

// derivedFrom makes the spec of a config export derives from the rows of
// config from.
func derivedFrom[In, Out any](from, name string, project projector[In, Out], use string, tags ...string) *configSpec {
	return &configSpec{name: name, from: from, use: use, tags: tags,
		write: func(ctx context.Context, jdir, outDir string, ix *rowIndex, o *ExportOptions, progress func(int64)) (*configOutput, error) {
			return writeConfig(ctx, jdir, outDir, ix, project, o, progress)
		}}
}

// specOf returns the spec of a config, or nil.
func specOf(name string) *configSpec {
	for _, s := range configSpecs {
		if s.name == name {
			return s
		}
	}
	return nil
}

// knownConfigs names every config, in configSpecs order.
var knownConfigs = func() []string {
	var out []string
	for _, s := range configSpecs {
		out = append(out, s.name)
	}
	return out
}()

func metadataString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "{}"
	}
	return string(raw)
}

// Size estimates approximate the Arrow in-memory (uncompressed) size, the
// measure the Hub uses for row groups and shards: bytes plus offsets.
func msgsSize(ms []Message) int64 {
	n := int64(4)
	for _, m := range ms {
		n += int64(len(m.Role)+len(m.Content)) + 8
	}
	return n
}

func strSize(ss ...string) int64 {
	var n int64
	for _, s := range ss {
		n += int64(len(s)) + 4
	}
	return n
}

func assistant(text string) []Message { return []Message{{Role: "assistant", Content: text}} }
