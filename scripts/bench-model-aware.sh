#!/usr/bin/env bash
# bench-model-aware.sh: respond with two models on a server that keeps one
# model loaded at a time (OLLAMA_MAX_LOADED_MODELS=1, a laptop's situation),
# interleaved (the old order) vs model by model (the engine's phases).
# Prints model loads per run and wall time per run (ns/op), side by side.
#
#   scripts/bench-model-aware.sh            # 3 runs of each
#   scripts/bench-model-aware.sh 5x         # -benchtime
set -euo pipefail
cd "$(dirname "$0")/.."
SYNTHKIT_OLLAMA_BIN="$(scripts/ensure-ollama.sh)"
export SYNTHKIT_OLLAMA_BIN
go test -run '^$' -bench 'BenchmarkRespondOneModelServer' -benchtime "${1:-3x}" -count 1 ./prompts/
