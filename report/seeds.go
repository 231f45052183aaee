package report

import (
	"fmt"
	"strings"

	"synthkit/export"
	"synthkit/prompts"
)

// seedTexts finds the seed tasks ROUGE-L compares records with: the file
// the user names, else for a Self-Instruct run the seeds it ran with (its
// --seeds file, or the built-in ones), checked against the hash run.json
// recorded so a changed file is never used silently. source says where
// they came from; note says why there are none.
func seedTexts(m *export.Manifest, file string) (seeds []string, source, note string, err error) {
	if file != "" {
		tasks, err := prompts.LoadSeeds(file)
		if err != nil {
			return nil, "", "", err
		}
		return instructions(tasks), file, "", nil
	}
	if m.Method != "self-instruct" {
		return nil, "", "", nil
	}
	want := m.TemplateHashes["seed tasks"]
	if path := flagValue(m.Command, "--seeds"); path != "" {
		tasks, err := prompts.LoadSeeds(path)
		switch {
		case err != nil:
			note = fmt.Sprintf("the run's seed file %s could not be read (%v): pass --seeds FILE", path, err)
		case want != "" && seedHash(tasks) != want:
			note = fmt.Sprintf("the run's seed file %s changed since the run: pass --seeds FILE", path)
		default:
			return instructions(tasks), path, "", nil
		}
		return nil, "", note, nil
	}
	tasks := prompts.DefaultSeeds()
	if want != "" && seedHash(tasks) != want {
		return nil, "", "the run's seed tasks are not the built-in ones of this synthkit: pass --seeds FILE", nil
	}
	return instructions(tasks), "built-in seed tasks", "", nil
}

// seedHash hashes seed tasks as Self-Instruct records them in run.json.
func seedHash(tasks []prompts.SeedTask) string {
	var b strings.Builder
	for _, t := range tasks {
		b.WriteString(t.Instruction)
		b.WriteByte(0)
	}
	return prompts.TextHash(b.String())
}

func instructions(tasks []prompts.SeedTask) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.Instruction
	}
	return out
}

// flagValue finds a flag's value in a recorded command line ("--seeds f"
// or "--seeds=f"); the last one wins, as with pflag.
func flagValue(args []string, name string) string {
	v := ""
	for i, a := range args {
		switch {
		case a == name && i+1 < len(args):
			v = args[i+1]
		case strings.HasPrefix(a, name+"="):
			v = a[len(name)+1:]
		}
	}
	return v
}
