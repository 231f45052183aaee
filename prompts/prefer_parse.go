package prompts

import (
	"regexp"
	"strconv"
	"strings"
)

// Lenient parsers for judges that answer in free text: a server or mode
// without structured output, or a small judge whose JSON does not validate
// but whose words still carry the verdict. Each looks for the forms judges
// commonly write (MT-Bench's "[[5]]" and "[[A]]", Prometheus's "[RESULT] 3",
// UltraFeedback's "Rating: 4", "Score: 4/5", "4 out of 5") and prefers the
// last match: judges explain first and conclude at the end.

var (
	// Bracketed conclusions: [[4]], [[4.5]], [RESULT] 4, [SCORE] 4, [RESULT: 4].
	scoreBracket = regexp.MustCompile(`(?i)(?:\[\[\s*(\d+(?:\.\d+)?)\s*\]\]|\[(?:result|score)\]\s*:?\s*(\d+(?:\.\d+)?)|\[(?:result|score)\s*:\s*(\d+(?:\.\d+)?)\s*\])`)
	// Labelled scores: "Rating: 4", "Score 4/5", "overall score: 4 out of 5",
	// `"rating": 4`, "**Rating:** 4".
	scoreLabel = regexp.MustCompile(`(?i)\b(?:overall\s+)?(?:rating|score|grade|result)\b["'*]*\s*(?:is|of|[:=])?\s*["'*]*\s*(\d+(?:\.\d+)?)(?:\s*(?:/|out\s+of)\s*(\d+))?`)
	// A bare fraction at the end: "… so 4/5." or "4 out of 5".
	scoreFraction = regexp.MustCompile(`(?i)\b(\d+(?:\.\d+)?)\s*(?:/|out\s+of)\s*(\d+)\b`)
)

// parseScore finds the score a free-text judgment concludes with, within
// [lo, hi]. A fraction whose denominator is not hi ("8/10" on a 1–5 scale)
// is refused rather than rescaled: a judge that used another scale did
// not follow the rubric.
func parseScore(text string, lo, hi int) (float64, bool) {
	inRange := func(s, den string) (float64, bool) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < float64(lo) || v > float64(hi) {
			return 0, false
		}
		if den != "" {
			if d, err := strconv.Atoi(den); err != nil || d != hi {
				return 0, false
			}
		}
		return v, true
	}
	if ms := scoreBracket.FindAllStringSubmatch(text, -1); len(ms) > 0 {
		m := ms[len(ms)-1]
		for _, g := range m[1:] {
			if g != "" {
				return inRange(g, "")
			}
		}
	}
	if ms := scoreLabel.FindAllStringSubmatch(text, -1); len(ms) > 0 {
		m := ms[len(ms)-1]
		return inRange(m[1], m[2])
	}
	if ms := scoreFraction.FindAllStringSubmatch(text, -1); len(ms) > 0 {
		m := ms[len(ms)-1]
		return inRange(m[1], m[2])
	}
	// Last resort: the whole reply is one number ("4").
	if t := strings.Trim(strings.TrimSpace(text), ".*"); t != "" {
		return inRange(t, "")
	}
	return 0, false
}

// Verdicts of a pairwise judgment.
const (
	VerdictA   = "A"
	VerdictB   = "B"
	VerdictTie = "tie"
)

var (
	// [[A]], [[B]], [[C]] (MT-Bench's tie), [[tie]].
	verdictBracket = regexp.MustCompile(`(?i)\[\[\s*(A|B|C|tie)\s*\]\]`)
	// [RESULT] A, [RESULT: B], Result: A, Verdict: tie, Winner - B,
	// "Final verdict: Response A", `"verdict": "B"`.
	verdictLabel = regexp.MustCompile(`(?i)(?:\[(?:result|verdict)\]\s*:?|\[(?:result|verdict)\s*:|\b(?:result|verdict|winner|better\s+response|preferred|choice)\b["'*]*\s*(?:is)?\s*[:=\-]?)\s*["'*]*\s*(?:(?:response|answer|assistant|output)\s+)?(A|B|tie|neither|both)\b`)
	// "Response A is better", "Assistant B's answer is better", "A is
	// better", "I prefer answer B".
	verdictPhrase = regexp.MustCompile(`(?i)(?:\b(?:response|answer|assistant|output)\s+(A|B)\b(?:'s\s+(?:answer|response))?\s+is\s+(?:clearly\s+|slightly\s+|much\s+)?(?:better|superior|preferred|stronger)|\bprefer\s+(?:response|answer|assistant|output)?\s*(A|B)\b)`)
	tieWords      = regexp.MustCompile(`(?i)\b(?:it'?s\s+a\s+tie|equally\s+good|equally\s+bad|no\s+clear\s+winner)\b`)
)

