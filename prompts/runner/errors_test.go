package runner

import (
	"errors"
	"strings"
	"testing"
)

func TestModelUnavailableMessage(t *testing.T) {
	dns := errors.New(`pull model manifest: Get "https://registry.ollama.ai/v2/library/qwen2.5/manifests/0.5b": dial tcp: lookup registry.ollama.ai on 10.0.0.53:53: no such host`)
	tests := []struct {
		name     string
		err      error
		have     []string
		want     []string
		wantNot  []string
		wantOffl bool
	}{
		{"offline with models", dns, []string{"tiny:latest"}, []string{"cannot reach the model registry (offline?)", "the run needs qwen2.5:0.5b", "use one this server has: tiny:latest", "no such host"}, nil, true},
		{"offline no models", dns, nil, []string{"offline?", "this server has no models yet"}, nil, true},
		{"unknown model", errors.New("pull model manifest: file does not exist"), []string{"a"}, []string{"file does not exist", "use one this server has: a"}, []string{"offline"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Offline(tt.err); got != tt.wantOffl {
				t.Errorf("Offline = %v, want %v", got, tt.wantOffl)
			}
			msg := (&ModelUnavailableError{Models: []string{"qwen2.5:0.5b"}, Have: tt.have, Err: tt.err}).Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(msg, w) {
					t.Errorf("message has %q:\n%s", w, msg)
				}
			}
		})
	}
}
