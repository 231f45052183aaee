package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func prefFixture(i int) Preference {
	sc, sr := float64(i%10)/2, float64(i%3)
	p := Preference{
		Prompt:        []Message{{Role: "user", Content: fmt.Sprintf("Which is better, %d or %d?", i, i+1)}},
		Chosen:        []Message{{Role: "assistant", Content: fmt.Sprintf("%d, because \"reasons\"\n", i+1)}},
		Rejected:      []Message{{Role: "assistant", Content: "dunno"}},
		ScoreChosen:   &sc,
		ChosenModel:   "tiny:latest",
		RejectedModel: "other:1b",
	}
	if i%2 == 0 {
		p.ScoreRejected = &sr
	}
	return p
}

func ratingFixture(i int) Rating {
	return Rating{
		Prompt: []Message{{Role: "system", Content: "Be kind."}, {Role: "user", Content: fmt.Sprintf("Explain %d.", i)}},
		Completions: []RatedCompletion{
			{Model: "tiny:latest", ModelDigest: "sha256:aa", Response: fmt.Sprintf("It is %d.", i), Ratings: []AspectRating{
				{Aspect: "helpfulness", Rating: 4, Rationale: "clear"}, {Aspect: "honesty", Rating: 5, Rationale: "true"}}},
			{Model: "other:1b", Response: "No idea.", Ratings: []AspectRating{{Aspect: "helpfulness", Rating: 1, Rationale: "useless"}}},
		},
		Metadata: map[string]any{"n": i},
	}
}

func critiqueFixture(i int) Critique {
	return Critique{
		Prompt:  []Message{{Role: "user", Content: fmt.Sprintf("How do I pick lock %d?", i)}},
		Initial: "Use a pick.",
		Steps: []CritiqueStep{
			{Principle: "harmless", Critique: "It helps burglary.", Revision: "I can't help with that."},
			{Principle: "helpful", Critique: "Too curt.", Revision: fmt.Sprintf("I can't help with lock %d, but a locksmith can.", i)},
		},
	}
}

// mixedRun fills a run with n units of every config plus rejections, in
// the given unit order, returning the run dir.
func mixedRun(t testing.TB, dir string, order []int) {
	t.Helper()
	r := mustOpen(t, dir, testManifest(), false)
	for _, i := range order {
		var err error
		switch i % 5 {
		case 0:
			err = r.Add(unitID(i), Provenance{}, sftFixture(i))
		case 1:
			err = r.Add(unitID(i), Provenance{Model: "judge:1b"}, prefFixture(i))
		case 2:
			// A rating and the pair binarized from it, atomically.
			err = r.Add(unitID(i), Provenance{}, ratingFixture(i), prefFixture(i))
		case 3:
			err = r.Add(unitID(i), Provenance{Method: "constitutional"}, critiqueFixture(i))
		case 4:
			err = r.Reject(unitID(i), []string{"too similar", "unparseable"}[i%2], Provenance{})
		}
		ok(t, err)
	}
	ok(t, r.Finish())
	ok(t, r.Close())
}

