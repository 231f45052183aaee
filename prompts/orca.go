package prompts

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"unicode"

	"synthkit/local"
	"synthkit/prompts/yamlfile"
)

// SystemPrompt is one entry of a system-prompt pool (Orca's explanation
// tuning): a way of answering that a sampled prompt asks for.
type SystemPrompt struct {
	ID     string  `yaml:"id"`
	Text   string  `yaml:"text"`
	Weight float64 `yaml:"weight"`
}

// OrcaPool is the built-in pool, in our own words, in the spirit of the
// system messages Orca used to elicit explanations.
var OrcaPool = []SystemPrompt{
	{ID: "plain", Text: "You are a helpful assistant."},
	{ID: "step-by-step", Text: "You are a helpful assistant. Work through the task step by step and justify each step before you give the answer."},
	{ID: "explain-to-child", Text: "You are a patient teacher. Answer as you would to a curious ten-year-old: simple words, a short example, and the reason behind the answer."},
	{ID: "answer-then-explain", Text: "Give the answer first, in one sentence. Then explain how you got there and why other answers would be wrong."},
	{ID: "multiple-choice", Text: "When the task offers options, think about each option in turn, say why it is right or wrong, and then name the correct one."},
	{ID: "faithful", Text: "You are an assistant that follows instructions exactly. Complete the task as asked, and say briefly how each part of the instruction was met."},
	{ID: "detailed", Text: "You are a knowledgeable assistant. Give a thorough, well organized answer so that the reader does not need to look anything up."},
	{ID: "reasoning-first", Text: "Think carefully before answering. Write out your reasoning, check it for mistakes, and end with the final answer on its own line."},
	{ID: "definitions", Text: "Before answering, explain the key terms the task depends on, then use them to reach the answer."},
	{ID: "translate-task", Text: "Restate the task in your own words, say what a good answer must contain, then give that answer."},
	{ID: "concise-justified", Text: "Answer briefly, but always include the one or two facts that justify the answer."},
	{ID: "teacher-hints", Text: "You are a teacher. Explain the guidelines the task gives, show how you use each of them, and then solve it."},
	{ID: "cause-effect", Text: "Explain the causes and effects involved in the task, in order, before stating the conclusion."},
	{ID: "examples", Text: "Explain your answer with at least one concrete example, and say what the example shows."},
	{ID: "check-assumptions", Text: "State any assumptions the task leaves open, say which you chose and why, then answer."},
	{ID: "structured", Text: "Answer in a clear structure: the answer, the reasoning in numbered steps, and a one-line summary."},
}

// LoadSystemPool reads a pool: "orca" for the built-in one, a YAML or JSON
// file (a list of {id, text, weight}), or a text file with one system
// prompt per line (ids are "line-N"). Empty pools, empty entries and
// duplicates are refused with file and line.
func LoadSystemPool(spec string) ([]SystemPrompt, error) {
	if spec == "orca" {
		return OrcaPool, nil
	}
	data, err := os.ReadFile(spec)
	if err != nil {
		return nil, fmt.Errorf("read system-prompt pool: %w", err)
	}
	var pool []SystemPrompt
	lines := map[string]int{}
	if strings.HasSuffix(spec, ".yaml") || strings.HasSuffix(spec, ".yml") || strings.HasSuffix(spec, ".json") {
		if err := yamlfile.Decode(spec, data, &pool); err != nil {
			return nil, err
		}
		for i := range pool {
			if pool[i].ID == "" {
				pool[i].ID = fmt.Sprintf("entry-%d", i+1)
			}
			lines[pool[i].ID] = 0
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" {
				continue
			}
			if prev, dup := lines[text]; dup {
				return nil, yamlfile.Errorf(spec, n, "the same system prompt as line %d", prev)
			}
			lines[text] = n
			pool = append(pool, SystemPrompt{ID: fmt.Sprintf("line-%d", n), Text: text})
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", spec, err)
		}
	}
	if len(pool) == 0 {
		return nil, yamlfile.Errorf(spec, 0, "the system-prompt pool is empty")
	}
	seen := map[string]bool{}
	for i, p := range pool {
		switch {
		case strings.TrimSpace(p.Text) == "":
			return nil, yamlfile.Errorf(spec, 0, "entry %d (%s) has no text", i+1, p.ID)
		case seen[p.Text]:
			return nil, yamlfile.Errorf(spec, 0, "entry %d (%s) repeats an earlier system prompt", i+1, p.ID)
		case p.Weight < 0:
			return nil, yamlfile.Errorf(spec, 0, "entry %d (%s) has a negative weight", i+1, p.ID)
		}
		seen[p.Text] = true
	}
	return pool, nil
}

