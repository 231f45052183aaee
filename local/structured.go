package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// InvalidOutputError says a model kept returning output that does not
// parse into the requested schema. Methods count it as a rejected unit
// with reason "invalid_output" rather than stopping the run.
type InvalidOutputError struct {
	Model    string
	Attempts int
	Last     string // the last reply, shortened
	Err      error
}

func (e *InvalidOutputError) Error() string {
	return fmt.Sprintf("%s gave no valid JSON for the schema in %d attempts: %v (last reply: %q)", e.Model, e.Attempts, e.Err, e.Last)
}

func (e *InvalidOutputError) Unwrap() error { return e.Err }

// ChatStructured asks m for a reply matching schema, validates it and
// decodes it into out. An invalid reply (not JSON, wrong shape, cut off at
// num_predict) is retried with a new seed up to retries more times; then an
// [*InvalidOutputError] is returned. Transport errors return at once.
func ChatStructured(ctx context.Context, m Model, req *ChatRequest, schema *Schema, out any, retries int) (*Response, error) {
	r := *req
	r.Schema = schema.Raw()
	var base int64
	if req.Seed != nil {
		base = *req.Seed
	}
	var lastErr error
	var last string
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 || req.Seed != nil {
			// A fresh seed per retry: the same seed would replay the same failure.
			r.Seed = Int64(base + int64(attempt)*7919)
		}
		resp, err := m.Chat(ctx, &r)
		if err != nil {
			return nil, err
		}
		last = resp.Content
		if lastErr = DecodeJSON(resp.Content, schema, out); lastErr == nil {
			return resp, nil
		}
		if resp.Truncated() {
			lastErr = fmt.Errorf("reply cut off at num_predict (%d tokens): %w", resp.OutputTokens, lastErr)
		}
	}
	if len(last) > 200 {
		last = last[:200] + "…"
	}
	return nil, &InvalidOutputError{Model: req.Model, Attempts: retries + 1, Last: last, Err: lastErr}
}

// DecodeJSON finds the JSON value in a model reply (tolerating code fences
// and chatter around it, which models without grammar support produce),
// validates it against schema and decodes it into out.
func DecodeJSON(reply string, schema *Schema, out any) error {
	text := extractJSON(reply)
	if text == "" {
		return errors.New("reply holds no JSON object")
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("reply is not valid JSON: %w", err)
	}
	if err := numbersInRange(v); err != nil {
		return err
	}
	v = fromNumbers(v)
	if schema != nil {
		if err := schema.Validate(v); err != nil {
			return fmt.Errorf("reply does not match the schema: %w", err)
		}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(text), out); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// A value the schema allows but out cannot hold (an integer
			// beyond int64): say so without Go's type names.
			path := "$"
			if te.Field != "" {
				path += "." + te.Field
			}
			return fmt.Errorf("reply does not fit: %s: %s is out of range or of the wrong kind", path, te.Value)
		}
		return fmt.Errorf("decode reply: %w", err)
	}
	return nil
}

// extractJSON returns the outermost {...} or [...] span of s.
func extractJSON(s string) string {
	s = strings.TrimSpace(s)
	if json.Valid([]byte(s)) {
		return s
	}
	start := strings.IndexAny(s, "{[")
	if start < 0 {
		return ""
	}
	closer := byte('}')
	if s[start] == '[' {
		closer = ']'
	}
	end := strings.LastIndexByte(s, closer)
	if end <= start {
		return s[start:] // let the decoder say what is wrong
	}
	return s[start : end+1]
}

// numbersInRange refuses a number too large for float64 (1e400), which
// would reach the validator as an infinity.
func numbersInRange(v any) error {
	switch x := v.(type) {
	case json.Number:
		if _, err := x.Float64(); err != nil {
			return fmt.Errorf("reply has a number out of range: %s", shorten(x.String(), 40))
		}
	case []any:
		for _, e := range x {
			if err := numbersInRange(e); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, e := range x {
			if err := numbersInRange(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// fromNumbers turns json.Number into float64 so validation sees plain types.
func fromNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fromNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = fromNumbers(x[k])
		}
	}
	return v
}
