package local

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Features is what a server can do beyond the basics, judged from its
// version. A method that wants a missing feature degrades (for example
// k-sample votes instead of logprobs) and notes it in the run's provenance.
type Features struct {
	Version string `json:"version"`
	// StructuredOutput: a JSON schema in "format" (0.5.0).
	StructuredOutput bool `json:"structured_output"`
	// EmbedAPI: batched /api/embed (0.3.4).
	EmbedAPI bool `json:"embed_api"`
	// Thinking: the "think" request field (0.9.0).
	Thinking bool `json:"thinking"`
	// Logprobs: token log-probabilities in chat and generate (0.12.11).
	Logprobs bool `json:"logprobs"`
	// VersionUnknown: the server did not give a usable version and the
	// features above are those of the baseline.
	VersionUnknown bool `json:"version_unknown,omitempty"`
}

// featureSince maps each feature to the first server version with it.
var featureSince = []struct {
	name    string
	version [3]int
	set     func(*Features)
}{
	{"structured output", [3]int{0, 5, 0}, func(f *Features) { f.StructuredOutput = true }},
	{"embed API", [3]int{0, 3, 4}, func(f *Features) { f.EmbedAPI = true }},
	{"thinking", [3]int{0, 9, 0}, func(f *Features) { f.Thinking = true }},
	{"logprobs", [3]int{0, 12, 11}, func(f *Features) { f.Logprobs = true }},
}

// baselineVersion is the oldest server synthkit supports (the API client
// it is built with). A server that does not say its version (a source build
// reports 0.0.0) is assumed to be this one, so no feature is claimed that
// it might lack; methods that want more probe for it.
const baselineVersion = "0.6.5"

// FeaturesFor judges features from a version string such as "0.6.5".
func FeaturesFor(version string) Features {
	f := Features{Version: version}
	v, ok := parseVersion(version)
	if !ok || v == [3]int{} {
		v, _ = parseVersion(baselineVersion)
		f.VersionUnknown = true
	}
	for _, fs := range featureSince {
		if !versionLess(v, fs.version) {
			fs.set(&f)
		}
	}
	return f
}

// Missing lists the features this server lacks, for notes in provenance.
func (f Features) Missing() []string {
	var out []string
	v, ok := parseVersion(f.Version)
	if !ok || f.VersionUnknown {
		v, _ = parseVersion(baselineVersion)
	}
	for _, fs := range featureSince {
		if versionLess(v, fs.version) {
			out = append(out, fmt.Sprintf("%s (needs Ollama ≥ %d.%d.%d)", fs.name, fs.version[0], fs.version[1], fs.version[2]))
		}
	}
	return out
}

func parseVersion(s string) ([3]int, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+ "); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	var v [3]int
	if len(parts) < 2 {
		return v, false
	}
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func versionLess(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// ServerFeatures asks every host for its version and returns the features
// all of them share (the weakest server decides).
func (c *Client) ServerFeatures(ctx context.Context) (Features, error) {
	var common Features
	for i, h := range c.hosts {
		v, err := c.versionOf(ctx, h)
		if err != nil {
			return Features{}, err
		}
		f := FeaturesFor(v)
		if i == 0 {
			common = f
			continue
		}
		common.StructuredOutput = common.StructuredOutput && f.StructuredOutput
		common.EmbedAPI = common.EmbedAPI && f.EmbedAPI
		common.Thinking = common.Thinking && f.Thinking
		common.Logprobs = common.Logprobs && f.Logprobs
		common.VersionUnknown = common.VersionUnknown || f.VersionUnknown
		if pv, ok := parseVersion(v); ok {
			if cv, ok := parseVersion(common.Version); !ok || versionLess(pv, cv) {
				common.Version = v
			}
		}
	}
	return common, nil
}

func (c *Client) versionOf(ctx context.Context, h *hostState) (string, error) {
	h.versionMu.Lock()
	defer h.versionMu.Unlock()
	if h.version != "" {
		return h.version, nil
	}
	v, err := h.api.Version(ctx)
	if err != nil {
		return "", hostErr(h, err)
	}
	h.version = v
	return v, nil
}
