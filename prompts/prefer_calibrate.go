package prompts

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"unicode/utf8"

	"synthkit/export"
	"synthkit/prompts/yamlfile"
)

// CalibrationItem is a request with answers whose right order is not in
// doubt. The judge grades these at the start of a run and again every so
// many judgments; if its verdicts on them change, the judge changed.
type CalibrationItem struct {
	Prompt      string   `json:"prompt"`
	Completions []string `json:"completions"`
	// Expected scores, one per completion (higher is better); only their
	// order counts toward agreement.
	Expected []float64 `json:"expected_scores,omitempty"`
	// Best is the index (from 0) of the best completion, when only that is
	// known; used when Expected is empty.
	Best *int `json:"best_index,omitempty"`
	// Reference is shown to a rubric judge, as a reference column would be.
	Reference string `json:"reference,omitempty"`
}

// expected returns the item's expected scores (1 for the best, 0 for the
// others when only Best is given).
func (it CalibrationItem) expected() []float64 {
	if len(it.Expected) > 0 {
		return it.Expected
	}
	out := make([]float64, len(it.Completions))
	if it.Best != nil && *it.Best < len(out) {
		out[*it.Best] = 1
	}
	return out
}

// CalibrationItems are the built-in items, in our own words: a plainly
// right answer, a flawed one and a useless one per request, in varied
// positions.
func CalibrationItems() []CalibrationItem {
	return []CalibrationItem{
		{Prompt: "What is 12 multiplied by 4?",
			Completions: []string{"12 multiplied by 4 is 44.", "12 multiplied by 4 is 48.", "I enjoy long walks on the beach."},
			Expected:    []float64{2, 5, 1}},
		{Prompt: "Which is the largest planet in our solar system?",
			Completions: []string{"Jupiter is the largest planet in our solar system; it is more than eleven times as wide as Earth.",
				"Saturn is the largest planet in the solar system.", "Planets are nice to look at."},
			Expected: []float64{5, 2, 1}},
		{Prompt: "In one sentence, what is photosynthesis?",
			Completions: []string{"Photosynthesis is something plants do.",
				"Photosynthesis is how animals digest food in their stomachs.",
				"Photosynthesis is the process by which plants use sunlight, water and carbon dioxide to make sugar, giving off oxygen."},
			Expected: []float64{3, 1, 5}},
		{Prompt: "Translate \"thank you\" into Spanish. Reply with the translation only.",
			Completions: []string{"Merci.", "Thank you is a polite phrase that people say in many situations, and there are many languages in the world.", "Gracias."},
			Expected:    []float64{2, 1, 5}},
		{Prompt: "Name the three primary colors of paint, separated by commas.",
			Completions: []string{"Seven.", "Red, yellow, blue", "Red, yellow"},
			Expected:    []float64{1, 5, 3}},
	}
}

// LoadCalibration reads calibration items from a JSONL file: one item a
// line, {"prompt", "completions", "expected_scores" or "best_index"}.
// Errors name the file and line.
func LoadCalibration(path string) ([]CalibrationItem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the calibration file: %w", err)
	}
	return ParseCalibration(path, data)
}

// ParseCalibration decodes calibration items (see [LoadCalibration]).
func ParseCalibration(name string, data []byte) ([]CalibrationItem, error) {
	var items []CalibrationItem
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		if !utf8.Valid(raw) {
			return nil, yamlfile.Errorf(name, line, "not valid UTF-8")
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var it CalibrationItem
		if err := dec.Decode(&it); err != nil {
			return nil, yamlfile.Errorf(name, line, "not a calibration item (%s); want {\"prompt\": …, \"completions\": [… two or more], \"expected_scores\": [… one per completion]} or \"best_index\": N", jsonProblem(err))
		}
		if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
			return nil, yamlfile.Errorf(name, line, "one JSON object per line, please: something follows the item")
		}
		if err := checkItem(it); err != nil {
			return nil, yamlfile.Errorf(name, line, "%v", err)
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, yamlfile.Errorf(name, line+1, "%v", err)
	}
	if len(items) == 0 {
		return nil, yamlfile.Errorf(name, 0, "no calibration items (one JSON object a line)")
	}
	return items, nil
}

// jsonProblem is a decode error in the user's terms.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%q has the wrong kind of value", te.Field)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f
	}
	return strings.TrimPrefix(msg, "json: ")
}

// checkItem checks one item on its own.
func checkItem(it CalibrationItem) error {
	switch {
	case strings.TrimSpace(it.Prompt) == "":
		return errors.New(`"prompt" is missing or empty`)
	case len(it.Completions) < 2:
		return fmt.Errorf(`"completions" needs two or more answers to order (got %d)`, len(it.Completions))
	case len(it.Expected) > 0 && it.Best != nil:
		return errors.New(`give "expected_scores" or "best_index", not both`)
	case len(it.Expected) == 0 && it.Best == nil:
		return errors.New(`say what the right judgment is: "expected_scores" (one per completion) or "best_index" (from 0)`)
	case len(it.Expected) > 0 && len(it.Expected) != len(it.Completions):
		return fmt.Errorf(`"expected_scores" has %d scores for %d completions`, len(it.Expected), len(it.Completions))
	case it.Best != nil && (*it.Best < 0 || *it.Best >= len(it.Completions)):
		return fmt.Errorf(`"best_index" %d is not a completion (0 to %d)`, *it.Best, len(it.Completions)-1)
	}
	for i, c := range it.Completions {
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("completion %d is empty", i)
		}
	}
	if len(it.Expected) > 0 {
		differ := false
		for _, v := range it.Expected {
			differ = differ || v != it.Expected[0]
		}
		if !differ {
			return errors.New(`"expected_scores" are all equal: there is no right order to check the judge against`)
		}
	}
	return nil
}

