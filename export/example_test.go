package export_test

import (
	"context"
	"fmt"
	"log"

	"synthkit/export"
)

// A generating command: open (or resume) the run, skip done units, add
// each finished unit, then export.
func Example() {
	m := export.Manifest{Version: "v0.1.0", Method: "self-instruct", Seed: 42,
		Models: []export.ModelInfo{{Name: "qwen2.5:0.5b", Digest: "sha256:…"}}}
	run, err := export.OpenRun("out/my-run", m, false) // true for --fresh
	if err != nil {
		log.Fatal(err) // e.g. errors.Is(err, export.ErrIncompatible)
	}
	for i := range 100 {
		id := fmt.Sprintf("si-%06d", i) // zero-padded: rows are sorted by id
		if run.Done(id) {
			continue
		}
		msgs := []export.Message{{Role: "user", Content: "…"}, {Role: "assistant", Content: "…"}}
		if err := run.Add(id, export.Provenance{TemplateHash: "sha256:…"}, export.SFT{Messages: msgs}); err != nil {
			log.Fatal(err) // durable on return; a full disk stops the run here
		}
	}
	run.Finish()
	run.Close()
	if _, err := export.Export(context.Background(), "out/my-run", export.ExportOptions{}); err != nil {
		log.Fatal(err)
	}
}
