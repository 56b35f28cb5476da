#!/usr/bin/env bash
# Makes docs/dashboard.png (the picture in the README) from a real run of the demo profile:
# the dashboard runs in a private tmux server of its own at a fixed size, `tmux capture-pane -e`
# takes its screen with colours, and scripts/ansi2png.py draws that into a PNG.
#   scripts/dashboard-picture.sh [OUT.png]      (SV_CONFIG=debug to use a debug build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
sv_install "${SV_BASE_PACKAGES[@]}" fonts-dejavu-core python3-pip
sv_swift
sv_build "${SV_CONFIG:-release}"
# Pillow draws the picture: from PyPI for the python3 on PATH, else Debian's package.
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages pillow || sv_install python3-pil
cd "$SV_ROOT"
out="$(realpath -m "${1:-docs/dashboard.png}")"
mkdir -p "$(dirname "$out")"
work="$(mktemp -d)"
export SUPERVISOR_HOME="$work/home"
outer="$work/outer.sock"
finish() {
  tmux -S "$outer" kill-server 2>/dev/null || true
  "$SV_BIN" down demo >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap finish EXIT
# A fresh copy of the profiles: the demo's logs and workspace start empty, as on a first run.
cp -r profiles "$work/profiles"
rm -rf "$work/profiles/demo-workspace"/* "$work/profiles/demo-workspace"/.[!.]* 2>/dev/null || true
"$SV_BIN" up "$work/profiles/demo.toml" --detach >/dev/null
tmux -S "$outer" -f /dev/null new-session -d -s pic -x 150 -y 40 \
  -e "SUPERVISOR_HOME=$SUPERVISOR_HOME" -e TERM=xterm-256color -e LANG=C.UTF-8 -e LC_ALL=C.UTF-8 \
  "$SV_BIN" dashboard demo
# Let the agents work a few seconds (the demo's recorded turns take about ten).
for _ in $(seq 1 40); do
  tmux -S "$outer" capture-pane -p -t pic 2>/dev/null | grep -q 'exited (0)' && break
  sleep 0.5
done
sleep 3
tmux -S "$outer" capture-pane -e -p -t pic > "$work/screen.ansi"
python3 scripts/ansi2png.py "$work/screen.ansi" "$out"
echo "wrote $out"
