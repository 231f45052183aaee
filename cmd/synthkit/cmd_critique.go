package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"synthkit/local"
	"synthkit/prompts"
	"synthkit/prompts/inputs"
)

// critiqueOptions are the flags of `synthkit critique`.
type critiqueOptions struct {
	gen          genOptions
	input        inputFlags
	responses    string
	labelPairs   string
	model        string
	judge        string
	revisions    int
	system       string
	constitution string
	print        bool
	lint         string
	strict       bool
	votes        int
	labels       string
	clamp        string
	dropUnstable float64
	dropSet      bool
	cot          bool
}

func (o *critiqueOptions) AddFlags(fs *pflag.FlagSet) {
	o.input.AddFlags(fs, "prompts to answer and then revise: a `file`, a dataset folder, a run directory, or - (see INPUT)")
	fs.StringVar(&o.responses, "responses", "", "revise existing answers instead: a `file` or run whose records hold a prompt and its answer")
	fs.StringVarP(&o.model, "model", "m", "", "the `model` that answers, critiques and revises")
	fs.IntVar(&o.revisions, "revisions", prompts.DefaultRevisions, "critique → revision rounds per answer")
	fs.StringVar(&o.system, "system", "", "system prompt for every request (default: the model's Modelfile SYSTEM, if any)")
	fs.StringVar(&o.constitution, "constitution", "", "constitution `file`s, comma-separated (YAML/JSON, or the paper's published files; default: built in)")
	fs.BoolVar(&o.print, "print-constitution", false, "print the constitution (the built-in one, or --constitution converted to synthkit's format) and exit")
	fs.StringVar(&o.lint, "lint", "", "check a constitution `file` (count, length spread, overlapping principles) and exit")
	fs.BoolVar(&o.strict, "strict", false, "refuse a constitution the lint warns about (with --lint and before a run)")
	fs.StringVar(&o.labelPairs, "label-pairs", "", "RLAIF: label the answer pairs in this `file` or run (chosen/rejected, completions, or two answers per prompt)")
	fs.StringVar(&o.judge, "judge", "", "RLAIF: the judging `model`")
	fs.IntVar(&o.votes, "votes", prompts.DefaultVotes, "RLAIF: sampled verdicts per order when labels come from votes")
	fs.StringVar(&o.labels, "labels", prompts.LabelsAuto, "RLAIF: `how` soft labels are made: auto (logprobs if the server has them, else votes), logprobs, votes")
	fs.StringVar(&o.clamp, "clamp", "", "RLAIF: bound the written probabilities to `lo,hi` (e.g. 0.4,0.6; off by default)")
	fs.Float64Var(&o.dropUnstable, "drop-unstable", 0, "RLAIF: leave out the pairs of principles whose verdict flipped in more than this `share` of swaps (off unless given)")
	fs.BoolVar(&o.cot, "cot", false, "RLAIF: the judge reasons step by step before it answers (chain-of-thought labels; pair with --clamp 0.4,0.6 as the paper did)")
	o.gen.AddFlags(fs, "")
	o.gen.div.AddFlags(fs, prompts.OnPrompt)
}

