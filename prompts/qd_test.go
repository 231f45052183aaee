package prompts

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/local"
)

// cellLineRe reads the requested cell from a QD prompt ("- domain: science (…)").
var cellLineRe = regexp.MustCompile(`(?m)^- (\w+): ([^(\n]+?)(?: \(.*)?$`)

// taskRe reads the labels a scripted task encodes.
var taskRe = regexp.MustCompile(`about \[(.+?)\] as \[(.+?)\] at \[(.+?)\] level`)

// unitFloat is a deterministic number in [0, 1) from a key.
func unitFloat(key string) float64 {
	sum := sha256.Sum256([]byte(key))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

// qdWorld is a scripted generator and judge over the default axes. The
// generator follows the requested cell with probability follow; otherwise
// (and when no cell is asked for) it writes about what it likes, a few
// domains and kinds, as real models do. The judge reads the labels back
// exactly and scores by a hash of the task.
func qdWorld(follow float64) *scriptedModel {
	axes := DefaultQDAxes()
	natural := func(n int, salt string) []string {
		r := func(k string) float64 { return unitFloat(fmt.Sprint(n, salt, k)) }
		// Skewed: four domains, three kinds, any difficulty (36 of 144 cells).
		return []string{axes[0].Labels[int(r("d")*4)], axes[1].Labels[int(r("t")*3)], axes[2].Labels[int(r("h")*3)]}
	}
	task := func(n int, l []string) string {
		return fmt.Sprintf("Task %d about [%s] as [%s] at [%s] level, described in plain words.", n, l[0], l[1], l[2])
	}
	return (&scriptedModel{}).
		on(`Reply with JSON only: {"instruction"`, func(p string, n int) string {
			var want []string
			for _, m := range cellLineRe.FindAllStringSubmatch(p, -1) {
				want = append(want, strings.TrimSpace(m[2]))
			}
			l := natural(n, "si")
			if len(want) == 3 && unitFloat(fmt.Sprint("follow", n)) < follow {
				l = want
			}
			return fmt.Sprintf(`{"instruction": %q}`, task(n, l))
		}).
		on(`Reply with JSON only: {"prompt"`, func(p string, n int) string {
			var want []string
			for _, m := range cellLineRe.FindAllStringSubmatch(p, -1) {
				want = append(want, strings.TrimSpace(m[2]))
			}
			l := natural(n, "ev")
			if len(want) == 3 && unitFloat(fmt.Sprint("follow-evol", n)) < follow {
				l = want
			}
			return fmt.Sprintf(`{"prompt": %q}`, task(1000+n, l))
		}).
		on("Choose one label for each of these", func(p string, n int) string {
			m := taskRe.FindStringSubmatch(p)
			if m == nil {
				return `{"domain": "science", "task_type": "explanation", "difficulty": "easy", "quality": 1}`
			}
			q := 1 + int(unitFloat(p)*10) // the whole prompt: the task number too
			return fmt.Sprintf(`{"domain": %q, "task_type": %q, "difficulty": %q, "quality": %d}`, m[1], m[2], m[3], q)
		}).
		on("described in plain words", fixed("A short, complete answer."))
}

// runQD runs a QD method on a scripted model in dir.
func runQD(t *testing.T, dir string, m *scriptedModel, q *QD, workers int) *export.Run {
	t.Helper()
	run := testRun(t, dir, q.Name())
	env := &Env{Model: m, Run: run, Workers: workers, Seed: 5, Retries: 1}
	if err := runMethod(env, q, local.ModelInfo{Name: "gen:latest"}, local.ModelInfo{Name: "judge:latest"}); err != nil {
		run.Close()
		t.Fatal(err)
	}
	return run
}

type archiveView map[string]string // cell → "unit quality"

func viewOf(q *QD) archiveView {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := archiveView{}
	q.archive.Elites(func(c diversity.Cell, e diversity.Elite) {
		out[fmt.Sprint(q.archive.Labels(c))] = fmt.Sprintf("%s %.4f", e.ID, e.Quality)
	})
	return out
}

// TestQDSteeringFillsMoreCells: on the same budget, a generator that
// follows the requested cell only 60% of the time fills clearly more
// cells when the archive steers it than when it is left to itself.
func TestQDSteeringFillsMoreCells(t *testing.T) {
	const budget = 120
	filled := map[bool]int{}
	for _, steer := range []bool{true, false} {
		q := &QD{Operator: "self-instruct", Model: "gen:latest", Judge: "judge:latest", Count: budget, Labels: QDLabelsSchema,
			Unsteered: !steer}
		run := runQD(t, t.TempDir(), qdWorld(0.6), q, 1)
		if got := run.Counts().Generated; got != budget {
			t.Fatalf("steer %v: %d candidates evaluated, want %d", steer, got, budget)
		}
		run.Close()
		filled[steer] = q.archive.Filled()
		t.Logf("steer %v: %s", steer, q.Status())
	}
	if filled[true] < filled[false]+25 {
		t.Fatalf("steered filled %d cells, unsteered %d: steering must fill at least 25 more", filled[true], filled[false])
	}
}

// TestQDResumeRebuildsTheSameArchive: a run stopped halfway and resumed
// ends with the archive a replay of its journal gives, and the export holds
// exactly its elites; elites replaced along the way stay in the journal,
// marked, and out of the Parquet file.
func TestQDResumeRebuildsTheSameArchive(t *testing.T) {
	for _, op := range []string{"self-instruct", "evol-instruct"} {
		t.Run(op, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			mk := func(n int) *QD {
				return &QD{Operator: op, Model: "gen:latest", Judge: "judge:latest", Count: n, Labels: QDLabelsSchema,
					Prompts: []string{"Explain how rivers form.", "Give three uses of copper."}}
			}
			world := qdWorld(0.5)
			first := mk(40)
			run := runQD(t, dir, world, first, 3)
			live := viewOf(first)
			run.Close()

			// A new process: the archive comes back from the journal alone.
			again := mk(40)
			run = runQD(t, dir, world, again, 3)
			if got := viewOf(again); fmt.Sprint(got) != fmt.Sprint(live) {
				t.Fatalf("resumed archive differs:\n got %v\nwant %v", got, live)
			}
			if run.Counts().Generated != 40 {
				t.Fatalf("resume with nothing left evaluated more: %+v", run.Counts())
			}
			run.Close()

			// Grow the run: more candidates, the archive keeps improving.
			more := mk(80)
			run = runQD(t, dir, world, more, 3)
			c := run.Counts()
			if c.Generated != 80 || more.archive.QDScore() < first.archive.QDScore() {
				t.Fatalf("grown run: counts %+v, QD-score %.2f (was %.2f)", c, more.archive.QDScore(), first.archive.QDScore())
			}
			if more.replaced == 0 || c.Rejected[ReasonQDNotBetter] == 0 {
				t.Fatalf("no elite was replaced and none refused over 80 candidates (replaced %d, counts %+v)", more.replaced, c)
			}
			final := viewOf(more)
			ok(t, run.Finish())
			run.Close()

			elites := map[string]bool{}
			for _, v := range final {
				elites[strings.Fields(v)[0]] = true
			}
			superseded := 0
			for unit, rows := range rowsOf(t, dir) {
				rec, isQD := qdRecordOf(unit, rows[0])
				if !isQD {
					t.Fatalf("row %s lacks qd metadata: %+v", unit, rows[0])
				}
				if rec.quality < 0 || rec.quality > 1 || len(rec.cell) != 3 {
					t.Fatalf("row %s metadata %+v", unit, rec)
				}
				if !elites[unit] {
					superseded++
				}
			}
			if superseded != more.replaced {
				t.Fatalf("journal has %d replaced elites, the run counted %d", superseded, more.replaced)
			}
			if _, err := export.Export(context.Background(), dir, export.ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "data", "*.parquet"))
			var ids []string
			for _, f := range files {
				rows, err := parquet.ReadFile[struct {
					ID string `parquet:"id"`
				}](f)
				ok(t, err)
				for _, r := range rows {
					ids = append(ids, r.ID)
				}
			}
			var want []string
			for id := range elites {
				want = append(want, id)
			}
			sort.Strings(want)
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Fatalf("Parquet holds %v, want the %d final elites %v", ids, len(want), want)
			}
		})
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestQDRebuildMarksElitesACrashLeftUnmarked: a crash between journaling a
// better elite and marking the one it replaced leaves both accepted; the
// next run's rebuild marks the loser, so export still holds one per cell.
func TestQDRebuildMarksElitesACrashLeftUnmarked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	run := testRun(t, dir, "qd-self-instruct")
	cell := map[string]any{"domain": "science", "task_type": "explanation", "difficulty": "easy"}
	for i, q := range []float64{0.3, 0.6} {
		row := export.SFT{Messages: []export.Message{{Role: "user", Content: fmt.Sprintf("Task %d about rivers and rain.", i)}, {Role: "assistant", Content: "ok"}},
			Metadata: map[string]any{MetaQDCell: cell, MetaQDQuality: q, MetaQDIteration: i}}
		ok(t, run.Add(qdUnit(i), export.Provenance{}, row))
	}
	run.Close()
	q := &QD{Operator: "self-instruct", Model: "gen:latest", Judge: "judge:latest", Count: 2, Labels: QDLabelsSchema}
	run = runQD(t, dir, qdWorld(1), q, 1)
	defer run.Close()
	if !run.Superseded(qdUnit(0)) || run.Superseded(qdUnit(1)) {
		t.Fatalf("superseded: unit 0 %v (want true), unit 1 %v (want false)", run.Superseded(qdUnit(0)), run.Superseded(qdUnit(1)))
	}
	if v := viewOf(q); len(v) != 1 || !strings.HasPrefix(fmt.Sprint(v), "map[map[difficulty:easy domain:science task_type:explanation]:qd-000001 0.6000") {
		t.Fatalf("rebuilt archive %v", v)
	}
	var axes []diversity.Axis
	if found, err := run.State(StateQDAxes, &axes); !found || err != nil || len(axes) != 3 || axes[2].Labels[2] != "hard" {
		t.Fatalf("run state %s = %+v (found %v, %v)", StateQDAxes, axes, found, err)
	}
}

