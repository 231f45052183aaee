#!/usr/bin/env bash
# npm-tools.sh installs the independent readers that export tests and
# scripts/bench-export.sh use: DuckDB (@duckdb/node-api) and hyparquet for
# Parquet, yaml for the dataset card's front matter.
#
# Idempotent and quiet: prints nothing on success, the npm log on failure.
#
# ENVIRONMENT
#   SYNTHKIT_NPM_DIR  install prefix; node_modules/ goes inside it.
#                     Default: ${XDG_CACHE_HOME:-$HOME/.cache}/synthkit/npm
#                     Go tests read the same variable (same default).
set -euo pipefail

dir=${SYNTHKIT_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/synthkit/npm}

# Pinned so an independent reader's behaviour does not drift under the tests.
pkgs=(
	"@duckdb/node-api@1.5.6-r.1"
	"hyparquet@1.31.5"
	"hyparquet-compressors@1.1.2"
	"yaml@2.9.1"
)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "npm-tools.sh: node and npm are required (apt-get install nodejs npm)" >&2
	exit 1
fi

installed() {
	local p name ver got
	for p in "${pkgs[@]}"; do
		name=${p%@*}
		ver=${p##*@}
		got=$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
			"$dir/node_modules/$name/package.json" 2>/dev/null || true)
		[[ $got == "$ver" ]] || return 1
	done
	# The DuckDB native binding ships as a per-platform optional package.
	(cd "$dir" && node -e 'require("@duckdb/node-api")') >/dev/null 2>&1
}

if [[ -d $dir ]] && installed; then
	exit 0
fi

mkdir -p "$dir"
[[ -f $dir/package.json ]] || printf '{"name":"synthkit-npm-tools","private":true}\n' >"$dir/package.json"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! (cd "$dir" && npm install --no-audit --no-fund --no-progress --loglevel=error \
	--save-exact "${pkgs[@]}") >"$log" 2>&1; then
	echo "npm-tools.sh: npm install into $dir failed:" >&2
	cat "$log" >&2
	exit 1
fi
if ! installed; then
	echo "npm-tools.sh: packages in $dir did not load after install:" >&2
	cat "$log" >&2
	exit 1
fi
