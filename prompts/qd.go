package prompts

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/local"
)

// Row metadata keys of every QD row. `synthkit report` replays the journal
// with them (heatmap, QD-score over the run), so they are a contract.
const (
	MetaQDCell      = "qd_cell"      // object: axis name → label, as judged
	MetaQDQuality   = "qd_quality"   // number in [0, 1], as judged (4 decimals)
	MetaQDIteration = "qd_iteration" // int: the candidate's index in the run
	MetaQDTarget    = "qd_target"    // object: the cell the candidate was asked for (steered runs)
	MetaQDParents   = "qd_parents"   // list: units of the elites shown as examples or evolved
	MetaQDReplaced  = "qd_replaced"  // unit of the elite this one replaced in its cell
	MetaQDOperator  = "qd_operator"  // the mutation operator: self-instruct, evol-instruct or magpie
	MetaQDLabels    = "qd_labels"    // how the judge labelled: schema or logprobs
)

// StateQDAxes is the run-state key holding the archive's axes with their
// labels in order, so a report knows every cell, the empty ones too.
const StateQDAxes = "qd_axes"

// QD label modes: how the judge's labels and quality are read.
const (
	QDLabelsAuto     = "auto"     // logprobs where the server returns them, else schema
	QDLabelsSchema   = "schema"   // one structured reply: an enum per axis and a 1–10 score
	QDLabelsLogprobs = "logprobs" // first-token log-probabilities: a lettered choice per axis, P(yes) for quality
)

// QDFewShot is how many elites of nearby cells a self-instruct mutation
// shows (QDAIF's LMX uses 3).
const QDFewShot = 3

// QD is QDAIF over instructions: a MAP-Elites archive whose cells are
// AI-judged labels (domain, task type, difficulty…) and whose fitness is
// AI-judged quality, filled by an instruction method used as the mutation
// operator and steered toward the cells still empty.
//
// Each unit is one candidate: pick a target cell (empty and least tried
// first), make an instruction for it — a new task from few-shot examples
// of elites in nearby cells (self-instruct), a nearby elite rewritten
// toward the cell (evol-instruct), or a query written under a system
// prompt that describes the cell (magpie) — let the judge label it on
// every axis and score it, and answer it only if it would enter its cell:
// the cell is empty or its elite is strictly worse.
//
// # What is journaled, what is exported
//
// A candidate that enters the archive is journaled as an accepted SFT row
// carrying its cell, quality and iteration ([MetaQDCell], …); one that
// does not is rejected ([ReasonQDNotBetter] and the operators' reasons).
// An elite that loses its cell to a better candidate is marked with
// [export.Run.Supersede] after its successor is journaled: it stays in the
// journal, so replaying the accepted rows in qd_iteration order rebuilds the
// archive and its QD-score over time, and export leaves it out, so the
// data is the final archive: one elite per filled cell. Resume rebuilds the
// archive the same way (insertion is strict, so the final elites do not
// depend on the order of replay) and marks any elite a crash left
// unmarked.
//
// -n counts candidates evaluated (QDAIF's budget), not rows: the run ends
// after Count candidates whatever the archive holds.
type QD struct {
	// Operator is the mutation operator: "self-instruct", "evol-instruct"
	// or "magpie".
	Operator string
	// Model generates and answers; Judge labels and scores.
	Model, Judge string
	// Axes are the archive's axes (default [DefaultQDAxes]).
	Axes []diversity.Axis
	// Count is how many candidates to evaluate.
	Count int
	// Seeds are the self-instruct examples used while few cells are filled
	// (default: the built-in seed tasks).
	Seeds []SeedTask
	// Prompts are evol-instruct's starting instructions; InputsHash
	// identifies them (default: a hash of the prompts).
	Prompts    []string
	InputsHash string
	// Labels is QDLabelsAuto (default), QDLabelsSchema or QDLabelsLogprobs.
	Labels string
	// Unsteered turns steering off (an ablation): the generator is not
	// told a cell and examples come from anywhere in the archive.
	Unsteered bool
	// QueryMaxTokens bounds a magpie query (default DefaultQueryMaxTokens).
	QueryMaxTokens int

	model, judge string
	template     string   // magpie: the generator's chat template
	stops        []string // magpie: where a raw query ends
	judgeSchema  *local.Schema
	judgeExample string
	tmplHash     string
	labelsUsed   string // resolved in Run

	mu       sync.Mutex
	archive  *diversity.Archive
	texts    map[string]bool // normalized instructions of every accepted candidate
	replaced int             // elites superseded over the run
}

