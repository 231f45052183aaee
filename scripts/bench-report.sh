#!/usr/bin/env bash
# bench-report.sh measures `synthkit report` on a 10k-row run (wall and CPU
# time, peak memory of the process) and what the diversity table costs an
# export of the same run, the two exports run alternately (A/B, 3 rounds)
# so a busy machine weighs on both alike.
#
#   scripts/bench-report.sh
#
# The run: 10,000 SFT rows with stored 512-dim hashed n-gram vectors (as
# --diversity novelty leaves them) and 1,000 rejections, written by
# report's TestWriteBenchRun. Raw outputs go to stderr.
set -euo pipefail

cd "$(dirname "$0")/.."

tmp="$(mktemp -d "${TMPDIR:-/tmp}/bench-report.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
run="$tmp/run"
SYNTHKIT_BENCH_RUN="$run" go test -count=1 -run '^TestWriteBenchRun$' ./report/ >&2
go build -o "$tmp/synthkit" ./cmd/synthkit
"$tmp/synthkit" export "$run" >&2

printf '\n## synthkit report on 10,000 rows (3 runs)\n\n| run | wall s | user s | sys s | max RSS MB |\n|---|---:|---:|---:|---:|\n'
for i in 1 2 3; do
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$tmp/synthkit" report "$run" >"$tmp/out" 2>&1
	read -r wall user sys rss <"$tmp/time"
	printf '| %d | %s | %s | %s | %.0f |\n' "$i" "$wall" "$user" "$sys" "$(echo "$rss / 1024" | bc -l)"
done
cat "$tmp/out" >&2

printf '\n## export of the same run, without and with the diversity table (ms/op, alternating)\n\n| round | plain | diversity | ratio |\n|---|---:|---:|---:|\n'
bench() {
	SYNTHKIT_BENCH_RUN="$run" go test -count=1 -run '^$' -bench "^BenchmarkExportCard/$1\$" -benchtime 3x ./report/ |
		tee -a "$tmp/bench" | awk '/^BenchmarkExportCard/ { printf "%.0f", $3 / 1e6 }'
}
for i in 1 2 3; do
	a="$(bench plain)"
	b="$(bench diversity)"
	printf '| %d | %s | %s | %.2f |\n' "$i" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
cat "$tmp/bench" >&2
