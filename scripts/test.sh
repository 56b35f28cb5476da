#!/usr/bin/env bash
# The whole test suite: install what is missing (including docker.io and debootstrap for the
# Docker backend's tests), start a Docker engine and build its test image when missing, build,
# and run `swift test`. Extra arguments go to `swift test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
sv_install "${SV_BASE_PACKAGES[@]}" docker.io debootstrap
sv_swift
sv_docker
cd "$SV_ROOT"
swift build --build-tests
swift test --skip-build "$@"
