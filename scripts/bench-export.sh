#!/usr/bin/env bash
# bench-export.sh measures `synthkit export` against DuckDB writing the same
# rows to Parquet with zstd, in the same run, and prints a table.
#
# For each size it makes a run with N SFT rows of 2–5 KB (seeded word salad
# with some markdown and code, through the real journal), then alternates:
# synthkit's export (journal → sorted zstd Parquet + card) and DuckDB via
# @duckdb/node-api reading the same journal, selecting the same columns,
# ORDER BY id, COPY … (FORMAT parquet, COMPRESSION zstd). Each tool runs in
# its own process; peak memory is that process's max RSS (getrusage).
#
# Usage: scripts/bench-export.sh [ROWS...]      default: 100000 1000000
#
# ENVIRONMENT
#   BENCH_DIR     work directory (default ${TMPDIR:-/tmp}/synthkit-bench);
#                 1M rows need about 6 GB
#   BENCH_REPEAT  runs per tool and size; the table shows the median (default 1)
#   BENCH_KEEP    1 keeps the generated runs for the next invocation
#   SYNTHKIT_NPM_DIR  see scripts/npm-tools.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(100000 1000000)
work=${BENCH_DIR:-${TMPDIR:-/tmp}/synthkit-bench}
repeat=${BENCH_REPEAT:-1}
mkdir -p "$work"

"$root/scripts/npm-tools.sh"
(cd "$root" && go build -o "$work/benchexport" ./export/internal/benchexport)

results="$work/results.jsonl"
: >"$results"
for n in "${sizes[@]}"; do
	run="$work/run-$n/run"
	if [[ ! -f "$work/run-$n.ok" ]]; then
		rm -rf "$work/run-$n"
		echo "generating $n rows…" >&2
		"$work/benchexport" gen "$run" "$n"
		touch "$work/run-$n.ok"
	fi
	for ((i = 0; i < repeat; i++)); do
		sync
		"$work/benchexport" export "$run" >>"$results"
		rm -f "$work/duck-$n.parquet"
		sync
		node "$root/export/testdata/duckdb-export.cjs" "$run" "$work/duck-$n.parquet" >>"$results"
	done
	rm -f "$work/duck-$n.parquet"
	if [[ ${BENCH_KEEP:-0} != 1 ]]; then
		rm -rf "$work/run-$n" "$work/run-$n.ok"
	fi
done

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
node - "$results" <<'JS'
const fs = require('node:fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const groups = new Map();
for (const r of rows) {
  const k = `${r.rows}\t${r.tool}`;
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push(r);
}
const agg = new Map();
for (const [k, rs] of groups) {
  agg.set(k, {
    rows: rs[0].rows, tool: rs[0].tool, runs: rs.length,
    seconds: median(rs.map((r) => r.seconds)), cpu: median(rs.map((r) => r.cpu_seconds)),
    rss: median(rs.map((r) => r.peak_rss_kb)) / 1024, input: rs[0].input_bytes / 1e6, output: rs[0].output_bytes / 1e6,
    files: rs[0].files,
  });
}
const f = (x, d = 1) => x.toFixed(d);
console.log('| rows | tool | wall s | rows/s | MB/s (journal in) | CPU s | peak RSS MB | output MB (files) |');
console.log('|---:|---|---:|---:|---:|---:|---:|---:|');
for (const a of agg.values()) {
  console.log(`| ${a.rows} | ${a.tool} | ${f(a.seconds)} | ${f(a.rows / a.seconds, 0)} | ${f(a.input / a.seconds)} | ${f(a.cpu)} | ${f(a.rss, 0)} | ${f(a.output)} (${a.files}) |`);
}
console.log('\n| rows | throughput synthkit/DuckDB | CPU synthkit/DuckDB | peak RSS synthkit/DuckDB |');
console.log('|---:|---:|---:|---:|');
for (const a of agg.values()) {
  if (a.tool !== 'synthkit') continue;
  const d = agg.get(`${a.rows}\tduckdb`);
  if (!d) continue;
  console.log(`| ${a.rows} | ${f(d.seconds / a.seconds, 2)}× | ${f(a.cpu / d.cpu, 2)}× | ${f(a.rss / d.rss, 2)}× |`);
}
JS
