package inputs

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
)

// Message is one chat turn. Role is "system", "user", "assistant" or
// "tool"; ShareGPT's "human" and "gpt" are mapped to "user" and
// "assistant" on load.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Completion is one of several existing answers to a record's prompt.
type Completion struct {
	// Model names the model that wrote Text, when the input says.
	Model string `json:"model,omitempty"`
	Text  string `json:"text"`
}

// Record is one input record in a common shape, whatever the file's
// format and column names.
type Record struct {
	// Prompt is the conversation up to and excluding its last assistant
	// turn, system message included; it always holds a user message.
	Prompt []Message `json:"prompt"`
	// Completion is an existing answer: the last assistant turn, or the
	// "completion", "response" or "output" column.
	Completion string `json:"completion,omitempty"`
	// Chosen and Rejected are a preference pair's answers (the assistant
	// turns after the prompt), from TRL's prompt/chosen/rejected or
	// UltraFeedback-binarized message lists.
	Chosen   []Message `json:"chosen,omitempty"`
	Rejected []Message `json:"rejected,omitempty"`
	// Completions are several answers to the prompt, from a "completions"
	// or "responses" list.
	Completions []Completion `json:"completions,omitempty"`
	// Fields holds scalar columns (string, number, bool; nulls left out)
	// as text: the ones [Options.Fields] asks for, plus the provenance
	// columns [KeptFields] (a model name, an id). Other columns are not
	// kept, so a large input costs memory only for what is used.
	Fields map[string]string `json:"fields,omitempty"`
	// Source is where the record is, for messages. Not part of the hash.
	Source Pos `json:"-"`
}

// PromptText returns the last user message of the prompt: what a
// single-turn method sends.
func (r Record) PromptText() string {
	for i := len(r.Prompt) - 1; i >= 0; i-- {
		if r.Prompt[i].Role == "user" {
			return r.Prompt[i].Content
		}
	}
	return ""
}

// Options changes how [Load] reads an input. The zero value detects
// everything.
type Options struct {
	// PromptColumn names the column that holds the prompt (a string or a
	// message list) when it is not one of the detected names.
	PromptColumn string
	// MessagesColumn names a column holding whole conversations
	// (role/content or from/value message lists).
	MessagesColumn string
	// Config and Split choose the files of a Hugging Face dataset folder
	// (a `hf download` snapshot or a synthkit export): the card's
	// `configs:` when README.md has them, else the config's sub-folder and
	// the files named after the split. Config defaults to the card's
	// default config, Split to "train". Both must be empty for a file.
	Config, Split string
	// Fields are scalar columns to keep in [Record.Fields] (a reference
	// answer column) besides [KeptFields]; each must exist.
	Fields []string
}

// KeptFields are the scalar columns every record keeps when present: the
// provenance that methods reading earlier runs or pair files use.
var KeptFields = []string{"id", "model", "chosen_model", "rejected_model"}

func (o Options) keepsField(name string) bool {
	return slices.Contains(KeptFields, name) || slices.Contains(o.Fields, name)
}

// Set is a loaded input.
type Set struct {
	// Records are in input order: files in name order, then line or row order.
	Records []Record
	// Format is "jsonl", "json", "csv", "tsv", "text", "parquet", "run"
	// (a synthkit run directory) or "mixed" (a folder of several formats).
	Format string
	// Files are the files read, in order ("-" for standard input, the
	// journal folder for a run).
	Files []string
	// Hash identifies the input for resume: "sha256:" and 64 hex digits.
	// For Parquet input it covers each file's name (relative to the folder
	// or as given), size and footer (the footer holds every column
	// chunk's offset, size and statistics, so a changed row changes it)
	// and the options; no row is read for it. For every other format it
	// covers the records in order, so reordering the input changes it (a
	// folder mixing Parquet and other files gets both).
	Hash string
}

// Prompts returns the prompt text of every record ([Record.PromptText]).
func (s *Set) Prompts() []string {
	out := make([]string, len(s.Records))
	for i, r := range s.Records {
		out[i] = r.PromptText()
	}
	return out
}

