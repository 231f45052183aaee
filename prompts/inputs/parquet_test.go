package inputs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

type pqMessage struct {
	Role    string `parquet:"role,dict"`
	Content string `parquet:"content"`
}

// pqSFT is the shape synthkit's own export writes.
type pqSFT struct {
	ID       string      `parquet:"id"`
	Messages []pqMessage `parquet:"messages,list"`
	Seed     int64       `parquet:"seed"`
	Note     *string     `parquet:"note,optional"`
}

// pqPref is TRL's conversational preference shape.
type pqPref struct {
	Prompt      []pqMessage `parquet:"prompt,list"`
	Chosen      []pqMessage `parquet:"chosen,list"`
	Rejected    []pqMessage `parquet:"rejected,list"`
	ScoreChosen float64     `parquet:"score_chosen"`
}

type pqPrompt struct {
	ID     int64  `parquet:"id"`
	Prompt string `parquet:"prompt"`
}

func writeParquet[T any](t testing.TB, path string, rows []T, opts ...parquet.WriterOption) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := parquet.WriteFile(path, rows, opts...); err != nil {
		t.Fatal(err)
	}
}

func sftRows(prefix string, n int) []pqSFT {
	rows := make([]pqSFT, n)
	for i := range rows {
		rows[i] = pqSFT{ID: fmt.Sprintf("%s%d", prefix, i), Seed: int64(i),
			Messages: []pqMessage{{"system", "Be brief."}, {"user", fmt.Sprintf("%s question %d", prefix, i)}, {"assistant", "answer"}}}
	}
	return rows
}

func TestLoadParquetGo(t *testing.T) {
	dir := t.TempDir()
	note := "n"
	sft := sftRows("q", 3)
	sft[1].Note = &note
	writeParquet(t, filepath.Join(dir, "sft.parquet"), sft, parquet.MaxRowsPerRowGroup(2)) // two row groups
	set, err := Load(filepath.Join(dir, "sft.parquet"), Options{Fields: []string{"seed", "note"}})
	if err != nil {
		t.Fatal(err)
	}
	if set.Format != "parquet" {
		t.Errorf("Format = %q", set.Format)
	}
	checkRecords(t, set.Records, []Record{
		{Prompt: []Message{sys("Be brief."), u("q question 0")}, Completion: "answer", Fields: map[string]string{"id": "q0", "seed": "0"}},
		{Prompt: []Message{sys("Be brief."), u("q question 1")}, Completion: "answer", Fields: map[string]string{"id": "q1", "note": "n"}, Source: Pos{Line: 1, Row: true}},
		{Prompt: []Message{sys("Be brief."), u("q question 2")}, Completion: "answer", Fields: map[string]string{"seed": "2"}, Source: Pos{Line: 2, Row: true}},
	})
	if _, ok := set.Records[0].Fields["note"]; ok {
		t.Error("a null column is in Fields")
	}
	if got := set.Records[2].Source.String(); got != filepath.Join(dir, "sft.parquet")+" row 2" {
		t.Errorf("Source = %q", got)
	}

	pref := []pqPref{{Prompt: []pqMessage{{"user", "Sky?"}}, Chosen: []pqMessage{{"assistant", "Blue."}}, Rejected: []pqMessage{{"assistant", "Red."}}, ScoreChosen: 9}}
	writeParquet(t, filepath.Join(dir, "pref.parquet"), pref)
	set, err = Load(filepath.Join(dir, "pref.parquet"), Options{Fields: []string{"score_chosen"}})
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, set.Records, []Record{{Prompt: []Message{u("Sky?")}, Chosen: []Message{a("Blue.")}, Rejected: []Message{a("Red.")}, Fields: map[string]string{"score_chosen": "9"}}})

	// The hash: from names, sizes and footers; a changed row changes it.
	h1 := mustLoad(t, filepath.Join(dir, "sft.parquet"), Options{}).Hash
	if h2 := mustLoad(t, filepath.Join(dir, "sft.parquet"), Options{}).Hash; h2 != h1 {
		t.Error("the same file hashes differently")
	}
	if h := mustLoad(t, filepath.Join(dir, "sft.parquet"), Options{MessagesColumn: "messages"}).Hash; h == h1 {
		t.Error("other options, same hash")
	}
	sft[2].Messages[1].Content = "q question X"
	writeParquet(t, filepath.Join(dir, "sft.parquet"), sft, parquet.MaxRowsPerRowGroup(2))
	if h := mustLoad(t, filepath.Join(dir, "sft.parquet"), Options{}).Hash; h == h1 {
		t.Error("a changed row, same hash")
	}
}

