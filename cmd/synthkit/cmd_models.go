package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"synthkit/local"
	"synthkit/prompts/runner"
)

func modelsCommand() *command {
	return &command{
		name:    "models",
		server:  true,
		summary: "list, pull and inspect models",
		usage:   "list | pull MODEL… | show MODEL [flags]",
		long: `Manage the models on the Ollama server(s).

  models list          name, digest, size, family, quantization, context length
  models pull MODEL…   pull models with a progress bar (onto every --ollama host)
  models show MODEL    the provenance synthkit records for a model, as JSON

EXAMPLES
  synthkit models pull qwen2.5:0.5b
  synthkit models list --ollama gpu1:11434,gpu2:11434

ENVIRONMENT
  OLLAMA_HOST   default for --ollama`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				if len(args) == 0 {
					return usagef("models needs a subcommand: list, pull or show")
				}
				switch args[0] {
				case "list", "ls":
					return modelsList(ctx, g, out, errOut)
				case "pull":
					if len(args) < 2 {
						return usagef("models pull needs a model name, e.g. `synthkit models pull qwen2.5:0.5b`")
					}
					return modelsPull(ctx, g, args[1:], out, errOut)
				case "show":
					if len(args) != 2 {
						return usagef("models show needs exactly one model name")
					}
					return modelsShow(ctx, g, args[1], out, errOut)
				}
				return usagef("unknown models subcommand %q: use list, pull or show", args[0])
			}
		},
	}
}

func modelsList(ctx context.Context, g *globalOptions, out, errOut io.Writer) error {
	conn, err := g.connect(ctx, errOut, 0)
	if err != nil {
		return err
	}
	defer conn.Close()
	models, err := conn.Client.ListModels(ctx)
	if err != nil {
		return err
	}
	if len(models) == 0 {
		if conn.Client.Backend() == local.BackendOpenAI {
			fmt.Fprintln(errOut, "the server serves no models (GET /models is empty); the openai backend never pulls: load one on the server")
			return nil
		}
		fmt.Fprintln(errOut, "no models pulled yet: try `synthkit models pull qwen2.5:0.5b`")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE\tFAMILY\tPARAMS\tQUANT\tCONTEXT")
	for _, m := range models {
		info, err := conn.Client.Inspect(ctx, m.Name)
		if err != nil {
			return err
		}
		ctxLen := "-"
		if info.ContextLength > 0 {
			ctxLen = fmt.Sprint(info.ContextLength)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", info.Name, shortDigest(info.Digest), humanBytes(info.Size),
			orDash(info.Family), orDash(info.ParameterSize), orDash(info.Quantization), ctxLen)
	}
	return tw.Flush()
}

func modelsPull(ctx context.Context, g *globalOptions, names []string, out, errOut io.Writer) error {
	conn, err := g.connect(ctx, errOut, 0)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, n := range names {
		bar := g.newPullBar(errOut)
		err := conn.Client.Pull(ctx, n, bar.update)
		bar.done()
		if err != nil {
			return runner.ModelError(ctx, conn.Client, []string{n}, err)
		}
		info, err := conn.Client.Inspect(ctx, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %s pulled\n", info.Name, shortDigest(info.Digest))
	}
	return nil
}

func modelsShow(ctx context.Context, g *globalOptions, name string, out, errOut io.Writer) error {
	conn, err := g.connect(ctx, errOut, 1)
	if err != nil {
		return err
	}
	defer conn.Close()
	info, err := conn.Client.Inspect(ctx, name)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(info)
}

func shortDigest(d string) string {
	if strings.HasPrefix(d, "openai-model-id:") {
		return d // an identity, not a hash: nothing to shorten
	}
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
