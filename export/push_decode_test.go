package export

import (
	"encoding/json"
	"testing"
)

// TestHubLenientDecode: sizes and header values decode whether the Hub
// sends them as numbers or as strings; anything else is an error.
func TestHubLenientDecode(t *testing.T) {
	for in, want := range map[string]int64{`123`: 123, `"123"`: 123, `1.2e3`: 1200, `null`: 0, `"0"`: 0} {
		var n flexInt
		if err := json.Unmarshal([]byte(in), &n); err != nil || int64(n) != want {
			t.Errorf("flexInt %s = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, in := range []string{`"12x"`, `1.5`, `true`, `{}`} {
		var n flexInt
		if err := json.Unmarshal([]byte(in), &n); err == nil {
			t.Errorf("flexInt %s = %d, want an error", in, n)
		}
	}
	var h flexHeader
	in := `{"chunk_size": 5242880, "00001": "https://s/1", "X-Lfs-Verify": 1, "big": 1e21, "flag": true, "none": null}`
	if err := json.Unmarshal([]byte(in), &h); err != nil {
		t.Fatal(err)
	}
	got := h.strings()
	want := map[string]string{"chunk_size": "5242880", "00001": "https://s/1", "X-Lfs-Verify": "1", "big": "1e21", "flag": "true", "none": ""}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
	if err := json.Unmarshal([]byte(`{"a": {"b": 1}}`), &h); err == nil {
		t.Error("an object as a header value decoded without error")
	}
}