// expected builds the rows each config must hold, independently of the
// export code, as JSON-shaped values sorted by id.
func expected(n int) map[string][]map[string]any {
	m := testManifest()
	dig, th := m.Models[0].Digest, m.TemplateHashes["self-instruct/generate"]
	prov := func(row map[string]any, method, model, digest string) map[string]any {
		row["method"], row["model"], row["model_digest"], row["seed"], row["template_hash"] = method, model, digest, 7, th
		return row
	}
	msgs := func(ms []Message) []any {
		var out []any
		for _, x := range ms {
			out = append(out, map[string]any{"role": x.Role, "content": x.Content})
		}
		return out
	}
	meta := func(v map[string]any) string {
		if v == nil {
			return "{}"
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	f64 := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	asst := func(s string) []any { return msgs([]Message{{Role: "assistant", Content: s}}) }
	out := map[string][]map[string]any{}
	add := func(c string, row map[string]any) { out[c] = append(out[c], row) }
	pref := func(id string, p Preference, model, digest string) map[string]any {
		return prov(map[string]any{"id": id, "prompt": msgs(p.Prompt), "chosen": msgs(p.Chosen), "rejected": msgs(p.Rejected),
			"score_chosen": f64(p.ScoreChosen), "score_rejected": f64(p.ScoreRejected), "chosen_model": p.ChosenModel,
			"rejected_model": p.RejectedModel, "metadata": meta(p.Metadata)}, "self-instruct", model, digest)
	}
	for i := range n {
		id := unitID(i)
		switch i % 5 {
		case 0:
			s := sftFixture(i)
			add("sft", prov(map[string]any{"id": id, "messages": msgs(s.Messages), "metadata": meta(s.Metadata)}, "self-instruct", "tiny:latest", dig))
		case 1:
			add("preferences", pref(id, prefFixture(i), "judge:1b", ""))
		case 2:
			rt := ratingFixture(i)
			for k, c := range rt.Completions {
				var rs []any
				sum := 0.0
				for _, a := range c.Ratings {
					rs = append(rs, map[string]any{"aspect": a.Aspect, "rating": a.Rating, "rationale": a.Rationale})
					sum += a.Rating
				}
				add("ratings", prov(map[string]any{"id": id, "completion_index": k, "prompt": msgs(rt.Prompt), "completion": asst(c.Response),
					"completion_model": c.Model, "completion_model_digest": c.ModelDigest, "ratings": rs,
					"overall": sum / float64(len(c.Ratings)), "metadata": meta(rt.Metadata)}, "self-instruct", "tiny:latest", dig))
			}
			add("preferences", pref(id, prefFixture(i), "tiny:latest", dig))
		case 3:
			c := critiqueFixture(i)
			final := c.Steps[len(c.Steps)-1].Revision
			var steps []any
			for _, s := range c.Steps {
				steps = append(steps, map[string]any{"principle": s.Principle, "critique": s.Critique, "revision": s.Revision})
			}
			add("critiques", prov(map[string]any{"id": id, "prompt": msgs(c.Prompt), "initial_response": asst(c.Initial),
				"steps": steps, "final_revision": asst(final), "metadata": "{}"}, "constitutional", "tiny:latest", dig))
			add("critiques_sft", prov(map[string]any{"id": id, "messages": append(msgs(c.Prompt), asst(final)...), "metadata": "{}"},
				"constitutional", "tiny:latest", dig))
			add("critiques_preferences", prov(map[string]any{"id": id, "prompt": msgs(c.Prompt), "chosen": asst(final),
				"rejected": asst(c.Initial), "score_chosen": nil, "score_rejected": nil, "chosen_model": "tiny:latest",
				"rejected_model": "tiny:latest", "metadata": "{}"}, "constitutional", "tiny:latest", dig))
		}
	}
	return out
}

const (
	msgList    = `STRUCT("role" VARCHAR, "content" VARCHAR)[]`
	provTypes  = "metadata VARCHAR,method VARCHAR,model VARCHAR,model_digest VARCHAR,seed BIGINT,template_hash VARCHAR"
	prefPrefix = "id VARCHAR,prompt " + msgList + ",chosen " + msgList + ",rejected " + msgList +
		",score_chosen DOUBLE,score_rejected DOUBLE,chosen_model VARCHAR,rejected_model VARCHAR,"
)

// wantColumns is each config's schema as DuckDB reports it.
var wantColumns = map[string]string{
	"sft":                   "id VARCHAR,messages " + msgList + "," + provTypes,
	"critiques_sft":         "id VARCHAR,messages " + msgList + "," + provTypes,
	"preferences":           prefPrefix + provTypes,
	"critiques_preferences": prefPrefix + provTypes,
	"ratings": "id VARCHAR,completion_index BIGINT,prompt " + msgList + ",completion " + msgList +
		",completion_model VARCHAR,completion_model_digest VARCHAR,ratings STRUCT(aspect VARCHAR, rating DOUBLE, rationale VARCHAR)[],overall DOUBLE," + provTypes,
	"critiques": "id VARCHAR,prompt " + msgList + ",initial_response " + msgList +
		",steps STRUCT(principle VARCHAR, critique VARCHAR, revision VARCHAR)[],final_revision " + msgList + "," + provTypes,
}

// jsonish normalizes values through JSON so both sides compare alike.
func jsonish(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	ok(t, err)
	var out any
	ok(t, json.Unmarshal(b, &out))
	return out
}

// TestExportReadBack writes every config with small row groups and shards,
// then reads every file with DuckDB and hyparquet and compares every
// column, type and row to what the journal holds, and the card to the files.
func TestExportReadBack(t *testing.T) {
	requireReaders(t)
	const n = 400
	dir := filepath.Join(t.TempDir(), "run")
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	mixedRun(t, dir, order)

	const rg, shard = 8 << 10, 40 << 10
	res, err := Export(context.Background(), dir, ExportOptions{MaxRowGroupBytes: rg, MaxShardBytes: shard, License: "cc-by-4.0", Language: []string{"en"}})
	ok(t, err)
	want := expected(n)

	if got := res.Counts; got.Generated != n || got.Accepted != n*4/5 || got.Rejected["too similar"]+got.Rejected["unparseable"] != n/5 {
		t.Fatalf("counts = %+v", got)
	}
	card := parseCard(t, filepath.Join(dir, "README.md"))
	info := map[string]map[string]any{}
	for _, x := range card["dataset_info"].([]any) {
		info[x.(map[string]any)["config_name"].(string)] = x.(map[string]any)
	}
	var cardConfigs []string
	for _, x := range card["configs"].([]any) {
		cardConfigs = append(cardConfigs, x.(map[string]any)["config_name"].(string))
	}
	if !slices.Equal(cardConfigs, []string{"sft", "critiques", "critiques_preferences", "critiques_sft", "preferences", "ratings"}) {
		t.Fatalf("card configs = %v", cardConfigs)
	}

	for _, c := range res.Configs {
		t.Run(c.Name, func(t *testing.T) {
			var files []string
			for i, f := range c.Files {
				if want := fmt.Sprintf("%s/train-%05d-of-%05d.parquet", c.Dir, i, len(c.Files)); f != want {
					t.Fatalf("file %d is %s, want %s", i, f, want)
				}
				files = append(files, filepath.Join(dir, f))
			}
			if c.Name == "sft" && (len(files) < 2 || c.Dir != "data" || !c.Default) {
				t.Fatalf("sft: %d files in %s/, default=%v; want several shards under data/", len(files), c.Dir, c.Default)
			}
			dump := dumpParquet(t, files...)
			var rows, hyRows []map[string]any
			groups := 0
			for _, f := range dump {
				var cols []string
				for _, col := range f.Columns {
					cols = append(cols, col.Name+" "+col.Type)
				}
				if got := strings.Join(cols, ","); got != wantColumns[c.Name] {
					t.Fatalf("%s columns:\n got  %s\n want %s", f.Path, got, wantColumns[c.Name])
				}
				if f.NumRows != int64(len(f.Rows)) || len(f.HyRows) != len(f.Rows) {
					t.Fatalf("%s: footer says %d rows, DuckDB read %d, hyparquet %d", f.Path, f.NumRows, len(f.Rows), len(f.HyRows))
				}
				if !slices.Equal(f.Compression, []string{"ZSTD"}) || !f.PageIndex || f.CreatedBy != "synthkit version test(build parquet-go)" {
					t.Fatalf("%s: compression %v, page index %v, created_by %q", f.Path, f.Compression, f.PageIndex, f.CreatedBy)
				}
				for _, b := range f.RowGroupBytes {
					if b > 2*rg {
						t.Errorf("%s: row group of %d bytes, limit %d", f.Path, b, rg)
					}
				}
				groups += f.NumRowGroups
				rows = append(rows, f.Rows...)
				hyRows = append(hyRows, f.HyRows...)
			}
			if c.Name == "sft" && groups <= len(files) {
				t.Errorf("sft: %d row groups in %d files; want several per file", groups, len(files))
			}
			wantRows := want[c.Name]
			if len(rows) != len(wantRows) || int64(len(rows)) != c.Rows {
				t.Fatalf("%d rows read, result says %d, want %d", len(rows), c.Rows, len(wantRows))
			}
			if g, w := jsonish(t, rows), jsonish(t, wantRows); !reflect.DeepEqual(g, w) {
				gb, _ := json.Marshal(g.([]any)[0])
				wb, _ := json.Marshal(w.([]any)[0])
				t.Fatalf("DuckDB rows differ from the journal; first row:\n got  %s\n want %s", gb, wb)
			}
			if g, w := jsonish(t, hyRows), jsonish(t, wantRows); !reflect.DeepEqual(g, w) {
				t.Fatal("hyparquet rows differ from the journal")
			}
			// TRL and the Hub choke on empty message lists.
			for _, row := range rows {
				for k, v := range row {
					if l, isList := v.([]any); isList && len(l) == 0 {
						t.Fatalf("row %v: empty list in %s", row["id"], k)
					}
				}
			}

			// The card describes exactly these files.
			ci := info[c.Name]
			splits := ci["splits"].([]any)[0].(map[string]any)
			if int64(splits["num_examples"].(float64)) != int64(len(rows)) || splits["name"] != "train" {
				t.Fatalf("card split %v, files hold %d rows", splits, len(rows))
			}
			if g, w := jsonish(t, ci["features"]), jsonish(t, featuresJSON(wantColumns[c.Name])); !reflect.DeepEqual(g, w) {
				gb, _ := json.Marshal(g)
				wb, _ := json.Marshal(w)
				t.Fatalf("card features\n got  %s\n want %s", gb, wb)
			}
		})
	}
	for k, v := range map[string]any{"license": "cc-by-4.0", "pretty_name": "run"} {
		if card[k] != v {
			t.Errorf("card %s = %v, want %v", k, card[k], v)
		}
	}
	for _, tag := range []string{"synthetic", "synthkit"} {
		if !slices.Contains(card["tags"].([]any), any(tag)) {
			t.Errorf("card tags %v lack %s", card["tags"], tag)
		}
	}
	if sc := card["size_categories"].([]any); len(sc) != 1 || sc[0] != "n<1K" {
		t.Errorf("size_categories = %v", sc)
	}
	body, err := os.ReadFile(filepath.Join(dir, "README.md"))
	ok(t, err)
	for _, s := range []string{"too similar: ", "sha256:abababab", "@inproceedings{wang2023selfinstruct", "@misc{bai2022constitutional",
		"synthkit self-instruct --model tiny:latest --seed 7 --out out/run", "their outputs", "### ratings"} {
		if !strings.Contains(string(body), s) {
			t.Errorf("card body lacks %q", s)
		}
	}
}

// featuresJSON turns a DuckDB column list into the card features it implies
// (the mapping `datasets` uses), to check the card against the files.
func featuresJSON(cols string) []any {
	dtype := map[string]string{"VARCHAR": "string", "BIGINT": "int64", "DOUBLE": "float64"}
	var out []any
	for _, col := range splitTop(cols) {
		name, typ, _ := strings.Cut(col, " ")
		if strings.HasPrefix(typ, "STRUCT(") {
			var fields []any
			for _, f := range splitTop(strings.TrimSuffix(strings.TrimPrefix(typ, "STRUCT("), ")[]")) {
				fn, ft, _ := strings.Cut(strings.TrimSpace(f), " ")
				fields = append(fields, map[string]any{"name": strings.Trim(fn, `"`), "dtype": dtype[ft]})
			}
			out = append(out, map[string]any{"name": name, "list": fields})
			continue
		}
		out = append(out, map[string]any{"name": name, "dtype": dtype[typ]})
	}
	return out
}

func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// TestExportDeterministic: the same journal exports byte-identical files,
// and so does a journal with the same units added in another order by
// concurrent workers.
func TestExportDeterministic(t *testing.T) {
	const n = 300
	base := t.TempDir()
	a := filepath.Join(base, "a")
	seq := make([]int, n)
	for i := range seq {
		seq[i] = i
	}
	mixedRun(t, a, seq)
	opts := ExportOptions{MaxRowGroupBytes: 16 << 10, MaxShardBytes: 64 << 10}
	_, err := Export(context.Background(), a, opts)
	ok(t, err)
	first := hashTree(t, a)
	_, err = Export(context.Background(), a, opts)
	ok(t, err)
	second := hashTree(t, a)
	equalMaps(t, "re-export of the same run", second, first)

	b := filepath.Join(base, "b")
	r := mustOpen(t, b, testManifest(), false)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := n - 1 - w; i >= 0; i -= 4 {
				var err error
				switch i % 5 {
				case 0:
					err = r.Add(unitID(i), Provenance{}, sftFixture(i))
				case 1:
					err = r.Add(unitID(i), Provenance{Model: "judge:1b"}, prefFixture(i))
				case 2:
					err = r.Add(unitID(i), Provenance{}, ratingFixture(i), prefFixture(i))
				case 3:
					err = r.Add(unitID(i), Provenance{Method: "constitutional"}, critiqueFixture(i))
				case 4:
					err = r.Reject(unitID(i), []string{"too similar", "unparseable"}[i%2], Provenance{})
				}
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	ok(t, r.Close())
	_, err = Export(context.Background(), b, opts)
	ok(t, err)
	equalMaps(t, "export of the same units in another order", parquetTree(t, b), parquetTree(t, a))
}

// TestExportReplacesStaleShards: a later export with fewer shards removes
// the extra old ones, and never touches files it did not write.
func TestExportReplacesStaleShards(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 200)
	ok(t, r.Close())
	res, err := Export(context.Background(), dir, ExportOptions{MaxRowGroupBytes: 8 << 10, MaxShardBytes: 20 << 10})
	ok(t, err)
	if len(res.Configs[0].Files) < 3 {
		t.Fatalf("%d shards, want several", len(res.Configs[0].Files))
	}
	ok(t, os.WriteFile(filepath.Join(dir, "data", "notes.txt"), []byte("mine"), 0o644))
	res, err = Export(context.Background(), dir, ExportOptions{})
	ok(t, err)
	ents, err := os.ReadDir(filepath.Join(dir, "data"))
	ok(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"notes.txt", "train-00000-of-00001.parquet"}) {
		t.Fatalf("data/ holds %v", names)
	}
	if _, err := os.Stat(filepath.Join(dir, stagingDir)); !os.IsNotExist(err) {
		t.Fatalf("staging dir left behind: %v", err)
	}
}

func TestExportOptionsAndErrors(t *testing.T) {
	t.Run("default config", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run")
		mixedRun(t, dir, []int{0, 1, 2, 3, 5, 6})
		res, err := Export(context.Background(), dir, ExportOptions{DefaultConfig: ConfigPreferences})
		ok(t, err)
		if c := res.Configs[0]; c.Name != ConfigPreferences || c.Dir != "data" || !c.Default {
			t.Fatalf("first config = %+v", c)
		}
		if _, err := Export(context.Background(), dir, ExportOptions{DefaultConfig: "nope"}); err == nil || !strings.Contains(err.Error(), `default config "nope"`) {
			t.Fatalf("bad default config: %v", err)
		}
	})
	t.Run("no rows", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run")
		r := mustOpen(t, dir, testManifest(), false)
		ok(t, r.Reject("a", "too similar", Provenance{}))
		ok(t, r.Close())
		if _, err := Export(context.Background(), dir, ExportOptions{}); !errors.Is(err, errNoRows) {
			t.Fatalf("Export = %v, want no rows", err)
		}
	})
	t.Run("not a run", func(t *testing.T) {
		if _, err := Export(context.Background(), t.TempDir(), ExportOptions{}); err == nil || !strings.Contains(err.Error(), "run.json") {
			t.Fatalf("Export = %v", err)
		}
	})
	t.Run("while appending", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run")
		r := mustOpen(t, dir, testManifest(), false)
		defer r.Close()
		addSFT(t, r, 0, 20)
		res, err := Export(context.Background(), dir, ExportOptions{})
		ok(t, err)
		if res.Configs[0].Rows != 20 {
			t.Fatalf("exported %d rows of an open run, want 20", res.Configs[0].Rows)
		}
	})
}