// lpModel is the scripted world with log-probabilities: lettered and
// yes/no questions are answered with a first token and its alternatives,
// as a server with logprobs does.
type lpModel struct {
	*scriptedModel
	lpCalls int
}

func (m *lpModel) ProbeFeatures(ctx context.Context, model string) (local.Features, error) {
	return local.Features{Logprobs: true}, nil
}

var optionRe = regexp.MustCompile(`(?m)^([A-Z])\. (.+)$`)

func (m *lpModel) Chat(ctx context.Context, r *local.ChatRequest) (*local.Response, error) {
	if !r.Logprobs {
		return m.scriptedModel.Chat(ctx, r)
	}
	m.lpCalls++
	p := r.Messages[len(r.Messages)-1].Content
	lm := taskRe.FindStringSubmatch(p)
	switch {
	case strings.Contains(p, "Answer yes or no"):
		// P(yes) = e^-0.2 / (e^-0.2 + e^-1.5) ≈ 0.7858
		return &local.Response{Content: "yes", DoneReason: "stop", Logprobs: []local.TokenLogprob{{Token: "yes", Logprob: -0.2,
			Top: []local.TokenLogprob{{Token: "yes", Logprob: -0.2}, {Token: "No", Logprob: -1.5}, {Token: "Maybe", Logprob: -3}}}}}, nil
	case lm != nil:
		var want string
		for _, l := range lm[1:] {
			for _, o := range optionRe.FindAllStringSubmatch(p, -1) {
				if o[2] == l {
					want = o[1]
				}
			}
		}
		return &local.Response{Content: want, DoneReason: "stop", Logprobs: []local.TokenLogprob{
			{Token: " ", Logprob: -0.01}, // a leading space token names no option
			{Token: " " + want, Logprob: -0.3, Top: []local.TokenLogprob{{Token: " " + want, Logprob: -0.3}, {Token: "Z", Logprob: -2}, {Token: want, Logprob: -2.5}}}}}, nil
	}
	return &local.Response{Content: "?", DoneReason: "stop"}, nil
}