// Pos is a place in an input: a line of a text file, or a row of a
// Parquet file or run journal.
type Pos struct {
	File string
	// Line is the line number, from 1, in a text file; with Row set it is
	// the row index, from 0 as in `datasets`, of a Parquet file or the
	// unit index of a run. Zero without Row means no line.
	Line int64
	Row  bool
}

// String returns "file.jsonl:12", "file.parquet row 42" or "file".
func (p Pos) String() string {
	switch {
	case p.Row:
		return p.File + " row " + strconv.FormatInt(p.Line, 10)
	case p.Line > 0:
		return p.File + ":" + strconv.FormatInt(p.Line, 10)
	}
	return p.File
}

// InputError is an input that cannot be used: a file that is no known
// format, a missing column, an empty selection, invalid UTF-8, a record
// without a prompt. Load returns no other kind of error, so a caller can
// map it to one exit code (the CLI: 2, before any run directory exists).
type InputError struct {
	Pos
	Msg string
	// Err is the underlying error, if any (for example fs.ErrNotExist).
	Err error
}

func (e *InputError) Error() string {
	if p := e.Pos.String(); p != "" {
		return p + ": " + e.Msg
	}
	return e.Msg
}

func (e *InputError) Unwrap() error { return e.Err }

// errorAt returns err as an *InputError at p, keeping one that is already.
func errorAt(p Pos, err error) error {
	var ie *InputError
	if errors.As(err, &ie) {
		return err
	}
	return &InputError{Pos: p, Msg: err.Error(), Err: err}
}

func inputErrorf(p Pos, format string, args ...any) *InputError {
	return &InputError{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// Load reads every record of the input at path: a file, a glob of files, a
// Hugging Face dataset folder, a synthkit run directory, or "-" for
// standard input. The format is detected from the content (see the
// package documentation). Every error is an *InputError.
func Load(path string, opts Options) (*Set, error) {
	set := &Set{}
	rh := sha256.New() // records not from Parquet
	info, err := scan(path, opts, shapeColumns(opts), func(row Row) error {
		rec, err := toRecord(row, opts)
		if err != nil {
			return errorAt(row.Pos, err)
		}
		set.Records = append(set.Records, rec)
		if row.Format != "parquet" {
			hashRecord(rh, rec)
		}
		return nil
	})
	if err != nil {
		return nil, errorAt(Pos{File: path}, err)
	}
	set.Format, set.Files = info.format, info.files
	if len(set.Records) == 0 {
		return nil, inputErrorf(Pos{File: path}, "no records: the input is empty")
	}
	sum := rh.Sum(nil)
	if info.footers != nil {
		fmt.Fprintf(info.footers, "options\x00%s\x00%s\x00%s\x00%s\x00records\x00%x", opts.PromptColumn, opts.MessagesColumn, opts.Config, opts.Split, sum)
		sum = info.footers.Sum(nil)
	}
	set.Hash = "sha256:" + hex.EncodeToString(sum)
	return set, nil
}

// hashRecord writes rec to h unambiguously: every string with its length.
func hashRecord(h hash.Hash, rec Record) {
	var n [8]byte
	str := func(s string) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	msgs := func(tag string, ms []Message) {
		str(tag + strconv.Itoa(len(ms)))
		for _, m := range ms {
			str(m.Role)
			str(m.Content)
		}
	}
	msgs("p", rec.Prompt)
	str(rec.Completion)
	msgs("c", rec.Chosen)
	msgs("r", rec.Rejected)
	str("n" + strconv.Itoa(len(rec.Completions)))
	for _, c := range rec.Completions {
		str(c.Model)
		str(c.Text)
	}
	keys := sortedKeys(rec.Fields)
	str("f" + strconv.Itoa(len(keys)))
	for _, k := range keys {
		str(k)
		str(rec.Fields[k])
	}
}

// listNames formats names for a message: `"a", "b" and "c"`.
func listNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	switch len(q) {
	case 0:
		return "none"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
