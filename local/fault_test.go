package local_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"synthkit/local"
	"synthkit/local/ollamatest"
)

// A batch of structured chats and raw generations through a proxy that
// resets connections, cuts replies (on the wire and inside the JSON),
// answers 500 and stalls past the request timeout, in front of the real
// server: every request completes, every fault costs exactly one retry,
// and no damaged reply comes back as a success.
func TestFaultsAreRetriedNotReturned(t *testing.T) {
	host := ollamatest.Host(t)
	counts := new(ollamatest.FaultCounts)
	// Two clean requests between faults, every kind several times.
	var schedule []ollamatest.Fault
	for _, f := range []ollamatest.Fault{ollamatest.FaultReset, ollamatest.FaultTruncate, ollamatest.FaultCutJSON,
		ollamatest.Fault500, ollamatest.FaultStall} {
		schedule = append(schedule, f, ollamatest.FaultNone, ollamatest.FaultNone)
	}
	proxy := ollamatest.StartFaultProxy(t, host, ollamatest.FaultOptions{Schedule: schedule, StallFor: 30 * time.Second, Counts: counts})

	ctx := context.Background()
	warm := newTestClient(t, host, local.SchedulerOptions{Concurrency: 1})
	if _, err := warm.Generate(ctx, &local.GenerateRequest{Model: ollamatest.TinyModel, Prompt: "warm up", Options: fastOpts}); err != nil {
		t.Fatal(err)
	}

	c := newTestClient(t, proxy, local.SchedulerOptions{Concurrency: 4, MaxRetries: 8, RequestTimeout: 2 * time.Second,
		BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	schema := local.MustCompileSchema(`{"type":"object","properties":{"instruction":{"type":"string","minLength":1}},"required":["instruction"]}`)
	const n = 30
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seed := local.Int64(int64(i))
			if i%2 == 0 {
				var out struct {
					Instruction string `json:"instruction"`
				}
				r, err := local.ChatStructured(ctx, c, &local.ChatRequest{Model: ollamatest.TinyModel, Seed: seed, Options: fastOpts,
					Messages: []local.Message{{Role: "user", Content: "Write one instruction as JSON."}}}, schema, &out, 2)
				if err == nil && (out.Instruction == "" || r.Content == "") {
					t.Errorf("request %d: an empty structured reply came back as success: %+v", i, r)
				}
				errs[i] = err
				return
			}
			r, err := c.Generate(ctx, &local.GenerateRequest{Model: ollamatest.TinyModel, Raw: true, Seed: seed,
				Prompt: "<|im_start|>user\nSay something.<|im_end|>\n<|im_start|>assistant\n", Options: fastOpts})
			if err == nil && (r.OutputTokens == 0 || r.DoneReason == "" || r.DoneReason == "incomplete") {
				t.Errorf("request %d: a damaged reply came back as success: %+v", i, r)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d failed: %v", i, err)
		}
	}
	st := c.Stats()
	t.Logf("proxy: %v; client: %d requests, %d retries, %d failures", counts, st.Requests, st.Retries, st.Failures)
	for _, f := range []ollamatest.Fault{ollamatest.FaultReset, ollamatest.FaultTruncate, ollamatest.FaultCutJSON,
		ollamatest.Fault500, ollamatest.FaultStall} {
		if counts.Of(f) == 0 {
			t.Errorf("no %s fault was injected", f)
		}
	}
	if st.Retries != counts.Faults() || st.Failures != 0 {
		t.Errorf("%d retries and %d failures for %d faults: want one retry per fault and no failure", st.Retries, st.Failures, counts.Faults())
	}
}
