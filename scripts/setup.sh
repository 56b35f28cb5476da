#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh: installs the Debian/Ubuntu packages
# supervisor needs when they are missing (as root, or through sudo), finds Swift, and builds.
# Usage: source scripts/setup.sh; sv_install PACKAGES...; sv_swift; sv_build [debug|release]
set -euo pipefail

SV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SV_BASE_PACKAGES=(tmux pkg-config libuv1-dev libcurl4-openssl-dev libncurses-dev libvterm-dev ncurses-base python3)

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

# Swift is not in Debian 12's archive: use the toolchain in PATH or in /opt/swift.
sv_swift() {
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
