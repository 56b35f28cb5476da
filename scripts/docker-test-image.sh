#!/usr/bin/env bash
# Builds the Docker backend's test image without a registry: a Debian bookworm root file system
# made by debootstrap (minbase + python3 + procps), imported with `docker import`. Cached by tag:
# does nothing when the image exists. Usage: scripts/docker-test-image.sh [TAG]
# Needs root (debootstrap), a running engine and access to a Debian mirror (SV_DEBIAN_MIRROR).
set -euo pipefail
TAG="${1:-${SV_DOCKER_TEST_IMAGE:-supervisor-test:bookworm}}"
MIRROR="${SV_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if docker image inspect "$TAG" >/dev/null 2>&1; then exit 0; fi
command -v debootstrap >/dev/null 2>&1 || { echo "docker-test-image: debootstrap is not installed" >&2; exit 2; }
# An engine that answers may still be unable to store an image (one inside an unprivileged
# container: "Error creating mount namespace"): importing an empty layer tells in a second,
# before the two-minute debootstrap.
probe="supervisor-test-probe:$$"
if ! probe_error=$(tar -c --files-from /dev/null | docker import - "$probe" 2>&1 >/dev/null); then
  echo "docker-test-image: this engine cannot import an image: $probe_error" >&2; exit 1
fi
docker rmi "$probe" >/dev/null 2>&1 || true
work="$(mktemp -d /tmp/sv-rootfs.XXXXXX)"
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
echo "docker-test-image: debootstrap bookworm into $work (about 2 minutes)" >&2
debootstrap --variant=minbase --include=python3,procps bookworm "$work/root" "$MIRROR" > "$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* 2>/dev/null || true
tar -C "$work/root" -c . | docker import \
  --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
  -m "supervisor test image: debootstrap bookworm minbase + python3" - "$TAG" >/dev/null
echo "docker-test-image: built $TAG in $(( $(date +%s) - start ))s" >&2
