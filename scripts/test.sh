#!/usr/bin/env bash
# test.sh is the project's test command: run it from the repository root.
#
#   scripts/test.sh                          # everything
#   scripts/test.sh -run TestChat -v         # extra arguments go to `go test`
#   scripts/test.sh ./local/... -v           # only these packages (gofmt, vet, test)
#
# It builds or finds ollama (scripts/ensure-ollama.sh), starts a private
# `ollama serve` on a free loopback port with its own empty models directory,
# exports SYNTHKIT_TEST_OLLAMA and SYNTHKIT_OLLAMA_BIN for the tests, checks
# gofmt and go vet, runs go test, and always stops the server on exit.
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*" >&2; }

ollama_bin="$(scripts/ensure-ollama.sh)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/synthkit-test.XXXXXX")"
server_pid=""
cleanup() {
	local rc=$?
	if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
		# The server runs in its own process group with its model runners.
		kill -TERM -- "-$server_pid" 2>/dev/null || kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL -- "-$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# http_ok URL: true if GET URL answers 200.
http_ok() {
	if command -v curl >/dev/null; then
		curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
	else
		local hostport="${1#http://}" path
		path="/${hostport#*/}"
		hostport="${hostport%%/*}"
		(
			exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" || exit 1
			printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
			head -n1 <&3 | grep -q ' 200 '
		) 2>/dev/null
	fi
}

# port_free PORT: true if nothing accepts connections on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

mkdir -p "$tmp/models" "$tmp/home"
log_file="$tmp/ollama.log"
start_server() {
	local tries port
	for tries in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		port_free "$port" || continue
		# setsid: own process group, so cleanup reaches the model runners too.
		HOME="$tmp/home" \
			OLLAMA_HOST="127.0.0.1:$port" \
			OLLAMA_MODELS="$tmp/models" \
			OLLAMA_NUM_PARALLEL=8 \
			OLLAMA_MAX_LOADED_MODELS=4 \
			OLLAMA_KEEP_ALIVE=30m \
			setsid "$ollama_bin" serve >>"$log_file" 2>&1 </dev/null &
		server_pid=$!
		local deadline=$((SECONDS + 60))
		while ((SECONDS < deadline)); do
			if http_ok "http://127.0.0.1:$port/api/version"; then
				SYNTHKIT_TEST_OLLAMA="http://127.0.0.1:$port"
				return 0
			fi
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$server_pid" 2>/dev/null; then
			printf 'ollama serve did not answer on port %s within 60s; log tail:\n' "$port" >&2
			tail -n 40 "$log_file" >&2
			return 1
		fi
		log "ollama serve exited on port $port (try $tries); retrying"
	done
	printf 'could not start ollama serve; log tail:\n' >&2
	tail -n 40 "$log_file" >&2
	return 1
}
start_server
log "ollama serve $SYNTHKIT_TEST_OLLAMA ($ollama_bin, log $log_file)"
export SYNTHKIT_TEST_OLLAMA
export SYNTHKIT_OLLAMA_BIN="$ollama_bin"

# Packages among the arguments ("./x/...", "synthkit/x") replace ./... for
# gofmt, vet and test; everything else is a go test flag.
pkgs=()
for arg in "$@"; do
	if [[ "$arg" == ./* || "$arg" == ../* || "$arg" == synthkit || "$arg" == synthkit/* ]]; then
		pkgs+=("$arg")
	fi
done
if ((${#pkgs[@]} == 0)); then
	pkgs=(./...)
	set -- ./... "$@"
fi

log "gofmt"
# gofmt -l over the directories of the packages under test (go list skips
# testdata, vendor-like and hidden directories).
mapfile -t dirs < <(go list -f '{{.Dir}}' "${pkgs[@]}")
mapfile -t unformatted < <(find "${dirs[@]}" -maxdepth 1 -name '*.go' -print0 | xargs -0 -r gofmt -l)
if ((${#unformatted[@]})); then
	printf 'gofmt needed on:\n' >&2
	printf '  %s\n' "${unformatted[@]}" >&2
	exit 1
fi

log "go vet"
go vet "${pkgs[@]}"

# ---- Extra steps added by later issues go here (tools the tests need). ----
# scripts/npm-tools.sh installs node tools (e.g. a Parquet reader used to
# check our files with an independent implementation).
if [[ -x scripts/npm-tools.sh ]]; then
	log "scripts/npm-tools.sh"
	scripts/npm-tools.sh
fi
# scripts/fuzz.sh runs each Go fuzz target of the packages under test for
# FUZZTIME (default 5s; FUZZTIME=0 skips it).
log "scripts/fuzz.sh (FUZZTIME=${FUZZTIME:-5s})"
scripts/fuzz.sh "${pkgs[@]}"
# scripts/ensure-chromium.sh installs Chromium (Debian's package) for the
# report's screenshot test; without it that test skips, or fails when
# SYNTHKIT_REQUIRE_CHROMIUM is set (CI).
if chromium_bin="$(scripts/ensure-chromium.sh)"; then
	export SYNTHKIT_CHROMIUM_BIN="$chromium_bin"
else
	log "no Chromium: the report screenshot test skips (fails with SYNTHKIT_REQUIRE_CHROMIUM set)"
fi
# ---- End of extra steps. ----

log "go test"
status=0
go test -count=1 -timeout 30m "$@" || status=$?
if ((status != 0)); then
	log "go test failed; ollama serve log tail:"
	tail -n 30 "$log_file" >&2 || true
fi
exit "$status"
