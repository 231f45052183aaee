package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"synthkit/export"
	"synthkit/local"
	"synthkit/prompts"
	"synthkit/prompts/inputs"
)

// preferOptions are the flags of `synthkit prefer`.
type preferOptions struct {
	gen         genOptions
	input       inputFlags
	completions string
	models      string
	perPrompt   int
	samples     int
	principles  string

	judge        string
	mode         string
	rubric       string
	preset       string
	refColumn    string
	pairs        string
	margin       float64
	aspect       string
	judgeSamples int

	chosenModel, rejectedModel string

	judgeFormat    string
	calibration    string
	calibrateEvery int
	plainOrder     bool

	pairsSet, modeSet bool
}

func (o *preferOptions) AddFlags(fs *pflag.FlagSet) {
	o.input.AddFlags(fs, "prompts to answer and judge: a `file`, a dataset folder, a previous run directory, or - (see INPUT)")
	fs.StringVar(&o.completions, "completions", "", "judge answers made earlier instead of generating: a `file` or run with several answers per prompt")
	fs.StringVar(&o.models, "models", "", "models that answer, comma-separated")
	fs.IntVar(&o.perPrompt, "per-prompt", 0, "answer each prompt with this many of --models, drawn per prompt with the seed (0: all)")
	fs.IntVar(&o.samples, "samples", 1, "answers per model and prompt (distinct seeds)")
	fs.StringVar(&o.principles, "principles", "", "system prompt per answer: mix (UltraFeedback's), helpfulness, honesty, truthfulness or verbalized_calibration (default: none)")
	fs.StringVar(&o.judge, "judge", "", "the judging `model`")
	fs.StringVar(&o.mode, "judge-mode", prompts.ModeRatings, "ratings, pairwise, rubric or rank")
	fs.StringVar(&o.rubric, "rubric", "", "rubric `file` (YAML or JSON) for --judge-mode rubric")
	fs.StringVar(&o.preset, "preset", "", "built-in rubric: helpsteer (helpfulness, correctness, coherence, complexity, verbosity; 0–4)")
	fs.StringVar(&o.refColumn, "reference-column", "", "input `column` with a reference answer shown to the rubric judge (default: the rubric's reference)")
	fs.StringVar(&o.pairs, "pairs", prompts.PairsBestRandom, "how judged answers become pairs: best-random, best-worst or all")
	fs.Float64Var(&o.margin, "margin", 0, "smallest score gap a pair needs (ties never make pairs)")
	fs.StringVar(&o.aspect, "aspect", "", "rank answers by this one aspect instead of the mean of all")
	fs.IntVar(&o.judgeSamples, "judge-samples", 1, "ask the judge this many times per judgment and average (majority for pairwise)")
	fs.StringVar(&o.chosenModel, "chosen-model", "", "no judge: this `model`'s answer is always chosen …")
	fs.StringVar(&o.rejectedModel, "rejected-model", "", "… over this `model`'s answer")
	fs.StringVar(&o.judgeFormat, "judge-format", "auto", "how the judge answers: json (structured output), text (free text read leniently), or auto (json when the server has structured output)")
	fs.StringVar(&o.calibration, "calibration", "", "calibration items `file` (JSONL: prompt, completions, expected_scores or best_index; default: built-in items)")
	fs.IntVar(&o.calibrateEvery, "calibrate-every", 50, "judge the calibration items at the start and after every `N` judged prompts, and report drift (0: never)")
	fs.BoolVar(&o.plainOrder, "plain-judge-order", false, "answers first in judge prompts (no shared prefix): the cache-friendly order's baseline, for benchmarks")
	_ = fs.MarkHidden("plain-judge-order")
	o.gen.AddFlags(fs, "out/prefer")
	o.gen.div.AddFlags(fs, prompts.OnPrompt)
}

