package prompts

import (
	"slices"
	"testing"
)

func TestParseScore(t *testing.T) {
	tests := []struct {
		text string
		want float64 // 0: unparseable
	}{
		{"The answer is accurate but terse.\nRating: 4", 4},
		{"Rating: [[5]]", 5},
		{"Explanation ... so I give it [[3]].", 3},
		{"Feedback: The response covers most points. [RESULT] 3", 3},
		{"[RESULT] 2", 2},
		{"Some feedback [SCORE] 4", 4},
		{"[RESULT: 5]", 5},
		{"Score 4/5", 4},
		{"Overall score: 4 out of 5.", 4},
		{"**Rating:** 2", 2},
		{`{"rating": 3, "rationale": "ok"}`, 3},
		{"I would rate this a 3 out of 5.", 3},
		{"Score: 2.5/5", 2.5},
		{"4", 4},
		{"Score: 8/10", 0},                                     // another scale: refused, not rescaled
		{"Rating: 7", 0},                                       // out of range
		{"Rating: 2 at first, but on reflection Rating: 4", 4}, // the last one wins
		{"The answer is good.", 0},
		{"", 0},
	}
	for _, tt := range tests {
		got, ok := parseScore(tt.text, 1, 5)
		if tt.want == 0 && ok || tt.want != 0 && (!ok || got != tt.want) {
			t.Errorf("parseScore(%q) = %v, %v; want %v", tt.text, got, ok, tt.want)
		}
	}
	if v, ok := parseScore("Score: 0", 0, 4); !ok || v != 0 {
		t.Errorf("a 0–4 scale: %v %v", v, ok)
	}
}

func TestParseVerdict(t *testing.T) {
	tests := []struct{ text, want string }{
		{"Assistant A is more detailed. [[A]]", VerdictA},
		{"Final verdict: [[B]]", VerdictB},
		{"Both are equally good. [[C]]", VerdictTie},
		{"Feedback: A is clearer. [RESULT] A", VerdictA},
		{"[RESULT: B]", VerdictB},
		{"Result: B", VerdictB},
		{"Verdict: tie", VerdictTie},
		{"Winner - Response A", VerdictA},
		{`{"explanation": "x", "verdict": "B"}`, VerdictB},
		{"Response B is better because it cites the source.", VerdictB},
		{"Overall, I prefer answer A.", VerdictA},
		{"Assistant A's answer is clearly better.", VerdictA},
		{"It's a tie.", VerdictTie},
		{"B", VerdictB},
		{"First I thought [[A]] but then [[B]]", VerdictB},
		{"Both answers have merits.", ""},
	}
	for _, tt := range tests {
		got, ok := parseVerdict(tt.text)
		if tt.want == "" && ok || tt.want != "" && got != tt.want {
			t.Errorf("parseVerdict(%q) = %q, %v; want %q", tt.text, got, ok, tt.want)
		}
	}
}

func TestParseRanking(t *testing.T) {
	tests := []struct {
		text string
		k    int
		want []int
	}{
		{"Ranking: [3] > [1] > [2]", 3, []int{3, 1, 2}},
		{"After comparing every pair...\nFinal ranking: 2, 1, 3, 4", 4, []int{2, 1, 3, 4}},
		{"[[3, 1, 2]]", 3, []int{3, 1, 2}},
		{"Answer 2 beats answer 1.\n2 > 3 > 1", 3, []int{2, 3, 1}},
		{"Ranking: 1, 1, 2", 3, nil}, // repeated
		{"Ranking: 1, 2", 3, nil},    // incomplete
		{"Ranking: 1, 2, 9", 3, nil}, // out of range
	}
	for _, tt := range tests {
		got, ok := parseRanking(tt.text, tt.k)
		if tt.want == nil && ok || tt.want != nil && !slices.Equal(got, tt.want) {
			t.Errorf("parseRanking(%q) = %v, %v; want %v", tt.text, got, ok, tt.want)
		}
	}
}

func TestAspectScores(t *testing.T) {
	text := "#### Output for Text 1\nRating: x\nInstruction Following: 4\nHonesty: 5\nTruthfulness rating: 3/5\nHelpfulness - 2\n\n" +
		"#### Output for Text 2\ninstruction_following: 1\nhonesty: 2\ntruthfulness: 2\nhelpfulness: 1\n"
	got, ok := aspectScores(text, 2, ratingAspects, 1, 5)
	if !ok || !slices.Equal(got[0], []float64{4, 5, 3, 2}) || !slices.Equal(got[1], []float64{1, 2, 2, 1}) {
		t.Fatalf("aspectScores = %v, %v", got, ok)
	}
	if _, ok := aspectScores(text, 3, ratingAspects, 1, 5); ok {
		t.Error("three answers read from two blocks")
	}
	if _, ok := aspectScores("Answer 1\nhelpfulness: 4\n\nAnswer 2\nhelpfulness: 9\n", 2, []string{"helpfulness"}, 1, 5); ok {
		t.Error("an out-of-range aspect score was accepted")
	}
}

func TestParseRubricErrors(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"criteria: x\nscores:\n  1: a\n  2: b\n  4: d\n", "r.yaml:3: rubric: score 3 is missing"},
		{"criteria: x\n", "r.yaml:1: rubric: scores are missing"},
		{"criteria: x\nscores:\n  1: a\n  2: \"\"\n", "r.yaml:4: rubric: score 2 needs a description"},
		{"criteria: x\nscores: {1: a, 2: b}\nbogus: 1\n", "r.yaml:3: unknown key \"bogus\""},
		{"attributes:\n  - name: a\n    criteria: c\n    scores: {0: x, 1: y}\n  - name: a\n    criteria: c\n    scores: {0: x, 1: y}\n", "r.yaml:5: attribute \"a\" is named twice"},
		{"criteria: x\nscores: {1: a, 2: b}\naggregate: zz\n", "r.yaml:3: aggregate \"zz\" is not one of the attributes"},
		{"scores: {1: a}\n", "r.yaml:1: the rubric needs criteria"},
	}
	for _, tt := range tests {
		_, err := ParseRubric("r.yaml", []byte(tt.yaml))
		if err == nil || !startsWith(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.yaml, err, tt.want)
		}
	}
	r := HelpSteerRubric()
	if len(r.Attributes) != 5 || r.Attributes[4].Name != "verbosity" || r.Attributes[0].Min != 0 || r.Attributes[0].Max != 4 || r.Aggregate != "helpfulness" {
		t.Fatalf("helpsteer preset %+v", r)
	}
}

func startsWith(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
