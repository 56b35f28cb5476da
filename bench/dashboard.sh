#!/usr/bin/env bash
# Dashboard benchmarks (not a test): CPU with 10 agents writing 1 MB/s each, key-to-screen
# latency under that load against two baselines, and wake-ups per second with 20 idle agents.
#   bench/dashboard.sh [path/to/supervisor] [--samples N] [--cpu-seconds S] [--idle-seconds S]
# (default binary: .build/release/supervisor, else debug). How each figure is measured:
# bench/dashboard.py's header and bench/README.md. Everything runs under a fresh
# SUPERVISOR_HOME (/tmp/svb-dash-*), removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# strace counts the idle loop's wake-ups (the scheduler's count is printed too).
command -v strace >/dev/null || { source scripts/setup.sh; sv_install strace; }
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then SUPERVISOR_BIN=$1; shift; fi
if [ -z "${SUPERVISOR_BIN:-}" ]; then
  if [ -x .build/release/supervisor ]; then SUPERVISOR_BIN=$PWD/.build/release/supervisor; else SUPERVISOR_BIN=$PWD/.build/debug/supervisor; fi
fi
export SUPERVISOR_BIN LC_ALL=C.UTF-8 LANG=C.UTF-8
exec python3 bench/dashboard.py "$@"
