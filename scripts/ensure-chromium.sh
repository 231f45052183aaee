#!/usr/bin/env bash
# ensure-chromium.sh prints the path of a Chromium the screenshot tests can
# run headless, installing Debian's `chromium` package first if needed.
# Progress goes to stderr, the path to stdout; exit 1 when none can be had.
#
# Order of preference:
#   1. $SYNTHKIT_CHROMIUM_BIN, if set (it must be executable);
#   2. chromium, chromium-browser, google-chrome or google-chrome-stable on PATH;
#   3. `apt-get install chromium` (as root, or through passwordless sudo).
#      CI's machine may be fresh, so the project installs it itself; the
#      package stays installed for later runs.
set -euo pipefail

log() { printf 'ensure-chromium: %s\n' "$*" >&2; }

if [[ -n "${SYNTHKIT_CHROMIUM_BIN:-}" ]]; then
	if [[ ! -x "$SYNTHKIT_CHROMIUM_BIN" ]]; then
		log "SYNTHKIT_CHROMIUM_BIN=$SYNTHKIT_CHROMIUM_BIN is not an executable file"
		exit 1
	fi
	printf '%s\n' "$SYNTHKIT_CHROMIUM_BIN"
	exit 0
fi

find_bin() {
	local name
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$name" 2>/dev/null; then
			return 0
		fi
	done
	return 1
}

if bin="$(find_bin)"; then
	printf '%s\n' "$bin"
	exit 0
fi

if ! command -v apt-get >/dev/null; then
	log "no chromium on PATH and no apt-get to install it: install Chromium and set SYNTHKIT_CHROMIUM_BIN"
	exit 1
fi
as_root=()
if [[ "$(id -u)" != 0 ]]; then
	if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		as_root=(sudo -n)
	else
		log "no chromium on PATH; installing it needs root (run: apt-get install chromium), or set SYNTHKIT_CHROMIUM_BIN"
		exit 1
	fi
fi

# One install at a time: apt holds its own lock, but a second caller should
# wait for the first and reuse its result rather than fail on that lock.
lock="${TMPDIR:-/tmp}/synthkit-ensure-chromium.lock"
exec 9>"$lock"
if command -v flock >/dev/null; then
	flock 9
fi
if bin="$(find_bin)"; then
	printf '%s\n' "$bin"
	exit 0
fi
log "installing Debian's chromium package (a few minutes on a fresh machine)"
start=$SECONDS
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q >&2 || log "apt-get update failed; trying the install with the lists as they are"
if ! "${as_root[@]}" apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2; then
	log "apt-get install chromium failed"
	exit 1
fi
if ! bin="$(find_bin)"; then
	log "chromium was installed but is not on PATH"
	exit 1
fi
log "installed $bin in $((SECONDS - start))s"
printf '%s\n' "$bin"