func mustLoad(t testing.TB, path string, opts Options) *Set {
	t.Helper()
	set, err := Load(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestLoadParquetErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.parquet")
	writeParquet(t, p, []pqPrompt{{1, "fine"}, {2, "caf\xe9"}})
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{}, p + ` row 1: column "prompt": invalid UTF-8 (byte 0xe9 at offset 3 of the value): the input must be UTF-8`},
		{Options{PromptColumn: "query"}, p + `: no column "query"; the columns are "id" and "prompt"`},
		{Options{MessagesColumn: "id"}, p + ` row 0: "id": is a number, want a list of messages`},
	} {
		if _, err := Load(p, tt.opts); err == nil || err.Error() != tt.want {
			t.Errorf("Load(%+v):\n got %v\nwant %s", tt.opts, err, tt.want)
		}
	}
	q := filepath.Join(dir, "q.parquet")
	writeParquet(t, q, []pqSFT{{ID: "x", Messages: []pqMessage{{"user", "hi"}}}})
	// a truncated file
	data, _ := os.ReadFile(q)
	os.WriteFile(q, data[:len(data)-3], 0o644)
	if _, err := Load(q, Options{}); err == nil || !strings.Contains(err.Error(), "q.parquet: not a valid Parquet file") {
		t.Errorf("truncated: %v", err)
	}
	type other struct {
		Text string `parquet:"text"`
	}
	writeParquet(t, q, []other{{"x"}})
	if _, err := Load(q, Options{}); err == nil || !strings.HasSuffix(err.Error(), `q.parquet: no prompt: want a "prompt", "instruction", "messages", "conversations" or "question" column, or name one with --prompt-column or --messages-column (columns: "text")`) {
		t.Errorf("no prompt column: %v", err)
	}
}

func TestLoadHubFolder(t *testing.T) {
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "sft", "train-00000-of-00002.parquet"), sftRows("a", 2))
	writeParquet(t, filepath.Join(dir, "sft", "train-00001-of-00002.parquet"), sftRows("b", 1))
	writeParquet(t, filepath.Join(dir, "sft", "test-00000-of-00001.parquet"), sftRows("t", 1))
	writeParquet(t, filepath.Join(dir, "data", "train-00000-of-00001.parquet"),
		[]pqPref{{Prompt: []pqMessage{{"user", "Sky?"}}, Chosen: []pqMessage{{"assistant", "Blue."}}, Rejected: []pqMessage{{"assistant", "Red."}}}})
	card := `---
license: apache-2.0
configs:
- config_name: sft # instructions
  data_files:
  - split: train
    path: sft/train-*
  - {split: test, path: "sft/test-*"}
- config_name: preferences
  default: true
  data_files:
  - split: train
    path:
    - data/train-*
dataset_info:
- config_name: sft
  features:
  - name: id
    dtype: string
---
# Card
`
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(card), 0o644); err != nil {
		t.Fatal(err)
	}
	prompts := func(opts Options) ([]string, error) {
		set, err := Load(dir, opts)
		if err != nil {
			return nil, err
		}
		return set.Prompts(), nil
	}
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{}, "Sky?"},
		{Options{Config: "sft"}, "a question 0|a question 1|b question 0"},
		{Options{Config: "sft", Split: "test"}, "t question 0"},
		{Options{Config: "preferences", Split: "train"}, "Sky?"},
	} {
		got, err := prompts(tt.opts)
		if err != nil || strings.Join(got, "|") != tt.want {
			t.Errorf("%+v: %q, %v; want %s", tt.opts, got, err, tt.want)
		}
	}
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{Config: "dpo"}, filepath.Join(dir, "README.md") + `: no config "dpo"; the card has "sft" and "preferences"`},
		{Options{Split: "validation"}, filepath.Join(dir, "README.md") + `: config "preferences" has no split "validation"; it has "train"`},
	} {
		if _, err := prompts(tt.opts); err == nil || err.Error() != tt.want {
			t.Errorf("%+v:\n got %v\nwant %s", tt.opts, err, tt.want)
		}
	}
	set := mustLoad(t, dir, Options{Config: "sft"})
	if len(set.Files) != 2 || !strings.HasSuffix(set.Files[1], "train-00001-of-00002.parquet") {
		t.Errorf("Files = %q", set.Files)
	}

	// Without a card: config = folder, split = file name.
	os.Remove(filepath.Join(dir, "README.md"))
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{}, "Sky?"}, // data/ first
		{Options{Config: "sft"}, "a question 0|a question 1|b question 0"},
		{Options{Config: "sft", Split: "test"}, "t question 0"},
	} {
		got, err := prompts(tt.opts)
		if err != nil || strings.Join(got, "|") != tt.want {
			t.Errorf("no card, %+v: %q, %v; want %s", tt.opts, got, err, tt.want)
		}
	}
	if _, err := prompts(Options{Config: "dpo"}); err == nil || !strings.Contains(err.Error(), `no config "dpo": the folder has no card with configs and no data files under dpo/ (folders: "data" and "sft")`) {
		t.Errorf("no card, unknown config: %v", err)
	}
	os.RemoveAll(filepath.Join(dir, "data"))
	if _, err := prompts(Options{Split: "validation"}); err == nil || !strings.Contains(err.Error(), `no data file for split "validation"`) {
		t.Errorf("no card, unknown split: %v", err)
	}
}