var (
	qdGenerate     = mustTemplate("qd_generate")
	qdEvolve       = mustTemplate("qd_evolve")
	qdMagpieSystem = mustTemplate("qd_magpie_system")
	qdJudge        = mustTemplate("qd_judge")
	qdJudgeAxis    = mustTemplate("qd_judge_axis")
	qdJudgeQuality = mustTemplate("qd_judge_quality")
)

// Name is "qd-" and the operator's name.
func (q *QD) Name() string { return "qd-" + q.Operator }

func (q *QD) Models() []ModelRef {
	return []ModelRef{{q.Model, RoleGenerator}, {q.Judge, RoleJudge}}
}

// Target is the number of candidates to evaluate.
func (q *QD) Target() int { return q.Count }

// Reached implements [Counter]: every unit of a QD run is one candidate,
// accepted into the archive or not.
func (q *QD) Reached(run *export.Run) int64 { return run.Counts().Generated }

func (q *QD) templates() []*Template {
	ts := []*Template{qdJudge, qdJudgeAxis, qdJudgeQuality}
	switch q.Operator {
	case "self-instruct":
		ts = append(ts, qdGenerate)
	case "evol-instruct":
		ts = append(ts, qdEvolve)
	case "magpie":
		ts = append(ts, qdMagpieSystem)
	}
	return ts
}

func (q *QD) Prepare(models []local.ModelInfo) (Identity, error) {
	if len(q.Axes) == 0 {
		q.Axes = DefaultQDAxes()
	}
	if q.Labels == "" {
		q.Labels = QDLabelsAuto
	}
	switch q.Labels {
	case QDLabelsAuto, QDLabelsSchema, QDLabelsLogprobs:
	default:
		return Identity{}, fmt.Errorf("qd labels must be auto, schema or logprobs, not %q", q.Labels)
	}
	if q.Count < 1 {
		return Identity{}, fmt.Errorf("qd needs -n ≥ 1 candidates")
	}
	if _, err := diversity.NewArchive(q.Axes); err != nil {
		return Identity{}, fmt.Errorf("qd axes: %w", err)
	}
	q.model, q.judge = models[0].Name, models[1].Name
	hashes := map[string]string{"qd axes": AxesHash(q.Axes), "qd labels": TextHash(q.Labels)}
	switch q.Operator {
	case "self-instruct":
		if len(q.Seeds) == 0 {
			q.Seeds = DefaultSeeds()
		}
		var b strings.Builder
		for _, s := range q.Seeds {
			b.WriteString(s.Instruction + "\x00")
		}
		hashes["qd seeds"] = TextHash(b.String())
	case "evol-instruct":
		if len(q.Prompts) == 0 {
			return Identity{}, fmt.Errorf("qd with evol needs prompts to start from (--prompts)")
		}
		inputs := q.InputsHash
		if inputs == "" {
			inputs = TextHash(strings.Join(q.Prompts, "\x00"))
		}
		hashes[InputsKey] = inputs
	case "magpie":
		if q.QueryMaxTokens <= 0 {
			q.QueryMaxTokens = DefaultQueryMaxTokens
		}
		q.template = models[0].Template
		if _, err := QueryPrefix(q.template, "x", nil); err != nil {
			return Identity{}, fmt.Errorf("qd with magpie needs a chat model whose template opens a user turn after a system prompt; %s: %w", q.model, err)
		}
		ct, err := ParseChatTemplate(q.template)
		if err != nil {
			return Identity{}, fmt.Errorf("qd with magpie and %s: %w", q.model, err)
		}
		q.stops = queryStops(ct)
		hashes["chat template of "+q.model] = TextHash(q.template)
	default:
		return Identity{}, fmt.Errorf("qd's operator must be self-instruct, evol-instruct or magpie, not %q", q.Operator)
	}
	if q.Unsteered {
		hashes["qd steering"] = TextHash("off")
	}
	schema, example, err := qdJudgeSchema(q.Axes)
	if err != nil {
		return Identity{}, err
	}
	q.judgeSchema, q.judgeExample = schema, example
	q.tmplHash = CombinedHash(q.templates()...)
	return Identity{Templates: q.templates(), Hashes: hashes, TemplateHash: q.tmplHash}, nil
}

