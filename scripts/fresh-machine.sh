#!/usr/bin/env bash
# The README's two commands on a machine that has never seen the project: a brand-new Debian
# bookworm container (the Docker tests' debootstrap image, scripts/docker-test-image.sh) gets a
# fresh `git clone` of this checkout's committed HEAD and the Swift toolchain mounted read-only,
# and nothing else of this machine. In it, as root, `./scripts/demo.sh` runs headless, then
# `./scripts/test.sh`; each installs what it needs through apt (network host, so apt reaches
# the Debian mirror). Prints both exit statuses and the test summary; the whole output is kept
# in a log. Slow (two full builds, 20-40 minutes): not part of the test suite.
#
# Docker tests SKIP in the container, with their `SKIP Docker tests: ...` line: test.sh starts
# an engine there, but an unprivileged container cannot import the test image (no mount
# namespace). The host's socket is deliberately not lent: its containers would bind-mount host
# paths that exist only inside this container, and it would hand the container root on the
# host. ./scripts/test.sh on the host runs them.
#
# Usage: scripts/fresh-machine.sh  (env: SV_FRESH_IMAGE, SV_SWIFT_DIR, SV_FRESH_LOG)
# Exit status: 0 when both commands exit 0, 1 otherwise, 2 when it cannot start.
set -euo pipefail
# One function, read whole before it runs, and `exit` on the same line as its call: editing
# this file while it runs (a long run) changes nothing.
main() {
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  image="${SV_FRESH_IMAGE:-${SV_DOCKER_TEST_IMAGE:-supervisor-test:bookworm}}"
  swift_dir="${SV_SWIFT_DIR:-/opt/swift}"
  log="${SV_FRESH_LOG:-/tmp/supervisor-fresh-machine.$(date -u +%Y%m%dT%H%M%SZ).log}"

  command -v docker >/dev/null 2>&1 || { echo "fresh-machine: needs the docker CLI and an engine" >&2; exit 2; }
  [ -x "$swift_dir/usr/bin/swift" ] || { echo "fresh-machine: no Swift toolchain at $swift_dir (set SV_SWIFT_DIR)" >&2; exit 2; }
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    "$root/scripts/docker-test-image.sh" "$image" || { echo "fresh-machine: could not build $image" >&2; exit 2; }
  fi

  work="$(mktemp -d /tmp/sv-fresh.XXXXXX)"
  name="sv-fresh-$$"
  cleanup() {
    docker rm --force "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
  }
  trap cleanup EXIT
  # Only what is committed: the clone is what a newcomer gets.
  git clone --quiet --no-hardlinks "$root" "$work/supervisor"
  git -C "$work/supervisor" checkout --quiet --detach "$(git -C "$root" rev-parse HEAD)"
  echo "fresh-machine: $(git -C "$work/supervisor" log -1 --format='%h %s') in $image; log: $log" >&2

  # Package dependencies come from GitHub. Where this machine reaches GitHub through git URL
  # rewrites to local mirrors (`url.<dir>.insteadOf` in its git config, as on a machine without
  # internet access), those directories are mounted read-only and the rewrites passed on as
  # GIT_CONFIG_* variables: the container's stand-in for GitHub, as the mirror is for Debian.
  git_args=()
  declare -A mirrors=()
  count=0
  while read -r key value; do
    base="${key#url.}"; base="${base%.insteadof}"
    [ -d "$base" ] || continue
    git_args+=(--env "GIT_CONFIG_KEY_$count=url.$base.insteadOf" --env "GIT_CONFIG_VALUE_$count=$value")
    count=$((count + 1))
    if [ -z "${mirrors[$base]:-}" ]; then mirrors[$base]=1; git_args+=(--volume "$base:$base:ro"); fi
  done < <(git config --get-regexp '^url\..*\.insteadof$' || true)
  [ "$count" -gt 0 ] && git_args+=(--env "GIT_CONFIG_COUNT=$count")

  # Where this machine reaches PyPI through a TLS-intercepting proxy whose CA only its own trust
  # store has (pip's `cert` setting names that bundle), pip in the container gets the same bundle,
  # read-only, for pip alone: the stand-in for PyPI's own certificate chain on an open network.
  pip_cert="${PIP_CERT:-$(python3 -m pip config list 2>/dev/null | sed -n "s/^global\.cert='\(.*\)'$/\1/p" | head -n 1)}"
  if [ -n "$pip_cert" ] && [ -f "$pip_cert" ]; then
    git_args+=(--volume "$pip_cert:/run/sv-host-ca.crt:ro" --env "PIP_CERT=/run/sv-host-ca.crt")
  fi

  # Both commands run even when the first fails; each status is printed on a line of its own.
  inner='cd /src
  ./scripts/demo.sh --headless </dev/null; echo "fresh-machine: demo.sh exit $?"
  ./scripts/test.sh </dev/null; echo "fresh-machine: test.sh exit $?"'
  set +e
  docker run --name "$name" --rm --init --network host \
    --volume "$swift_dir:/opt/swift:ro" --volume "$work/supervisor:/src" \
    --env LANG=C.UTF-8 --env TERM=xterm-256color "${git_args[@]}" \
    "$image" bash -c "$inner" 2>&1 | tee "$log"
  set -e

  # A command that never ran (the container was removed) has no line: "none", not an abort.
  demo=$(grep -E '^fresh-machine: demo.sh exit [0-9]+$' "$log" | tail -n 1 | awk '{print $NF}' || true)
  tests=$(grep -E '^fresh-machine: test.sh exit [0-9]+$' "$log" | tail -n 1 | awk '{print $NF}' || true)
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1 || true)
  echo
  echo "fresh-machine: ./scripts/demo.sh exit ${demo:-none}"
  echo "fresh-machine: ./scripts/test.sh exit ${tests:-none}"
  echo "fresh-machine: tests: ${summary:-no summary}"
  grep -E '^SKIP ' "$log" | sort -u | sed 's/^/fresh-machine: /' || true
  echo "fresh-machine: full output in $log"
  [ "${demo:-1}" = 0 ] && [ "${tests:-1}" = 0 ]
}
main "$@"; exit
