#!/usr/bin/env bash
# bench-novelty.sh runs the novelty filter benchmark (diversity's
# BenchmarkNovelty) and prints a table: check + insert latency of the
# filter (sign-bit prefilter, exact rescoring) and chromem-go's own
# exhaustive query on the same store, measured side by side in one run, at
# 10k and 100k stored 768-dim vectors, with the decisions' agreement with
# an exhaustive scan and memory.
#
#   scripts/bench-novelty.sh            # 10k and 100k (about a minute)
#   BENCH_1M=1 scripts/bench-novelty.sh # also 1M (about 4 GB, several minutes)
#   COUNT=3 scripts/bench-novelty.sh    # three runs: medians, then min–max
#
# With COUNT above 1 each figure is the median of the runs, and the
# latency and speed-up columns are followed by the runs' range, since the
# machine may be shared.
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
go test -run '^$' -bench '^BenchmarkNovelty$' -benchtime 1x -count "${COUNT:-1}" -timeout 120m ./diversity/ | tee "$out" >&2

awk '
function med(key,    n, i, j, t, a) {
	n = split(vals[key], a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j] + 0 < a[j - 1] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	lo[key] = a[1]; hi[key] = a[n]
	return a[int((n + 1) / 2)]
}
/^BenchmarkNovelty\// {
	name = $1
	sub(/-[0-9]+$/, "", name)
	split(name, part, "=")
	n = part[2]
	if (!(n in seen)) { seen[n] = 1; order[++nsizes] = n }
	runs[n]++
	for (i = 3; i < NF; i += 2) vals[n SUBSEP $(i + 1)] = vals[n SUBSEP $(i + 1)] " " $i
}
END {
	if (nsizes == 0) { print "no benchmark results" > "/dev/stderr"; exit 1 }
	printf "\n%-9s %5s %8s %8s %12s %12s %9s %10s %10s %10s %9s %8s %8s\n", "stored", "runs", "p50 ms", "p99 ms",
		"chromem p50", "chromem p99", "speed-up", "agree near", "agree new", "rescored", "heap MB", "sig MB", "build s"
	for (r = 1; r <= nsizes; r++) {
		n = order[r]
		printf "%-9s %5d %8.2f %8.2f %12.1f %12.1f %8.0fx %10.1f %10.1f %10.1f %9.0f %8.1f %8.0f\n", n, runs[n],
			med(n SUBSEP "p50-ms"), med(n SUBSEP "p99-ms"), med(n SUBSEP "chromem-p50-ms"), med(n SUBSEP "chromem-p99-ms"),
			med(n SUBSEP "speedup-p50"), med(n SUBSEP "agree-near-%"), med(n SUBSEP "agree-fresh-%"), med(n SUBSEP "rescored/op"),
			med(n SUBSEP "heap-MB"), med(n SUBSEP "prefilter-MB"), med(n SUBSEP "build-s")
		if (runs[n] > 1) {
			med(n SUBSEP "p50-ms"); a1 = lo[n SUBSEP "p50-ms"]; b1 = hi[n SUBSEP "p50-ms"]
			med(n SUBSEP "p99-ms"); a2 = lo[n SUBSEP "p99-ms"]; b2 = hi[n SUBSEP "p99-ms"]
			med(n SUBSEP "chromem-p50-ms"); a3 = lo[n SUBSEP "chromem-p50-ms"]; b3 = hi[n SUBSEP "chromem-p50-ms"]
			med(n SUBSEP "speedup-p50"); a4 = lo[n SUBSEP "speedup-p50"]; b4 = hi[n SUBSEP "speedup-p50"]
			printf "%-9s %5s %8s %8s %12s %12s %9s\n", "  range", "", a1 "-" b1, a2 "-" b2, a3 "-" b3, "", int(a4) "-" int(b4) "x"
		}
	}
}' "$out"