// pickSystem samples one entry of pool (by weight; a zero weight counts as
// 1) from the unit's seed, so a redone unit picks the same one.
func pickSystem(pool []SystemPrompt, seed int64) SystemPrompt {
	total := 0.0
	for _, p := range pool {
		total += weightOf(p)
	}
	x := rand.New(rand.NewPCG(uint64(seed), 0x0c0a)).Float64() * total
	for _, p := range pool {
		if x -= weightOf(p); x < 0 {
			return p
		}
	}
	return pool[len(pool)-1]
}

func weightOf(p SystemPrompt) float64 {
	if p.Weight == 0 {
		return 1
	}
	return p.Weight
}

// Reference verdicts.
const (
	VerdictAgrees     = "agrees"
	VerdictDisagrees  = "disagrees"
	VerdictCannotTell = "cannot_tell"
)

var (
	verifyTemplate = mustTemplate("respond_verify")
	verifySchema   = local.MustCompileSchema(`{"type":"object","properties":{` +
		`"verdict":{"type":"string","enum":["agrees","disagrees","cannot_tell"]},` +
		`"reason":{"type":"string","maxLength":300}},"required":["verdict","reason"]}`)
)

// verifyByJudge asks the judge whether answer agrees with the task's known
// answer; an unparseable judgment (after the retries) rejects the unit.
func verifyByJudge(ctx context.Context, env *Env, judge, prompt, reference, answer string, seed int64) (verdict, reason string, err error) {
	text, err := verifyTemplate.Render(map[string]any{"Task": prompt, "Reference": reference, "Answer": answer})
	if err != nil {
		return "", "", err
	}
	var out struct {
		Verdict string `json:"verdict"`
		Reason  string `json:"reason"`
	}
	if err := env.instruct(ctx, judge, text, verifySchema, map[string]any{"temperature": 0}, seed, &out); err != nil {
		if RejectReason(err) == ReasonInvalid {
			return "", "", reject(ReasonVerifyUnparseable)
		}
		return "", "", err
	}
	return out.Verdict, strings.TrimSpace(out.Reason), nil
}

var numberRe = regexp.MustCompile(`-?\d+(?:[.,]\d+)?`)

// MatchReference is the rule without a judge, for short known answers
// (labels, numbers): a numeric reference must equal the answer's last
// number; a reference of up to five words must appear, as whole words
// and ignoring case and punctuation, in the answer's last non-empty line
// (where explanations end with their answer) or be the whole answer.
// Longer references cannot be matched this way: cannot_tell.
func MatchReference(reference, answer string) (verdict, reason string) {
	ref := normWords(reference)
	if ref == "" {
		return VerdictCannotTell, "the reference is empty"
	}
	if numberRe.MatchString(reference) && numberRe.FindString(reference) == strings.TrimSpace(reference) {
		nums := numberRe.FindAllString(answer, -1)
		if len(nums) == 0 {
			return VerdictDisagrees, "the answer has no number"
		}
		last := strings.ReplaceAll(nums[len(nums)-1], ",", ".")
		if last == strings.ReplaceAll(strings.TrimSpace(reference), ",", ".") {
			return VerdictAgrees, "the last number in the answer is the reference"
		}
		return VerdictDisagrees, fmt.Sprintf("the answer's last number is %s, the reference %s", last, reference)
	}
	if len(strings.Fields(ref)) > 5 {
		return VerdictCannotTell, "the reference is too long to match without a judge"
	}
	if normWords(answer) == ref {
		return VerdictAgrees, "the answer is the reference"
	}
	lines := strings.Split(strings.TrimSpace(answer), "\n")
	last := normWords(lines[len(lines)-1])
	if strings.Contains(" "+last+" ", " "+ref+" ") {
		return VerdictAgrees, "the answer's last line states the reference"
	}
	return VerdictDisagrees, "the answer's last line does not state the reference"
}

func normWords(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
}