func qdUnit(i int) string { return fmt.Sprintf("qd-%06d", i) }

// Status implements [Statuser]: the archive's QD-score and coverage.
func (q *QD) Status() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.archive == nil {
		return ""
	}
	return fmt.Sprintf("QD-score %.1f, coverage %.0f%% (%d/%d cells)", q.archive.QDScore(), 100*q.archive.Coverage(), q.archive.Filled(), q.archive.Total())
}

// qdRecord is what the journal says about one accepted candidate.
type qdRecord struct {
	unit      string
	cell      map[string]string
	quality   float64
	iteration int
	text      string
}

// qdRecordOf reads a QD row's metadata; ok is false for rows that are not.
func qdRecordOf(unit string, r export.Row) (qdRecord, bool) {
	sft, ok := r.(export.SFT)
	if !ok {
		return qdRecord{}, false
	}
	rawCell, ok1 := sft.Metadata[MetaQDCell].(map[string]any)
	qual, ok2 := sft.Metadata[MetaQDQuality].(float64)
	it, ok3 := sft.Metadata[MetaQDIteration].(float64)
	if !ok1 || !ok2 || !ok3 {
		return qdRecord{}, false
	}
	rec := qdRecord{unit: unit, cell: map[string]string{}, quality: qual, iteration: int(it), text: turns(sft.Messages, "user")}
	for k, v := range rawCell {
		s, _ := v.(string)
		rec.cell[k] = s
	}
	return rec, true
}

