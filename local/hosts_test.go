package local

import (
	"reflect"
	"testing"
)

func TestParseHosts(t *testing.T) {
	tests := []struct {
		name    string
		list    string
		env     string
		want    []string
		wantErr bool
	}{
		{"default", "", "", []string{DefaultHost}, false},
		{"from env", "", "10.0.0.5:9000", []string{"http://10.0.0.5:9000"}, false},
		{"flag beats env", "gpu1", "10.0.0.5:9000", []string{"http://gpu1:11434"}, false},
		{"several, deduplicated", "gpu1:11434, http://gpu2:8080 ,gpu1", "", []string{"http://gpu1:11434", "http://gpu2:8080"}, false},
		{"port only", ":5000", "", []string{"http://127.0.0.1:5000"}, false},
		{"bind-all means loopback", "0.0.0.0:11434", "", []string{"http://127.0.0.1:11434"}, false},
		{"https keeps default port", "https://ollama.example.com", "", []string{"https://ollama.example.com"}, false},
		{"bad scheme", "ftp://x", "", nil, true},
		{"only commas", ",,", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OLLAMA_HOST", tt.env)
			got, err := ParseHosts(tt.list)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseHosts(%q) error = %v, wantErr %v", tt.list, err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseHosts(%q) = %v, want %v", tt.list, got, tt.want)
			}
		})
	}
}

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"qwen2.5":               "qwen2.5:latest",
		"qwen2.5:0.5b":          "qwen2.5:0.5b",
		"hf.co/user/model":      "hf.co/user/model:latest",
		"localhost:5000/m":      "localhost:5000/m:latest",
		"localhost:5000/m:v1.2": "localhost:5000/m:v1.2",
	} {
		if got := CanonicalName(in); got != want {
			t.Errorf("CanonicalName(%q) = %q, want %q", in, got, want)
		}
	}
}
