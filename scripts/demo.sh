#!/usr/bin/env bash
# The main job: install what is missing, build, and run the demo profile (all agents, no API
# key, no Docker). On a terminal you get the live view; otherwise it waits for the agents to
# finish and prints a summary. Extra arguments go to `supervisor up` (e.g. --detach).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
sv_install "${SV_BASE_PACKAGES[@]}"
sv_swift
sv_build release
cd "$SV_ROOT"
# A demo left over from an earlier run would make `up` refuse: take it down first.
"$SV_BIN" down demo >/dev/null 2>&1 || true
# Every demo starts from the same state: an empty scratch workspace (git ignores its contents).
find profiles/demo-workspace -mindepth 1 -maxdepth 1 ! -name .gitignore -exec rm -rf {} +
exec "$SV_BIN" up profiles/demo.toml "$@"
