package local

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// ModelInfo is what synthkit records about a model for provenance.
type ModelInfo struct {
	Name          string   `json:"name"`
	Digest        string   `json:"digest"`
	Family        string   `json:"family,omitempty"`
	ParameterSize string   `json:"parameter_size,omitempty"`
	Quantization  string   `json:"quantization,omitempty"`
	ContextLength int      `json:"context_length,omitempty"`
	Size          int64    `json:"size,omitempty"`
	Capabilities  []string `json:"capabilities,omitempty"`
	// Template is the model's prompt template (Magpie needs it); not
	// written to provenance, its hash is.
	Template string `json:"-"`
	// System is the Modelfile's SYSTEM prompt, which /api/chat silently
	// prepends when a request has no system message of its own.
	System string `json:"-"`
	// Backend is "openai" for a model behind an OpenAI-compatible server,
	// whose Digest is then its identity as the server reports it (see
	// [NewOpenAIClient]); empty for Ollama.
	Backend string `json:"backend,omitempty"`
	// BaseURL is the OpenAI-compatible server that serves the model.
	BaseURL string `json:"base_url,omitempty"`
}

// CanonicalName adds the ":latest" tag Ollama assumes for a bare name.
func CanonicalName(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return name
	}
	last := name[strings.LastIndex(name, "/")+1:]
	if !strings.Contains(last, ":") {
		return name + ":latest"
	}
	return name
}

// ListModels lists the models on the first host, sorted by name.
func (c *Client) ListModels(ctx context.Context) ([]ModelInfo, error) {
	return c.listOn(ctx, c.hosts[0])
}

