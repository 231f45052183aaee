package prompts

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"synthkit/export"
	"synthkit/local"
)

// TestPreferTextJudge runs every mode with --judge-format text against a
// judge that answers only in the free-text forms it is asked for: no
// schema is sent, the prompt asks for text, and the lenient parsers read
// the verdicts. The first reply of each prompt is unreadable, so every
// judgment also shows the retry with a new seed.
func TestPreferTextJudge(t *testing.T) {
	answerRe := regexp.MustCompile(`(?s)## Answer A\n(.*?)\n\n## Answer B\n(.*?)\n\n## What`)
	gradeRe := regexp.MustCompile(`(?s)## The answer to grade\n(.*?)\n\n## What`)
	tests := []struct {
		mode     string
		contains string // what the judge prompt asks for
		reply    func(p string) string
		rubric   *Rubric
	}{
		{ModeRatings, `"Answer 1" up to "Answer 2"`, func(p string) string {
			var b strings.Builder
			for k, a := range shownAnswers(p) {
				q := qualityOf(a)
				fmt.Fprintf(&b, "Answer %d\ninstruction_following: %d - fine\nhonesty: %d - fine\ntruthfulness: %d - ok\nhelpfulness: %d - ok\n\n", k+1, q, q, q, q)
			}
			return b.String()
		}, nil},
		{ModePairwise, "[[A]] if answer A is better", func(p string) string {
			a := answerRe.FindStringSubmatch(p)
			switch qa, qb := qualityOf(a[1]), qualityOf(a[2]); {
			case qa > qb:
				return "A is more complete.\n[[A]]"
			case qb > qa:
				return "B says more.\n[[B]]"
			}
			return "Same.\n[[C]]"
		}, nil},
		{ModeRank, `"Ranking: 3 > 1 > 2"`, func(p string) string {
			shown := shownAnswers(p)
			if qualityOf(shown[0]) > qualityOf(shown[1]) {
				return "The first is better.\nRanking: 1 > 2"
			}
			return "The second is better.\nRanking: 2 > 1"
		}, nil},
		{ModeRubric, `"[RESULT] N", where N is a whole number from 1 to 5`, func(p string) string {
			return fmt.Sprintf("Good enough.\n[RESULT] %d", qualityOf(gradeRe.FindStringSubmatch(p)[1]))
		}, mustRubric(t, "criteria: Right?\nscores: {1: no, 2: barely, 3: half, 4: mostly, 5: yes}\n")},
		{ModeRubric, "helpfulness: N - feedback (0 to 4)", func(p string) string {
			q := qualityOf(gradeRe.FindStringSubmatch(p)[1]) - 1
			return fmt.Sprintf("helpfulness: %d - ok\ncorrectness: %d - ok\ncoherence: 4 - ok\ncomplexity: 1 - ok\nverbosity: 2 - ok", q, q)
		}, HelpSteerRubric()},
	}
	for _, tt := range tests {
		name := tt.mode
		if tt.rubric != nil {
			name += "/" + tt.rubric.Name
		}
		t.Run(name, func(t *testing.T) {
			seen := map[string]bool{}
			sm := (&scriptedModel{}).on("## What to return", func(p string, _ int) string {
				if !seen[p] { // first sight of this exact prompt: garbage
					seen[p] = true
					return "Hmm, let me think about both of these."
				}
				return tt.reply(p)
			})
			q := &qualityModel{scriptedModel: sm, judge: "judge"}
			env, dir := preferEnv(t, q)
			env.Retries = 2
			m := &Prefer{Mode: tt.mode, Rubric: tt.rubric, JudgeFormat: JudgeText, Pool: []string{"q2", "q5"}, Judge: "judge",
				Conversations: convs("A?", "B?")}
			if err := runMethod(env, m); err != nil {
				t.Fatal(err)
			}
			env.Run.Close()
			rows := rowsOf(t, dir)
			for p := range 2 {
				rs := rows[judgeUnit(p)]
				if len(rs) != 2 || rs[1].(export.Preference).ChosenModel != "q5" {
					t.Fatalf("prompt %d: rows %v", p, rs)
				}
			}
			seeds := map[int64]int{}
			for _, c := range q.chats {
				if c.Model != "judge" {
					continue
				}
				last := c.Messages[len(c.Messages)-1].Content
				if c.Schema != nil || strings.Contains(strings.ReplaceAll(last, "not JSON", ""), "JSON") || !strings.Contains(last, "Plain text, not JSON") || !strings.Contains(last, tt.contains) {
					t.Fatalf("text-mode request: schema %s, prompt:\n%s", c.Schema, last)
				}
				seeds[*c.Seed]++
			}
			// Every judge prompt was asked twice, with two seeds.
			for s, n := range seeds {
				if n != 1 {
					t.Fatalf("seed %d used %d times: the retry kept its seed", s, n)
				}
			}
			if len(seeds) != 2*len(seen) {
				t.Fatalf("%d judge calls for %d prompts, want one retry each", len(seeds), len(seen))
			}
		})
	}
}

