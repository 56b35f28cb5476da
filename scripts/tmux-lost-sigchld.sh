#!/usr/bin/env bash
# Reproduces tmux's lost SIGCHLD (tmux < 3.6 built with libutempter, as Debian's/Ubuntu's are):
# a pane's process killed with SIGKILL can stay a zombie of the tmux server until some other
# child of that server ends. On the pane's pty EOF, server_destroy_pane() calls
# utempter_remove_record(), which sets SIGCHLD to SIG_DFL while it forks and waits for its
# helper; the pane's SIGCHLD arriving in that window is discarded. tmux 3.6 sends itself a
# SIGCHLD after the call (tmux commit fa5f3cef3, GitHub issue 4559). See README, Troubleshooting.
#
#   scripts/tmux-lost-sigchld.sh [RUNS] [remain-on-exit on|off]
#
# Uses its own tmux server (its own socket in a temporary directory) and kills only the panes'
# processes it started. Prints one line per run, and how many runs left a zombie for 5 s.
set -euo pipefail
runs=${1:-10}; remain=${2:-on}
dir=$(mktemp -d /tmp/tmux-sigchld.XXXXXX)
sock=$dir/tmux.sock
trap 'tmux -S "$sock" kill-server 2>/dev/null || true; rm -rf "$dir"' EXIT
tmux -S "$sock" -f /dev/null new-session -d -s z -n keep sleep 100000 100000
tmux -S "$sock" set-option -g remain-on-exit "$remain"
server=$(tmux -S "$sock" display -p '#{pid}')
echo "tmux $(tmux -V | cut -d' ' -f2), server $server, remain-on-exit $remain, $(ldd "$(command -v tmux)" | grep -q utempter && echo with || echo without) libutempter"
lost=0
for r in $(seq 1 "$runs"); do
    # Two arguments: tmux execs the program itself (no sh -c), as supervisor's shim windows.
    tmux -S "$sock" new-window -d -t z: -n "w$r" sleep 1000 "$r"
    pid=$(tmux -S "$sock" display -p -t "=z:=w$r" '#{pane_pid}')
    sleep 0.2
    kill -KILL "$pid"
    waited=0
    while [[ -d /proc/$pid ]] && (( waited < 500 )); do sleep 0.01; waited=$((waited + 1)); done
    if [[ -d /proc/$pid ]]; then
        lost=$((lost + 1))
        echo "run $r: pane process $pid (parent $(ps -o ppid= -p "$pid" | tr -d ' ')) still $(ps -o stat= -p "$pid") after 5 s;" \
             "pane_dead=$(tmux -S "$sock" display -p -t "=z:=w$r" '#{pane_dead} pane_dead_status=#{pane_dead_status}');" \
             "server $(awk '/^SigBlk|^SigCgt/ {printf "%s %s ", $1, $2}' "/proc/$server/status")(SIGCHLD is 0x10000)"
        kill -CHLD "$server"
        for _ in $(seq 1 100); do [[ -d /proc/$pid ]] || break; sleep 0.01; done
        echo "        after kill -CHLD $server: $([[ -d /proc/$pid ]] && echo 'still there' || echo reaped)"
    else
        echo "run $r: reaped within $((waited * 10)) ms"
    fi
    tmux -S "$sock" kill-window -t "=z:=w$r" 2>/dev/null || true
done
echo "$lost of $runs runs left a zombie for 5 s"
