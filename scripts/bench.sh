#!/usr/bin/env bash
# bench.sh: the one benchmark suite. Runs every benchmark side by side with
# its baseline in one go and prints a dated markdown report naming the
# machine, ready for README's Benchmarks section:
#
#   scheduler vs a raw load generator (fixed concurrency 1, 2, 4, 8 and the
#     default, auto)                                  scripts/bench-scheduler.sh
#   model-aware vs interleaved work on a one-model
#     server (loads, wall time)                       scripts/bench-model-aware.sh
#   ROUGE-L filter vs the naive scan                  scripts/bench-rouge.sh
#   novelty check vs chromem-go's exhaustive query    scripts/bench-novelty.sh (when present)
#   export vs DuckDB                                  scripts/bench-export.sh
#
#   scripts/bench.sh > bench-report.md        # everything (export at 100k rows)
#   EXPORT_ROWS="100000 1000000" scripts/bench.sh
#
# Every figure is a ratio measured in the same run as its baseline; the
# machine is named because absolute numbers only hold for it.
set -euo pipefail
cd "$(dirname "$0")/.."

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || uname -m)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || echo "?")
printf '# synthkit benchmarks, %s\n\nMachine: %s, %s cores, %s; %s; Go %s.\n\n' \
	"$(date -u +%Y-%m-%d)" "$cpu" "$(nproc)" "$mem" "$(uname -sr)" "$(go env GOVERSION)"

section() { printf '\n## %s\n\n' "$1"; }

section "Scheduler vs raw load generator"
scripts/bench-scheduler.sh 2>/dev/null

section "Model-aware engine on a one-model-at-a-time server"
scripts/bench-model-aware.sh 2>&1 | grep -E '^Benchmark' | awk '{printf "- %s: %.2f s per run, %s loads per run\n", $1, $3/1e9, $5}'

section "ROUGE-L near-duplicate filter"
scripts/bench-rouge.sh 2>/dev/null

if [[ -x scripts/bench-novelty.sh ]]; then
	section "Novelty check at scale"
	scripts/bench-novelty.sh 2>/dev/null
fi

section "Preference judge: cost per pair, cache-friendly vs plain order"; scripts/bench-prefer.sh 2>/dev/null
section "Export vs DuckDB"
# shellcheck disable=SC2086
scripts/bench-export.sh ${EXPORT_ROWS:-100000} 2>/dev/null