// parseVerdict finds which of two answers a free-text judgment prefers.
func parseVerdict(text string) (string, bool) {
	norm := func(s string) string {
		switch strings.ToLower(s) {
		case "a":
			return VerdictA
		case "b":
			return VerdictB
		default: // c, tie, neither, both
			return VerdictTie
		}
	}
	if ms := verdictBracket.FindAllStringSubmatch(text, -1); len(ms) > 0 {
		return norm(ms[len(ms)-1][1]), true
	}
	if ms := verdictLabel.FindAllStringSubmatch(text, -1); len(ms) > 0 {
		return norm(ms[len(ms)-1][1]), true
	}
	if ms := verdictPhrase.FindAllStringSubmatch(text, -1); len(ms) > 0 {
		m := ms[len(ms)-1]
		if m[1] != "" {
			return norm(m[1]), true
		}
		return norm(m[2]), true
	}
	if tieWords.MatchString(text) {
		return VerdictTie, true
	}
	if t := strings.Trim(strings.TrimSpace(text), ".*[]\"'"); len(t) == 1 {
		switch t {
		case "A", "B", "C":
			return norm(t), true
		}
	}
	return "", false
}

var (
	rankLine  = regexp.MustCompile(`(?i)\b(?:ranking|rank|order)\b[^:\n]*[:=]\s*(.+)`)
	rankItems = regexp.MustCompile(`\d+`)
)

// parseRanking finds a best-to-worst ordering of k answers numbered 1..k
// ("Ranking: [3] > [1] > [2]", "2, 1, 3", "[[3, 1, 2]]"): a permutation
// of 1..k, from the last line that holds one.
func parseRanking(text string, k int) ([]int, bool) {
	perm := func(s string) ([]int, bool) {
		var out []int
		seen := map[int]bool{}
		for _, d := range rankItems.FindAllString(s, -1) {
			n, _ := strconv.Atoi(d)
			if n < 1 || n > k || seen[n] {
				return nil, false
			}
			seen[n] = true
			out = append(out, n)
		}
		return out, len(out) == k
	}
	if ms := rankLine.FindAllStringSubmatch(text, -1); len(ms) > 0 {
		if p, ok := perm(ms[len(ms)-1][1]); ok {
			return p, true
		}
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if p, ok := perm(lines[i]); ok {
			return p, true
		}
	}
	return nil, false
}

// aspectScores finds, in a free-text ratings judgment of n answers, each
// answer's rating on each aspect: the reply is cut at headings that name
// the answer ("Answer 2", "Text 2", "#### Output for Text 2", "[2]") and
// each block is searched for "aspect …: N" (aspect names with spaces or
// underscores). ok is false unless every answer has every aspect.
func aspectScores(text string, n int, aspects []string, lo, hi int) ([][]float64, bool) {
	heading := regexp.MustCompile(`(?im)^[#*\s]*(?:output\s+for\s+)?(?:answer|text|response|completion)\s*(\d+)\b|^\s*\[(\d+)\]`)
	idx := heading.FindAllStringSubmatchIndex(text, -1)
	blocks := make([]string, n)
	found := 0
	for i, m := range idx {
		num := ""
		if m[2] >= 0 {
			num = text[m[2]:m[3]]
		} else {
			num = text[m[4]:m[5]]
		}
		k, _ := strconv.Atoi(num)
		if k < 1 || k > n {
			continue
		}
		end := len(text)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		if blocks[k-1] == "" {
			found++
		}
		blocks[k-1] += text[m[1]:end]
	}
	if found != n {
		return nil, false
	}
	out := make([][]float64, n)
	for i, b := range blocks {
		out[i] = make([]float64, len(aspects))
		for j, a := range aspects {
			v, ok := aspectScore(b, a, lo, hi)
			if !ok {
				return nil, false
			}
			out[i][j] = v
		}
	}
	return out, true
}

// aspectScore finds "aspect …: N" (or "N/hi") in text; underscores in the
// aspect name match spaces or hyphens too.
func aspectScore(text, aspect string, lo, hi int) (float64, bool) {
	words := strings.ReplaceAll(regexp.QuoteMeta(aspect), "_", `[\s_-]+`)
	re := regexp.MustCompile(`(?i)` + words + `\b[^\n\d]{0,40}?(\d+(?:\.\d+)?)(?:\s*(?:/|out\s+of)\s*(\d+))?`)
	ms := re.FindAllStringSubmatch(text, -1)
	if len(ms) == 0 {
		return 0, false
	}
	m := ms[len(ms)-1]
	return parseScore("Score: "+m[1]+fraction(m[2]), lo, hi)
}

func fraction(den string) string {
	if den == "" {
		return ""
	}
	return "/" + den
}
