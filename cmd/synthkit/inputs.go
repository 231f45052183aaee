package main

import (
	"github.com/spf13/pflag"

	"synthkit/local"
	"synthkit/prompts/inputs"
)

// inputFlags are the flags that say what to read prompts from.
type inputFlags struct {
	path           string
	promptColumn   string
	messagesColumn string
	config, split  string
}

// inputHelp lists what --prompts reads, for the commands' help.
const inputHelp = `INPUT (--prompts)
  A file, detected by content: JSON Lines, a JSON array (Alpaca's
  alpaca.json), CSV/TSV, plain text (one prompt per line) or Parquet; a
  folder of Parquet shards in the Hub layout (a ` + "`hf download`" + ` snapshot;
  --config/--split pick the files the card's configs name); a previous
  synthkit run directory; or - for standard input. Records may hold
  "prompt", "instruction" (+ "input"), "messages" (role/content),
  ShareGPT "conversations" (from/value) or "question"; --prompt-column or
  --messages-column name anything else. For a multi-turn record the prompt
  is the conversation up to and excluding its last assistant turn.
  Invalid UTF-8 is refused with file and line (or row), exit status 2.`

func (f *inputFlags) AddFlags(fs *pflag.FlagSet, usage string) {
	fs.StringVar(&f.path, "prompts", "", usage)
	fs.StringVar(&f.promptColumn, "prompt-column", "", "the `column` holding the prompt (text or a message list), when it is not a usual name")
	fs.StringVar(&f.messagesColumn, "messages-column", "", "the `column` holding whole conversations (role/content or from/value lists)")
	fs.StringVar(&f.config, "config", "", "dataset folder: the `config` to read (default: the card's default)")
	fs.StringVar(&f.split, "split", "", "dataset folder: the `split` to read (default: train)")
}

// load reads the input, keeping the named scalar columns (a reference
// answer); its errors are the user's to fix (exit status 2).
func (f *inputFlags) load(fields ...string) (*inputs.Set, error) {
	set, err := inputs.Load(f.path, inputs.Options{PromptColumn: f.promptColumn, MessagesColumn: f.messagesColumn,
		Config: f.config, Split: f.split, Fields: nonEmpty(fields...)})
	if err != nil {
		return nil, inputError(err)
	}
	return set, nil
}

// conversations returns each record's prompt as chat messages.
func conversations(set *inputs.Set) [][]local.Message {
	out := make([][]local.Message, len(set.Records))
	for i, r := range set.Records {
		for _, m := range r.Prompt {
			out[i] = append(out[i], local.Message{Role: m.Role, Content: m.Content})
		}
	}
	return out
}

// nonEmpty drops empty names.
func nonEmpty(names ...string) []string {
	var out []string
	for _, n := range names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}
