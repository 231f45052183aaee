package inputs

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// promptKeys are the columns a prompt is detected in, in order: the first
// one a record has with a value is used.
var promptKeys = []string{"prompt", "instruction", "messages", "conversations", "question"}

// shapeKeys are every column a record's shape is read from.
var shapeKeys = map[string]bool{
	"prompt": true, "instruction": true, "input": true, "messages": true, "conversations": true,
	"question": true, "chosen": true, "rejected": true, "completion": true, "response": true,
	"output": true, "completions": true, "responses": true,
}

// shapeColumns picks the Parquet columns Load needs (the shape's, and the
// scalar columns Record.Fields keeps) and checks the named ones exist;
// no other column is read.
func shapeColumns(opts Options) columnSelector {
	return func(names []string) ([]string, error) {
		for _, c := range append([]string{opts.MessagesColumn, opts.PromptColumn}, opts.Fields...) {
			if c != "" && !slices.Contains(names, c) {
				return nil, fmt.Errorf("no column %q; the columns are %s", c, listNames(names))
			}
		}
		var keep []string
		found := opts.MessagesColumn != "" || opts.PromptColumn != ""
		for _, n := range names {
			l := strings.ToLower(n)
			if shapeKeys[l] || n == opts.MessagesColumn || n == opts.PromptColumn || opts.keepsField(n) {
				keep = append(keep, n)
				found = found || slices.Contains(promptKeys, l) || l == "chosen"
			}
		}
		if !found {
			return nil, noPrompt(names)
		}
		return keep, nil
	}
}

func noPrompt(cols []string) error {
	return fmt.Errorf(`no prompt: want a "prompt", "instruction", "messages", "conversations" or "question" column, or name one with --prompt-column or --messages-column (columns: %s)`, listNames(cols))
}

// get returns a column by name, matching case only when it must.
func get(cols map[string]any, key string) (any, bool) {
	if v, ok := cols[key]; ok {
		return v, true
	}
	for k, v := range cols {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// toRecord gives a row the common record shape.
func toRecord(row Row, opts Options) (Record, error) {
	rec := Record{Source: row.Pos}
	cols := row.Cols
	for _, f := range opts.Fields {
		if _, ok := cols[f]; !ok {
			return rec, fmt.Errorf("no column %q; the record has %s", f, listNames(sortedKeys(cols)))
		}
	}
	for k, v := range cols {
		if !opts.keepsField(k) {
			continue
		}
		if s, ok := scalarText(v); ok {
			if rec.Fields == nil {
				rec.Fields = make(map[string]string, 4)
			}
			rec.Fields[k] = s
		}
	}
	column := func(name string) (any, error) {
		v, ok := cols[name]
		if !ok {
			return nil, fmt.Errorf("no column %q; the record has %s", name, listNames(sortedKeys(cols)))
		}
		return v, nil
	}
	var err error
	switch {
	case opts.MessagesColumn != "":
		v, err := column(opts.MessagesColumn)
		if err != nil {
			return rec, err
		}
		msgs, err := asMessages(v)
		if err != nil {
			return rec, fmt.Errorf("%q: %w", opts.MessagesColumn, err)
		}
		rec.Prompt, rec.Completion = splitConversation(msgs)
	case opts.PromptColumn != "":
		v, err := column(opts.PromptColumn)
		if err != nil {
			return rec, err
		}
		if rec.Prompt, rec.Completion, err = asPrompt(v); err != nil {
			return rec, fmt.Errorf("%q: %w", opts.PromptColumn, err)
		}
	default:
		if err := detectPrompt(&rec, cols); err != nil {
			return rec, err
		}
	}
	if err = pairs(&rec, cols); err != nil {
		return rec, err
	}
	if rec.Completions, err = completions(cols); err != nil {
		return rec, err
	}
	if rec.Completion == "" {
		for _, k := range []string{"completion", "response", "output"} {
			v, ok := get(cols, k)
			if !ok || empty(v) {
				continue
			}
			if s, ok := v.(string); ok {
				rec.Completion = s
			} else if msgs, err := asMessages(v); err == nil {
				_, rec.Completion = splitConversation(msgs)
			}
			break
		}
	}
	if len(rec.Prompt) == 0 {
		return rec, noPrompt(sortedKeys(cols))
	}
	if strings.TrimSpace(rec.PromptText()) == "" {
		return rec, errors.New("empty prompt: no user message with text")
	}
	return rec, nil
}

// detectPrompt fills the prompt from the first of promptKeys with a value.
func detectPrompt(rec *Record, cols map[string]any) error {
	var emptyKey string
	for _, k := range promptKeys {
		v, ok := get(cols, k)
		if !ok {
			continue
		}
		if empty(v) {
			if emptyKey == "" {
				emptyKey = k
			}
			continue
		}
		var err error
		switch k {
		case "prompt":
			rec.Prompt, rec.Completion, err = asPrompt(v)
		case "instruction", "question":
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("%q is %s, want a string", k, jsonKind(v))
			}
			if k == "instruction" {
				if in, _ := get(cols, "input"); in != nil {
					if in, ok := in.(string); ok && strings.TrimSpace(in) != "" {
						s += "\n\n" + in
					}
				}
			}
			rec.Prompt = []Message{{Role: "user", Content: s}}
		default: // messages, conversations
			var msgs []Message
			if msgs, err = asMessages(v); err == nil {
				rec.Prompt, rec.Completion = splitConversation(msgs)
			}
		}
		if err != nil {
			return fmt.Errorf("%q: %w", k, err)
		}
		return nil
	}
	if _, ok := get(cols, "chosen"); ok {
		return nil // a pair with an implicit prompt: see pairs
	}
	if emptyKey != "" {
		return fmt.Errorf("empty prompt (%q is empty)", emptyKey)
	}
	return noPrompt(sortedKeys(cols))
}

// pairs reads "chosen" and "rejected": strings (TRL standard) or message
// lists, explicit (answers only) or implicit (the prompt first, as in
// UltraFeedback-binarized), in which case a record without a prompt column
// takes its prompt from "chosen".
func pairs(rec *Record, cols map[string]any) error {
	side := func(k string) ([]Message, []Message, error) {
		v, ok := get(cols, k)
		if !ok || v == nil {
			return nil, nil, nil
		}
		if s, ok := v.(string); ok {
			return nil, []Message{{Role: "assistant", Content: s}}, nil
		}
		msgs, err := asMessages(v)
		if err != nil {
			return nil, nil, fmt.Errorf("%q: %w", k, err)
		}
		i := len(msgs)
		for i > 0 && msgs[i-1].Role == "assistant" {
			i--
		}
		if i == len(msgs) {
			return nil, nil, fmt.Errorf("%q does not end with an assistant message", k)
		}
		return msgs[:i], msgs[i:], nil
	}
	prompt, chosen, err := side("chosen")
	if err != nil {
		return err
	}
	_, rejected, err := side("rejected")
	if err != nil {
		return err
	}
	if (chosen == nil) != (rejected == nil) {
		return errors.New(`a preference pair needs both "chosen" and "rejected"`)
	}
	rec.Chosen, rec.Rejected = chosen, rejected
	if len(rec.Prompt) == 0 && len(prompt) > 0 {
		rec.Prompt = prompt
	}
	return nil
}

// completions reads a "completions" or "responses" list: strings, or
// objects with the text in "response", "text", "completion", "output" or
// "content" and the model in "model" or "model_name" (UltraFeedback).
func completions(cols map[string]any) ([]Completion, error) {
	for _, k := range []string{"completions", "responses"} {
		v, ok := get(cols, k)
		list, isList := v.([]any)
		if !ok || !isList || len(list) == 0 {
			continue
		}
		out := make([]Completion, len(list))
		for i, e := range list {
			switch e := e.(type) {
			case string:
				out[i].Text = e
			case map[string]any:
				for _, tk := range []string{"response", "text", "completion", "output", "content"} {
					if s, ok := e[tk].(string); ok {
						out[i].Text = s
						break
					}
				}
				for _, mk := range []string{"model", "model_name"} {
					if s, ok := e[mk].(string); ok {
						out[i].Model = s
						break
					}
				}
			default:
				return nil, fmt.Errorf("%q: element %d is %s, want a string or an object", k, i, jsonKind(e))
			}
		}
		return out, nil
	}
	return nil, nil
}

// asPrompt reads a prompt column: a string, or a message list (a final
// assistant turn, if any, becomes the completion).
func asPrompt(v any) ([]Message, string, error) {
	if s, ok := v.(string); ok {
		return []Message{{Role: "user", Content: s}}, "", nil
	}
	msgs, err := asMessages(v)
	if err != nil {
		return nil, "", err
	}
	p, c := splitConversation(msgs)
	return p, c, nil
}

// splitConversation returns the conversation up to and excluding its last
// assistant turn, and that turn; a conversation that does not end with an
// assistant turn is all prompt.
func splitConversation(msgs []Message) ([]Message, string) {
	if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" {
		return msgs[:n-1], msgs[n-1].Content
	}
	return msgs, ""
}

