package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/pflag"

	"synthkit/prompts"
	"synthkit/prompts/yamlfile"
	"synthkit/recipe"
)

// stageKeysRefused are flags a stage may not set, with the reason.
var stageKeysRefused = map[string]string{
	"out":                "each stage writes to <out>/<stage name>; set the recipe's out: (or `synthkit run --out`)",
	"fresh":              "give --fresh to `synthkit run` to start every stage over",
	"no-export":          "a recipe exports every stage: the combined card points at their Parquet files",
	"print-constitution": "a stage generates data; run `synthkit critique --print-constitution` yourself",
	"lint":               "a stage generates data; run `synthkit critique --lint FILE` yourself",
}

// modelKeys are the flags that name models, for the model check.
var modelKeys = []string{"model", "models", "judge", "chosen-model", "rejected-model", "embed-model"}

// builtStage is a stage turned into its command: the flags set from the
// recipe, and (once built) the method the command made of them.
type builtStage struct {
	st     *recipe.Stage
	fs     *pflag.FlagSet
	run    runFunc
	method prompts.Method
	gen    *genOptions
}

// flag returns a flag's value as the command sees it ("" if it has none).
func (b *builtStage) flag(name string) string {
	if f := b.fs.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// models lists the models the stage names, in order, without repeats.
func (b *builtStage) models() []string {
	var out []string
	for _, k := range modelKeys {
		for _, m := range splitList(b.flag(k)) {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// newStage makes the stage's command and sets every option of the recipe
// through the command's own flag set, so names and types are checked by
// the same code as on the command line; errors name the recipe's line.
// hook receives the method when the command runs.
func newStage(r *recipe.Recipe, st *recipe.Stage, g *globalOptions, fresh bool, hook stageFunc) (*builtStage, error) {
	var cmd *command
	for _, c := range commands() {
		if c.name == st.Command {
			cmd = c
		}
	}
	if cmd == nil {
		return nil, yamlfile.Errorf(r.File, st.Line, "stage %s: unknown command %q", st.Name, st.Command)
	}
	fs := pflag.NewFlagSet("synthkit "+cmd.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sg := *g
	sg.stage = hook
	b := &builtStage{st: st, fs: fs}
	b.run = cmd.setup(fs, &sg)
	global := pflag.NewFlagSet("global", pflag.ContinueOnError)
	(&globalOptions{}).AddFlags(global)

	set := func(key, value string) error { return fs.Set(key, value) }
	if r.License != "" {
		if err := set("license", r.License); err != nil {
			return nil, yamlfile.Errorf(r.File, 0, "license: %v", err)
		}
	}
	for _, o := range st.Options {
		at := func(format string, args ...any) error {
			return yamlfile.Errorf(r.File, o.Line, "stage %s: "+format, append([]any{st.Name}, args...)...)
		}
		if why, ok := stageKeysRefused[o.Key]; ok {
			return nil, at("%s cannot be set in a stage: %s", o.Key, why)
		}
		f := fs.Lookup(o.Key)
		if f == nil {
			switch {
			case global.Lookup(o.Key) != nil:
				return nil, at("%s is a setting of the whole run, not of a stage: give it to `synthkit run --%s …`", o.Key, o.Key)
			case len(o.Key) == 1 && fs.ShorthandLookup(o.Key) != nil:
				return nil, at("use the long name %s, not %s", fs.ShorthandLookup(o.Key).Name, o.Key)
			}
			hint := ""
			if s := closestFlag(fs, o.Key); s != "" {
				hint = fmt.Sprintf(" (did you mean %s?)", s)
			}
			return nil, at("unknown key %q for %s%s; a stage's keys are the flags of `synthkit %s --help`", o.Key, st.Command, hint, st.Command)
		}
		if o.List && f.Value.Type() != "string" {
			return nil, at("%s takes one value, not a list", o.Key)
		}
		value := o.Value
		if o.Stage != "" {
			value = r.Stage(o.Stage).RunDir(r.Out) // the stage's output: its run directory
		}
		if err := set(o.Key, value); err != nil {
			return nil, at("%s: %q should be %s", o.Key, o.Value, typeWords(f.Value.Type()))
		}
	}
	if err := set("out", st.RunDir(r.Out)); err != nil {
		return nil, err
	}
	if fresh {
		if err := set("fresh", "true"); err != nil {
			return nil, err
		}
	}
	if st.Command == "instruct" {
		// An unknown method is a recipe error even when the stage cannot
		// be built yet (it reads a stage that has not run).
		if m := b.flag("method"); m != "" {
			if f, ok := prompts.Lookup(m); !ok || f.Name == "respond" {
				line := st.Line
				for _, o := range st.Options {
					if o.Key == "method" {
						line = o.Line
					}
				}
				return nil, yamlfile.Errorf(r.File, line, "stage %s: unknown method %q for instruct: self-instruct, evol or magpie", st.Name, m)
			}
		}
	}
	return b, nil
}

// build runs the command up to the point where it hands over its method:
// every check of the flags and inputs happens; errors name the stage's
// line. The hook given to newStage decides what happens to the method.
func (b *builtStage) build(ctx context.Context, r *recipe.Recipe, out, errOut io.Writer) error {
	err := b.run(ctx, nil, out, errOut)
	if err != nil && isA[*usageError](err) {
		return usagef("%s:%d: stage %s (%s): %v", r.File, b.st.Line, b.st.Name, b.st.Command, err)
	}
	return err
}

// typeWords names a flag's type for a person.
func typeWords(t string) string {
	switch t {
	case "int", "int64", "uint", "int32":
		return "a whole number"
	case "float64", "float32":
		return "a number"
	case "bool":
		return "true or false"
	case "duration":
		return "a duration such as 90s or 10m"
	}
	return "a " + t
}

// closestFlag suggests the flag name nearest a mistyped key.
func closestFlag(fs *pflag.FlagSet, key string) string {
	best, bestD := "", 3
	fs.VisitAll(func(f *pflag.Flag) {
		if _, refused := stageKeysRefused[f.Name]; refused {
			return
		}
		if d := editDistance(key, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}
