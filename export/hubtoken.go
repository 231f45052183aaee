package export

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// errNoToken is returned when no Hugging Face token can be found.
var errNoToken = errors.New("no Hugging Face token: set HF_TOKEN or log in with `hf auth login` (the token file is $HF_HOME/token, default ~/.cache/huggingface/token)")

// hubToken finds the token the way huggingface_hub does: HF_TOKEN, then
// the file HF_TOKEN_PATH, then $HF_HOME/token (HF_HOME defaults to
// $XDG_CACHE_HOME/huggingface, then ~/.cache/huggingface). The token is
// never printed, logged or written anywhere by synthkit.
func hubToken() (string, error) {
	if t := strings.TrimSpace(os.Getenv("HF_TOKEN")); t != "" {
		return t, nil
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path == "" {
		home := os.Getenv("HF_HOME")
		if home == "" {
			cache := os.Getenv("XDG_CACHE_HOME")
			if cache == "" {
				h, err := os.UserHomeDir()
				if err != nil {
					return "", errNoToken
				}
				cache = filepath.Join(h, ".cache")
			}
			home = filepath.Join(cache, "huggingface")
		}
		path = filepath.Join(home, "token")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", errNoToken
	}
	if err != nil {
		// The path is safe to show; the content never is.
		return "", fmt.Errorf("read Hugging Face token file %s: %w", path, err)
	}
	if t := strings.TrimSpace(string(b)); t != "" {
		return t, nil
	}
	return "", errNoToken
}

// hubEndpoint is HF_ENDPOINT or the public Hub.
func hubEndpoint() string {
	if e := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/"); e != "" {
		return e
	}
	return defaultHubEndpoint
}

const defaultHubEndpoint = "https://huggingface.co"
