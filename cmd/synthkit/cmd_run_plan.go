package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"synthkit/export"
	"synthkit/local"
	"synthkit/prompts"
	"synthkit/recipe"
)

// estimate is a stage's expected size: rough, from the options and the
// input size, for --dry-run and the examples' time figures.
type estimate struct {
	inputs   int64 // records read (0: none, or not known)
	rows     int64 // records the stage should make
	prompts  int64 // distinct prompts among them (a respond row per model)
	requests int64
	tokens   int64 // output tokens
}

// Typical output lengths (tokens) of one reply, below --num-predict.
const (
	tokAnswer   = 350
	tokJudge    = 200
	tokCritique = 150
	tokTasks    = 300
)

func (b *builtStage) intFlag(name string) int64 {
	n, _ := strconv.ParseInt(b.flag(name), 10, 64)
	return n
}

func (b *builtStage) changed(name string) bool {
	f := b.fs.Lookup(name)
	return f != nil && f.Changed
}

// inputsOf counts the records a built method read.
func inputsOf(m prompts.Method) int64 {
	switch m := m.(type) {
	case *prompts.Respond:
		return int64(len(m.Prompts))
	case *prompts.Prefer:
		return int64(len(m.Conversations))
	case *prompts.Critique:
		return int64(len(m.Prompts))
	case *prompts.Evol:
		return int64(len(m.Prompts))
	case *prompts.RLAIF:
		return int64(len(m.Pairs))
	}
	return 0
}

// estimateStage sizes a stage; up is the estimate of the stage it reads
// (used when the stage is not built yet).
func estimateStage(b *builtStage, up estimate) estimate {
	e := estimate{inputs: up.rows}
	if b.flag("label-pairs") != "" {
		e.inputs = up.prompts // a pair per prompt
	}
	if b.method != nil {
		if n := inputsOf(b.method); n > 0 {
			e.inputs = n
		}
	}
	answer := min(b.intFlag("num-predict"), tokAnswer)
	count := b.intFlag("count")
	capped := func(n int64) int64 {
		if b.changed("count") && count < n {
			return count
		}
		return n
	}
	switch b.st.Command {
	case "instruct":
		switch b.flag("method") {
		case "evol", "evol-instruct":
			rounds := b.intFlag("rounds")
			n := capped(e.inputs)
			e.rows = n * rounds
			e.requests = n * rounds * 3 // rewrite, answer, equality check
			e.tokens = n * rounds * (tokTasks + answer + 20)
		case "magpie":
			turns := b.intFlag("turns")
			e.rows = count
			e.requests = count * turns * 2
			e.tokens = count * turns * (b.intFlag("query-max-tokens")/4 + answer)
		case "self-instruct", "":
			if b.flag("diversity") == "qd" {
				// -n counts candidates: each is written, judged and (if
				// kept) answered; rows are the filled cells.
				e.rows = count
				if q, ok := b.method.(*prompts.QD); ok && len(q.Axes) > 0 {
					cells := int64(1)
					for _, a := range q.Axes {
						cells *= int64(len(a.Labels))
					}
					e.rows = min(count, cells)
				}
				e.requests = count * 3
				e.tokens = count * (tokTasks + tokJudge + answer)
				break
			}
			fallthrough
		default: // self-instruct: a task-writing request per 7 tasks, then per task a label and its examples
			e.rows = count
			e.requests = count*13/10 + 1
			e.tokens = e.requests * tokTasks
		}
	case "respond":
		models := int64(len(splitList(b.flag("models"))))
		if b.flag("model") != "" {
			models++
		}
		e.rows = capped(e.inputs * models)
		e.prompts = e.rows / max(models, 1)
		e.requests = e.rows
		if b.flag("verify") == "true" && b.flag("judge") != "" {
			e.requests += e.rows
		}
		e.tokens = e.rows * answer
	case "prefer":
		n := capped(e.inputs)
		answers := int64(len(splitList(b.flag("models"))))
		if p := b.intFlag("per-prompt"); p > 0 {
			answers = p
		}
		answers *= max(b.intFlag("samples"), 1)
		if b.flag("chosen-model") != "" {
			answers = 2
		}
		if b.flag("completions") != "" {
			answers = 0
		}
		shown := max(answers, 2)
		js := max(b.intFlag("judge-samples"), 1)
		var judge int64
		switch b.flag("judge-mode") {
		case prompts.ModePairwise:
			judge = shown * (shown - 1) * js
		case prompts.ModeRubric:
			judge = shown * js
		default:
			judge = js
		}
		if b.flag("chosen-model") != "" {
			judge = 0
		}
		e.rows = n
		e.requests = n * (answers + judge)
		e.tokens = n * (answers*answer + judge*tokJudge)
	case "critique":
		if b.flag("label-pairs") != "" {
			n := capped(e.inputs)
			votes := max(b.intFlag("votes"), 1)
			e.rows = n
			e.requests = n * 2 * votes
			e.tokens = e.requests * 8
			if b.flag("cot") == "true" {
				e.tokens = e.requests * tokJudge
			}
			break
		}
		n := capped(e.inputs)
		revs := b.intFlag("revisions")
		initial := int64(1)
		if b.flag("responses") != "" {
			initial = 0
		}
		e.rows = n
		e.requests = n * (initial + 2*revs)
		e.tokens = n * (initial*answer + revs*(tokCritique+answer))
	}
	if e.prompts == 0 {
		e.prompts = e.rows
	}
	return e
}