func preferCommand() *command {
	var o preferOptions
	return &command{
		name:    "prefer",
		server:  true,
		summary: "preference data: ultrafeedback ratings, pairwise and rubric judges",
		usage:   "--prompts FILE|RUN --models A,B[,…] --judge MODEL [flags]",
		long: `Make preference data for DPO and reward models. Every prompt is answered by
several models (--models, or --per-prompt N of them drawn per prompt, and
--samples K answers each), model by model so a laptop loads each model once;
then a judge judges each prompt's answers back to back:

  ratings   (default, UltraFeedback) all answers at once, each rated 1–5 on
            instruction following, honesty, truthfulness and helpfulness
            with a rationale; the answers are shuffled for the judge
  pairwise  (MT-Bench) every two answers compared in both orders; a
            verdict that flips with the order is a tie; every decided
            comparison is a pair; the position-bias rate goes in the card
  rubric    (Prometheus) each answer graded alone against --rubric FILE,
            or --preset helpsteer (SteerLM attributes, 0–4)
  rank      (Nectar) up to 7 shuffled answers ranked at once; the shuffle
            is recorded

Pairs come from the scores (--pairs): best-random (the best answer against
a random lower one, as Zephyr did), best-worst, or all pairs with a gap of
at least --margin. Ties never become pairs. --chosen-model X
--rejected-model Y make pairs without a judge (X's answer always chosen).

Output: the preferences config (TRL conversational prompt, chosen, rejected,
score_chosen, score_rejected, chosen_model, rejected_model) that DPOTrainer
and RewardTrainer load as is, and the ratings config (every answer with its
model and digest, every aspect's score and rationale, the judge's model and
digest). -n counts judged prompts.

Answers are kept in the journal as soon as they are made: a run stopped
between answering and judging redoes only what is missing. A judge reply
that is not the expected JSON is read with lenient parsers ("Rating: 4",
"[[A]]", "[RESULT] 3", "Score 4/5"), else asked again with a new seed, else
counted as judge_unparseable; that prompt makes no pair. --judge-format
text asks for those free-text forms instead of JSON (what servers without
structured output get by default).

JUDGE HEALTH
A judge can change under a run (a remote endpoint swapped) and start giving
the minimum score to everything. Calibration items, requests whose answers
have a known right order (built in, or --calibration FILE), are judged at
the start and after every --calibrate-every N judged prompts; each pass's
agreement with the expected order and its mean score shift from the first
pass are journaled, shown after the run and in the card, and a pass whose
agreement drops by 25 points or whose mean moves by a fifth of the scale is
flagged as drift. While judging, 10 completions in a row at the minimum
score, or one score taking 90% of the last 50, is flagged (ratings and
rubric modes). Warnings print as they happen. Calibration judgments never
become rows.

CALIBRATION FILE (JSONL, one item a line)
  {"prompt": "2+2?", "completions": ["4", "5", "fish"], "expected_scores": [3, 2, 1]}
  {"prompt": "Capital of Peru?", "completions": ["Quito", "Lima"], "best_index": 1}

RUBRIC FILE
  criteria: Is the answer correct and to the point?
  scores: {1: "...", 2: "...", 3: "...", 4: "...", 5: "..."}
  reference: answer        # optional input column with a reference answer
or "attributes:" — a list of {name, criteria, scores} on any range (0–4 …).

EXAMPLES
  synthkit prefer --prompts prompts.jsonl --models llama3.1:8b,qwen2.5:7b,mistral:7b,gemma2:9b --judge qwen2.5:14b --out out/prefs
  synthkit prefer --prompts out/instr --models a,b --judge j --judge-mode pairwise --out out/pw
  synthkit prefer --prompts p.jsonl --models a --samples 4 --judge j --judge-mode rubric --rubric rubric.yaml
  synthkit prefer --prompts p.jsonl --models a,b --judge j --preset helpsteer
  synthkit prefer --completions out/sft --judge j --out out/judged
  synthkit prefer --prompts p.jsonl --chosen-model qwen2.5:14b --rejected-model qwen2.5:0.5b
  synthkit prefer --prompts p.jsonl --models a,b --judge j --calibration cal.jsonl --calibrate-every 20
  synthkit prefer --prompts p.jsonl --models a,b --judge j --judge-format text --backend openai --base-url URL

` + inputHelp + `

ENVIRONMENT
  OLLAMA_HOST   default for --ollama`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			o.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				o.gen.parsed(fs)
				o.pairsSet, o.modeSet = fs.Changed("pairs"), fs.Changed("judge-mode")
				return runPrefer(ctx, &o, g, args, out, errOut)
			}
		},
	}
}

func runPrefer(ctx context.Context, o *preferOptions, g *globalOptions, args []string, out, errOut io.Writer) error {
	// Warnings and tables follow --quiet and --log-format json.
	notes := g.notices(errOut)
	m, err := o.method(notes)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return usagef("prefer takes no arguments (got %q)", args[0])
	}
	err = runMethod(ctx, g, &o.gen, m, out, errOut)
	printTables(notes, o.gen.out)
	return err
}

