#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh: installs the Debian/Ubuntu packages
# supervisor needs when they are missing (as root, or through sudo), finds Swift, and builds.
# Usage: source scripts/setup.sh; sv_install PACKAGES...; sv_swift; sv_build [debug|release]
set -euo pipefail

SV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# libuv1-dev, libvterm-dev and libc6-dev also carry the static archives supervisor-shim links;
# git (in SV_SWIFT_PACKAGES) also drives isolated agents' worktrees (isolation = "worktree").
SV_BASE_PACKAGES=(tmux pkg-config libuv1-dev libcurl4-openssl-dev libncurses-dev libvterm-dev libc6-dev ncurses-base python3
  libwebsockets-dev libwebsockets-evlib-uv)
# scripts/test.sh adds these: ripgrep (the coder's Grep has a ripgrep path and a built-in one,
# both tested), docker.io and debootstrap (the Docker backend's tests; they SKIP where no engine
# can run), python3-pip (serve's tests use Python websockets). git, which the coder's tests use, comes with the toolchain's packages.
# iproute2 (ip netns; nsenter from util-linux) and openssl: the several-engines test starts a
# second engine in a network namespace, reached over TLS (scripts/second-engine.sh).
# strace: bench/dashboard.sh counts the dashboard's idle loop wake-ups with it (it installs it too).
SV_TEST_PACKAGES=(ripgrep docker.io debootstrap python3-pip iproute2 openssl util-linux strace)

sv_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "setup: need root to run: $* (install sudo or run as root)" >&2; exit 2
  fi
}

# Installs only the packages dpkg does not already have; runs apt-get update once, first.
sv_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing packages (${missing[*]}) and no apt-get to install them" >&2; exit 2
  fi
  echo "setup: installing ${missing[*]}" >&2
  sv_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  sv_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# What a swift.org toolchain needs from the system to run, fetch and link (found on a minbase
# Debian 12 by scripts/fresh-machine.sh): libxml2 for swift-build, git and ca-certificates for
# the package dependencies, g++ for crtbeginS.o, libgcc, ld and the C++ headers TOMLKit needs.
SV_SWIFT_PACKAGES=(g++ libxml2 git ca-certificates)

# Swift is not in Debian 12's archive: use the toolchain in PATH or in /opt/swift.
sv_swift() {
  sv_install "${SV_SWIFT_PACKAGES[@]}"
  if ! command -v swift >/dev/null 2>&1; then
    for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
      [ -x "$dir/swift" ] && export PATH="$dir:$PATH" && break
    done
  fi
  command -v swift >/dev/null 2>&1 || {
    echo "setup: Swift 6 is needed: install a toolchain from swift.org into /opt/swift (or put swift in PATH)" >&2; exit 2; }
}

sv_build() {
  local config="${1:-release}"
  (cd "$SV_ROOT" && swift build -c "$config" >&2)
  SV_BIN="$(cd "$SV_ROOT" && swift build -c "$config" --show-bin-path)/supervisor"
  export SV_BIN
}

# The Docker backend's tests need an engine and the test image. Starts an engine when none
# answers (systemd's docker service, else `dockerd --bridge=none --iptables=false` in the
# background, logging to /tmp/supervisor-dockerd.log; it is left running for later runs), then
# builds the test image when it is missing (cached by tag). When no engine can run, the Docker
# tests skip with a SKIP line naming why; nothing here fails the run.
sv_docker() {
  if ! command -v docker >/dev/null 2>&1; then
    echo "setup: no docker CLI: Docker tests will SKIP" >&2; return 0
  fi
  if ! docker info >/dev/null 2>&1; then
    if [ -n "${DOCKER_HOST:-}" ]; then
      echo "setup: no engine answers at DOCKER_HOST=$DOCKER_HOST: Docker tests will SKIP" >&2; return 0
    fi
    if [ -S /var/run/docker.sock ] && [ "$(id -u)" -ne 0 ] && ! [ -w /var/run/docker.sock ]; then
      echo "setup: /var/run/docker.sock is not writable by $(id -un) (join the docker group): Docker tests will SKIP" >&2; return 0
    fi
    echo "setup: starting a Docker engine" >&2
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      sv_as_root systemctl start docker >/dev/null 2>&1 || true
    fi
    local dockerd_pid=""
    if ! docker info >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1; then
      dockerd_pid=$(sv_as_root sh -c 'nohup dockerd --bridge=none --iptables=false >/tmp/supervisor-dockerd.log 2>&1 & echo $!') || true
    fi
    # Up to a minute for the engine to answer; an engine that cannot run here (an unprivileged
    # container) exits within seconds, and then there is nothing to wait for.
    local i
    for i in $(seq 1 60); do
      docker info >/dev/null 2>&1 && break
      [ -n "$dockerd_pid" ] && ! [ -d "/proc/$dockerd_pid" ] && break
      sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
      echo "setup: no Docker engine could be started (see /tmp/supervisor-dockerd.log): Docker tests will SKIP" >&2; return 0
    fi
  fi
  local image="${SV_DOCKER_TEST_IMAGE:-supervisor-test:bookworm}"
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    sv_as_root env SV_DOCKER_TEST_IMAGE="$image" "$SV_ROOT/scripts/docker-test-image.sh" \
      || echo "setup: could not build the Docker test image $image: Docker tests will SKIP" >&2
  fi
}

# The serve tests' WebSocket client is Python's `websockets` (PyPI), a client nobody here
# wrote. Installed for this user when missing; without it those tests SKIP naming why.
sv_python_websockets() {
  python3 -c "import websockets" 2>/dev/null && return 0
  echo "setup: installing Python websockets (pip, this user)" >&2
  python3 -m pip install --user --quiet websockets >&2 \
    || python3 -m pip install --user --quiet --break-system-packages websockets >&2 \
    || echo "setup: cannot install Python websockets: serve client tests will SKIP" >&2
}

# The web dashboard's test drives a real headless Chromium (Debian's chromium and
# chromium-driver) with Selenium (PyPI). Installed when missing; without them that test SKIPs
# naming why. Nothing here fails the run.
sv_browser() {
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "setup: installing chromium and chromium-driver (the dashboard's browser test)" >&2
    ( sv_install chromium chromium-driver ) \
      || echo "setup: cannot install chromium: the browser test will SKIP" >&2
  fi
  python3 -c "import selenium" 2>/dev/null && return 0
  echo "setup: installing Python selenium (pip, this user)" >&2
  python3 -m pip install --user --quiet selenium >&2 \
    || python3 -m pip install --user --quiet --break-system-packages selenium >&2 \
    || echo "setup: cannot install Python selenium: the browser test will SKIP" >&2
}
