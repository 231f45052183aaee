// Package inputs reads the data users already have — prompts, seed tasks,
// existing answers and preference pairs — from the files they hold, into
// one record shape ([Record]). Every method that takes input reads it
// through [Load] (or [Scan], for record types of its own).
//
// # Formats
//
// The format is told by the content, the file name only where the content
// cannot:
//
//   - Parquet: the file starts with "PAR1". Read with parquet-go, one row
//     group after the other and only the columns the record needs (plus
//     scalar columns for [Record.Fields]), so a 10 GB file is never
//     loaded whole. Nested list<struct<role, content>> columns (what
//     synthkit and TRL datasets write) are read as message lists.
//   - JSON Lines: the first non-blank character is "{". One object a line.
//   - A JSON array of objects: the first character is "[" (Alpaca's
//     alpaca.json).
//   - CSV and TSV with a header row: by the .csv and .tsv extensions, or a
//     first line that names a known column (prompt, instruction, …)
//     between commas or tabs.
//   - Plain text: anything else; one prompt per non-blank line, trimmed.
//   - A synthkit run directory (it has journal/): the first row of every
//     accepted unit, through [export.ReadRows].
//   - A folder of data files, such as a `hf download` snapshot or a
//     synthkit export: the files the card's YAML `configs:` name for
//     [Options.Config] and [Options.Split] (default: the default config,
//     split "train"); without a card, Config is a sub-folder and the split
//     is taken from file names (data/train-00000-of-00001.parquet).
//   - A glob of files ("shards/*.parquet"), and "-" for standard input.
//
// Compressed files, archives and Arrow files are refused with a hint.
//
// # Record shapes
//
// Per record, the prompt comes from the first of these columns that has a
// value: "prompt" (a string or a message list), "instruction" (Alpaca;
// a non-empty "input" is appended after a blank line), "messages"
// (role/content), "conversations" (ShareGPT from/value; human, gpt and
// system become user, assistant and system), "question". For a
// conversation, the prompt is the conversation up to and excluding its
// last assistant turn, which becomes [Record.Completion]; a conversation
// ending with a user turn is all prompt. [Options.PromptColumn] and
// [Options.MessagesColumn] name any other column.
//
// Existing answers: "completion", "response" or "output" when no
// assistant turn gave one; "chosen" and "rejected" (strings, or message
// lists with or without the prompt in front, as TRL and
// UltraFeedback-binarized write them; without a prompt column the prompt
// is taken from "chosen"); "completions" or "responses" lists of strings or
// {model, response} objects.
//
// # Errors
//
// Every error is an [*InputError] naming the file and line (text formats)
// or row (Parquet, counted from 0): a file of no known format, a missing
// column (with the columns there are), an empty selection, a record
// without a prompt, and invalid UTF-8. The rule for UTF-8 is the same for
// every format: bytes that are not UTF-8 are refused, never replaced, so
// a bad file stops before any work is done rather than mid-run.
//
// # Identity
//
// [Set.Hash] identifies the input for resume. For Parquet it is computed
// from file names, sizes and footers without reading a row; for the other
// formats from the records in order.
package inputs