// checkCalibration checks items against the judge mode.
func checkCalibration(items []CalibrationItem, mode string) error {
	for i, it := range items {
		if err := checkItem(it); err != nil {
			return fmt.Errorf("calibration item %d: %w", i+1, err)
		}
		if mode == ModeRank && len(it.Completions) > MaxRank {
			return fmt.Errorf("calibration item %d has %d completions; rank mode shows the judge at most %d", i+1, len(it.Completions), MaxRank)
		}
	}
	return nil
}

// calibrationPass is one judging of the calibration items, journaled as
// run state so a resumed run keeps the whole history.
type calibrationPass struct {
	Pass  int    `json:"pass"`
	Judge string `json:"judge"`
	// Items identifies the item set; drift compares passes of one set.
	Items string `json:"items"`
	// After is how many prompts had been judged when the pass began.
	After int64 `json:"after"`
	// Scores per item and completion (nil: the judgment failed).
	Scores [][]*float64 `json:"scores"`
	Failed int          `json:"failed"`
	// Agreement is the share of expected orderings (a better answer above
	// a worse one) the judge's scores kept; ties count as misses. Nil when
	// every item failed.
	Agreement *float64 `json:"agreement"`
	// Mean is the mean score over all completions, in absolute modes
	// (ratings, rubric); nil in relative ones, where it is fixed.
	Mean *float64 `json:"mean,omitempty"`
}

func calibrationKey(k int) string { return fmt.Sprintf("prefer-calibration-%04d", k) }

func calibrationItemsHash(items []CalibrationItem) string {
	b, _ := json.Marshal(items)
	return TextHash(string(b))
}

// calibrationDue hands out the next calibration pass when one is due: at
// the start, then after every CalibrateEvery judged prompts. One runs at
// a time; judgments go on beside it.
func (m *Prefer) calibrationDue(env *Env) (Unit, bool) {
	h := m.health
	if h == nil || m.CalibrateEvery <= 0 {
		return Unit{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := len(h.passes)
	if h.inFlight || h.judged.Load() < int64(k*m.CalibrateEvery) {
		return Unit{}, false
	}
	h.inFlight = true
	after := h.judged.Load()
	id := calibrationKey(k)
	prov := export.Provenance{Method: m.Name(), Model: m.judge}
	return Unit{ID: id, Prov: prov, Do: func(ctx context.Context, w *Work) error {
		pass, err := m.calibrate(ctx, env, k, after)
		if err == nil {
			err = env.Run.SetState(id, pass)
		}
		h.mu.Lock()
		h.inFlight = false
		if err == nil {
			h.passes = append(h.passes, pass)
		}
		h.mu.Unlock()
		if err != nil {
			return fmt.Errorf("calibration pass %d: %w", k, err)
		}
		h.passDone(m, pass)
		return nil
	}}, true
}

// calibrate judges every item once. The seeds and shuffles are the same
// in every pass, so a judge that has not changed gives the same verdicts;
// an item the judge cannot be read on counts as failed, never as data.
func (m *Prefer) calibrate(ctx context.Context, env *Env, k int, after int64) (calibrationPass, error) {
	h := m.health
	pass := calibrationPass{Pass: k, Judge: m.judge, Items: h.itemsHash, After: after}
	var agree, pairs, n int
	var sum float64
	_, _, absolute := m.scale()
	for i, it := range h.items {
		seed := UnitSeed(env.Seed, fmt.Sprintf("prefer-calibration-item-%d", i))
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
		cs := make([]candidate, len(it.Completions))
		for j, c := range it.Completions {
			cs[j] = candidate{storedCompletion{Model: "calibration", Text: c}, j}
		}
		cost := &judgeCost{}
		j, err := m.judge1(ctx, env, judgeQuery{Prompt: it.Prompt, Reference: it.Reference}, cs, seed, rng, cost)
		h.calls.Add(cost.Calls)
		if err != nil {
			if RejectReason(err) == "" {
				return pass, err
			}
			pass.Failed++
			pass.Scores = append(pass.Scores, nil)
			continue
		}
		pass.Scores = append(pass.Scores, j.Score)
		a, p := agreement(it.expected(), j.Score)
		agree, pairs = agree+a, pairs+p
		for _, s := range j.Score {
			if s != nil {
				sum += *s
				n++
			}
		}
	}
	if pairs > 0 {
		v := float64(agree) / float64(pairs)
		pass.Agreement = &v
	}
	if absolute && n > 0 {
		v := sum / float64(n)
		pass.Mean = &v
	}
	return pass, nil
}

// agreement counts the expected orderings (expected[i] > expected[j])
// and how many of them the scores keep strictly.
func agreement(expected []float64, scores []*float64) (agree, pairs int) {
	for i := range expected {
		for j := range expected {
			if i >= len(scores) || j >= len(scores) || expected[i] <= expected[j] {
				continue
			}
			pairs++
			if scores[i] != nil && scores[j] != nil && *scores[i] > *scores[j] {
				agree++
			}
		}
	}
	return agree, pairs
}
