package prompts

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"synthkit/export"
	"synthkit/local"
)

// qualityItems are calibration items a qualityOf judge can read.
func qualityItems() []CalibrationItem {
	return []CalibrationItem{
		{Prompt: "Calibrate one?", Completions: []string{"quality 1", "quality 5", "quality 3"}, Expected: []float64{1, 5, 3}},
		{Prompt: "Calibrate two?", Completions: []string{"quality 4", "quality 2"}, Best: new(int)},
	}
}

// minRatings rewrites every rating of a ratings reply to 1: a judge that
// "suddenly returns the minimum score".
func minRatings(reply string) string {
	for _, d := range []string{"2", "3", "4", "5"} {
		reply = strings.ReplaceAll(reply, `"rating":`+d, `"rating":1`)
	}
	return reply
}

// TestPreferJudgeDrift runs a judge that degrades mid-run (from its 9th
// call on, every rating is 1): the calibration pass after it shows the
// drop in agreement and the score shift, the anomaly monitor sees the run
// of minimum scores, warnings are logged as they happen, and no
// calibration judgment becomes a row.
func TestPreferJudgeDrift(t *testing.T) {
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, n int) string {
		if n > 8 {
			return minRatings(ratingsReply(p))
		}
		return ratingsReply(p)
	})
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	var log bytes.Buffer
	var ps []string
	for i := range 12 {
		ps = append(ps, "Prompt "+string(rune('A'+i))+"?")
	}
	m := &Prefer{Pool: []string{"q2", "q3", "q4", "q5"}, Judge: "judge", Conversations: convs(ps...),
		Calibration: qualityItems(), CalibrateEvery: 4, Log: &log}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	man := env.Run.Manifest()
	env.Run.Close()

	// Calls: pass 0 (2), prompts 1–4 (4), pass 1 (2): all good; then
	// prompts 5–8, pass 2, prompts 9–12 and pass 3 degraded.
	cal := tableOf(man, "Judge calibration (judge")
	if cal == nil || len(cal.Rows) != 4 {
		t.Fatalf("calibration table %+v", cal)
	}
	want := [][]string{
		{"0", "0", "2 of 2", "100%", "3.00", "+0 pts", "+0.00", "no"},
		{"1", "4", "2 of 2", "100%", "3.00", "+0 pts", "+0.00", "no"},
		{"2", "8", "2 of 2", "0%", "1.00", "-100 pts", "-2.00", "yes"},
		{"3", "12", "2 of 2", "0%", "1.00", "-100 pts", "-2.00", "yes"},
	}
	for i, w := range want {
		if strings.Join(cal.Rows[i], "|") != strings.Join(w, "|") {
			t.Errorf("pass %d: %v, want %v", i, cal.Rows[i], w)
		}
	}
	an := tableOf(man, "Judge anomalies (judge)")
	if an == nil {
		t.Fatalf("no anomalies table: %+v", man.Tables)
	}
	kinds := map[string]string{}
	for _, r := range an.Rows {
		kinds[r[0]] = r[1]
	}
	// Prompts 5–7 give 12 minimum scores in a row: seen after 6 judged.
	if kinds[anomalyMinRun] != "6" || kinds[anomalyDrift] != "8" {
		t.Errorf("anomalies %v", an.Rows)
	}
	if !strings.Contains(log.String(), "warning: judge judge: run of minimum scores after 6 judged prompts") ||
		!strings.Contains(log.String(), "calibration drift after 8 judged prompts") {
		t.Errorf("warnings as the run went:\n%s", log.String())
	}
	if h := tableOf(man, "Judge score histogram"); h == nil {
		t.Error("no score histogram")
	}
	if st := m.Status(); st != "judge agreement 0% (first 100%), 2 judge anomalies" {
		t.Errorf("live status %q", st)
	}
	rows := rowsOf(t, dir)
	if len(rows) != 12 {
		t.Fatalf("%d units with rows, want the 12 prompts' (calibration must not make rows)", len(rows))
	}
	for u := range rows {
		if strings.Contains(u, "calibration") {
			t.Fatalf("calibration unit %s journaled as data", u)
		}
	}
	if c := env.Run.Counts(); c.RejectedTotal() != 0 {
		t.Fatalf("rejections %+v", c.Rejected)
	}
}

