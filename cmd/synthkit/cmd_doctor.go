package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"synthkit/local"
)

func doctorCommand() *command {
	return &command{
		name:    "doctor",
		server:  true,
		summary: "check Ollama, the models and the machine; say what is missing and the fix",
		usage:   "[MODEL…] [flags]",
		long: `Find Ollama (or start it when none answers and an ollama binary is on PATH),
print each server's version and what it supports, list the pulled models,
and check that the named models are present.

EXAMPLES
  synthkit doctor
  synthkit doctor qwen2.5:0.5b nomic-embed-text
  synthkit doctor --ollama gpu1:11434,gpu2:11434

ENVIRONMENT
  OLLAMA_HOST   default for --ollama`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				return runDoctor(ctx, g, args, out, errOut)
			}
		},
	}
}

func runDoctor(ctx context.Context, g *globalOptions, want []string, out, errOut io.Writer) error {
	fmt.Fprintf(out, "synthkit  %s (%s %s/%s, %d CPUs)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if free, ok := freeDisk("."); ok {
		fmt.Fprintf(out, "disk      %s free in the current directory\n", humanBytes(free))
	}
	conn, err := g.connect(ctx, out, len(want))
	if err != nil {
		fmt.Fprintln(out, "ollama    ✗ not reachable")
		return err
	}
	defer conn.Close()
	c := conn.Client
	feats, err := c.ServerFeatures(ctx)
	if err != nil {
		return err
	}
	ver := feats.Version
	if feats.VersionUnknown {
		ver += ", a build without a version: features found by probing"
	}
	fmt.Fprintf(out, "%-9s ✓ %s (version %s)\n", c.Backend(), strings.Join(c.Hosts(), ", "), ver)
	if missing := feats.Missing(); len(missing) > 0 {
		fmt.Fprintf(out, "          lacks %s — synthkit degrades gracefully and notes it in run.json\n", strings.Join(missing, "; "))
	}
	models, err := c.ListModels(ctx)
	if err != nil {
		return err
	}
	var problems []string
	openAI := c.Backend() == local.BackendOpenAI
	switch {
	case len(models) == 0 && openAI:
		fmt.Fprintln(out, "models    none served (GET /models is empty; the openai backend never pulls: load one on the server)")
		problems = append(problems, "no models served at "+strings.Join(c.Hosts(), ", "))
	case len(models) == 0:
		fmt.Fprintln(out, "models    none pulled")
		problems = append(problems, "no models: run `synthkit models pull qwen2.5:0.5b` (or any chat model)")
	default:
		if openAI {
			fmt.Fprintf(out, "models    %d served (identity: the model id the server reports; no size, family or capabilities through this API; never pulled)\n", len(models))
		} else {
			fmt.Fprintf(out, "models    %d pulled\n", len(models))
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tDIGEST\tSIZE\tFAMILY\tPARAMS\tQUANT\tCONTEXT\tCAPABILITIES")
		embedders := 0
		for _, m := range models {
			info, err := c.Inspect(ctx, m.Name)
			if err != nil {
				return err
			}
			if contains(info.Capabilities, "embedding") {
				embedders++
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", info.Name, shortDigest(info.Digest), humanBytes(info.Size),
				orDash(info.Family), orDash(info.ParameterSize), orDash(info.Quantization), info.ContextLength,
				orDash(strings.Join(info.Capabilities, ",")))
		}
		tw.Flush()
		if embedders == 0 && !openAI {
			fmt.Fprintln(out, "note      no embedding model: diversity filters will need one (`synthkit models pull nomic-embed-text`)")
		}
	}
	var firstMissing error
	for _, name := range want {
		info, err := c.Inspect(ctx, name)
		if err != nil {
			problems = append(problems, err.Error())
			if firstMissing == nil {
				firstMissing = err
			}
			continue
		}
		fmt.Fprintf(out, "check     ✓ %s %s\n", info.Name, shortDigest(info.Digest))
	}
	if len(problems) == 0 {
		fmt.Fprintln(out, "all good")
		return nil
	}
	for _, p := range problems {
		fmt.Fprintf(out, "fix       ✗ %s\n", p)
	}
	if firstMissing != nil {
		return firstMissing
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func freeDisk(dir string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
