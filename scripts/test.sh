#!/usr/bin/env bash
# The whole test suite: install what is missing (SV_TEST_PACKAGES in setup.sh: ripgrep, git,
# docker.io, debootstrap), start a Docker engine and build its test image when missing, build,
# and run `swift test`. Extra arguments go to `swift test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
source "$SV_ROOT/scripts/test-summary.sh"
sv_install "${SV_BASE_PACKAGES[@]}" "${SV_TEST_PACKAGES[@]}"
sv_swift
sv_docker
sv_python_websockets
sv_browser
cd "$SV_ROOT"
swift build --build-tests
# All tests are XCTest; the last line is `N passed, N failed, N skipped` (scripts/test-summary.sh).
# Skipped tests (each with its SKIP or XCTSkip reason above) never fail the run.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
sv_test_summary <"$log"
exit "$status"
