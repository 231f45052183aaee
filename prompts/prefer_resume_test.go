package prompts

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"synthkit/export"
	"synthkit/local"
)

// flakyAnswerer fails the transport of one model's nth answer, stopping
// the run in the middle of the completion phases.
type flakyAnswerer struct {
	*qualityModel
	model string
	n     int
	mu    sync.Mutex
	seen  int
}

func (f *flakyAnswerer) Chat(ctx context.Context, r *local.ChatRequest) (*local.Response, error) {
	if r.Model == f.model {
		f.mu.Lock()
		f.seen++
		fail := f.seen == f.n
		f.mu.Unlock()
		if fail {
			return nil, errors.New("connection reset")
		}
	}
	return f.qualityModel.Chat(ctx, r)
}

// TestPreferResumeMidCompletions crashes while the second model answers:
// the resumed run asks only for the answers that were never made (the
// first model's are all kept, and the second model's first one too), then
// judges every prompt.
func TestPreferResumeMidCompletions(t *testing.T) {
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return ratingsReply(p) })
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	flaky := &flakyAnswerer{qualityModel: q, model: "q3", n: 2}
	env, dir := preferEnv(t, flaky)
	newM := func() *Prefer {
		return &Prefer{Pool: []string{"q2", "q3"}, Judge: "judge", Conversations: convs("A?", "B?", "C?")}
	}
	if err := runMethod(env, newM()); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("run did not stop on the failure: %v", err)
	}
	env.Run.Close()
	if judgeCalls(q) != 0 {
		t.Fatal("the judge ran before every answer existed")
	}

	sm2 := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return ratingsReply(p) })
	q2 := &qualityModel{scriptedModel: sm2, judge: "judge"}
	run, err := export.OpenRun(dir, export.Manifest{Version: "test", Method: "prefer", Seed: 1,
		Models: []export.ModelInfo{{Name: "scripted:latest", Digest: "sha256:0123456789abcdef"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	env2 := &Env{Model: q2, Run: run, Workers: 1, Seed: 1, Retries: 1}
	if err := runMethod(env2, newM()); err != nil {
		t.Fatal(err)
	}
	run.Close()
	var asked []string
	for _, c := range q2.chats {
		if c.Model != "judge" {
			asked = append(asked, c.Model+":"+c.Messages[len(c.Messages)-1].Content)
		}
	}
	if strings.Join(asked, ",") != "q3:B?,q3:C?" {
		t.Fatalf("resume asked for %v, want only q3's answers to B? and C?", asked)
	}
	if n := judgeCalls(q2); n != 3 {
		t.Fatalf("%d judgments after resume, want 3", n)
	}
	for p := range 3 {
		if rs := rowsOf(t, dir)[judgeUnit(p)]; len(rs) != 2 {
			t.Fatalf("prompt %d: %v", p, rs)
		}
	}
}

// TestPreferPairwiseJudgeSamples: with --judge-samples 3 each order's
// verdict is the majority of three votes; a split vote is a tie.
func TestPreferPairwiseJudgeSamples(t *testing.T) {
	// Per order (3 samples each, back to back): the first comparison's
	// orders vote A,A,B then B,B,A (q5 shown first, then second: q5 wins
	// both); the second prompt's vote A,B,tie in the first order (no
	// majority: a tie) and B,B,B.
	votes := []string{"A", "A", "B", "B", "B", "A", "A", "B", "tie", "B", "B", "B"}
	sm := (&scriptedModel{}).on("You are comparing two answers", func(p string, n int) string {
		return `{"explanation": "x", "verdict": "` + votes[n-1] + `"}`
	})
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Mode: ModePairwise, Pool: []string{"q5", "q2"}, Judge: "judge", JudgeSamples: 3, Conversations: convs("A?", "B?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	rows := rowsOf(t, dir)
	if rs := rows[judgeUnit(0)]; len(rs) != 2 || rs[1].(export.Preference).ChosenModel != "q5" {
		t.Fatalf("majority A,A,B / B,B,A: rows %v", rs)
	}
	if rs := rows[judgeUnit(1)]; len(rs) != 1 {
		t.Fatalf("split vote A,B,tie then B: want a tie (no pair), rows %v", rs)
	}
	if n := judgeCalls(q); n != 12 {
		t.Fatalf("%d judge calls, want 2 prompts × 2 orders × 3 samples", n)
	}
}

// TestPreferJudgeCostTable: each judged prompt records its judge calls
// and tokens, and the card's cost table sums them over the whole run.
func TestPreferJudgeCostTable(t *testing.T) {
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return ratingsReply(p) })
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	m := &Prefer{Pool: []string{"q2", "q5"}, Judge: "judge", JudgeSamples: 2, Conversations: convs("A?", "B?", "C?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	man := env.Run.Manifest()
	env.Run.Close()
	var out int64
	for p := range 3 {
		r := rowsOf(t, dir)[judgeUnit(p)][0].(export.Rating)
		if r.Metadata["judge_calls"] != 2.0 || r.Metadata["judge_output_tokens"].(float64) <= 0 {
			t.Fatalf("rating metadata %v", r.Metadata)
		}
		out += int64(r.Metadata["judge_output_tokens"].(float64))
	}
	cost := tableOf(man, "Judge cost")
	if cost == nil || cost.Rows[0][1] != "6" || cost.Rows[1][1] != "2.0" || cost.Rows[0][3] != itoa64(out) {
		t.Fatalf("cost table %+v (output tokens %d)", cost, out)
	}
}

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }
