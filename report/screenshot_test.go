package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromium finds the headless browser: SYNTHKIT_CHROMIUM_BIN (set by
// scripts/test.sh from scripts/ensure-chromium.sh), else chromium on PATH.
// Without one the test skips, unless SYNTHKIT_REQUIRE_CHROMIUM is set (CI).
func chromium(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("SYNTHKIT_CHROMIUM_BIN"); bin != "" {
		return bin
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if bin, err := exec.LookPath(name); err == nil {
			return bin
		}
	}
	if os.Getenv("SYNTHKIT_REQUIRE_CHROMIUM") != "" {
		t.Fatal("SYNTHKIT_REQUIRE_CHROMIUM is set but no Chromium was found: run scripts/ensure-chromium.sh (scripts/test.sh does) or set SYNTHKIT_CHROMIUM_BIN")
	}
	t.Skip("no Chromium: run the tests through scripts/test.sh, which installs it with scripts/ensure-chromium.sh (set SYNTHKIT_REQUIRE_CHROMIUM to make this a failure)")
	return ""
}

// screenshot renders a local page in headless Chromium and decodes the PNG.
func screenshot(t *testing.T, bin, page string) image.Image {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "shot.png")
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-first-run", "--disable-extensions", "--user-data-dir="+t.TempDir(),
		"--window-size=1200,1600", "--screenshot="+out, "file://"+page)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, logs.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v\n%s", err, logs.String())
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}

// inkStats counts the distinct colours (4 bits per channel) and the share
// of pixels that are not near white.
func inkStats(img image.Image) (colours int, ink float64) {
	seen := map[uint16]bool{}
	b := img.Bounds()
	var dark int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[uint16(r>>12)<<8|uint16(g>>12)<<4|uint16(bl>>12)] = true
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				dark++
			}
		}
	}
	return len(seen), float64(dark) / float64(b.Dx()*b.Dy())
}

func notBlank(colours int, ink float64) bool { return colours >= 16 && ink >= 0.05 }

func TestReportScreenshotIsNotBlank(t *testing.T) {
	bin := chromium(t)
	meta := func(i int) map[string]any {
		doms := []string{"science", "arts", "code", "daily life"}
		difs := []string{"easy", "medium", "hard"}
		return qdMeta(doms[(i*7)%4], difs[(i/3)%3], float64((i*37)%100)/100, i)
	}
	dir := fixtureRun{method: "self-instruct", texts: randomTexts(9, 200), meta: meta,
		rejects: map[string]int{"too_similar": 9}, state: map[string]any{StateQDAxes: qdAxes}}.build(t)
	path, err := build(t, dir, Options{}).Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	colours, ink := inkStats(screenshot(t, bin, abs))
	t.Logf("report.html screenshot: %d colours, %.1f%% ink", colours, 100*ink)
	if !notBlank(colours, ink) {
		t.Fatalf("report.html renders blank: %d colours, %.1f%% of pixels not white", colours, 100*ink)
	}

	// The check itself: an empty page must fail it.
	empty := filepath.Join(t.TempDir(), "empty.html")
	os.WriteFile(empty, []byte("<!DOCTYPE html><html><body></body></html>"), 0o644)
	if c, i := inkStats(screenshot(t, bin, empty)); notBlank(c, i) {
		t.Fatalf("an empty page passes the blank check: %d colours, %.1f%% ink", c, 100*i)
	}
}
