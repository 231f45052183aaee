package runner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synthkit/export"
	"synthkit/local"
	"synthkit/local/ollamatest"
	"synthkit/prompts"
	"synthkit/prompts/runner"
)

// echoMethod is a throwaway method that exists only in this test: one
// registration, its fields, and the five contract methods. It proves that
// a new method needs nothing from cmd or the lifecycle.
type echoMethod struct {
	Model string
	Count int
	// Units bounds the work (0: endless); reject picks units to reject.
	Units  int
	reject func(k int) bool
	model  string
}

func (e *echoMethod) Name() string { return "echo-test" }
func (e *echoMethod) Models() []prompts.ModelRef {
	return []prompts.ModelRef{{Name: e.Model, Role: prompts.RoleGenerator}}
}
func (e *echoMethod) Target() int { return e.Count }

func (e *echoMethod) Prepare(models []local.ModelInfo) (prompts.Identity, error) {
	e.model = models[0].Name
	return prompts.Identity{Hashes: map[string]string{"echo inputs": prompts.TextHash("echo")}}, nil
}

func (e *echoMethod) Run(ctx context.Context, env *prompts.Env) error {
	i := 0
	return env.RunPhases(ctx, &prompts.Phase{Model: e.model, Target: int64(e.Count), Accepted: env.Run.Counts().Accepted,
		Next: func() (prompts.Unit, bool) {
			for env.Run.Done(fmt.Sprintf("echo-%04d", i)) {
				i++
			}
			if e.Units > 0 && i >= e.Units {
				return prompts.Unit{}, false
			}
			k := i
			i++
			id := fmt.Sprintf("echo-%04d", k)
			return prompts.Unit{ID: id, Do: func(ctx context.Context, w *prompts.Work) error {
				if e.reject != nil && e.reject(k) {
					return &prompts.Rejection{Reason: "echo_rejected"}
				}
				resp, err := env.Chat(ctx, &local.ChatRequest{Model: e.model, Seed: local.Int64(int64(k)),
					Messages: []local.Message{{Role: "user", Content: fmt.Sprintf("Say something about the number %d.", k)}},
					Options:  map[string]any{"num_predict": 16}})
				if err != nil {
					return err
				}
				text := strings.TrimSpace(resp.Content)
				if text == "" {
					text = "(empty)"
				}
				return w.Commit(prompts.Entry{Unit: id, Rows: []export.Row{export.SFT{Messages: []export.Message{
					{Role: "user", Content: fmt.Sprintf("Say something about the number %d.", k)}, {Role: "assistant", Content: text}}}}})
			}}, true
		}})
}

func init() {
	prompts.Register(prompts.Factory{Name: "echo-test", Summary: "test only", New: func() prompts.Method { return &echoMethod{} }})
}

func connect(t *testing.T, host string) *runner.Conn {
	t.Helper()
	conn, err := runner.Connect(context.Background(), runner.ConnectOptions{Hosts: host, NoStart: true, Concurrency: 4,
		Timeout: time.Minute, Retries: 2}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func TestThrowawayMethodThroughTheContract(t *testing.T) {
	host := ollamatest.Host(t)
	f, ok := prompts.Lookup("echo-test")
	if !ok {
		t.Fatal("the registered method is not found")
	}
	m := f.New().(*echoMethod)
	m.Model, m.Count, m.reject = ollamatest.TinyModel, 6, func(k int) bool { return k%4 == 1 }
	dir := filepath.Join(t.TempDir(), "echo")
	var out, errOut bytes.Buffer
	res, err := runner.Run(context.Background(), connect(t, host), m,
		runner.Options{Out: dir, Seed: 1, NumCtx: 512, NumPredict: 32, Version: "test", License: "apache-2.0"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if res.Counts.Accepted != 6 || res.Counts.Rejected["echo_rejected"] == 0 {
		t.Fatalf("counts %+v: want exactly 6 accepted and the planted rejections counted", res.Counts)
	}
	man, err := export.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if man.Method != "echo-test" || man.Models[0].Role != "generator" || len(man.Models[0].Digest) < 12 ||
		man.TemplateHashes["echo inputs"] == "" || man.Finished.IsZero() {
		t.Fatalf("run.json %+v", man)
	}
	if res.Exported == nil || res.Exported.Configs[0].Rows != 6 {
		t.Fatalf("export %+v", res.Exported)
	}
	if !strings.Contains(errOut.String(), "echo_rejected") || !strings.Contains(errOut.String(), "model loads") {
		t.Fatalf("summary lacks the reasons or the load count:\n%s", errOut.String())
	}

	// The same run again resumes: nothing new is generated.
	m2 := f.New().(*echoMethod)
	m2.Model, m2.Count = ollamatest.TinyModel, 6
	res2, err := runner.Run(context.Background(), connect(t, host), m2,
		runner.Options{Out: dir, Seed: 1, NumCtx: 512, NumPredict: 32, Version: "test"}, &out, &errOut)
	if err != nil || res2.Counts.Generated != res.Counts.Generated || res2.Stats.Requests != 0 {
		t.Fatalf("resume: %v, counts %+v → %+v, requests %d → %d", err, res.Counts, res2.Counts, res.Stats.Requests, res2.Stats.Requests)
	}
}

func TestRunEndings(t *testing.T) {
	host := ollamatest.Host(t)
	never := func(int) bool { return false }
	tests := []struct {
		name    string
		method  *echoMethod
		count   int // the user's -n (0: the method's target)
		budget  int64
		partial string // in the PartialError; "" for success
	}{
		{"target reached", &echoMethod{Count: 4, reject: never}, 0, 0, ""},
		// Units in flight finish: the first wave of 4 workers runs, then the budget stops it.
		{"budget used up", &echoMethod{Count: 12, reject: never}, 0, 2, "request budget"},
		{"everything rejected", &echoMethod{Count: 4, Units: 3, reject: func(int) bool { return true }}, 0, 0, "no record was accepted"},
		{"inputs ran out before -n", &echoMethod{Count: 4, Units: 3, reject: never}, 4, 0, "-n 4 was not reached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.method.Model = ollamatest.TinyModel
			var out, errOut bytes.Buffer
			_, err := runner.Run(context.Background(), connect(t, host), tt.method,
				runner.Options{Out: filepath.Join(t.TempDir(), "r"), Seed: 1, NumCtx: 512, NumPredict: 16, MaxRequests: tt.budget,
					Version: "test", Count: tt.count}, &out, &errOut)
			var pe *runner.PartialError
			switch {
			case tt.partial == "" && err != nil:
				t.Fatalf("want success, got %v", err)
			case tt.partial != "" && (!errors.As(err, &pe) || !strings.Contains(err.Error(), tt.partial)):
				t.Fatalf("want a partial run (%q), got %v", tt.partial, err)
			}
		})
	}
}
