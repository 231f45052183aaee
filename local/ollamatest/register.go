package ollamatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ollama/ollama/api"
)

// Names of the fixture models that [Host] and [StartServer] register. They
// differ only in their seed, so tests that need several models (judges,
// preference pairs) get two that answer differently.
const (
	TinyModel  = "synthkit-tiny:latest"
	TinyModelB = "synthkit-tiny-b:latest"

	// TinySeed and TinySeedB are the seeds of TinyModel and TinyModelB.
	TinySeed  int64 = 1
	TinySeedB int64 = 2
)

// ChatTemplate is the chatml template registered with the fixture models,
// in the Go template syntax Ollama uses.
const ChatTemplate = "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}" +
	"{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}" +
	"<|im_start|>assistant\n"

// StopSequence is the stop parameter registered with the fixture models.
const StopSequence = "<|im_end|>"

// RegisterModel makes the fixture model with the given seed available on the
// server behind c under name: it uploads the GGUF blob and creates the model
// with [ChatTemplate] and the [StopSequence] stop parameter.
//
// It is idempotent: if name already refers to the same file and template it
// does nothing. Several goroutines or processes on this machine may register
// the same name at once; they take turns through a lock file so a model in
// use is never rewritten under a running test.
func RegisterModel(ctx context.Context, c *api.Client, name string, seed int64) error {
	data, err := fixtureGGUF(seed, defaultFixture)
	if err != nil {
		return fmt.Errorf("couldn't build fixture %q: %w", name, err)
	}
	return registerGGUF(ctx, c, name, data)
}

func registerGGUF(ctx context.Context, c *api.Client, name string, data []byte) error {
	return registerGGUFParams(ctx, c, name, data, fixtureParameters())
}

func registerGGUFParams(ctx context.Context, c *api.Client, name string, data []byte, params map[string]any) error {
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(data))

	unlock, err := lockName(ctx, name)
	if err != nil {
		return fmt.Errorf("couldn't lock registration of %q: %w", name, err)
	}
	defer unlock()

	if ok, err := isRegistered(ctx, c, name, digest); err != nil {
		return err
	} else if ok {
		return nil
	}

	if err := c.CreateBlob(ctx, digest, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("couldn't upload fixture blob for %q: %w", name, err)
	}
	stream := false
	req := &api.CreateRequest{
		Model:      name,
		Stream:     &stream,
		Files:      map[string]string{"model.gguf": digest},
		Template:   ChatTemplate,
		Parameters: params,
	}
	if err := c.Create(ctx, req, func(api.ProgressResponse) error { return nil }); err != nil {
		return fmt.Errorf("couldn't create model %q: %w", name, err)
	}
	return nil
}

// fixtureParameters are the model parameters registered with the fixtures.
//
// num_thread 1: the model is so small that one thread decodes thousands of
// tokens per second, while two ggml threads on a two-core machine spin-wait
// on each other as soon as anything else runs (a second runner, go vet, the
// test binaries) and drop to a few tokens per second.
func fixtureParameters() map[string]any {
	return map[string]any{
		"stop":       []string{StopSequence},
		"num_thread": 1,
	}
}

// isRegistered reports whether name exists on the server with the model blob
// digest and the fixture's template.
func isRegistered(ctx context.Context, c *api.Client, name, digest string) (bool, error) {
	show, err := c.Show(ctx, &api.ShowRequest{Model: name})
	if err != nil {
		var se api.StatusError
		if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
			return false, nil
		}
		return false, fmt.Errorf("couldn't show model %q: %w", name, err)
	}
	// The modelfile names the model blob by path: …/blobs/sha256-<hex>.
	blob := strings.Replace(digest, ":", "-", 1)
	return strings.Contains(show.Modelfile, blob) && show.Template == ChatTemplate, nil
}
