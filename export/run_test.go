package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestResumeCompatibility(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *Manifest)
		want   []string // substrings of the error; nil = resume allowed
	}{
		{"same", func(m *Manifest) {}, nil},
		{"new options and command", func(m *Manifest) {
			m.Options = map[string]any{"temperature": 0.2}
			m.Command = append(m.Command, "--num", "500")
		}, nil},
		{"other model", func(m *Manifest) { m.Models[0].Name = "other:7b" },
			[]string{`model "tiny:latest" is no longer used`, `model "other:7b" was not used before`}},
		{"changed digest", func(m *Manifest) { m.Models[0].Digest = "sha256:" + strings.Repeat("ef", 32) },
			[]string{`model "tiny:latest" digest was sha256:abababababab, now sha256:efefefefefef`}},
		{"extra judge", func(m *Manifest) { m.Models = append(m.Models, ModelInfo{Name: "judge", Digest: "sha256:01"}) },
			[]string{`model "judge" was not used before`}},
		{"method", func(m *Manifest) { m.Method = "evol-instruct" }, []string{`method was "self-instruct", now "evol-instruct"`}},
		{"seed", func(m *Manifest) { m.Seed = 8 }, []string{"seed was 7, now 8"}},
		{"template edited", func(m *Manifest) {
			m.TemplateHashes = map[string]string{"self-instruct/generate": "sha256:99"}
		}, []string{`template "self-instruct/generate" changed`}},
		{"template added", func(m *Manifest) {
			m.TemplateHashes = map[string]string{"self-instruct/generate": testManifest().TemplateHashes["self-instruct/generate"], "filter": "x"}
		}, []string{`template "filter" was not used before`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			r := mustOpen(t, dir, testManifest(), false)
			addSFT(t, r, 0, 3)
			ok(t, r.Close())
			before := hashTree(t, filepath.Join(dir, journalDir))

			m := testManifest()
			tt.change(&m)
			r, err := OpenRun(dir, m, false)
			if tt.want == nil {
				ok(t, err)
				defer r.Close()
				if !r.Done(unitID(2)) || r.Manifest().Resumes != 1 {
					t.Fatalf("resume lost state: done=%v resumes=%d", r.Done(unitID(2)), r.Manifest().Resumes)
				}
				return
			}
			if !errors.Is(err, ErrIncompatible) {
				t.Fatalf("OpenRun = %v, want ErrIncompatible", err)
			}
			for _, w := range append(tt.want, "--fresh", dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			equalMaps(t, "journal after a refused resume", hashTree(t, filepath.Join(dir, journalDir)), before)

			// --fresh moves the old run aside and starts empty.
			r, err = OpenRun(dir, m, true)
			ok(t, err)
			defer r.Close()
			if r.Done(unitID(0)) || r.Counts().Accepted != 0 {
				t.Fatal("fresh run still sees old units")
			}
			prev := r.Previous()
			if prev == "" || !strings.HasPrefix(prev, dir+".old-") {
				t.Fatalf("Previous() = %q", prev)
			}
			equalMaps(t, "moved-aside journal", hashTree(t, filepath.Join(prev, journalDir)), before)
		})
	}
}

func TestOpenRunRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	ok(t, os.WriteFile(filepath.Join(dir, "thesis.tex"), []byte("precious"), 0o644))
	for _, fresh := range []bool{false, true} {
		_, err := OpenRun(dir, testManifest(), fresh)
		if err == nil || !strings.Contains(err.Error(), "not a synthkit run") {
			t.Fatalf("fresh=%v: OpenRun = %v, want refusal", fresh, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "thesis.tex")); string(b) != "precious" {
		t.Fatal("foreign file touched")
	}
	// An existing empty directory is fine.
	empty := t.TempDir()
	r := mustOpen(t, empty, testManifest(), false)
	ok(t, r.Close())
}

func TestOpenRunLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	defer r.Close()
	if _, err := OpenRun(dir, testManifest(), false); !errors.Is(err, ErrLocked) {
		t.Fatalf("second OpenRun = %v, want ErrLocked", err)
	}
	if _, err := OpenRun(dir, testManifest(), true); err == nil {
		t.Fatal("--fresh moved a run that is in use")
	}
}

