package report

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"synthkit/diversity"
	"synthkit/export"
	"synthkit/prompts"
)

// DefaultSampleSize is how many records the embedding metrics look at:
// enough for stable figures, small enough that pairwise work stays under
// a second or two on two cores. A fixed size also keeps distinct-n
// comparable between runs of different sizes.
const DefaultSampleSize = 1000

// RougeThreshold marks "too close to a seed" in the ROUGE-L figures:
// Self-Instruct's own filter threshold.
const RougeThreshold = diversity.DefaultRougeThreshold

// Options configures [Build]. The zero value gives the defaults.
type Options struct {
	// SampleSize caps the records measured (default DefaultSampleSize).
	// The sample is the records with the smallest seeded hash of their
	// unit id: the same journal always gives the same sample.
	SampleSize int
	// On is the text measured: prompts.OnPrompt, OnResponse or OnBoth
	// (default: what the run's novelty filter embedded, else the prompt).
	On string
	// SeedsFile names seed tasks to compare records with by ROUGE-L
	// (default: a Self-Instruct run's own seeds).
	SeedsFile string
}

func (o *Options) sampleSize() int {
	if o.SampleSize > 0 {
		return o.SampleSize
	}
	return DefaultSampleSize
}

// Report is the diversity report of one run: the numbers; [Report.Write]
// adds the plots and the HTML page.
type Report struct {
	Dir    string
	Method string
	Counts export.Counts
	// On is the text measured; Population how many accepted records have
	// it; Sampled how many were measured.
	On                  string
	Population, Sampled int
	// Embedder names the embeddings: the run's stored vectors (with the
	// embedder run.json records) or the built-in hashed n-grams.
	Embedder string
	// FromVectors is set when the run's own stored vectors were used.
	FromVectors bool

	Distinct1, Distinct2 float64
	MeanCosine           float64
	Vendi                float64
	// Nearest is each sampled record's highest cosine similarity to
	// another sampled record.
	Nearest       []float64
	NearestMedian float64
	NearestP90    float64
	Threshold     float64 // the run's --max-similarity, 0 when none
	// PCA is the 2-D projection of the measured embeddings, with the
	// share of variance of each axis; [Report.Write] computes it.
	PCA                [][2]float64
	PCAExplained       [2]float64
	vectors            [][]float32
	Rouge              *Rouge
	Rejects            []Reject
	QD                 *QD
	Notes              []string
	sampleUnits        []string
	sampleQDFirstLabel []string
}

// Rouge is how close records are to the seed tasks (ROUGE-L F, the max
// over seeds per record).
type Rouge struct {
	Source string
	Seeds  int
	Scores []float64
	Mean   float64
	Median float64
	// Above is the share of records above [RougeThreshold].
	Above float64
}

// Reject is one rejection reason with its count and meaning.
type Reject struct {
	Reason  string
	Count   int64
	Meaning string
}

