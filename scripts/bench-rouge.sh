#!/usr/bin/env bash
# bench-rouge.sh runs the ROUGE-L near-duplicate filter benchmark — the
# naive filter and diversity.Pool against pools of 10k and 100k generated
# instructions — in one `go test` run, and prints a table of the times per
# candidate with the speed-up over the naive filter.
#
#   scripts/bench-rouge.sh                     # 1s per benchmark
#   BENCHTIME=3s COUNT=3 scripts/bench-rouge.sh  # longer, best of three
#
# One operation is one candidate checked against the whole pool. The naive
# filter at 100k takes about half a second per candidate, so in 1s it only
# checks the first few candidates; the candidate list alternates fresh
# instructions with paraphrases, so any prefix has the same mix.
#
# Columns: naive = tokenize and run the full dynamic program against every
# entry; fast-1 = Pool.IsNearDuplicate on one goroutine; fast = the same
# on GOMAXPROCS goroutines (a query is split only with 8192+ entries per
# goroutine, so at 10k both run the same code); maxscore = Pool.MaxScore
# (the exact maximum, not just the decision). The raw `go test` output
# goes to stderr.
set -euo pipefail

cd "$(dirname "$0")/.."

out="$(mktemp "${TMPDIR:-/tmp}/bench-rouge.XXXXXX")"
trap 'rm -f "$out"' EXIT

go test -run '^$' -bench '^BenchmarkRougeFilter$' \
	-benchtime "${BENCHTIME:-1s}" -count "${COUNT:-1}" ./diversity/ | tee "$out" >&2

awk '
function human(ns) {
	if (ns >= 1e9) return sprintf("%.2f s", ns / 1e9)
	if (ns >= 1e6) return sprintf("%.1f ms", ns / 1e6)
	if (ns >= 1e3) return sprintf("%.1f us", ns / 1e3)
	return sprintf("%.0f ns", ns)
}
/^BenchmarkRougeFilter\// {
	name = $1
	sub(/-[0-9]+$/, "", name)   # GOMAXPROCS suffix
	split(name, part, "/")      # BenchmarkRougeFilter / variant / pool=N
	v = part[2]; pool = part[3]; sub(/^pool=/, "", pool)
	# With -count > 1 keep the fastest run: noise on a shared machine only
	# ever adds time.
	if (!((v, pool) in ns) || $3 < ns[v, pool]) { ns[v, pool] = $3; ops[v, pool] = $2 }
	if (!(pool in seen)) { seen[pool] = 1; pools[++npools] = pool }
}
END {
	if (npools == 0) { print "no benchmark results" > "/dev/stderr"; exit 1 }
	printf "\n%-6s  %-22s", "pool", "naive (candidates)"
	nv = split("fast-1 fast maxscore", variants, " ")
	for (i = 1; i <= nv; i++) printf "  %-11s %-9s", variants[i], "speed-up"
	printf "\n"
	for (p = 1; p <= npools; p++) {
		pool = pools[p]
		base = ns["naive", pool]
		printf "%-6s  %-22s", pool, human(base) " (" ops["naive", pool] ")"
		for (i = 1; i <= nv; i++) {
			t = ns[variants[i], pool]
			if (t == "") { printf "  %-11s %-9s", "-", "-"; continue }
			printf "  %-11s %-9s", human(t), sprintf("%.0fx", base / t)
		}
		printf "\n"
	}
}' "$out"