func TestAddValidation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	defer r.Close()
	u := []Message{{Role: "user", Content: "q"}}
	a := []Message{{Role: "assistant", Content: "a"}}
	tests := []struct {
		name string
		unit string
		rows []Row
		want string
	}{
		{"empty unit", "", []Row{SFT{Messages: u}}, "unit id is empty"},
		{"control char", "a\nb", []Row{SFT{Messages: u}}, "control character"},
		{"no rows", "x", nil, "no rows"},
		{"empty messages", "x", []Row{SFT{}}, "messages: empty list"},
		{"bad role", "x", []Row{SFT{Messages: []Message{{Role: "bot", Content: "?"}}}}, `role "bot"`},
		{"empty rejected", "x", []Row{Preference{Prompt: u, Chosen: a}}, "rejected: empty list"},
		{"rating without ratings", "x", []Row{Rating{Prompt: u, Completions: []RatedCompletion{{Response: "r"}}}}, "ratings: empty list"},
		{"critique without steps", "x", []Row{Critique{Prompt: u, Initial: "i"}}, "steps: empty list"},
		{"same config twice", "x", []Row{SFT{Messages: u}, SFT{Messages: u}}, "two sft rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Add(tt.unit, Provenance{}, tt.rows...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Add = %v, want %q", err, tt.want)
			}
		})
	}
	if n := r.Counts().Generated; n != 0 {
		t.Fatalf("invalid rows were counted: %d", n)
	}
}

// TestDuplicatesFirstWins: concurrent workers adding the same units, and a
// resumed run redoing them, leave one row per unit with the first content.
func TestDuplicatesFirstWins(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				if err := r.Add(unitID(i), Provenance{}, sftFixture(i)); err != nil {
					t.Errorf("worker %d: %v", w, err)
				}
			}
		}()
	}
	wg.Wait()
	ok(t, r.Close())
	r = mustOpen(t, dir, testManifest(), false)
	// A late duplicate with other content is ignored.
	ok(t, r.Add(unitID(3), Provenance{}, SFT{Messages: []Message{{Role: "user", Content: "changed"}}}))
	c := r.Counts()
	ok(t, r.Close())
	if c.Accepted != 40 || c.Generated != 40 || c.Rows[ConfigSFT] != 40 {
		t.Fatalf("counts = %+v, want 40 accepted", c)
	}
	res, err := Export(context.Background(), dir, ExportOptions{})
	ok(t, err)
	if res.Configs[0].Rows != 40 {
		t.Fatalf("exported %d rows, want 40", res.Configs[0].Rows)
	}
}

func TestRejectsStateAndCountsSurviveResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	addSFT(t, r, 0, 4)
	ok(t, r.Reject("r1", "too similar", Provenance{}))
	ok(t, r.Reject("r2", "too similar", Provenance{}))
	ok(t, r.Reject("r3", "unparseable", Provenance{}))
	ok(t, r.Reject("r3", "other", Provenance{})) // already done: ignored
	type archive struct{ Cells map[string]string }
	ok(t, r.SetState("archive", archive{Cells: map[string]string{"0,1": "u1"}}))
	ok(t, r.SetState("archive", archive{Cells: map[string]string{"0,1": "u2"}}))
	r.Note("server has no logprobs")
	ok(t, r.Finish())
	ok(t, r.Close())

	m, err := ReadManifest(dir)
	ok(t, err)
	if m.Finished.IsZero() || m.Counts.Generated != 7 || len(m.Notes) != 1 {
		t.Fatalf("run.json = %+v", m)
	}

	r = mustOpen(t, dir, testManifest(), false)
	defer r.Close()
	c := r.Counts()
	if c.Accepted != 4 || c.Generated != 7 || c.Rejected["too similar"] != 2 || c.Rejected["unparseable"] != 1 || c.Rejected["other"] != 0 {
		t.Fatalf("counts after resume = %+v", c)
	}
	if !r.Done("r3") {
		t.Fatal("rejected unit not done after resume")
	}
	var a archive
	found, err := r.State("archive", &a)
	ok(t, err)
	if !found || a.Cells["0,1"] != "u2" {
		t.Fatalf("state = %+v, %v; want the latest", a, found)
	}
	if found, _ := r.State("missing", &a); found {
		t.Fatal("missing state found")
	}
	if got := r.Manifest().Notes; len(got) != 1 || got[0] != "server has no logprobs" {
		t.Fatalf("notes lost on resume: %v", got)
	}
}

func TestProvenanceFilledFromManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	m := testManifest()
	m.Models = append(m.Models, ModelInfo{Name: "judge:1b", Role: "judge", Digest: "sha256:77"})
	r := mustOpen(t, dir, m, false)
	seed := int64(0)
	ok(t, r.Add("a", Provenance{}, sftFixture(1)))
	ok(t, r.Add("b", Provenance{Model: "judge:1b", Seed: &seed, Method: "evol-instruct", TemplateHash: "h"}, sftFixture(2)))
	ok(t, r.Close())
	var got []Provenance
	_, err := scanJournal(filepath.Join(dir, journalDir), scanStrict, func(_ linePos, _ header, line []byte) error {
		e, err := decodeEntry(line)
		got = append(got, e.Prov)
		return err
	})
	ok(t, err)
	a, b := got[0], got[1]
	if a.Method != "self-instruct" || a.Model != "tiny:latest" || a.ModelDigest != m.Models[0].Digest || *a.Seed != 7 || a.TemplateHash != m.TemplateHashes["self-instruct/generate"] {
		t.Fatalf("defaults not filled: %+v", a)
	}
	if b.Method != "evol-instruct" || b.ModelDigest != "sha256:77" || *b.Seed != 0 || b.TemplateHash != "h" {
		t.Fatalf("explicit values overridden: %+v", b)
	}
}

