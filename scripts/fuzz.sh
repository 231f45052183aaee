#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target (func FuzzX(f *testing.F) in a _test.go
# file) for a bounded time each. Go fuzzes one target per invocation, so
# each gets its own `go test -fuzz`.
#
#   scripts/fuzz.sh                      # every target, FUZZTIME each (default 5s)
#   FUZZTIME=2m scripts/fuzz.sh ./export # only the targets in these packages
#   FUZZTIME=0 scripts/fuzz.sh           # skip fuzzing (the seeds still run in go test)
#
# FUZZMINIMIZETIME (default 1s) bounds the minimizing of each new input.
#
# A failure leaves the failing input in the package's testdata/fuzz/FuzzX/;
# `go test -run 'FuzzX/NAME' ./pkg` replays it. Commit it with the fix as a
# regression seed.
set -euo pipefail

cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-5s}"
# New inputs that widen coverage are minimized before fuzzing goes on; on a
# busy machine the default (60s) can outlast -fuzztime and fail the run
# with "context deadline exceeded", so keep it short.
minimize="${FUZZMINIMIZETIME:-1s}"
if [[ "$fuzztime" == 0 || "$fuzztime" == 0s ]]; then
	printf '== fuzz: FUZZTIME=%s, skipped\n' "$fuzztime" >&2
	exit 0
fi

pkgs=("$@")
if ((${#pkgs[@]} == 0)); then
	pkgs=(./...)
fi

# go list gives each package's directory and import path; grep finds the
# targets in its test files.
status=0
while read -r dir path; do
	[[ -n "$dir" ]] || continue
	mapfile -t targets < <(grep -ho '^func Fuzz[A-Za-z0-9_]*(' "$dir"/*_test.go 2>/dev/null | sed 's/^func \(.*\)($/\1/' | sort -u)
	for target in "${targets[@]}"; do
		printf '== fuzz %s %s (%s)\n' "$path" "$target" "$fuzztime" >&2
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$path" >&2; then
			printf '== fuzz %s %s FAILED: the input is in %s/testdata/fuzz/%s/\n' "$path" "$target" "$dir" "$target" >&2
			status=1
		fi
	done
done < <(go list -f '{{.Dir}} {{.ImportPath}}' "${pkgs[@]}")
exit "$status"
