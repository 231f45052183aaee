#!/usr/bin/env bash
# crash-campaign.sh: the full crash campaign (cmd/crashcampaign) against a
# private Ollama with the tiny test models: every generating method, export
# and --fresh, each SIGKILLed KILLS times (default 30) at random moments.
#
#   scripts/crash-campaign.sh                 # 30 kills per scenario
#   KILLS=100 scripts/crash-campaign.sh       # more
#   SCENARIOS=respond,export scripts/crash-campaign.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SYNTHKIT_CRASH_KILLS="${KILLS:-30}"
export SYNTHKIT_CRASH_SCENARIOS="${SCENARIOS:-}"
exec scripts/test.sh ./cmd/crashcampaign/ -run TestCrashCampaign -v -timeout 120m