func (c *Client) listOn(ctx context.Context, h *hostState) ([]ModelInfo, error) {
	if h.oai != nil {
		return c.listOpenAI(ctx, h)
	}
	r, err := retryMeta(ctx, func() (*api.ListResponse, error) { return h.api.List(ctx) })
	if err != nil {
		return nil, hostErr(h, err)
	}
	out := make([]ModelInfo, 0, len(r.Models))
	for _, m := range r.Models {
		out = append(out, ModelInfo{Name: m.Name, Digest: m.Digest, Family: m.Details.Family,
			ParameterSize: m.Details.ParameterSize, Quantization: m.Details.QuantizationLevel, Size: m.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// retryMeta retries a metadata request (list, show) twice on a transport
// failure: a keep-alive connection dropped under it must not end a run
// before it starts. Status errors are answers and return at once.
func retryMeta[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	var out T
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if out, err = fn(); err == nil {
			return out, nil
		}
		if _, transient := classify(err, "", ""); !transient || isStatus(err) || ctx.Err() != nil {
			return out, err
		}
		if serr := sleepCtx(ctx, time.Duration(100<<attempt)*time.Millisecond); serr != nil {
			return out, err
		}
	}
	return out, err
}

// hostErr turns "nothing listens there" into a [NoServerError].
func hostErr(h *hostState, err error) error {
	if _, transient := classify(err, "", h.url); transient && !isStatus(err) {
		return &NoServerError{Host: h.url, Err: err}
	}
	return fmt.Errorf("ollama at %s: %w", h.url, err)
}

func isStatus(err error) bool {
	var se api.StatusError
	return errors.As(err, &se)
}

// Inspect returns a model's provenance details. Every host must hold the
// same digest: a dataset is tied to one exact model version.
func (c *Client) Inspect(ctx context.Context, name string) (ModelInfo, error) {
	if !c.isOpenAI() {
		name = CanonicalName(name)
	}
	var info ModelInfo
	for i, h := range c.hosts {
		got, err := c.inspectOn(ctx, h, name)
		if err != nil {
			return ModelInfo{}, err
		}
		if i == 0 {
			info = got
			continue
		}
		if got.Digest != info.Digest {
			return ModelInfo{}, fmt.Errorf("model %s differs between hosts: %s has digest %s, %s has %s; pull the same version everywhere",
				name, c.hosts[0].url, shortDigest(info.Digest), h.url, shortDigest(got.Digest))
		}
	}
	return info, nil
}

func (c *Client) inspectOn(ctx context.Context, h *hostState, name string) (ModelInfo, error) {
	if h.oai != nil {
		return c.inspectOpenAI(ctx, h, name)
	}
	models, err := c.listOn(ctx, h)
	if err != nil {
		return ModelInfo{}, err
	}
	var info ModelInfo
	found := false
	for _, m := range models {
		if m.Name == name {
			info, found = m, true
			break
		}
	}
	if !found {
		return ModelInfo{}, &ModelMissingError{Model: name, Host: h.url}
	}
	show, err := retryMeta(ctx, func() (*api.ShowResponse, error) { return h.api.Show(ctx, &api.ShowRequest{Model: name}) })
	if err != nil {
		return ModelInfo{}, fmt.Errorf("show %s on %s: %w", name, h.url, err)
	}
	info.Template = show.Template
	info.System = show.System
	for _, cp := range show.Capabilities {
		info.Capabilities = append(info.Capabilities, string(cp))
	}
	if arch, ok := show.ModelInfo["general.architecture"].(string); ok {
		if n, ok := show.ModelInfo[arch+".context_length"].(float64); ok {
			info.ContextLength = int(n)
		}
	}
	if info.Family == "" {
		info.Family = show.Details.Family
	}
	return info, nil
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// PullProgress is one progress report of [Client.Pull].
type PullProgress struct {
	Host      string
	Status    string
	Digest    string
	Total     int64
	Completed int64
}

// Pull pulls a model onto every host, reporting progress to fn (may be nil).
// The OpenAI-compatible backend never pulls: it returns [ErrNoPull].
func (c *Client) Pull(ctx context.Context, name string, fn func(PullProgress)) error {
	if c.isOpenAI() {
		return fmt.Errorf("pull %s: %w", name, ErrNoPull)
	}
	name = CanonicalName(name)
	for _, h := range c.hosts {
		err := h.api.Pull(ctx, &api.PullRequest{Model: name}, func(p api.ProgressResponse) error {
			if fn != nil {
				fn(PullProgress{Host: h.url, Status: p.Status, Digest: p.Digest, Total: p.Total, Completed: p.Completed})
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !isStatus(err) {
				// The request to our own server failed, not the server's pull.
				return fmt.Errorf("pull %s: %w", name, hostErr(h, err))
			}
			msg := strings.ToLower(err.Error())
			if strings.Contains(msg, "no such host") || strings.Contains(msg, "dial tcp") || strings.Contains(msg, "i/o timeout") {
				return fmt.Errorf("pull %s: the Ollama server at %s cannot reach the model registry (offline?): %s", name, h.url, firstLine(err.Error()))
			}
			if strings.Contains(msg, "file does not exist") || strings.Contains(msg, "not found") ||
				strings.Contains(msg, "manifest unknown") || strings.Contains(msg, "invalid model name") {
				return &UnknownModelError{Model: name, Msg: firstLine(err.Error())}
			}
			return fmt.Errorf("pull %s: %w", name, hostErr(h, err))
		}
	}
	return nil
}

// EnsureModels makes sure every named model is on every host, pulling the
// missing ones when pull is true, and returns their provenance details in
// the order given.
func (c *Client) EnsureModels(ctx context.Context, names []string, pull bool, progress func(PullProgress)) ([]ModelInfo, error) {
	out := make([]ModelInfo, 0, len(names))
	for _, n := range names {
		info, err := c.Inspect(ctx, n)
		var missing *ModelMissingError
		if c.isOpenAI() {
			if err != nil {
				return nil, err // never pulled; the error says so
			}
			// The identity of the model as served, with the fingerprint
			// its replies carry, for provenance.
			if fp := c.fingerprint(ctx, info.Name); fp != "" {
				info = openAIModelInfo(info.BaseURL, info.Name, info.Family, fp)
			}
			out = append(out, info)
			continue
		}
		if errors.As(err, &missing) && pull {
			if err := c.Pull(ctx, n, progress); err != nil {
				return nil, err
			}
			info, err = c.Inspect(ctx, n)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}