// roles maps the role names in use to the four of the chat format.
var roles = map[string]string{
	"system": "system", "user": "user", "assistant": "assistant", "tool": "tool",
	"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant",
	"chatgpt": "assistant", "function": "tool", "ipython": "tool",
}

// asMessages reads a message list: OpenAI/TRL {role, content} or ShareGPT
// {from, value}; content may be a list of {type: text, text} parts.
func asMessages(v any) ([]Message, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("is %s, want a list of messages", jsonKind(v))
	}
	if len(list) == 0 {
		return nil, errors.New("is an empty list of messages")
	}
	out := make([]Message, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("message %d is %s, want an object with role and content", i+1, jsonKind(e))
		}
		r, ok := m["role"]
		if !ok {
			r = m["from"]
		}
		role, _ := r.(string)
		out[i].Role = roles[strings.ToLower(strings.TrimSpace(role))]
		if out[i].Role == "" {
			return nil, fmt.Errorf("message %d: unknown role %q (want system, user, assistant or tool, or ShareGPT's human and gpt)", i+1, role)
		}
		c, ok := m["content"]
		if !ok {
			c = m["value"]
		}
		switch c := c.(type) {
		case nil:
		case string:
			out[i].Content = c
		case []any:
			var parts []string
			for _, p := range c {
				if p, ok := p.(map[string]any); ok {
					if t, ok := p["text"].(string); ok {
						parts = append(parts, t)
					}
				}
			}
			out[i].Content = strings.Join(parts, "\n")
		default:
			return nil, fmt.Errorf("message %d: content is %s, want a string", i+1, jsonKind(c))
		}
	}
	return out, nil
}

// empty tells whether a value holds nothing: null, blank text, no elements.
func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(v) == ""
	case []any:
		return len(v) == 0
	}
	return false
}

// scalarText returns a scalar value as text.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int:
		return strconv.Itoa(v), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}
