#!/usr/bin/env bash
# bench-scheduler.sh: tokens/s of the tiny fixture model driven through
# synthkit's scheduler at concurrency 1, 2, 4, 8 against a bare load
# generator posting the same requests straight to /api/generate, in the same
# run (the two alternate in short rounds so machine noise hits both alike).
# Prints a table with the ratio. Then whole runs of the default (auto)
# concurrency, each from a fresh client, against fixed concurrencies and the
# raw load generator on the same requests (BenchmarkAutoConcurrency; the
# contenders take turns in every round, in rotating order), and a second
# table: auto's share of the best fixed concurrency over all rounds, and
# the median and spread of that share round by round. Uses the test rig
# (scripts/test.sh) to get a private Ollama with the fixture.
#
#   scripts/bench-scheduler.sh            # 96 requests per side and concurrency
#   N=256 scripts/bench-scheduler.sh
#   RUNS=400,1500 ROUNDS=3 scripts/bench-scheduler.sh   # the auto runs (defaults)
#   ROUNDS=6,3 scripts/bench-scheduler.sh                # rounds per run length
#   FIXED=2,4,8 RAW=4,8 scripts/bench-scheduler.sh       # other contenders
#   N=0 scripts/bench-scheduler.sh        # only the auto runs
#   RUNS= scripts/bench-scheduler.sh      # skip them
set -euo pipefail
cd "$(dirname "$0")/.."
n="${N:-96}"
runs="${RUNS-400,1500}"
rounds="${ROUNDS:-3}"
raw="$(mktemp)"
auto="$(mktemp)"
trap 'rm -f "$raw" "$auto"' EXIT
if [[ "$n" != 0 ]]; then
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
fi

[[ -n "$runs" ]] || exit 0
SYNTHKIT_BENCH_RUNS="$runs" SYNTHKIT_BENCH_ROUNDS="$rounds" \
	SYNTHKIT_BENCH_FIXED="${FIXED:-}" SYNTHKIT_BENCH_RAW="${RAW:-}" \
	scripts/test.sh ./local/ -run '^$' -bench '^BenchmarkAutoConcurrency$' -benchtime 1x -timeout 3h | tee "$auto" >&2
awk -v rounds="$rounds" '
/^BenchmarkAutoConcurrency\/run=/ {
	split($1, a, "="); n = a[2]; sub(/-[0-9]+$/, "", n)
	for (i = 2; i < NF; i++) {
		u = $(i+1)
		if (u ~ /-tok\/s$/) { k = u; sub(/-tok\/s$/, "", k); v[n, k] = $i; if (!(k in seen)) { seen[k] = 1; keys[++nk] = k } }
		if (u == "auto-final-c") fc[n] = $i
		if (u == "auto-settled-at") st[n] = $i
		if (u == "auto/best-fixed") ratio[n] = $i
		if (u == "ratio-median") med[n] = $i
		if (u == "ratio-min") lo[n] = $i
		if (u == "ratio-max") hi[n] = $i
		if (u == "twin-median") tmed[n] = $i
		if (u == "twin-min") tlo[n] = $i
		if (u == "twin-max") thi[n] = $i
	}
	order[++m] = n
}
END {
	if (m == 0) exit
	printf "\n| requests per run | auto tok/s (ends at, settled after) |"
	for (j = 1; j <= nk; j++) if (keys[j] != "auto") printf " %s tok/s |", label(keys[j])
	printf " auto / best fixed | per round: median (min–max) | A/A noise: twin / its fixed twin, median (min–max) |\n|---:|---:|"
	for (j = 1; j <= nk; j++) if (keys[j] != "auto") printf "---:|"
	printf "---:|---:|---:|\n"
	for (r = 1; r <= m; r++) {
		n = order[r]
		printf "| %s | %.0f (c=%g, %g replies) |", n, v[n, "auto"], fc[n], st[n]
		for (j = 1; j <= nk; j++) if (keys[j] != "auto") printf " %.0f |", v[n, keys[j]]
		printf " %.3f | %.3f (%.3f–%.3f) | %.3f (%.3f–%.3f) |\n", ratio[n], med[n], lo[n], hi[n], tmed[n], tlo[n], thi[n]
	}
	printf "\n%s rounds per run length, contenders in rotating order; every contender starts a fresh client for each run. auto / best fixed divides by the fixed concurrency with the most tokens/s over all rounds; per round divides by that same concurrency in the same round. Ends at and settled after are medians over the rounds.\n", rounds
}
function label(k) {
	if (k ~ /^c[0-9]+$/) return "c=" substr(k, 2)
	if (k ~ /^raw[0-9]+$/) return "raw c=" substr(k, 4)
	if (k ~ /^twin[0-9]+$/) return "c=" substr(k, 5) " twin"
	return k
}' "$auto"
