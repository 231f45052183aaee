package progress

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestJSONLines: every line is one object with the documented fields.
func TestJSONLines(t *testing.T) {
	var buf syncBuffer
	d := New(&buf, Options{Format: FormatJSON})
	s := d.Stage("prefer", 10)
	d.Logf("started ollama serve on %s", "127.0.0.1:1")
	s.Update(Snapshot{Target: 10, Concurrency: 2})
	s.Update(Snapshot{Done: 2, Target: 10, Accepted: 2, Rejected: 1, Requests: 9, OutputTokens: 300, Elapsed: 3 * time.Second, Concurrency: 2, Status: "QD-score 4.5"})
	s.(Reporter).Logf("resuming %s", "out/p")
	s.Done(Snapshot{Done: 5, Target: 10, Accepted: 5, Rejected: 1, Requests: 20, OutputTokens: 700, Elapsed: 7 * time.Second, Concurrency: 2}, errors.New("interrupted"))
	s.(Reporter).Summary("text for people", struct {
		Accepted int64            `json:"accepted"`
		Reasons  map[string]int64 `json:"rejected_by_reason"`
	}{5, map[string]int64{"too_short": 1}})
	d.Close()

	var events []map[string]any
	for i, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, l)
		}
		if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
			t.Fatalf("line %d time: %v", i+1, err)
		}
		events = append(events, m)
	}
	progressFields := []string{"stage", "done", "target", "accepted", "rejected", "requests", "output_tokens",
		"tokens_per_s", "elapsed_s", "eta_s", "concurrency", "status"}
	tests := []struct {
		event string
		want  map[string]any // fields with these values
		has   []string       // fields that must be present
	}{
		{"log", map[string]any{"message": "started ollama serve on 127.0.0.1:1"}, nil},
		{"progress", map[string]any{"stage": "prefer", "done": 0.0, "target": 10.0, "eta_s": nil}, progressFields},
		{"progress", map[string]any{"done": 2.0, "accepted": 2.0, "rejected": 1.0, "requests": 9.0, "output_tokens": 300.0,
			"tokens_per_s": 100.0, "elapsed_s": 3.0, "eta_s": 12.0, "concurrency": 2.0, "status": "QD-score 4.5"}, progressFields},
		{"log", map[string]any{"stage": "prefer", "message": "resuming out/p"}, nil},
		{"done", map[string]any{"done": 5.0, "error": "interrupted"}, progressFields},
		{"summary", map[string]any{"stage": "prefer", "accepted": 5.0, "rejected_by_reason": map[string]any{"too_short": 1.0}}, nil},
	}
	if len(events) != len(tests) {
		t.Fatalf("%d objects, want %d:\n%s", len(events), len(tests), buf.String())
	}
	for i, tt := range tests {
		e := events[i]
		if e["event"] != tt.event {
			t.Fatalf("object %d: event %v, want %s", i+1, e["event"], tt.event)
		}
		for k, v := range tt.want {
			got, ok := e[k]
			if !ok || !equalJSON(got, v) {
				t.Errorf("object %d (%s): %s = %v, want %v", i+1, tt.event, k, got, v)
			}
		}
		for _, k := range tt.has {
			if _, ok := e[k]; !ok {
				t.Errorf("object %d (%s) lacks %q", i+1, tt.event, k)
			}
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatText, "text": FormatText, "json": FormatJSON} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Errorf("ParseFormat(yaml) error %v", err)
	}
}