// rebuild replays the journal's accepted candidates into a new archive in
// qd_iteration order, and marks elites a crash left unmarked.
func (q *QD) rebuild(env *Env) error {
	a, err := diversity.NewArchive(q.Axes)
	if err != nil {
		return err
	}
	var recs []qdRecord
	err = env.Run.Rows(func(unit string, rows []export.Row) error {
		for _, r := range rows {
			if rec, ok := qdRecordOf(unit, r); ok {
				recs = append(recs, rec)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild the QD archive: %w", err)
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].iteration != recs[j].iteration {
			return recs[i].iteration < recs[j].iteration
		}
		return recs[i].unit < recs[j].unit
	})
	texts := map[string]bool{}
	for _, r := range recs {
		c, err := a.CellOf(r.cell)
		if err != nil {
			return fmt.Errorf("rebuild the QD archive: %s: %w (were the axes changed?)", r.unit, err)
		}
		if _, _, err := a.Insert(c, diversity.Elite{ID: r.unit, Quality: r.quality, Iteration: r.iteration, Text: r.text}); err != nil {
			return fmt.Errorf("rebuild the QD archive: %s: %w", r.unit, err)
		}
		texts[normQuery(r.text)] = true
	}
	elites := map[string]bool{}
	a.Elites(func(_ diversity.Cell, e diversity.Elite) { elites[e.ID] = true })
	replaced := 0
	for _, r := range recs {
		if elites[r.unit] {
			continue
		}
		replaced++
		if !env.Run.Superseded(r.unit) {
			if err := env.Run.Supersede(r.unit); err != nil {
				return err
			}
		}
	}
	q.mu.Lock()
	q.archive, q.texts, q.replaced = a, texts, replaced
	q.mu.Unlock()
	return nil
}

func (q *QD) Run(ctx context.Context, env *Env) error {
	if q.judgeSchema == nil {
		return fmt.Errorf("qd: Prepare was not called")
	}
	if err := q.rebuild(env); err != nil {
		return err
	}
	if err := env.Run.SetState(StateQDAxes, q.Axes); err != nil {
		return err
	}
	q.labelsUsed = q.chooseLabels(ctx, env)
	defer q.card(env)
	return env.RunPhases(ctx, &Phase{
		Model: q.model, Method: q.Name(),
		Next: seqUnits(q.Count, func(i int) bool { return env.Run.Done(qdUnit(i)) }, func(i int) Unit {
			id := qdUnit(i)
			seed := UnitSeed(env.Seed, id)
			prov := export.Provenance{Method: q.Name(), Model: q.model, Seed: &seed, TemplateHash: q.tmplHash}
			return Unit{ID: id, Prov: prov, Do: func(ctx context.Context, w *Work) error {
				return q.candidate(ctx, env, w, i, id, seed, prov)
			}}
		}),
	})
}

// chooseLabels resolves QDLabelsAuto by probing the judge, and notes how
// labels are made.
func (q *QD) chooseLabels(ctx context.Context, env *Env) string {
	if q.Labels == QDLabelsSchema {
		env.Run.Note("QD labels and quality from one structured reply of the judge per candidate (an enum per axis, a 1–10 score)")
		return QDLabelsSchema
	}
	has, how := false, "the model interface cannot be probed"
	if p, ok := env.Model.(featureProber); ok {
		if f, err := p.ProbeFeatures(ctx, q.judge); err != nil {
			how = "probing the server failed: " + err.Error()
		} else {
			has, how = f.Logprobs, "probed with "+q.judge
		}
	}
	if has {
		env.Run.Note("QD labels from the judge's first-token log-probabilities (a lettered choice per axis; quality = P(yes)); " + how)
		return QDLabelsLogprobs
	}
	env.Run.Note(fmt.Sprintf("QD labels and quality from one structured reply of the judge per candidate: the server returns no log-probabilities (%s)", how))
	return QDLabelsSchema
}

// candidate runs one unit: target, mutate, judge, answer, insert.
func (q *QD) candidate(ctx context.Context, env *Env, w *Work, i int, id string, seed int64, prov export.Provenance) error {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
	q.mu.Lock()
	var target diversity.Cell
	var parents []diversity.Elite
	if q.Unsteered {
		parents = q.archive.Parents(q.archive.Target(rng), QDFewShot, rng)
	} else {
		target = q.archive.Target(rng)
		parents = q.archive.Parents(target, QDFewShot, rng)
	}
	var targetLabels map[string]string
	if target != nil {
		targetLabels = q.archive.Labels(target)
	}
	q.mu.Unlock()

	instruction, parentIDs, err := q.mutate(ctx, env, target, parents, rng, seed)
	if err != nil {
		return err
	}
	q.mu.Lock()
	dup := q.texts[normQuery(instruction)]
	q.mu.Unlock()
	if dup {
		return reject(ReasonQDDuplicate)
	}
	j, err := q.judgeCandidate(ctx, env, instruction, seed)
	if err != nil {
		return err
	}
	q.mu.Lock()
	cell, err := q.archive.CellOf(j.cell)
	better := err == nil && q.archive.Better(cell, j.quality)
	q.mu.Unlock()
	if err != nil {
		return fmt.Errorf("qd judge labels: %w", err)
	}
	if !better {
		return reject(ReasonQDNotBetter)
	}
	msgs := append(env.systemMessages(q.model, ""), local.Message{Role: "user", Content: instruction})
	own := map[string]any{"temperature": 0.7}
	if q.Operator == "magpie" {
		own = map[string]any{"temperature": 0} // Magpie answers greedily
	}
	answer, _, err := env.answer(ctx, q.model, msgs, own, seed)
	if err != nil {
		return err
	}

	meta := map[string]any{MetaQDCell: j.cell, MetaQDQuality: j.quality, MetaQDIteration: i,
		MetaQDOperator: q.Operator, MetaQDLabels: j.how, MetaQDParents: parentIDs}
	if targetLabels != nil {
		meta[MetaQDTarget] = targetLabels
	}
	// Insert and journal under the lock, so the archive never holds an
	// elite the journal lacks while another candidate is compared to it.
	q.mu.Lock()
	defer q.mu.Unlock()
	ok, old, err := q.archive.Insert(cell, diversity.Elite{ID: id, Quality: j.quality, Iteration: i, Text: instruction})
	if err != nil {
		return err
	}
	if !ok {
		return reject(ReasonQDNotBetter) // a better one came in while this was answered
	}
	if old != nil {
		meta[MetaQDReplaced] = old.ID
	}
	row := export.SFT{Messages: toExport(append(msgs, local.Message{Role: "assistant", Content: answer})), Metadata: meta}
	before := w.added
	if err := w.Commit(Entry{Unit: id, Rows: []export.Row{row}, Prov: prov}); err != nil {
		q.archive.Restore(cell, old)
		return err
	}
	if w.added == before {
		q.archive.Restore(cell, old) // not journaled (over a target): the archive must match the journal
		return nil
	}
	q.texts[normQuery(instruction)] = true
	if old != nil {
		q.replaced++
		if err := env.Run.Supersede(old.ID); err != nil {
			return err
		}
	}
	return nil
}

// card puts the archive's figures in the dataset card.
func (q *QD) card(env *Env) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := q.archive
	if a == nil {
		return
	}
	mean := 0.0
	if a.Filled() > 0 {
		mean = a.QDScore() / float64(a.Filled())
	}
	env.Run.SetTable(export.CardTable{Title: "QDAIF archive",
		Header: []string{"cells filled", "coverage", "QD-score", "mean elite quality", "candidates evaluated", "elites replaced (not exported)"},
		Rows: [][]string{{fmt.Sprintf("%d of %d", a.Filled(), a.Total()), fmt.Sprintf("%.1f%%", 100*a.Coverage()),
			fmt.Sprintf("%.2f", a.QDScore()), fmt.Sprintf("%.3f", mean), fmt.Sprint(env.Run.Counts().Generated), fmt.Sprint(q.replaced)}}})
	// Per label: how much of each slice of the archive is filled.
	t := export.CardTable{Title: "QDAIF archive by label", Header: []string{"axis", "label", "cells filled", "mean elite quality"}}
	for i, ax := range a.Axes() {
		filled := make([]int, len(ax.Labels))
		sum := make([]float64, len(ax.Labels))
		a.Elites(func(c diversity.Cell, e diversity.Elite) {
			filled[c[i]]++
			sum[c[i]] += e.Quality
		})
		per := a.Total() / len(ax.Labels)
		for li, l := range ax.Labels {
			m := "–"
			if filled[li] > 0 {
				m = fmt.Sprintf("%.3f", sum[li]/float64(filled[li]))
			}
			t.Rows = append(t.Rows, []string{ax.Name, l, fmt.Sprintf("%d of %d", filled[li], per), m})
		}
	}
	env.Run.SetTable(t)
}

// roundQuality keeps 4 decimals: finer differences are the judge's noise,
// and a tie keeps the incumbent.
func roundQuality(x float64) float64 { return math.Round(x*1e4) / 1e4 }
