#!/usr/bin/env bash
# bench-novelty.sh runs the novelty filter benchmark (diversity's
# BenchmarkNovelty) and prints a table: check + insert latency of the
# filter (sign-bit prefilter, exact rescoring) and chromem-go's own
# exhaustive query on the same store, measured side by side in one run, at
# 10k and 100k stored 768-dim vectors, with the decisions' agreement with
# an exhaustive scan and memory.
#
#   scripts/bench-novelty.sh            # 10k and 100k (about a minute)
#   BENCH_1M=1 scripts/bench-novelty.sh # also 1M (about 8 GB, several minutes)
#
# Queries: half are built near a stored vector at a similarity within
# ±0.03 of the threshold (0.9), so about half of them are near duplicates
# and many sit right at the boundary; half are fresh random vectors.
# chromem-go is timed on the first 100 / 30 / 8 queries (10k / 100k / 1M):
# one exhaustive query at 1M takes seconds. The raw `go test` output goes
# to stderr.
set -euo pipefail

cd "$(dirname "$0")/.."

out="$(mktemp "${TMPDIR:-/tmp}/bench-novelty.XXXXXX")"
trap 'rm -f "$out"' EXIT

if [[ -n "${BENCH_1M:-}" ]]; then
	export SYNTHKIT_BENCH_1M=1
fi
go test -run '^$' -bench '^BenchmarkNovelty$' -benchtime 1x -timeout 60m ./diversity/ | tee "$out" >&2

awk '
/^BenchmarkNovelty\// {
	name = $1
	sub(/-[0-9]+$/, "", name)
	split(name, part, "=")
	n = part[2]
	delete m
	for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i
	rows[++nrows] = sprintf("%-9s %8.2f %8.2f %12.1f %12.1f %8.0fx %10.1f %10.1f %10.1f %9.0f %8.1f %8.0f",
		n, m["p50-ms"], m["p99-ms"], m["chromem-p50-ms"], m["chromem-p99-ms"], m["speedup-p50"],
		m["agree-near-%"], m["agree-fresh-%"], m["rescored/op"], m["heap-MB"], m["prefilter-MB"], m["build-s"])
}
END {
	if (nrows == 0) { print "no benchmark results" > "/dev/stderr"; exit 1 }
	printf "\n%-9s %8s %8s %12s %12s %9s %10s %10s %10s %9s %8s %8s\n", "stored", "p50 ms", "p99 ms",
		"chromem p50", "chromem p99", "speed-up", "agree near", "agree new", "rescored", "heap MB", "sig MB", "build s"
	for (r = 1; r <= nrows; r++) print rows[r]
}' "$out"
