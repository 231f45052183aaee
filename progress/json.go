package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// JSONFieldsHelp documents the objects of --log-format json for the help
// of every command that runs a model. The names are stable: add fields,
// never rename them.
const JSONFieldsHelp = `LOG FORMAT
  --log-format json writes one JSON object per line on stderr. Every object
  has "time" (RFC 3339, UTC) and "event":
    progress  once a second per stage: "stage", "done", "target",
              "accepted", "rejected", "requests", "output_tokens",
              "tokens_per_s", "elapsed_s", "eta_s" (null while unknown),
              "concurrency", "status" (the method's figure, or "")
    done      the same fields when a stage ends, plus "error" if it stopped
    log       a notice: "message", and "stage" when it is about one
    summary   the run's closing report: "stage", "elapsed_s", "generated",
              "accepted", "rejected", "rejected_by_reason" {reason: n},
              "requests", "retried", "failed", "prompt_tokens",
              "output_tokens", "tokens_per_s", "model_loads", "notes",
              "error" (when it did not succeed)
    pull      a model download: "status", "digest", "completed", "total"
    interrupted  Ctrl-C: "message", "resume" (the command to run again)
  An error that ends the command is still one plain "synthkit: …" line.`

// jsonDisplay writes one object per update and event.
type jsonDisplay struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

func newJSON(w io.Writer) *jsonDisplay { return &jsonDisplay{w: w, now: time.Now} }

// progressEvent is the "progress" and "done" object; every field is
// always present so consumers can rely on them.
type progressEvent struct {
	Time         string   `json:"time"`
	Event        string   `json:"event"`
	Stage        string   `json:"stage"`
	Done         int64    `json:"done"`
	Target       int64    `json:"target"`
	Accepted     int64    `json:"accepted"`
	Rejected     int64    `json:"rejected"`
	Requests     int64    `json:"requests"`
	OutputTokens int64    `json:"output_tokens"`
	TokensPerS   float64  `json:"tokens_per_s"`
	ElapsedS     float64  `json:"elapsed_s"`
	ETAS         *float64 `json:"eta_s"`
	Concurrency  int      `json:"concurrency"`
	Status       string   `json:"status"`
	Error        string   `json:"error,omitempty"`
}

type logEvent struct {
	Time    string `json:"time"`
	Event   string `json:"event"`
	Stage   string `json:"stage,omitempty"`
	Message string `json:"message"`
}

func (d *jsonDisplay) stamp() string { return d.now().UTC().Format(time.RFC3339Nano) }

// emit writes v as one line; a value that does not marshal becomes a log
// event saying so rather than a broken line.
func (d *jsonDisplay) emit(v any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(logEvent{Time: d.stamp(), Event: "log", Message: fmt.Sprintf("progress: cannot encode an event: %v", err)})
	}
	d.w.Write(append(b, '\n'))
}

func (d *jsonDisplay) Stage(name string, target int64) Stage {
	return &jsonStage{d: d, name: name, target: target}
}

func (d *jsonDisplay) Logf(format string, args ...any) {
	d.emit(logEvent{Time: d.stamp(), Event: "log", Message: fmt.Sprintf(format, args...)})
}

func (d *jsonDisplay) Close() {}

// Event writes an object of the given kind with fields (a struct or map
// that marshals to a JSON object) next to "time" and "event".
func (d *jsonDisplay) Event(kind string, fields any) {
	obj := map[string]any{}
	if fields != nil {
		b, err := json.Marshal(fields)
		if err == nil {
			err = json.Unmarshal(b, &obj)
		}
		if err != nil {
			obj = map[string]any{"message": fmt.Sprintf("progress: cannot encode the %s: %v", kind, err)}
		}
	}
	obj["time"], obj["event"] = d.stamp(), kind
	d.emit(obj)
}

type jsonStage struct {
	d      *jsonDisplay
	name   string
	target int64
	mu     sync.Mutex
	rates  rates
}

func (s *jsonStage) Update(snap Snapshot)          { s.d.emit(s.event("progress", snap, nil)) }
func (s *jsonStage) Done(snap Snapshot, err error) { s.d.emit(s.event("done", snap, err)) }

func (s *jsonStage) event(kind string, snap Snapshot, err error) progressEvent {
	if snap.Target <= 0 {
		snap.Target = s.target
	}
	s.mu.Lock()
	s.rates.observe(snap)
	eta, ok := s.rates.eta(snap)
	s.mu.Unlock()
	e := progressEvent{Time: s.d.stamp(), Event: kind, Stage: s.name, Done: snap.Done, Target: snap.Target,
		Accepted: snap.Accepted, Rejected: snap.Rejected, Requests: snap.Requests, OutputTokens: snap.OutputTokens,
		TokensPerS: round1(tokensPerSecond(snap)), ElapsedS: round1(snap.Elapsed.Seconds()),
		Concurrency: snap.Concurrency, Status: snap.Status}
	if ok {
		v := round1(eta.Seconds())
		e.ETAS = &v
	}
	if err != nil {
		e.Error = err.Error()
	}
	return e
}

func (s *jsonStage) Logf(format string, args ...any) {
	s.d.emit(logEvent{Time: s.d.stamp(), Event: "log", Stage: s.name, Message: fmt.Sprintf(format, args...)})
}

// Summary writes fields as the "summary" object; the text is for people.
func (s *jsonStage) Summary(_ string, fields any) {
	obj := map[string]any{}
	if b, err := json.Marshal(fields); err == nil {
		json.Unmarshal(b, &obj)
	}
	obj["stage"] = s.name
	s.d.Event("summary", obj)
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// WriteEvent writes one --log-format json object of the given kind
// (the CLI's pull progress and interrupt notice use it).
func WriteEvent(w io.Writer, kind string, fields any) { newJSON(w).Event(kind, fields) }