// Build measures the run in dir. A directory that is not a run is a
// [*NotRunError]; a run with nothing to measure wraps [ErrEmptyRun].
func Build(ctx context.Context, dir string, o Options) (*Report, error) {
	switch o.On {
	case "", prompts.OnPrompt, prompts.OnResponse, prompts.OnBoth:
	default:
		return nil, fmt.Errorf("--on must be prompt, response or both, not %q", o.On)
	}
	r, err := loadRun(ctx, dir, &o)
	if err != nil {
		return nil, err
	}
	rep := &Report{Dir: dir, Method: r.manifest.Method, Counts: r.summary.Counts, On: r.on,
		Population: r.population, Sampled: len(r.sample)}
	rep.Rejects = rejects(r.summary.Counts)
	if len(r.sample) == 0 {
		return rep, fmt.Errorf("%s: %w (%d accepted, %d rejected)", dir, ErrEmptyRun, rep.Counts.Accepted, rep.Counts.RejectedTotal())
	}
	texts := make([]string, len(r.sample))
	for i, rec := range r.sample {
		texts[i] = rec.text
		rep.sampleUnits = append(rep.sampleUnits, rec.unit)
	}
	rep.Distinct1, rep.Distinct2 = Distinct(texts, 1), Distinct(texts, 2)

	vs, ok, err := r.sampleVectors()
	if err != nil {
		return nil, err
	}
	if ok && o.On != "" && o.On != r.on {
		ok = false
	}
	if ok {
		rep.FromVectors = true
		rep.Embedder, _ = r.manifest.Options["diversity_embedder"].(string)
		if rep.Embedder == "" {
			rep.Embedder = "the run's stored vectors"
		}
	} else {
		emb := diversity.HashedNGrams()
		if vs, err = emb.Embed(ctx, texts); err != nil {
			return nil, err
		}
		rep.Embedder = emb.Name
	}
	if t, ok := r.manifest.Options["diversity_max_similarity"].(float64); ok && rep.FromVectors {
		rep.Threshold = t
	}
	rep.MeanCosine = MeanPairwiseCosine(vs)
	if rep.Vendi, err = Vendi(vs); err != nil {
		return nil, err
	}
	if rep.Nearest, _, err = NearestSimilarities(ctx, vs); err != nil {
		return nil, err
	}
	if len(vs) > 1 {
		rep.NearestMedian, rep.NearestP90 = quantile(rep.Nearest, 0.5), quantile(rep.Nearest, 0.9)
	}
	rep.vectors = vs // the PCA plot projects them (Write only: the card needs no PCA)

	seeds, source, note, err := seedTexts(r.manifest, o.SeedsFile)
	if err != nil {
		return nil, err
	}
	if note != "" {
		rep.Notes = append(rep.Notes, "ROUGE-L to seeds: "+note)
	}
	if len(seeds) > 0 {
		rep.Rouge = rougeToSeeds(seeds, r.sample, source)
	}

	if len(r.qd) > 0 || r.summary.States[StateQDAxes] != nil {
		var axes []Axis
		if raw := r.summary.States[StateQDAxes]; raw != nil {
			if axes, err = parseAxes(raw); err != nil {
				return nil, fmt.Errorf("%s: %w", dir, err)
			}
		} else {
			axes = axesFromPoints(r.qd)
			rep.Notes = append(rep.Notes, "QD: the run state has no "+StateQDAxes+"; axes and labels are those the rows reached")
		}
		rep.QD = replayQD(axes, r.qd)
		if rep.QD.Outside > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("QD: %d row(s) name a cell off the axes and were left out", rep.QD.Outside))
		}
		if len(axes) > 2 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("QD: the heat map shows the first two axes (%s, %s); each square is the best elite over the other axes",
				axes[0].Name, axes[1].Name))
		}
		byUnit := map[string]string{}
		for _, p := range r.qd {
			byUnit[p.unit] = p.cell[axes[0].Name]
		}
		for _, u := range rep.sampleUnits {
			rep.sampleQDFirstLabel = append(rep.sampleQDFirstLabel, byUnit[u])
		}
	}
	if r.qdBad > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("QD: %d row(s) carry qd_ metadata not in the expected shape (qd_cell object, qd_quality number, qd_iteration integer) and were left out", r.qdBad))
	}
	if rep.Sampled < rep.Population {
		rep.Notes = append(rep.Notes, fmt.Sprintf("embedding metrics and distinct-n are on a seeded sample of %d of %d records", rep.Sampled, rep.Population))
	}
	return rep, nil
}

// IsEmpty reports whether err is [Build]'s error for a run with nothing
// to measure.
func IsEmpty(err error) bool { return errors.Is(err, ErrEmptyRun) }

func rejects(c export.Counts) []Reject {
	var out []Reject
	for _, k := range sortedKeys(c.Rejected) {
		out = append(out, Reject{Reason: k, Count: c.Rejected[k], Meaning: prompts.ReasonMeanings[k]})
	}
	// Most frequent first; ties by name (stable over the sorted keys).
	slices.SortStableFunc(out, func(a, b Reject) int {
		switch {
		case a.Count > b.Count:
			return -1
		case a.Count < b.Count:
			return 1
		}
		return 0
	})
	return out
}

func rougeToSeeds(seeds []string, sample []record, source string) *Rouge {
	pool := diversity.NewPool()
	for _, s := range seeds {
		pool.Add(s)
	}
	r := &Rouge{Source: source, Seeds: len(seeds)}
	above := 0
	for _, rec := range sample {
		s, _ := pool.MaxScore(rec.task)
		r.Scores = append(r.Scores, s)
		r.Mean += s
		if s > RougeThreshold {
			above++
		}
	}
	r.Mean /= float64(len(sample))
	r.Median = quantile(r.Scores, 0.5)
	r.Above = float64(above) / float64(len(sample))
	return r
}

// quantile is the q-quantile of xs by linear interpolation between order
// statistics; xs is not changed.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}
