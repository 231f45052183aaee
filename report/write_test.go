package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	stdhtml "html"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"synthkit/export"
)

func TestBuildRefusesBadInput(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	noManifest := filepath.Join(tmp, "plain")
	os.Mkdir(noManifest, 0o755)
	os.WriteFile(filepath.Join(noManifest, "data.txt"), []byte("x"), 0o644)
	onlyRejects := fixtureRun{method: "magpie", rejects: map[string]int{"empty_query": 3}}.build(t)
	tests := []struct {
		name, dir string
		notRun    bool
		empty     bool
		msg       string
	}{
		{"missing", filepath.Join(tmp, "nope"), true, false, "does not exist"},
		{"a file", file, true, false, "is a file"},
		{"no run.json", noManifest, true, false, "no run.json"},
		{"nothing accepted", onlyRejects, false, true, "0 accepted, 3 rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(context.Background(), tt.dir, Options{})
			var nr *NotRunError
			if err == nil || errors.As(err, &nr) != tt.notRun || IsEmpty(err) != tt.empty || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Build(%s) = %v; want not-a-run %v, empty %v, message with %q", tt.dir, err, tt.notRun, tt.empty, tt.msg)
			}
		})
	}
	if _, err := Build(context.Background(), onlyRejects, Options{On: "title"}); err == nil || !strings.Contains(err.Error(), "--on") {
		t.Fatalf("--on title: %v", err)
	}
}

var imgSrc = regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`)

func TestWriteSelfContainedPage(t *testing.T) {
	meta := func(i int) map[string]any {
		doms := []string{"science", "arts", "code", "daily life"}
		difs := []string{"easy", "medium", "hard"}
		return qdMeta(doms[i%4], difs[(i/4)%3], float64(i%10)/10, i)
	}
	dir := fixtureRun{method: "self-instruct", texts: randomTexts(8, 60), meta: meta,
		rejects: map[string]int{"too_similar": 4, "invalid_output": 1}, state: map[string]any{StateQDAxes: qdAxes}}.build(t)
	r := build(t, dir, Options{})
	path, err := r.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing to fetch: no script, no stylesheet link, no remote URL.
	for _, bad := range []string{"<script", "<link", "http://", "https://"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Fatalf("report.html contains %q: not self-contained", bad)
		}
	}
	imgs := imgSrc.FindAllSubmatch(html, -1)
	want := []string{"nearest", "pca", "qd_heatmap", "qd_progress", "rejects", "rouge"}
	if len(imgs) != len(want) {
		t.Fatalf("%d embedded images, want %d", len(imgs), len(want))
	}
	for _, m := range imgs {
		b, err := base64.StdEncoding.DecodeString(stdhtml.UnescapeString(string(m[1])))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() < 200 {
			t.Fatalf("embedded PNG: %v, %v", err, img.Bounds())
		}
	}
	for _, name := range want {
		if _, err := os.Stat(filepath.Join(dir, PlotDir, name+".png")); err != nil {
			t.Fatalf("plot file: %v", err)
		}
	}
	for _, s := range []string{"Vendi score", "QD coverage", "too_similar", "daily life"} {
		if !bytes.Contains(html, []byte(s)) {
			t.Fatalf("report.html lacks %q", s)
		}
	}

	// A rerun that draws fewer plots removes the stale files.
	r.QD, r.Rouge, r.Rejects = nil, nil, nil
	if _, err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, PlotDir, "*.png"))
	if len(left) != 2 {
		t.Fatalf("after a smaller report: %v", left)
	}
	// The page's text is escaped: a record cannot inject markup.
	if bytes.Contains(html, []byte("<b>x")) {
		t.Fatal("unescaped text")
	}
	_ = export.CardTable{}
}
