#!/usr/bin/env bash
# The whole test suite: install what is missing (including docker.io and debootstrap for the
# Docker backend's tests), start a Docker engine and build its test image when missing, build,
# and run `swift test`. Extra arguments go to `swift test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
sv_install "${SV_BASE_PACKAGES[@]}" docker.io debootstrap python3-pip
sv_swift
sv_docker
sv_python_websockets
sv_browser
cd "$SV_ROOT"
swift build --build-tests
# All tests are XCTest; the summary line below is the suite's own closing line.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with" "$log" | tail -n 1)
executed=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* with ([0-9]+) failures?.*/\1/' <<<"$summary")
skipped=0
[[ $summary == *skipped* ]] && skipped=$(sed -E 's/.* with ([0-9]+) tests? skipped.*/\1/' <<<"$summary")
if [[ -n $summary ]]; then
  echo "$((executed - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit "$status"
