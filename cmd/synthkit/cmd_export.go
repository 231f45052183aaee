package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"synthkit/export"
)

func exportCommand() *command {
	var license, name string
	return &command{
		name:    "export",
		summary: "write Parquet and the dataset card from a run's journal",
		usage:   "DIR [flags]",
		long: `Project the journal of the run in DIR to Parquet (data/train-*.parquet for the
default config, <config>/train-*.parquet for the others) and write the dataset
card README.md. Generating commands do this when they finish; run it again
after an interrupted run, or to change the card's license or title. The same
journal always exports to byte-identical files.

EXAMPLES
  synthkit export out/instr
  synthkit export out/prefs --license cc-by-4.0 --name "My preference data"`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) func(context.Context, []string, io.Writer, io.Writer) error {
			fs.StringVar(&license, "license", "apache-2.0", "license id for the dataset card (the generating models' terms apply too)")
			fs.StringVar(&name, "name", "", "pretty name for the card (default: the directory name)")
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				if len(args) != 1 {
					return usagef("export needs exactly one run directory")
				}
				return exportRun(args[0], export.ExportOptions{License: license, PrettyName: name}, out)
			}
		},
	}
}

func pushCommand() *command {
	var repo, revision, message string
	var private, keepStale bool
	return &command{
		name:    "push",
		summary: "upload a run directory to the Hugging Face Hub",
		usage:   "DIR --repo USER/NAME [flags]",
		long: `Upload an exported run (README.md, run.json and the Parquet files; never the
journal) to a Hub dataset repository over the Hub's HTTP API, creating the
repository if needed and skipping files the Hub already has. The token comes
from HF_TOKEN or the huggingface_hub token file and is never printed or
written. The folder is also ready for ` + "`hf upload USER/NAME DIR --repo-type dataset`" + `.

EXAMPLES
  synthkit push out/instr --repo me/my-instructions --private

ENVIRONMENT
  HF_TOKEN      access token with write permission
  HF_HOME       where the token file lives (default ~/.cache/huggingface)
  HF_ENDPOINT   Hub address (default https://huggingface.co)`,
		setup: func(fs *pflag.FlagSet, g *globalOptions) func(context.Context, []string, io.Writer, io.Writer) error {
			fs.StringVar(&repo, "repo", "", "dataset repository `USER/NAME` (required)")
			fs.BoolVar(&private, "private", false, "create the repository as private")
			fs.StringVar(&revision, "revision", "main", "branch to commit to")
			fs.StringVar(&message, "message", "", "commit message (default: Upload dataset with synthkit)")
			fs.BoolVar(&keepStale, "keep-stale", false, "keep remote Parquet files this export no longer has")
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				if len(args) != 1 {
					return usagef("push needs exactly one run directory")
				}
				if repo == "" {
					return usagef("push needs --repo USER/NAME")
				}
				res, err := export.Push(ctx, args[0], repo, export.PushOptions{Private: private, Revision: revision,
					CommitMessage: message, KeepStale: keepStale,
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
		},
	}
}