func mustRubric(t testing.TB, text string) *Rubric {
	t.Helper()
	r, err := ParseRubric("r.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPreferJSONJudgeSendsSchema is the other side: by default (a model
// that cannot be probed counts as having structured output) the schema
// is sent and the prompt asks for JSON.
func TestPreferJSONJudgeSendsSchema(t *testing.T) {
	sm := (&scriptedModel{}).on("You are grading answers", func(p string, _ int) string { return ratingsReply(p) })
	q := &qualityModel{scriptedModel: sm, judge: "judge"}
	env, _ := preferEnv(t, q)
	m := &Prefer{Pool: []string{"q2", "q5"}, Judge: "judge", Conversations: convs("A?")}
	if err := runMethod(env, m); err != nil {
		t.Fatal(err)
	}
	env.Run.Close()
	for _, c := range q.chats {
		if c.Model == "judge" && (c.Schema == nil || !strings.Contains(c.Messages[len(c.Messages)-1].Content, "JSON:")) {
			t.Fatalf("json-mode request without a schema")
		}
	}
}

// TestAnswersFirst: the benchmark baseline moves the answers to the front
// and keeps every section.
func TestAnswersFirst(t *testing.T) {
	m := &Prefer{Mode: ModePairwise}
	m.tmpl = mustTemplate("prefer_pairwise")
	p, _ := m.tmpl.Render(map[string]any{"Prompt": "Q?", "A": "first", "B": "second"})
	got := answersFirst(p)
	if !strings.HasPrefix(got, "## Answer A\nfirst") || !strings.Contains(got, "## Answer B\nsecond") ||
		!strings.Contains(got, "You are comparing two answers") || !strings.Contains(got, "## What to return") {
		t.Fatalf("answers first:\n%s", got)
	}
	if len(strings.Fields(got)) != len(strings.Fields(p)) {
		t.Fatalf("words lost: %d → %d", len(strings.Fields(p)), len(strings.Fields(got)))
	}
	lines := strings.Split(got, "\n")
	if slices.Index(lines, "## The request") < slices.Index(lines, "## Answer B") {
		t.Fatal("the request stayed before the answers")
	}
}

// noSchemaServer reports a server without structured output.
type noSchemaServer struct{ *qualityModel }

func (noSchemaServer) ServerFeatures(context.Context) (local.Features, error) {
	return local.Features{StructuredOutput: false}, nil
}

// TestPreferJudgeFormatAuto: with no --judge-format, a server without
// structured output gets the free-text judge (and the run says so); one
// with it gets JSON.
func TestPreferJudgeFormatAuto(t *testing.T) {
	for _, tt := range []struct {
		name     string
		wrap     func(*qualityModel) local.Model
		wantText bool
	}{
		{"server without structured output", func(q *qualityModel) local.Model { return noSchemaServer{q} }, true},
		{"server with it", func(q *qualityModel) local.Model { return q }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sm := (&scriptedModel{}).on("## What to return", func(p string, _ int) string { return "[[A]]" })
			q := &qualityModel{scriptedModel: sm, judge: "judge"}
			env, _ := preferEnv(t, tt.wrap(q))
			m := &Prefer{Mode: ModePairwise, Pool: []string{"q2", "q5"}, Judge: "judge", Conversations: convs("A?")}
			if err := runMethod(env, m); err != nil {
				t.Fatal(err)
			}
			notes := strings.Join(env.Run.Manifest().Notes, "\n")
			env.Run.Close()
			for _, c := range q.chats {
				if c.Model == "judge" && (c.Schema == nil) != tt.wantText {
					t.Fatalf("schema sent: %v, want text mode %v", c.Schema != nil, tt.wantText)
				}
			}
			if strings.Contains(notes, "no structured output") != tt.wantText {
				t.Fatalf("notes %q", notes)
			}
		})
	}
}
