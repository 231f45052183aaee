#!/usr/bin/env bash
# bench-prefer.sh: the judge's cost per preference pair in each mode
# (ratings, pairwise, rubric, rank) and its throughput with the
# cache-friendly order (shared instructions and request first, one prompt's
# judgments back to back) against the plain order (answers first, no shared
# prefix), side by side in one run against a private test server. Prints a
# markdown table for README.
#
#   scripts/bench-prefer.sh          # 2 repetitions of each, interleaved
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
	split($1, parts, "/"); mode = parts[2]; sub(/^mode=/, "", mode); order = parts[3]; sub(/^order=/, "", order); sub(/-[0-9]+$/, "", order)
	k = mode SUBSEP order; n[k]++
	calls[k] += metric("calls/prompt"); ptok[k] += metric("prompt_tok/prompt"); otok[k] += metric("output_tok/prompt")
	pairs[k] += metric("pairs/prompt"); rate[k] += metric("prompts/s")
	if (!(mode in seen)) { seen[mode] = 1; modes[++nm] = mode }
}
END {
	print "| mode | judge calls per prompt | judge tokens per prompt (prompt + output) | pairs per prompt, decisive judge (test judge) | judge calls per pair | judge tokens per pair | judged prompts/s, cache-friendly order | same, plain order | cache-friendly / plain |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nm; i++) {
		m = modes[i]; c = m SUBSEP "cache"; p = m SUBSEP "plain"
		ppp = (m == "pairwise") ? answers * (answers - 1) / 2 : 1
		cl = calls[c] / n[c]; tk = (ptok[c] + otok[c]) / n[c]
		rc = rate[c] / n[c]; rp = rate[p] / n[p]
		printf "| %s | %.1f | %.0f + %.0f | %d (%.2f) | %.1f | %.0f | %.3f | %.3f | %.2f× |\n", m, cl, ptok[c]/n[c], otok[c]/n[c], ppp, pairs[c]/n[c], cl/ppp, tk/ppp, rc, rp, (rp > 0 ? rc / rp : 0)
	}
}'
