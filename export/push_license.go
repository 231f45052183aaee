package export

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// hubLicenses are the license ids the Hub accepts in a card's `license:`
// field; with any other id the commit of README.md is refused (400).
//
// Source: the `License` type of huggingface/huggingface.js
// packages/hub/src/types/public.ts (commit 08956cd), which mirrors the
// table in huggingface/hub-docs docs/hub/repositories-licenses.md, plus
// llama4, which that table lists at hub-docs 242f4a1 (see
// shared/reference/hub-and-libraries.md, A2). Keep the order of the source
// so the lists are easy to compare.
var hubLicenses = []string{
	"apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m",
	"bigscience-bloom-rail-1.0", "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0",
	"bsd", "bsd-2-clause", "bsd-3-clause", "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0",
	"cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0",
	"cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0",
	"cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
	"cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0",
	"epl-1.0", "epl-2.0", "etalab-2.0", "eupl-1.1", "agpl-3.0", "gfdl", "gpl", "gpl-2.0",
	"gpl-3.0", "lgpl", "lgpl-2.1", "lgpl-3.0", "isc", "lppl-1.3c", "ms-pl", "mpl-2.0", "odc-by",
	"odbl", "openrail++", "osl-3.0", "postgresql", "ofl-1.1", "ncsa", "unlicense", "zlib", "pddl",
	"lgpl-lr", "deepfloyd-if-license", "llama2", "llama3", "llama3.1", "llama3.2", "llama3.3",
	"llama4", "gemma", "apple-ascl", "apple-amlr", "unknown", "other",
}

const hubLicensesDoc = "https://huggingface.co/docs/hub/repositories-licenses"

// CheckLicense reports whether id is a license id the Hub accepts in a
// dataset card. The error names the closest ids and what to do instead.
func CheckLicense(id string) error {
	if slices.Contains(hubLicenses, id) {
		return nil
	}
	msg := fmt.Sprintf("license %q is not one the Hub accepts", id)
	if near := closeLicenses(id); len(near) > 0 {
		msg += "; did you mean " + strings.Join(near, ", ") + "?"
	}
	msg += fmt.Sprintf(" (the list: %s; for a license it does not list, use %q)", hubLicensesDoc, "other")
	return fmt.Errorf("%s", msg)
}

// closeLicenses returns up to five Hub ids near id: the same once case and
// punctuation are ignored, one starting with the other, or a few edits away.
func closeLicenses(id string) []string {
	norm := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				return r
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			}
			return -1
		}, s)
	}
	n := norm(id)
	if n == "" {
		return nil
	}
	type cand struct {
		id   string
		dist int
	}
	var out []cand
	for _, l := range hubLicenses {
		ln := norm(l)
		d := editDistance(n, ln)
		switch {
		case ln == n:
			d = 0
		case strings.HasPrefix(ln, n) || strings.HasPrefix(n, ln):
			d = min(d, 1+abs(len(ln)-len(n))/2)
		case d > max(2, len(n)/4):
			continue
		}
		out = append(out, cand{l, d})
	}
	slices.SortStableFunc(out, func(a, b cand) int { return cmp.Compare(a.dist, b.dist) })
	var ids []string
	for _, c := range out[:min(5, len(out))] {
		ids = append(ids, c.id)
	}
	return ids
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the Levenshtein distance between two short ASCII strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// cardLicense reads the `license:` field of the card's YAML front matter;
// ok is false when the card has none (the Hub does not require one).
func cardLicense(dir string) (license string, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		return "", false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for i := 0; sc.Scan(); i++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if i == 0 {
			if line != "---" {
				return "", false, nil // no front matter
			}
			continue
		}
		if line == "---" {
			break
		}
		v, found := strings.CutPrefix(line, "license:")
		if !found {
			continue
		}
		v = strings.TrimSpace(v)
		if c := strings.Index(v, " #"); c >= 0 {
			v = strings.TrimSpace(v[:c])
		}
		switch {
		case strings.HasPrefix(v, `"`):
			if err := json.Unmarshal([]byte(v), &v); err != nil {
				return "", false, fmt.Errorf("README.md: cannot read the license %s: %w", v, err)
			}
		case strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") && len(v) >= 2:
			v = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
		case v == "":
			return "", false, nil // a list or a block: left to the Hub
		}
		return v, true, nil
	}
	return "", false, sc.Err()
}

// checkCardLicense refuses, before anything is uploaded, a card whose
// license the Hub would refuse at the very end.
func checkCardLicense(dir string) error {
	id, ok, err := cardLicense(dir)
	if err != nil || !ok {
		return err
	}
	if err := CheckLicense(id); err != nil {
		return fmt.Errorf("README.md: %w (the Hub would refuse the commit); export again with `synthkit export %s --license ID`", err, dir)
	}
	return nil
}