// modelState is what the server says about one model.
type modelState struct {
	name    string
	present bool
	info    local.ModelInfo
	err     error // neither present nor simply missing
}

// checkModels asks the server about every model the stages name.
func checkModels(ctx context.Context, c *local.Client, names []string) []modelState {
	out := make([]modelState, len(names))
	for i, n := range names {
		out[i].name = n
		info, err := c.Inspect(ctx, n)
		var missing *local.ModelMissingError
		switch {
		case err == nil:
			out[i].present, out[i].info = true, info
		case errors.As(err, &missing):
		default:
			out[i].err = err
		}
	}
	return out
}

// stageState says what a rerun would do with a stage's run directory.
func stageState(r *recipe.Recipe, st *recipe.State, s *recipe.Stage, fresh bool) string {
	dir := s.RunDir(r.Out)
	m, err := export.ReadManifest(dir)
	switch {
	case err != nil:
		return "new"
	case fresh:
		return "starts over (--fresh)"
	case st.Done(r, s):
		return "finished: skipped"
	}
	return fmt.Sprintf("resumes (%d accepted so far)", m.Counts.Accepted)
}

// printPlan prints the stages in order with their estimates, then the
// models and whether the server has them.
func printPlan(w io.Writer, r *recipe.Recipe, stages []*builtStage, ests []estimate, states []string, models []modelState, serverErr error) {
	plural := "s"
	if len(stages) == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "recipe %s: %d stage%s into %s (sizes are estimates from the options, not measurements)\n\n", r.File, len(stages), plural, r.Out)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tstage\tcommand\treads\tmodels\trows\trequests\toutput tokens\tstate\t")
	var reqs, toks int64
	for i, b := range stages {
		cmd := b.st.Command
		if m := b.flag("method"); cmd == "instruct" && m != "" {
			cmd += " " + m
			if b.flag("diversity") == "qd" {
				cmd += "+qd"
			}
		}
		if jm := b.flag("judge-mode"); cmd == "prefer" && b.flag("chosen-model") == "" {
			cmd += " " + jm
		}
		if cmd == "critique" && b.flag("label-pairs") != "" {
			cmd += " rlaif"
		}
		reads := strings.Join(b.st.Reads, ",")
		if reads == "" {
			reads = "—"
		}
		e := ests[i]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", i+1, b.st.Name, cmd, reads, strings.Join(b.models(), ","),
			approx(e.rows), approx(e.requests), approx(e.tokens), states[i])
		reqs += e.requests
		toks += e.tokens
	}
	fmt.Fprintf(tw, "\ttotal\t\t\t\t\t%s\t%s\t\t\n", approx(reqs), approx(toks))
	tw.Flush()
	fmt.Fprintln(w)
	if serverErr != nil {
		fmt.Fprintf(w, "models: not checked (%v)\n", serverErr)
		return
	}
	fmt.Fprintln(w, "models:")
	for _, m := range models {
		switch {
		case m.present:
			fmt.Fprintf(w, "  %-28s present  %s\n", m.name, shortDigest(m.info.Digest))
		case m.err != nil:
			fmt.Fprintf(w, "  %-28s error    %v\n", m.name, m.err)
		default:
			fmt.Fprintf(w, "  %-28s to pull  (synthkit models pull %s)\n", m.name, m.name)
		}
	}
}

// approx prints an estimate: exact below 1,000, else ≈12k.
func approx(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 1_000_000:
		return fmt.Sprintf("≈%dk", (n+500)/1000)
	}
	return fmt.Sprintf("≈%.1fM", float64(n)/1e6)
}