func TestSizeCategory(t *testing.T) {
	for n, want := range map[int64]string{0: "n<1K", 999: "n<1K", 1000: "1K<n<10K", 99_999: "10K<n<100K", 1_000_000: "1M<n<10M"} {
		if got := SizeCategory(n); got != want {
			t.Errorf("SizeCategory(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestExportCancel: a cancelled export stops between batches of rows,
// publishes nothing (the previous export's files stay byte for byte) and
// clears its staging directory.
func TestExportCancel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 3000)
	ok(t, r.Close())

	t.Run("before it starts", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Export(ctx, dir, ExportOptions{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Export = %v, want context.Canceled", err)
		}
		for _, p := range []string{"README.md", defaultDataDir, stagingDir} {
			if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
				t.Fatalf("a cancelled first export left %s (%v)", p, err)
			}
		}
	})

	t.Run("midway", func(t *testing.T) {
		_, err := Export(context.Background(), dir, ExportOptions{MaxRowGroupBytes: 64 << 10, MaxShardBytes: 1 << 20})
		ok(t, err)
		before := hashTree(t, dir)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var last, afterCancel int64
		// Other shard sizes: a completed export would replace every file.
		_, err = Export(ctx, dir, ExportOptions{MaxRowGroupBytes: 32 << 10, MaxShardBytes: 256 << 10,
			Progress: func(_ string, done, total int64) {
				if ctx.Err() != nil {
					afterCancel++
				}
				last = done
				if done >= 512 {
					cancel()
				}
			}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Export = %v, want context.Canceled", err)
		}
		if afterCancel > 0 || last >= 3000 {
			t.Fatalf("export went on after the cancel: %d progress calls after it, %d of 3000 rows", afterCancel, last)
		}
		equalMaps(t, "run after a cancelled re-export", hashTree(t, dir), before)
	})
}
