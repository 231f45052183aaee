#!/usr/bin/env bash
# bench-prefer.sh: the judge's cost per preference pair in each mode
# (ratings, pairwise, rubric, rank) and its throughput with the
# cache-friendly order (shared instructions and request first, one prompt's
# judgments back to back) against the plain order (answers first, no shared
# prefix), side by side in one run against a private test server. Prints a
# markdown table for README.
#
#   scripts/bench-prefer.sh          # 2 repetitions, each running both orders (alternating which goes first)
#   COUNT=3 scripts/bench-prefer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SYNTHKIT_OLLAMA_BIN="$(scripts/ensure-ollama.sh)"
export SYNTHKIT_OLLAMA_BIN
raw="$(go test -run '^$' -bench 'BenchmarkPreferJudge' -benchtime 1x -count "${COUNT:-2}" -timeout 60m ./prompts/ | grep '^BenchmarkPreferJudge/')"
printf '%s\n\n' "$raw" >&2
# Average the repetitions per sub-benchmark, then pair cache with plain.
# The test judge has random weights, so its verdicts are mostly ties and it
# makes few pairs; per pair is figured for a judge that decides: one pair
# per prompt with --pairs best-random (ratings, rubric, rank) and one per
# comparison in pairwise mode (3 answers: 3 comparisons). The pairs the
# test judge made are shown too.
printf '%s\n' "$raw" | awk -v answers=3 '
function metric(name,   i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return 0 }
{
	split($1, parts, "/"); mode = parts[2]; sub(/^mode=/, "", mode); sub(/-[0-9]+$/, "", mode)
	n[mode]++
	calls[mode] += metric("calls/prompt"); ptok[mode] += metric("prompt_tok/prompt"); otok[mode] += metric("output_tok/prompt")
	pairs[mode] += metric("pairs/prompt"); rc[mode] += metric("cache_prompts/s"); rp[mode] += metric("plain_prompts/s")
	if (!(mode in seen)) { seen[mode] = 1; modes[++nm] = mode }
}
END {
	print "| mode | judge calls per prompt | judge tokens per prompt (prompt + output) | pairs per prompt, decisive judge (test judge) | judge calls per pair | judge tokens per pair | judged prompts/s, cache-friendly order | same, plain order | cache-friendly / plain |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nm; i++) {
		m = modes[i]; k = n[m]
		ppp = (m == "pairwise") ? answers * (answers - 1) / 2 : 1
		cl = calls[m] / k; tk = (ptok[m] + otok[m]) / k; c = rc[m] / k; p = rp[m] / k
		printf "| %s | %.1f | %.0f + %.0f | %d (%.2f) | %.1f | %.0f | %.3f | %.3f | %.2f× |\n", m, cl, ptok[m]/k, otok[m]/k, ppp, pairs[m]/k, cl/ppp, tk/ppp, c, p, (p > 0 ? c / p : 0)
	}
}'