// TestPreferCalibrationSurvivesResume stops a run in the judge phase and
// resumes it: the passes made before the stop are still the history (the
// first pass stays the baseline), and none is redone.
func TestPreferCalibrationSurvivesResume(t *testing.T) {
	calls := 0
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, n int) string {
		calls = n
		if n > 6 { // pass 0 (2), prompts 1–2, pass 1 (2): then the transport fails
			return failNow
		}
		return ratingsReply(p)
	})
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, dir := preferEnv(t, q)
	newM := func() *Prefer {
		return &Prefer{Pool: []string{"q2", "q5"}, Judge: "judge", Conversations: convs("A?", "B?", "C?", "D?", "E?"),
			Calibration: qualityItems(), CalibrateEvery: 2}
	}
	if err := runMethod(env, newM()); err == nil {
		t.Fatal("the failing judge did not stop the run")
	}
	env.Run.Close()
	if calls != 7 {
		t.Fatalf("%d judge calls before the stop", calls)
	}

	// The resumed judge rates everything 1: drift against the first pass.
	sm2 := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return minRatings(ratingsReply(p)) })
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
	man := run.Manifest()
	run.Close()
	cal := tableOf(man, "Judge calibration")
	if cal == nil || len(cal.Rows) != 3 {
		t.Fatalf("calibration history after resume: %+v", cal)
	}
	if cal.Rows[0][3] != "100%" || cal.Rows[1][1] != "2" || cal.Rows[2][1] != "4" || cal.Rows[2][3] != "0%" || cal.Rows[2][7] != "yes" {
		t.Fatalf("calibration rows %v", cal.Rows)
	}
	// Resumed: prompts 3–5 judged (3 calls) and pass 2 (2 calls) only.
	if n := judgeCalls(q2); n != 5 {
		t.Fatalf("resume made %d judge calls, want 5", n)
	}
}

func TestJudgeHealthAnomalies(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		want   []string
	}{
		{"healthy spread", repeat([]float64{1, 2, 3, 4, 5}, 30), nil},
		{"nine minimums are not a run", append(repeat([]float64{1}, MinScoreRun-1), 3), nil},
		{"a run of minimums", append(repeat([]float64{3}, 5), repeat([]float64{1}, MinScoreRun)...), []string{anomalyMinRun}},
		{"two runs are two episodes", append(append(repeat([]float64{1}, MinScoreRun), 4), repeat([]float64{1}, MinScoreRun)...), []string{anomalyMinRun, anomalyMinRun}},
		{"one score dominating", repeat([]float64{4}, DominanceWindow), []string{anomalyDominant}},
		{"dominance just under the share", repeat(append(repeat([]float64{4}, 8), 2, 3), DominanceWindow/10), nil},
		{"minimums dominate too", repeat([]float64{1}, DominanceWindow), []string{anomalyMinRun, anomalyDominant}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &judgeHealth{lo: 1, hi: 5, absolute: true, active: map[string]bool{}, warn: func(string) {}}
			for _, s := range tt.scores {
				h.observe([]*float64{f64(s)})
			}
			var got []string
			for _, e := range h.events {
				got = append(got, e.Kind)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("anomalies %v, want %v", got, tt.want)
			}
		})
	}
	// Relative scores (pairwise win rates) are never flagged.
	h := &judgeHealth{active: map[string]bool{}, warn: func(string) {}}
	for range 100 {
		h.observe([]*float64{f64(0), f64(0)})
	}
	if len(h.events) != 0 {
		t.Fatalf("relative scores flagged: %v", h.events)
	}
}

func repeat(vs []float64, n int) []float64 {
	var out []float64
	for range n {
		out = append(out, vs...)
	}
	return out
}

func TestAgreement(t *testing.T) {
	tests := []struct {
		expected    []float64
		scores      []*float64
		agree, pair int
	}{
		{[]float64{5, 2, 1}, []*float64{f64(5), f64(3), f64(1)}, 3, 3},
		{[]float64{5, 2, 1}, []*float64{f64(1), f64(1), f64(1)}, 0, 3}, // ties are misses
		{[]float64{5, 2, 1}, []*float64{f64(1), f64(3), f64(5)}, 0, 3},
		{[]float64{1, 0, 0}, []*float64{f64(4), f64(2), f64(4)}, 1, 2}, // best_index: best vs each other
		{[]float64{3, 1}, []*float64{nil, f64(2)}, 0, 1},
	}
	for _, tt := range tests {
		a, p := agreement(tt.expected, tt.scores)
		if a != tt.agree || p != tt.pair {
			t.Errorf("agreement(%v): %d of %d, want %d of %d", tt.expected, a, p, tt.agree, tt.pair)
		}
	}
}

