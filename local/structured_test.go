package local

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// scriptedModel answers Chat with its replies in order and records the
// requests it got.
type scriptedModel struct {
	replies []*Response
	errs    []error
	reqs    []ChatRequest
}

func (m *scriptedModel) Chat(ctx context.Context, req *ChatRequest) (*Response, error) {
	i := len(m.reqs)
	m.reqs = append(m.reqs, *req)
	if i < len(m.errs) && m.errs[i] != nil {
		return nil, m.errs[i]
	}
	r := *m.replies[min(i, len(m.replies)-1)]
	return &r, nil
}

func (m *scriptedModel) Generate(ctx context.Context, req *GenerateRequest) (*Response, error) {
	return nil, errors.New("not scripted")
}

func (m *scriptedModel) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	return nil, errors.New("not scripted")
}

func stop(content string) *Response { return &Response{Content: content, DoneReason: "stop"} }

// ChatStructured itself validates each reply against the schema (not only
// the decoder), retries an invalid one with a fresh seed, and gives up with
// an InvalidOutputError.
func TestChatStructuredValidates(t *testing.T) {
	schema := MustCompileSchema(`{"type":"object","properties":{"score":{"type":"integer","minimum":1,"maximum":5},
		"tags":{"type":"array","items":{"type":"string","enum":["a","b"]},"maxItems":2}},"required":["score"],"additionalProperties":false}`)
	type out struct {
		Score int      `json:"score"`
		Tags  []string `json:"tags"`
	}
	tests := []struct {
		name      string
		replies   []*Response
		retries   int
		calls     int
		wantScore int    // 0: an error is expected
		wantErr   string // in the error
	}{
		{"valid first", []*Response{stop(`{"score":3}`)}, 2, 1, 3, ""},
		{"out of range, then valid", []*Response{stop(`{"score":9}`), stop(`{"score":4}`)}, 2, 2, 4, ""},
		{"bad enum in an array, then valid", []*Response{stop(`{"score":2,"tags":["c"]}`), stop(`{"score":2,"tags":["a"]}`)}, 2, 2, 2, ""},
		{"too many items, then valid", []*Response{stop(`{"score":2,"tags":["a","b","a"]}`), stop(`{"score":1}`)}, 2, 2, 1, ""},
		{"extra field, then valid", []*Response{stop(`{"score":2,"note":"x"}`), stop(`{"score":5}`)}, 2, 2, 5, ""},
		{"missing field every time", []*Response{stop(`{"tags":[]}`)}, 2, 3, 0, `missing required field "score"`},
		{"wrong type every time", []*Response{stop(`{"score":"3"}`)}, 1, 2, 0, "want integer, got string"},
		{"cut off at num_predict", []*Response{{Content: `{"score":`, DoneReason: "length", OutputTokens: 64}}, 0, 1, 0, "cut off at num_predict (64 tokens)"},
		{"no JSON at all", []*Response{stop(`I would rate it 3.`)}, 0, 1, 0, "no JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &scriptedModel{replies: tt.replies}
			var o out
			req := &ChatRequest{Model: "m", Messages: []Message{{Role: "user", Content: "rate"}}, Seed: Int64(100)}
			resp, err := ChatStructured(context.Background(), m, req, schema, &o, tt.retries)
			if len(m.reqs) != tt.calls {
				t.Errorf("%d calls, want %d", len(m.reqs), tt.calls)
			}
			seeds := map[int64]bool{}
			for i, r := range m.reqs {
				if string(r.Schema) != string(schema.Raw()) {
					t.Errorf("call %d sent schema %s, want the compiled one", i, r.Schema)
				}
				if r.Seed == nil {
					t.Fatalf("call %d had no seed", i)
				}
				seeds[*r.Seed] = true
			}
			if len(seeds) != len(m.reqs) {
				t.Errorf("retries reused a seed: %d distinct over %d calls", len(seeds), len(m.reqs))
			}
			if *m.reqs[0].Seed != 100 {
				t.Errorf("first call seed %d, want the request's 100", *m.reqs[0].Seed)
			}
			if *req.Seed != 100 || req.Schema != nil {
				t.Errorf("the caller's request was changed: %+v", req)
			}
			if tt.wantScore != 0 {
				if err != nil || o.Score != tt.wantScore || resp == nil {
					t.Fatalf("= %+v, %v; want score %d", o, err, tt.wantScore)
				}
				return
			}
			var inv *InvalidOutputError
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want InvalidOutputError", err)
			}
			if inv.Attempts != tt.retries+1 || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v (attempts %d), want %q after %d attempts", err, inv.Attempts, tt.wantErr, tt.retries+1)
			}
		})
	}
}

// A transport error is not an invalid reply: it returns at once, unretried
// here (the scheduler already retried it).
func TestChatStructuredTransportError(t *testing.T) {
	boom := &ModelMissingError{Model: "m", Host: "h"}
	m := &scriptedModel{errs: []error{boom}, replies: []*Response{stop(`{"score":1}`)}}
	_, err := ChatStructured(context.Background(), m, &ChatRequest{Model: "m"}, MustCompileSchema(`{"type":"object"}`), nil, 3)
	if !errors.Is(err, boom) || len(m.reqs) != 1 {
		t.Fatalf("err = %v after %d calls, want the model error after 1", err, len(m.reqs))
	}
	var inv *InvalidOutputError
	if errors.As(err, &inv) {
		t.Fatal("a transport error became InvalidOutputError")
	}
}

// Without a seed, the first call leaves the server's default and retries
// get distinct seeds.
func TestChatStructuredSeedlessRetries(t *testing.T) {
	m := &scriptedModel{replies: []*Response{stop(`nope`), stop(`nope`), stop(`{}`)}}
	if _, err := ChatStructured(context.Background(), m, &ChatRequest{Model: "m"}, MustCompileSchema(`{"type":"object"}`), nil, 2); err != nil {
		t.Fatal(err)
	}
	if m.reqs[0].Seed != nil || m.reqs[1].Seed == nil || m.reqs[2].Seed == nil || *m.reqs[1].Seed == *m.reqs[2].Seed {
		t.Fatalf("seeds %v %v %v", m.reqs[0].Seed, m.reqs[1].Seed, m.reqs[2].Seed)
	}
}
