#!/usr/bin/env bash
# ensure-ollama.sh prints the path of an ollama binary the tests can run,
# building it first if needed. Progress goes to stderr, the path to stdout.
#
# Order of preference:
#   1. $SYNTHKIT_OLLAMA_BIN, if set (it must be executable);
#   2. `ollama` on PATH, if its version is at least the pinned one;
#   3. ${XDG_CACHE_HOME:-$HOME/.cache}/synthkit/ollama-v0.6.5/ollama, built with
#      `go install github.com/ollama/ollama@v0.6.5` if missing (CPU only, needs
#      gcc/g++, about 4 minutes on a cold cache). The build is cached between runs.
#
# Newer Ollama releases do not build from the module proxy, hence the pin.
set -euo pipefail

version=0.6.5
log() { printf 'ensure-ollama: %s\n' "$*" >&2; }

if [[ -n "${SYNTHKIT_OLLAMA_BIN:-}" ]]; then
	if [[ ! -x "$SYNTHKIT_OLLAMA_BIN" ]]; then
		log "SYNTHKIT_OLLAMA_BIN=$SYNTHKIT_OLLAMA_BIN is not an executable file"
		exit 1
	fi
	printf '%s\n' "$SYNTHKIT_OLLAMA_BIN"
	exit 0
fi

# version_ok VERSION: true if VERSION >= the pinned version.
version_ok() {
	[[ "$1" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || return 1
	[[ "$(printf '%s\n%s\n' "$version" "$1" | sort -V | head -n1)" == "$version" ]]
}

if path_bin="$(command -v ollama 2>/dev/null)"; then
	# `ollama --version` prints "ollama version is X" when a server answers
	# and "client version is X" either way if they differ; take the client's.
	out="$("$path_bin" --version 2>&1 || true)"
	v="$(printf '%s\n' "$out" | sed -n 's/.*client version is \([0-9][0-9.]*\).*/\1/p' | tail -n1)"
	[[ -n "$v" ]] || v="$(printf '%s\n' "$out" | sed -n 's/.*version is \([0-9][0-9.]*\).*/\1/p' | tail -n1)"
	if version_ok "$v"; then
		log "using $path_bin (version $v)"
		printf '%s\n' "$path_bin"
		exit 0
	fi
	log "ignoring $path_bin: version '${v:-unknown}' is older than $version or unknown"
fi

dir="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/synthkit/ollama-v$version"
bin="$dir/ollama"
if [[ -x "$bin" ]]; then
	printf '%s\n' "$bin"
	exit 0
fi

mkdir -p "$dir"
# One build at a time: a second caller waits for the first and reuses its binary.
exec 9>"$dir/.lock"
if command -v flock >/dev/null; then
	flock 9
fi
if [[ ! -x "$bin" ]]; then
	log "building ollama v$version into $dir (CPU only; takes about 4 minutes on a cold cache)"
	staging="$(mktemp -d "$dir/.build.XXXXXX")"
	trap 'rm -rf "$staging"' EXIT
	start=$SECONDS
	# Build outside the repository so its go.mod plays no part, always from the
	# same directory (the cgo build cache keys on it); install into a staging
	# dir and rename, so an interrupted build never leaves a broken binary.
	(cd "$dir" && CGO_ENABLED=1 GOFLAGS= GOBIN="$staging" go install "github.com/ollama/ollama@v$version") >&2
	mv "$staging/ollama" "$bin"
	log "built $bin in $((SECONDS - start))s"
fi
printf '%s\n' "$bin"