// TestYAMLConfigs covers the card forms the Hub documents.
func TestYAMLConfigs(t *testing.T) {
	dir := t.TempDir()
	card := `---
configs:
  - config_name: a
    data_files: "x/*.jsonl"
  - config_name: b
    data_files:
      - x/1.jsonl
      - x/2.jsonl
  - config_name: c
    data_files:
      train: ["x/2.jsonl"]
      test: 'x/1.jsonl'
  - config_name: d
    data_dir: x
    data_files:
      - split: train
        path: "**/1.jsonl"
---
`
	os.WriteFile(filepath.Join(dir, "README.md"), []byte(card), 0o644)
	writeFiles(t, nil)
	os.MkdirAll(filepath.Join(dir, "x"), 0o755)
	os.WriteFile(filepath.Join(dir, "x", "1.jsonl"), []byte(`{"prompt": "one"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "x", "2.jsonl"), []byte(`{"prompt": "two"}`+"\n"), 0o644)
	for cfg, want := range map[string]string{"a": "one|two", "b": "one|two", "c": "two", "d": "one"} {
		set, err := Load(dir, Options{Config: cfg})
		if err != nil || strings.Join(set.Prompts(), "|") != want {
			t.Errorf("config %s: %v; want %s", cfg, err, want)
			continue
		}
	}
	if set, err := Load(dir, Options{Config: "c", Split: "test"}); err != nil || set.Prompts()[0] != "one" {
		t.Errorf("config c split test: %v", err)
	}
}

// requireNode fails (not skips) when node and DuckDB are missing, unless
// -short, as the export tests do: a green run must have used them.
func requireNode(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the DuckDB-written Parquet (node)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed; this test writes Parquet with DuckDB from npm (run scripts/npm-tools.sh)")
	}
	dir := os.Getenv("SYNTHKIT_NPM_DIR")
	if dir == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(cache, "synthkit", "npm")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb/node-api", "package.json")); err != nil {
		t.Fatalf("@duckdb/node-api is not installed in %s: run scripts/npm-tools.sh (or set SYNTHKIT_NPM_DIR)", dir)
	}
	return dir
}

// duckdb runs SQL statements in DuckDB through node.
func duckdb(t testing.TB, sql string) {
	t.Helper()
	npm := requireNode(t)
	script := `const { createRequire } = require('node:module');
const path = require('node:path');
const { DuckDBInstance } = createRequire(path.join(process.env.SYNTHKIT_NPM_DIR, 'package.json'))('@duckdb/node-api');
(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(process.argv[1]);
})().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });`
	cmd := exec.Command("node", "-e", script, sql)
	cmd.Env = append(os.Environ(), "SYNTHKIT_NPM_DIR="+npm)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("duckdb: %v\n%s", err, out)
	}
}

// Only the columns asked for (and the provenance ones) are kept: a large
// input costs memory for what is used.
func TestLoadKeepsOnlyTheFieldsAskedFor(t *testing.T) {
	dir := t.TempDir()
	note := "n"
	sft := sftRows("q", 2)
	sft[1].Note = &note
	writeParquet(t, filepath.Join(dir, "sft.parquet"), sft)
	set := mustLoad(t, filepath.Join(dir, "sft.parquet"), Options{})
	for _, r := range set.Records {
		for k := range r.Fields {
			if !slices.Contains(KeptFields, k) {
				t.Fatalf("record keeps %q, which nobody asked for: %v", k, r.Fields)
			}
		}
	}
	if _, err := Load(filepath.Join(dir, "sft.parquet"), Options{Fields: []string{"answer"}}); err == nil ||
		!strings.Contains(err.Error(), `no column "answer"`) {
		t.Fatalf("a missing field column: %v", err)
	}
}

func TestLoadParquetDuckDB(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "duck.parquet")
	// DuckDB writes every column optional, lists as LIST<element> of
	// optional structs, snappy; a NULL prompt falls back to messages.
	duckdb(t, fmt.Sprintf(`COPY (SELECT * FROM (VALUES
	  (1::BIGINT, 'Why is the sky blue?', NULL::STRUCT(role VARCHAR, content VARCHAR)[], 'ref1', 0.5::DOUBLE, true),
	  (2::BIGINT, NULL, [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Name a fruit'}, {'role': 'assistant', 'content': 'Apple'}], NULL, NULL, false),
	  (3::BIGINT, 'Über naïve café 🌍', NULL, 'ref3', 2.0, NULL)
	) t(id, prompt, messages, answer, score, ok)) TO '%s' (FORMAT parquet, ROW_GROUP_SIZE 2)`, p))
	set, err := Load(p, Options{Fields: []string{"answer", "score", "ok"}})
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, set.Records, []Record{
		{Prompt: []Message{u("Why is the sky blue?")}, Fields: map[string]string{"id": "1", "answer": "ref1", "score": "0.5", "ok": "true"}},
		{Prompt: []Message{sys("Be brief."), u("Name a fruit")}, Completion: "Apple", Fields: map[string]string{"id": "2", "ok": "false"}},
		{Prompt: []Message{u("Über naïve café 🌍")}, Fields: map[string]string{"answer": "ref3", "score": "2"}, Source: Pos{Line: 2, Row: true}},
	})
	if _, ok := set.Records[1].Fields["answer"]; ok {
		t.Error("a NULL is in Fields")
	}
	// The same file through MessagesColumn: row 0 has no messages.
	if _, err := Load(p, Options{MessagesColumn: "messages"}); err == nil || err.Error() != p+` row 0: "messages": is null, want a list of messages` {
		t.Errorf("MessagesColumn on a NULL: %v", err)
	}
}

// BenchmarkLoadParquet streams a 1M-row Parquet file of chat rows
// (synthkit's SFT shape plus a 1 KB column Load does not read) and
// reports rows/s, the peak heap while loading and the heap the records
// hold afterwards.
func BenchmarkLoadParquet(b *testing.B) {
	const n = 1_000_000
	p := filepath.Join(b.TempDir(), "big.parquet")
	type row struct {
		ID       string      `parquet:"id"`
		Messages []pqMessage `parquet:"messages,list"`
		Blob     []string    `parquet:"blob,list"` // not read: not a shape or scalar column
	}
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := parquet.NewGenericWriter[row](f, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(50_000))
	blob := []string{strings.Repeat("x", 1024)}
	batch := make([]row, 0, 10_000)
	for i := range n {
		batch = append(batch, row{ID: fmt.Sprint(i), Blob: blob,
			Messages: []pqMessage{{"user", fmt.Sprintf("Question number %d: why is the sky blue?", i)}, {"assistant", "Rayleigh scattering."}}})
		if len(batch) == cap(batch) {
			if _, err := w.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(p)
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		var peak uint64
		done := make(chan struct{})
		go func() { // sample the heap while loading
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		start := time.Now()
		set, err := Load(p, Options{})
		el := time.Since(start)
		close(done)
		if err != nil || len(set.Records) != n {
			b.Fatalf("Load: %v", err)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "rows/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(st.Size())/(1<<20), "file-MB")
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "records-heap-MB") // what the 1M records hold
		runtime.KeepAlive(set)
	}
}