func TestParseCalibration(t *testing.T) {
	ok := `{"prompt": "2+2?", "completions": ["4", "5"], "best_index": 0}`
	tests := []struct {
		name, data, want string
	}{
		{"good", ok + "\n\n" + `{"prompt": "x", "completions": ["a", "b", "c"], "expected_scores": [1, 3, 2], "reference": "b"}`, ""},
		{"not JSON", ok + "\n{prompt: x}\n", "cal.jsonl:2: not a calibration item"},
		{"unknown field", `{"prompt": "x", "completions": ["a", "b"], "best": 0}`, `cal.jsonl:1: not a calibration item (unknown field "best")`},
		{"one completion", `{"prompt": "x", "completions": ["a"], "best_index": 0}`, "cal.jsonl:1: \"completions\" needs two or more"},
		{"no expectation", ok + "\n" + `{"prompt": "x", "completions": ["a", "b"]}`, "cal.jsonl:2: say what the right judgment is"},
		{"both", `{"prompt": "x", "completions": ["a", "b"], "best_index": 0, "expected_scores": [1, 2]}`, "not both"},
		{"score count", `{"prompt": "x", "completions": ["a", "b"], "expected_scores": [1]}`, "has 1 scores for 2 completions"},
		{"all equal", `{"prompt": "x", "completions": ["a", "b"], "expected_scores": [3, 3]}`, "all equal"},
		{"best out of range", `{"prompt": "x", "completions": ["a", "b"], "best_index": 2}`, `"best_index" 2 is not a completion (0 to 1)`},
		{"empty completion", `{"prompt": "x", "completions": ["a", " "], "best_index": 0}`, "completion 1 is empty"},
		{"no prompt", `{"completions": ["a", "b"], "best_index": 0}`, `"prompt" is missing`},
		{"wrong type", `{"prompt": "x", "completions": "a, b", "best_index": 0}`, `"completions" has the wrong kind of value`},
		{"two objects on a line", ok + ok, "one JSON object per line"},
		{"empty", "\n\n", "cal.jsonl: no calibration items"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := ParseCalibration("cal.jsonl", []byte(tt.data))
			if tt.want == "" {
				if err != nil || len(items) != 2 || items[1].expected()[1] != 3 || items[0].expected()[0] != 1 {
					t.Fatalf("items %+v, err %v", items, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	// The built-in items pass their own checks, in every mode.
	for _, mode := range []string{ModeRatings, ModePairwise, ModeRubric, ModeRank} {
		if err := checkCalibration(CalibrationItems(), mode); err != nil {
			t.Fatalf("built-in items in %s mode: %v", mode, err)
		}
	}
	b, _ := json.Marshal(CalibrationItems()[0])
	if _, err := ParseCalibration("x", b); err != nil {
		t.Fatalf("a built-in item does not round-trip through the file format: %v", err)
	}
}

// The calibration items go through the judge like data: with the
// built-in items, a pairwise judge compares every pair in both orders.
func TestPreferCalibrationPairwiseBuiltIn(t *testing.T) {
	sm := (&scriptedModel{}).on("You are comparing two answers", fixed(`{"explanation": "x", "verdict": "A"}`))
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, _ := preferEnv(t, q)
	m := &Prefer{Mode: ModePairwise, Pool: []string{"q2", "q3"}, Judge: "judge", Conversations: convs("A?"), CalibrateEvery: 10}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	man := env.Run.Manifest()
	env.Run.Close()
	// 5 items × 3 pairs × 2 orders, then one data comparison in both orders.
	if n := judgeCalls(q); n != 32 {
		t.Fatalf("%d judge calls, want 32", n)
	}
	cal := tableOf(man, "Judge calibration")
	// A judge that always says "A" flips with every order: all ties, 0%.
	if cal == nil || cal.Rows[0][3] != "0%" || cal.Rows[0][4] != "n/a (relative scores)" {
		t.Fatalf("calibration %+v", cal)
	}
	var _ local.Model = q
}
