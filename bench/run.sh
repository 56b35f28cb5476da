#!/usr/bin/env bash
# Runs every supervisor benchmark and prints their tables (Markdown).
#
#   bench/run.sh [--no-build] [--quick]
#
# Builds the release binary first (swift build -c release) unless --no-build; SUPERVISOR_BIN
# overrides the binary. --quick uses smaller sizes (10 MB, 1 run, 5 s idle, 200 samples) for a
# smoke test; the defaults are the issue's targets. Each benchmark uses its own private
# SUPERVISOR_HOME and tmux sockets under /tmp/svb-* and removes them when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1 quick=0
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        --quick) quick=1 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "bench/run.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done
command -v python3 >/dev/null || { echo "bench: python3 is required" >&2; exit 2; }
command -v tmux >/dev/null || { echo "bench: tmux is required" >&2; exit 2; }
if [[ $build == 1 && -z ${SUPERVISOR_BIN:-} ]]; then
    echo "building the release binary (swift build -c release)..." >&2
    swift build -c release >&2
fi

echo "# supervisor benchmarks"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC') · $(nproc) CPUs · $(uname -r) · $(tmux -V) · load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
if [[ $quick == 1 ]]; then
    python3 bench/throughput.py --mb 10 --runs 1
    python3 bench/idle.py --seconds 5
    python3 bench/startup.py --runs 2
    python3 bench/memory.py
    python3 bench/latency.py --samples 200
else
    python3 bench/throughput.py
    python3 bench/idle.py
    python3 bench/startup.py
    python3 bench/memory.py
    python3 bench/latency.py
fi
