package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"synthkit/export"
)

// pushOptions are the flags of `synthkit push`.
type pushOptions struct {
	repo, revision, message string
	private, keepStale      bool
}

func (o *pushOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.repo, "repo", "", "dataset repository `USER/NAME` (required)")
	fs.BoolVar(&o.private, "private", false, "create the repository as private")
	fs.StringVar(&o.revision, "revision", "main", "branch to commit to")
	fs.StringVar(&o.message, "message", "", "commit message (default: Upload dataset with synthkit)")
	fs.BoolVar(&o.keepStale, "keep-stale", false, "keep remote Parquet files this export no longer has")
}

func pushCommand() *command {
	var o pushOptions
	return &command{
		name:    "push",
		summary: "upload a run directory to the Hugging Face Hub",
		usage:   "DIR --repo USER/NAME [flags]",
		long: `Upload an exported run (README.md, run.json and the Parquet files; never the
journal) or a recipe's output folder (the combined card and every stage's
run.json and Parquet, under the stage's name) to a Hub dataset repository
over the Hub's HTTP API, creating the
repository if needed and skipping files the Hub already has. The token comes
from HF_TOKEN or the huggingface_hub token file and is never printed or
written. The folder is also ready for ` + "`hf upload USER/NAME DIR --repo-type dataset`" + `.

EXAMPLES
  synthkit push out/instr --repo me/my-instructions --private
  synthkit push out/quickstart --repo me/quickstart      # a recipe's folder

ENVIRONMENT
  HF_TOKEN      access token with write permission
  HF_HOME       where the token file lives (default ~/.cache/huggingface)
  HF_ENDPOINT   Hub address (default https://huggingface.co)`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) runFunc {
			o.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				return runPush(ctx, &o, args, out, errOut)
			}
		},
	}
}

func runPush(ctx context.Context, o *pushOptions, args []string, out, errOut io.Writer) error {
	if len(args) != 1 {
		return usagef("push needs exactly one run directory")
	}
	if o.repo == "" {
		return usagef("push needs --repo USER/NAME")
	}
	res, err := export.Push(ctx, args[0], o.repo, export.PushOptions{Private: o.private, Revision: o.revision,
		CommitMessage: o.message, KeepStale: o.keepStale,
		Progress: func(path, status string) { fprintf(errOut, "%-10s %s\n", status, path) }})
	if err != nil {
		return err
	}
	fprintf(out, "%d uploaded, %d unchanged, %d deleted\n", len(res.Uploaded), len(res.Unchanged), len(res.Deleted))
	if res.CommitURL != "" {
		fprintf(out, "commit: %s\n", res.CommitURL)
	} else {
		fprintf(out, "nothing changed: no commit made\n")
	}
	return nil
}