func TestQDLabelsFromLogprobs(t *testing.T) {
	m := &lpModel{scriptedModel: qdWorld(1)}
	dir := filepath.Join(t.TempDir(), "run")
	run := testRun(t, dir, "qd-self-instruct")
	defer run.Close()
	q := &QD{Operator: "self-instruct", Model: "gen:latest", Judge: "judge:latest", Count: 10}
	env := &Env{Model: m, Run: run, Workers: 1, Seed: 5, Retries: 1}
	if err := runMethod(env, q, local.ModelInfo{Name: "gen:latest"}, local.ModelInfo{Name: "judge:latest"}); err != nil {
		t.Fatal(err)
	}
	if q.labelsUsed != QDLabelsLogprobs || m.lpCalls < 40 {
		t.Fatalf("labels %q with %d logprob requests, want logprobs and 4 per candidate", q.labelsUsed, m.lpCalls)
	}
	rows := rowsOf(t, dir)
	if len(rows) == 0 {
		t.Fatal("no candidate entered the archive")
	}
	for unit, rs := range rows {
		sft := rs[0].(export.SFT)
		l := taskRe.FindStringSubmatch(sft.Messages[0].Content)
		cell := sft.Metadata[MetaQDCell].(map[string]any)
		if l == nil || cell["domain"] != l[1] || cell["task_type"] != l[2] || cell["difficulty"] != l[3] {
			t.Fatalf("%s: cell %v, but the task says %v", unit, cell, l)
		}
		if sft.Metadata[MetaQDLabels] != QDLabelsLogprobs || math.Abs(sft.Metadata[MetaQDQuality].(float64)-0.7858) > 1e-4 {
			t.Fatalf("%s: metadata %v, want logprob labels and quality 0.7858", unit, sft.Metadata)
		}
	}
	// Every cell is different (each elite has quality 0.7858, so a second
	// candidate for a filled cell is not better).
	if got := run.Counts(); got.Accepted+got.Rejected[ReasonQDNotBetter] != 10 {
		t.Fatalf("counts %+v", got)
	}
}