// printTables prints the card tables of the run (judge score histogram,
// calibration and drift, anomalies, cost) after the summary.
func printTables(w io.Writer, dir string) {
	man, err := export.ReadManifest(dir)
	if err != nil {
		return
	}
	for _, t := range man.Tables {
		fmt.Fprintf(w, "\n%s:\n", t.Title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  "+strings.Join(t.Header, "\t"))
		for _, r := range t.Rows {
			fmt.Fprintln(tw, "  "+strings.Join(r, "\t"))
		}
		tw.Flush()
	}
}

// method turns the flags and input files into the method; every error is
// the user's to fix (exit status 2) and comes before any connection.
func (o *preferOptions) method(errOut io.Writer) (*prompts.Prefer, error) {
	if err := o.gen.validate(); err != nil {
		return nil, err
	}
	m := &prompts.Prefer{Pool: splitList(o.models), PerPrompt: o.perPrompt, Samples: o.samples, Principles: o.principles,
		Judge: o.judge, Mode: o.mode, Pairs: o.pairs, Margin: o.margin, Aspect: o.aspect, JudgeSamples: o.judgeSamples,
		ChosenModel: o.chosenModel, RejectedModel: o.rejectedModel, CalibrateEvery: o.calibrateEvery, PlainOrder: o.plainOrder, Log: errOut}
	switch o.judgeFormat {
	case "auto":
	case prompts.JudgeJSON, prompts.JudgeText:
		m.JudgeFormat = o.judgeFormat
	default:
		return nil, usagef("unknown --judge-format %q (auto, json or text)", o.judgeFormat)
	}
	if o.calibrateEvery < 0 {
		return nil, usagef("--calibrate-every must be ≥ 0 (0: no calibration)")
	}
	if o.calibration != "" {
		if o.calibrateEvery == 0 {
			return nil, usagef("--calibration goes with --calibrate-every N > 0 (0 turns calibration off)")
		}
		items, err := prompts.LoadCalibration(o.calibration)
		if err != nil {
			return nil, usagef("bad calibration file: %v", err)
		}
		m.Calibration = items
	}
	if o.gen.countSet {
		m.Count = o.gen.count
	}
	switch {
	case o.samples < 1:
		return nil, usagef("--samples must be ≥ 1")
	case o.judgeSamples < 1:
		return nil, usagef("--judge-samples must be ≥ 1")
	case o.perPrompt < 0:
		return nil, usagef("--per-prompt must be ≥ 0")
	case (o.chosenModel != "") != (o.rejectedModel != ""):
		return nil, usagef("--chosen-model and --rejected-model go together")
	case o.chosenModel != "" && (o.judge != "" || o.models != "" || o.modeSet):
		return nil, usagef("--chosen-model/--rejected-model make pairs without a judge: drop --judge, --models and --judge-mode")
	case o.chosenModel != "" && o.calibration != "":
		return nil, usagef("--calibration checks a judge; --chosen-model/--rejected-model use none")
	case o.completions != "" && o.input.path != "":
		return nil, usagef("give --prompts (to answer and judge) or --completions (to judge answers made earlier), not both")
	case o.completions == "" && o.input.path == "":
		return nil, usagef("prefer needs --prompts FILE (or --completions FILE with answers made earlier)")
	case o.completions != "" && (o.models != "" || o.samples > 1 || o.perPrompt > 0):
		return nil, usagef("--completions judges answers made earlier: --models, --samples and --per-prompt do not apply")
	}
	if o.chosenModel != "" {
		m.Mode = prompts.ModeModels
	}
	if o.preset != "" {
		if o.preset != "helpsteer" {
			return nil, usagef("unknown --preset %q (helpsteer)", o.preset)
		}
		if o.rubric != "" || o.modeSet && o.mode != prompts.ModeRubric {
			return nil, usagef("--preset helpsteer is a rubric: it goes without --rubric and with --judge-mode rubric (or none)")
		}
		m.Mode, m.Rubric = prompts.ModeRubric, prompts.HelpSteerRubric()
	}
	if o.rubric != "" {
		if o.modeSet && o.mode != prompts.ModeRubric {
			return nil, usagef("--rubric goes with --judge-mode rubric")
		}
		r, err := prompts.LoadRubric(o.rubric)
		if err != nil {
			return nil, usagef("bad rubric: %v", err)
		}
		m.Mode, m.Rubric = prompts.ModeRubric, r
	}
	if m.Mode == prompts.ModePairwise && o.pairsSet {
		return nil, usagef("pairwise mode makes a pair from every comparison the judge decided in both orders; --pairs does not apply")
	}
	if o.margin < 0 {
		return nil, usagef("--margin must be ≥ 0")
	}
	// The reference column must be asked for: the loader keeps only the
	// scalar columns a method uses.
	refCol := ""
	if m.Rubric != nil {
		refCol = o.refColumn
		if refCol == "" {
			refCol = m.Rubric.Reference
		}
	}
	var set *inputs.Set
	var err error
	if o.completions != "" {
		set, err = inputs.Load(o.completions, inputs.Options{PromptColumn: o.input.promptColumn,
			MessagesColumn: o.input.messagesColumn, Config: o.input.config, Split: o.input.split, Fields: nonEmpty(refCol)})
		if err != nil {
			return nil, inputError(err)
		}
		if err := existingCompletions(m, set, o.completions, errOut); err != nil {
			return nil, err
		}
	} else {
		set, err = o.input.load(refCol)
		if err != nil {
			return nil, err
		}
		m.Conversations = conversations(set)
		m.InputsHash = set.Hash
	}
	if m.Rubric != nil {
		col := o.refColumn
		if col == "" {
			col = m.Rubric.Reference
		}
		if col != "" {
			refs, err := references(set, col, m)
			if err != nil {
				return nil, err
			}
			m.References = refs
		}
	} else if o.refColumn != "" {
		return nil, usagef("--reference-column is for rubric mode")
	}
	if err := m.Validate(); err != nil {
		return nil, usagef("%v", err)
	}
	return m, nil
}

// references picks each prompt's reference answer from the input column.
func references(set *inputs.Set, col string, m *prompts.Prefer) ([]string, error) {
	refs := make([]string, 0, len(m.Conversations))
	found := false
	for _, r := range set.Records {
		v, ok := r.Fields[col]
		found = found || ok
		refs = append(refs, v)
	}
	if !found {
		return nil, usagef("no record has the reference column %q", col)
	}
	if len(refs) != len(m.Conversations) {
		return nil, usagef("--reference-column does not work with answers grouped from one-answer rows; put the reference in the same record")
	}
	return refs, nil
}

var respondID = regexp.MustCompile(`^respond-\d+-m(\d+)$`)

// existingCompletions turns --completions records into prompts with
// several answers each: a record's completions list, or its chosen and
// rejected answers; records with one answer each (an SFT file, a respond
// run) are grouped by prompt. Prompts with fewer than two answers are
// skipped; an input with none to compare is refused.
func existingCompletions(m *prompts.Prefer, set *inputs.Set, path string, errOut io.Writer) error {
	// A respond run names each answer's model by position in run.json.
	var runModels []string
	if man, err := export.ReadManifest(path); err == nil {
		for _, mi := range man.Models {
			runModels = append(runModels, mi.Name)
		}
	}
	modelOf := func(r inputs.Record) string {
		if v := r.Fields["model"]; v != "" {
			return v
		}
		if mm := respondID.FindStringSubmatch(r.Fields["id"]); mm != nil {
			if i, _ := strconv.Atoi(mm[1]); i < len(runModels) {
				return runModels[i]
			}
		}
		return "unknown"
	}
	type group struct {
		prompt []local.Message
		answer []prompts.ExistingCompletion
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, r := range set.Records {
		var conv []local.Message
		var keyMsgs []inputs.Message
		for _, msg := range r.Prompt {
			conv = append(conv, local.Message{Role: msg.Role, Content: msg.Content})
			if msg.Role != "system" {
				keyMsgs = append(keyMsgs, msg)
			}
		}
		var answers []prompts.ExistingCompletion
		switch {
		case len(r.Completions) > 0:
			for _, c := range r.Completions {
				answers = append(answers, prompts.ExistingCompletion{Model: c.Model, Text: c.Text})
			}
		case len(r.Chosen) > 0:
			answers = append(answers, prompts.ExistingCompletion{Model: "chosen", Text: lastText(r.Chosen)},
				prompts.ExistingCompletion{Model: "rejected", Text: lastText(r.Rejected)})
		case r.Completion != "":
			answers = append(answers, prompts.ExistingCompletion{Model: modelOf(r), Text: r.Completion})
		}
		kb, _ := json.Marshal(keyMsgs)
		key := string(kb)
		g := byKey[key]
		if g == nil {
			g = &group{prompt: conv}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.answer = append(g.answer, answers...)
	}
	single := 0
	for _, g := range groups {
		if len(g.answer) < 2 {
			single++
			continue
		}
		m.Conversations = append(m.Conversations, g.prompt)
		m.Existing = append(m.Existing, g.answer)
	}
	if len(m.Existing) == 0 {
		return usagef("%s: no prompt has two or more answers to compare (%d prompts, one answer each); give several answers per prompt: a \"completions\" list, chosen and rejected, or a respond run made with two or more models", path, len(groups))
	}
	if single > 0 {
		fmt.Fprintf(errOut, "%s: %d prompts have only one answer and are skipped\n", path, single)
	}
	h := []byte(set.Hash)
	m.InputsHash = prompts.TextHash(string(h) + "\x00completions")
	return nil
}

func lastText(ms []inputs.Message) string {
	if len(ms) == 0 {
		return ""
	}
	return ms[len(ms)-1].Content
}
