// Command crashcampaign SIGKILLs synthkit at random moments and checks that
// nothing is lost or duplicated: for every generating method (respond,
// self-instruct, evol, critique, prefer with model-ranked pairs, magpie),
// for export and for --fresh, it makes an
// uninterrupted reference run, then runs the same command again and again
// into another directory, killing it at a random moment each time (during
// startup, generation, journal writes, export), until it has taken the
// given number of kills and finishes. The crashed run must hold exactly
// the reference's units with the same rows and counts, and export to the
// same Parquet bytes.
//
//	go run ./cmd/crashcampaign -ollama http://127.0.0.1:11434 -kills 30
//
// scripts/crash-campaign.sh starts a private Ollama with the tiny test
// models and runs the full campaign; CI runs a reduced one
// (TestCrashCampaign). Runs use --concurrency 1 and a fixed seed, so the
// reference is reproducible.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	var c Config
	var scen, models string
	var keep bool
	flag.StringVar(&c.Bin, "bin", "", "synthkit binary (default: built from this checkout)")
	flag.StringVar(&c.Ollama, "ollama", os.Getenv("SYNTHKIT_TEST_OLLAMA"), "Ollama server with the models")
	flag.StringVar(&models, "models", "synthkit-tiny,synthkit-tiny-b", "two chat models, comma-separated")
	flag.IntVar(&c.Kills, "kills", 30, "SIGKILLs per scenario")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed of the kill moments")
	flag.StringVar(&scen, "scenarios", "", "comma-separated subset of respond,self-instruct,evol,critique,prefer,magpie,export,fresh")
	flag.BoolVar(&keep, "keep", false, "keep the work directory")
	flag.Parse()
	if c.Ollama == "" {
		fmt.Fprintln(os.Stderr, "crashcampaign: -ollama (or SYNTHKIT_TEST_OLLAMA) is required")
		os.Exit(2)
	}
	ms := strings.Split(models, ",")
	if len(ms) != 2 {
		fmt.Fprintln(os.Stderr, "crashcampaign: -models needs two names")
		os.Exit(2)
	}
	c.Models = [2]string{ms[0], ms[1]}
	if scen != "" {
		c.Scenarios = strings.Split(scen, ",")
	}
	work, err := os.MkdirTemp("", "crashcampaign-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !keep {
		defer os.RemoveAll(work)
	}
	c.Work = work
	if c.Bin == "" {
		c.Bin = filepath.Join(work, "synthkit")
		build := exec.Command("go", "build", "-o", c.Bin, "./cmd/synthkit")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "crashcampaign: build synthkit:", err)
			os.Exit(1)
		}
	}
	c.Log = os.Stderr
	results, err := Run(context.Background(), &c)
	bad := err != nil
	for _, r := range results {
		status := "ok"
		if len(r.Problems) > 0 {
			status = "FAILED"
			bad = true
		}
		fmt.Printf("%-14s %-6s %3d kills in %3d runs, %4d units compared\n", r.Scenario, status, r.Kills, r.Runs, r.Units)
		for _, p := range r.Problems {
			fmt.Printf("    %s\n", p)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashcampaign:", err)
	}
	if keep {
		fmt.Fprintln(os.Stderr, "work directory:", work)
	}
	if bad {
		os.Exit(1)
	}
}