func TestOptionProbs(t *testing.T) {
	letter := func(tok string) int {
		t := strings.TrimSpace(tok)
		if len(t) == 1 && t[0] >= 'A' && t[0] <= 'C' {
			return int(t[0] - 'A')
		}
		return -1
	}
	tests := []struct {
		name string
		lps  []local.TokenLogprob
		want []float64
		ok   bool
	}{
		{"two listed", []local.TokenLogprob{{Token: "A", Logprob: math.Log(0.6), Top: []local.TokenLogprob{{Token: "A", Logprob: math.Log(0.6)}, {Token: "B", Logprob: math.Log(0.3)}}}},
			[]float64{0.6 / 1.2, 0.3 / 1.2, 0.3 / 1.2}, true}, // C gets the floor (0.3)
		{"spellings add up", []local.TokenLogprob{{Token: "B", Logprob: math.Log(0.4), Top: []local.TokenLogprob{{Token: "B", Logprob: math.Log(0.4)}, {Token: " B", Logprob: math.Log(0.4)}, {Token: "A", Logprob: math.Log(0.1)}, {Token: "C", Logprob: math.Log(0.1)}}}},
			[]float64{0.1, 0.8, 0.1}, true},
		{"later position", []local.TokenLogprob{{Token: "(", Logprob: -0.1}, {Token: "C", Logprob: 0}},
			[]float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, true}, // only C listed, at the floor itself
		{"none", []local.TokenLogprob{{Token: "maybe", Logprob: -0.1}}, nil, false},
		{"empty", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := OptionProbs(tt.lps, 3, letter)
			if ok != tt.ok || len(got) != len(tt.want) {
				t.Fatalf("OptionProbs = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-9 {
					t.Fatalf("OptionProbs = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestQDJSONBudget: a small --num-predict (sized for short answers) does
// not cut the structured requests off; a larger one is left alone.
func TestQDJSONBudget(t *testing.T) {
	for _, tt := range []struct{ user, want int }{{64, minJSONTokens}, {4096, 4096}} {
		m := qdWorld(1)
		run := testRun(t, t.TempDir(), "qd-self-instruct")
		env := &Env{Model: m, Run: run, Workers: 1, Seed: 5, Options: map[string]any{"num_predict": tt.user}}
		q := &QD{Operator: "self-instruct", Model: "gen:latest", Judge: "judge:latest", Count: 2, Labels: QDLabelsSchema}
		if err := runMethod(env, q, local.ModelInfo{Name: "gen:latest"}, local.ModelInfo{Name: "judge:latest"}); err != nil {
			t.Fatal(err)
		}
		run.Close()
		for _, c := range m.chats {
			got := intOption(c.Options, "num_predict")
			if c.Schema != nil && got != tt.want || c.Schema == nil && got != tt.user {
				t.Fatalf("--num-predict %d: a request (schema %v) had num_predict %d", tt.user, c.Schema != nil, got)
			}
		}
	}
}