const critiqueLong = `Constitutional AI data, in two stages.

SUPERVISED (--prompts or --responses, --model): each prompt is answered (or
its given answer taken), then revised over --revisions rounds: a principle
of the constitution is drawn for the round (seeded by --seed and recorded),
the model critiques its latest answer under it, then rewrites the answer.
A critique that finds nothing to fix keeps the answer (the row's metadata
lists unchanged_rounds). Every step is journaled as it finishes: a crash
loses at most the step in flight and the same command resumes the trace.
A critique or revision that stays empty or off-format after retries with
new seeds is counted by reason and the next round revises the latest good
answer. Configs: critiques (prompt, initial_response, steps of principle /
critique / revision, final_revision), critiques_sft (the final revisions)
and critiques_preferences (final revision chosen over the initial answer).

RLAIF (--label-pairs, --judge): for each pair of answers, a principle is
drawn and the judge says which answer follows it better, in both orders to
cancel position bias. The soft label P(A) comes from the first answer
token's log-probabilities of A and B where the server returns them (probed
at the start; Ollama >= 0.12.11), else from --votes sampled verdicts per
order; run.json and every row say which. Configs: ratings (every pair's
soft label, the per-order numbers and votes) and preferences (chosen and
rejected by the label, score_chosen = the probability, with principle and
label_method in metadata; ties within 2% of 50% are left out). At the end a
principle stability table is printed and put in the card: how often each
principle's verdict flipped when the answers swapped places, the mean gap
between the two orders, the spread of its labels and its tie rate.
--drop-unstable T leaves out the pairs of principles flipping more than T.
With --label-pairs, -n labels the first N pairs (the run then counts a
ratings row and a preference row per pair); otherwise -n is the number of
traces.
--clamp lo,hi bounds the probabilities, as the paper did for
chain-of-thought labels (--cot: the judge reasons step by step first; with
logprobs the letter is read in a second turn after the reasoning, with
votes each vote is a JSON reply with the reasoning before the choice; the
reasoning is kept in the ratings rows' rationale).

CONSTITUTION
  synthkit's format (YAML or JSON; start from --print-constitution):
    principles:
      - name: honest
        critique: Point out claims that are likely false ...
        revision: Rewrite the answer so that ...
        compare: Which reply is more truthful?     # optional, for RLAIF
    examples:       # optional few-shot traces: principle, prompt, response,
                    # critique, revision
    comparisons:    # optional solved comparisons: prompt, better, worse
  The files published with the Constitutional AI paper are read unchanged
  (give several with commas): CritiqueRevisionInstructions.json (one
  principle per critique request), RLMadisonInstructions.json (comparison
  principles, RLAIF only), CritiqueRevisionFewShotPrompts.json and
  RLMadisonFewShotPrompts.json (examples). Their plain-text scaffolding
  ("CritiqueRequest:", "Critique:", "RevisionRequest:", "Revision:",
  "Options:") is stripped: synthkit asks in chat turns of its own.
  Errors name the file and line: an empty file, an unknown key, a principle
  without a name or with an empty critique or revision request, a name used
  twice.

LINT (--lint FILE, and before every run)
  Warns when the count is outside 4–32 principles, when a principle is more
  than twice as long or short as the median, and when two principles overlap
  (ROUGE-L above 0.5). Warnings are printed; --strict refuses (exit 2).

EXAMPLES
  synthkit critique --prompts red-team.jsonl --model llama3.1:8b --revisions 2 --out out/cai
  synthkit critique --prompts p.jsonl --model m --constitution mine.yaml --out out/cai2
  synthkit critique --responses out/sft --model m --out out/revised
  synthkit critique --label-pairs out/prefs --judge qwen2.5:14b --out out/rlaif
  synthkit critique --print-constitution > mine.yaml
  synthkit critique --lint mine.yaml --strict

` + inputHelp + `

ENVIRONMENT
  OLLAMA_HOST   default for --ollama`

func critiqueCommand() *command {
	var o critiqueOptions
	return &command{
		name:    "critique",
		server:  true,
		summary: "constitutional critique and revision, RLAIF labels",
		usage:   "--prompts FILE --model MODEL | --responses FILE --model MODEL | --label-pairs FILE --judge MODEL | --print-constitution | --lint FILE [flags]",
		long:    critiqueLong,
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			o.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				o.gen.parsed(fs)
				o.dropSet = fs.Changed("drop-unstable")
				return runCritique(ctx, &o, g, args, out, errOut)
			}
		},
	}
}

// loadConstitution reads --constitution (or the built-in one); its errors
// are the user's to fix.
func (o *critiqueOptions) loadConstitution() (*prompts.Constitution, error) {
	if o.constitution == "" {
		return prompts.DefaultConstitution(), nil
	}
	c, err := prompts.LoadConstitution(splitList(o.constitution)...)
	if err != nil {
		return nil, inputError(err)
	}
	return c, nil
}

