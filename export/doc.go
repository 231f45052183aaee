// Package export owns everything synthkit writes to disk: the run journal
// (the source of truth), resume, Parquet shards, the dataset card and the
// push to the Hugging Face Hub.
//
// # Run directory
//
//	out/my-run/
//	  run.json        Manifest: version, command, method, models with digests,
//	                  options, seed, template hashes, times, notes, counts
//	  journal/        append-only JSONL segments, one line per finished unit
//	  vectors/        append-only float32 embeddings keyed by unit id
//	  data/           train-00000-of-0000N.parquet of the default config
//	  <config>/       train-….parquet of every other config
//	  README.md       the dataset card
//
// # Journal and resume
//
// A generating command opens the run with [OpenRun], skips units that are
// [Run.Done], and hands each finished unit to [Run.Add] (rows) or
// [Run.Reject] (a reason). Add returns once the line is written and
// fsync'd; concurrent callers share one fsync (group commit). Every line
// carries a CRC, so a line torn by a crash is detected, and the next
// OpenRun truncates it and appends to the same segment. Only the last,
// unacknowledged write can be torn: a bad line with a valid one after it is
// damage, reported as a [*DamagedJournalError] (file and byte range) and
// never truncated; [ExportOptions].SkipDamaged exports around it. The first
// entry of a unit wins: duplicates from races or redone work are ignored
// everywhere (Done, counts, export).
//
// Resuming requires the same method, seed, model names and digests and
// template hashes; anything else is refused with an [*IncompatibleError]
// that names the difference. OpenRun with fresh moves the old run to
// <dir>.old-<time> and starts over; nothing is deleted.
//
// # Export
//
// [Export] projects the journal to one Parquet config per kind of row (sft,
// preferences, ratings, critiques, plus critiques_sft and
// critiques_preferences derived from critiques) and writes README.md. Rows
// are sorted by unit id, so the same journal gives byte-identical files
// whatever order workers finished in. Memory stays bounded: export keeps a
// small index per row (position in the journal, unit id), never the rows.
// Files are zstd-compressed, row groups are cut at ~100 MB and shards at
// ~500 MB (uncompressed estimates), every file has a page index. Files are
// staged in .export.tmp and renamed into place; an interrupted export is
// simply run again.
//
// # Push
//
// [Push] uploads README.md, run.json and the shards over the Hub's HTTP API
// (preupload, Git LFS batch + PUT, one NDJSON commit), skipping files the
// repository already has and deleting shards a re-export dropped. The token
// comes from HF_TOKEN or the huggingface_hub token file and is sent only to
// the Hub's host.
package export