func TestVectors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	vec := func(i int) []float32 { return []float32{float32(i), -float32(i) / 3, 0.5} }
	for i := range 10 {
		ok(t, r.AddVector(unitID(i), vec(i)))
	}
	ok(t, r.AddVector(unitID(3), []float32{9, 9, 9})) // second vector ignored
	if err := r.AddVector("x", nil); err == nil {
		t.Fatal("empty vector accepted")
	}
	ok(t, r.Close())

	// Tear the tail: half a record.
	seg := filepath.Join(dir, vectorsDir, segmentName(1, vectorsExt))
	b, err := os.ReadFile(seg)
	ok(t, err)
	rec := encodeVector(unitID(10), vec(10))
	ok(t, os.WriteFile(seg, append(b, rec[:len(rec)-3]...), 0o644))

	r = mustOpen(t, dir, testManifest(), false)
	if st, _ := os.Stat(seg); st.Size() != int64(len(b)) {
		t.Fatalf("vector segment not truncated: %d bytes, want %d", st.Size(), len(b))
	}
	ok(t, r.AddVector(unitID(10), vec(10)))
	ok(t, r.AddVector(unitID(3), []float32{7})) // still ignored after resume
	got := map[string][]float32{}
	var order []string
	ok(t, r.Vectors(func(u string, v []float32) error {
		got[u] = append([]float32(nil), v...)
		order = append(order, u)
		return nil
	}))
	ok(t, r.Close())
	if len(got) != 11 {
		t.Fatalf("%d vectors, want 11", len(got))
	}
	for i := range 11 {
		want := vec(i)
		g := got[unitID(i)]
		if len(g) != len(want) || g[0] != want[0] || g[1] != want[1] || g[2] != want[2] {
			t.Fatalf("vector %d = %v, want %v", i, g, want)
		}
	}
	if order[0] != unitID(0) || order[10] != unitID(10) {
		t.Fatalf("order = %v", order)
	}
}

func TestReadRows(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := mustOpen(t, dir, testManifest(), false)
	ok(t, r.Reject("u0000001", "too similar", Provenance{}))
	addSFT(t, r, 0, 3) // unit 1 was rejected first: its row is ignored
	ok(t, r.Add("r", Provenance{}, ratingFixture(1), prefFixture(1)))
	ok(t, r.Add("c", Provenance{}, critiqueFixture(2)))
	var units []string
	var got []Row
	ok(t, r.Rows(func(unit string, rows []Row) error {
		units = append(units, unit)
		got = append(got, rows...)
		return nil
	}))
	ok(t, r.Close())
	if strings.Join(units, ",") != "u0000000,u0000002,r,c" || len(got) != 5 {
		t.Fatalf("units %v, %d rows", units, len(got))
	}
	if s, isSFT := got[1].(SFT); !isSFT || s.Messages[1].Content != sftFixture(2).Messages[1].Content {
		t.Fatalf("row 1 = %#v", got[1])
	}
	if _, isRating := got[2].(Rating); !isRating {
		t.Fatalf("row 2 = %T", got[2])
	}
	if p, isPref := got[3].(Preference); !isPref || *p.ScoreChosen != *prefFixture(1).ScoreChosen {
		t.Fatalf("row 3 = %#v", got[3])
	}
	if c, isCrit := got[4].(Critique); !isCrit || len(c.Steps) != 2 {
		t.Fatalf("row 4 = %#v", got[4])
	}
}

func TestRepairString(t *testing.T) {
	tests := []struct {
		r    Repair
		want string
	}{
		{Repair{File: filepath.Join("out", "run", journalDir, "00000003.jsonl"), Bytes: 4748},
			"dropped 4748 bytes of an unfinished record at the end of journal/00000003.jsonl"},
		{Repair{File: filepath.Join("run", journalDir, "00000001.jsonl"), Bytes: 1},
			"dropped 1 byte of an unfinished record at the end of journal/00000001.jsonl"},
		{Repair{}, "nothing to repair"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(tt.r); got != tt.want {
			t.Errorf("fmt.Sprint(%#v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}

// TestFileModes: a dataset folder is shared as is, so run.json, README.md
// and every shard are 0644 (os.CreateTemp alone would make the first two 0600).
func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	mixedRun(t, dir, []int{0, 1, 2, 3, 4, 5})
	res, err := Export(context.Background(), dir, ExportOptions{})
	ok(t, err)
	files := []string{manifestFile, "README.md"}
	for _, c := range res.Configs {
		files = append(files, c.Files...)
	}
	for _, f := range files {
		st, err := os.Stat(filepath.Join(dir, f))
		ok(t, err)
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s is %v, want -rw-r--r--", f, st.Mode().Perm())
		}
	}
}