func runCritique(ctx context.Context, o *critiqueOptions, g *globalOptions, args []string, out, errOut io.Writer) error {
	if len(args) > 0 {
		return usagef("critique takes no arguments (got %q)", args[0])
	}
	modes := 0
	for _, on := range []bool{o.print, o.lint != "", o.labelPairs != "", o.input.path != "" || o.responses != ""} {
		if on {
			modes++
		}
	}
	switch {
	case modes == 0:
		return usagef("critique needs --prompts or --responses (with --model), --label-pairs (with --judge), --print-constitution or --lint")
	case modes > 1:
		return usagef("give one of --prompts/--responses, --label-pairs, --print-constitution and --lint")
	case o.input.path != "" && o.responses != "":
		return usagef("give --prompts (answers are written first) or --responses (answers given), not both")
	}
	if o.print {
		c, err := o.loadConstitution()
		if err != nil {
			return err
		}
		data := prompts.DefaultConstitutionYAML()
		if o.constitution != "" {
			if data, err = prompts.MarshalConstitution(c); err != nil {
				return err
			}
		}
		_, err = out.Write(data)
		return err
	}
	if o.lint != "" {
		c, err := prompts.LoadConstitution(splitList(o.lint)...)
		if err != nil {
			return inputError(err)
		}
		r := prompts.LintConstitution(c)
		fmt.Fprint(out, r.String())
		if o.strict && len(r.Warnings) > 0 {
			return usagef("%s: %d lint warnings (--strict)", o.lint, len(r.Warnings))
		}
		return nil
	}
	c, err := o.loadConstitution()
	if err != nil {
		return err
	}
	if r := prompts.LintConstitution(c); len(r.Warnings) > 0 {
		for _, w := range r.Warnings {
			fmt.Fprintf(g.notices(errOut), "constitution: warning: %s\n", w)
		}
		if o.strict {
			return usagef("the constitution has %d lint warnings (--strict); see `synthkit critique --lint`", len(r.Warnings))
		}
	}
	if o.labelPairs != "" {
		return runRLAIF(ctx, o, g, c, out, errOut)
	}
	if o.model == "" {
		return usagef("critique needs --model: the model that answers, critiques and revises")
	}
	if o.revisions < 1 {
		return usagef("--revisions must be ≥ 1, not %d", o.revisions)
	}
	if o.gen.out == "" {
		o.gen.out = "out/critique"
	}
	if err := o.gen.validate(); err != nil {
		return err
	}
	m := &prompts.Critique{Model: o.model, Constitution: c, Revisions: o.revisions, System: o.system}
	if o.input.path != "" {
		set, err := o.input.load()
		if err != nil {
			return err
		}
		m.Prompts, m.InputsHash = conversations(set), set.Hash
	} else {
		f := o.input
		f.path = o.responses
		set, err := f.load()
		if err != nil {
			return err
		}
		for _, r := range set.Records {
			if strings.TrimSpace(r.Completion) == "" {
				return inputError(&inputs.InputError{Pos: r.Source, Msg: "the record has no answer to revise (--responses needs a prompt and its answer: messages ending with an assistant turn, or a response/completion column)"})
			}
			m.Responses = append(m.Responses, r.Completion)
		}
		m.Prompts, m.InputsHash = conversations(set), set.Hash
	}
	if o.gen.countSet {
		m.Count = o.gen.count
	}
	return runMethod(ctx, g, &o.gen, m, out, errOut)
}

// runRLAIF labels --label-pairs with --judge.
func runRLAIF(ctx context.Context, o *critiqueOptions, g *globalOptions, c *prompts.Constitution, out, errOut io.Writer) error {
	if o.judge == "" {
		return usagef("--label-pairs needs --judge: the model that compares the answers")
	}
	if o.votes < 1 {
		return usagef("--votes must be ≥ 1, not %d", o.votes)
	}
	switch o.labels {
	case prompts.LabelsAuto, prompts.LabelsLogprobs, prompts.LabelsVotes:
	default:
		return usagef("--labels must be auto, logprobs or votes, not %q", o.labels)
	}
	m := &prompts.RLAIF{Judge: o.judge, Constitution: c, Votes: o.votes, Labels: o.labels, CoT: o.cot}
	if o.clamp != "" {
		lo, hi, ok := strings.Cut(o.clamp, ",")
		l, err1 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
		h, err2 := strconv.ParseFloat(strings.TrimSpace(hi), 64)
		if !ok || err1 != nil || err2 != nil || l < 0 || l > 0.5 || h < 0.5 || h > 1 {
			return usagef("--clamp wants lo,hi with 0 ≤ lo ≤ 0.5 ≤ hi ≤ 1 (e.g. 0.4,0.6), not %q", o.clamp)
		}
		m.Clamp = &[2]float64{l, h}
	}
	if o.dropSet {
		if o.dropUnstable < 0 || o.dropUnstable > 1 {
			return usagef("--drop-unstable wants a share between 0 and 1, not %g", o.dropUnstable)
		}
		t := o.dropUnstable
		m.DropUnstable = &t
	}
	if o.gen.out == "" {
		o.gen.out = "out/rlaif"
	}
	if err := o.gen.validate(); err != nil {
		return err
	}
	f := o.input
	f.path = o.labelPairs
	set, err := f.load()
	if err != nil {
		return err
	}
	pairs, err := prompts.PairsFromRecords(set)
	if err != nil {
		return inputError(err)
	}
	if o.gen.countSet {
		// -n picks the first N pairs; both phases then count toward it.
		pairs = pairs[:min(o.gen.count, len(pairs))]
		o.gen.countSet = false
	}
	m.Pairs, m.InputsHash = pairs, set.Hash
	err = runMethod(ctx, g, &o.gen, m, out, errOut)
	if len(m.Stability) > 0 {
		fmt.Fprintf(g.notices(errOut), "\nprinciple stability (labelled with %s; flip = verdict changed when the answers swapped):\n%s", m.Method, prompts.StabilityTable(m.Stability, m.DropUnstable))
	}
	return err
}

// interface check: the judge's features come from the client.
var _ interface {
	ProbeFeatures(context.Context, string) (local.Features, error)
} = (*local.Client)(nil)
