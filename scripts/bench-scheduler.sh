#!/usr/bin/env bash
# bench-scheduler.sh: tokens/s of the tiny fixture model driven through
# synthkit's scheduler at concurrency 1, 2, 4, 8 against a bare load
# generator posting the same requests straight to /api/generate, in the same
# run (the two alternate in short rounds so machine noise hits both alike).
# Prints a table with the ratio. Uses the test rig (scripts/test.sh) to get
# a private Ollama with the fixture.
#
#   scripts/bench-scheduler.sh            # 96 requests per side and concurrency
#   N=256 scripts/bench-scheduler.sh
set -euo pipefail
cd "$(dirname "$0")/.."
n="${N:-96}"
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
scripts/test.sh ./local/ -run '^$' -bench '^BenchmarkScheduler$' -benchtime "${n}x" | tee "$raw" >&2
awk '
/^BenchmarkScheduler\/c=/ {
	split($1, a, "="); c = a[2]; sub(/-[0-9]+$/, "", c)
	for (i = 2; i < NF; i++) {
		if ($(i+1) == "sched-tok/s") s[c] = $i
		if ($(i+1) == "raw-tok/s") r[c] = $i
	}
	order[++k] = c
}
END {
	printf "| concurrency | scheduler tok/s | raw tok/s | scheduler / raw |\n|---:|---:|---:|---:|\n"
	for (j = 1; j <= k; j++) {
		c = order[j]
		printf "| %s | %.0f | %.0f | %.3f |\n", c, s[c], r[c], s[c] / r[c]
		if (s[c] > bs) { bs = s[c]; bsc = c }
		if (r[c] > br) { br = r[c]; brc = c }
	}
	printf "\nbest scheduler %.0f tok/s (c=%s) / best raw %.0f tok/s (c=%s) = %.3f of the raw ceiling\n", bs, bsc, br, brc, bs / br
}' "$raw"
