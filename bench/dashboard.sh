#!/usr/bin/env bash
# Dashboard benchmarks (not a test): CPU with 10 agents writing 1 MB/s each, key-to-screen
# latency under that load, and wake-ups per second with 20 idle agents.
#   bench/dashboard.sh [path/to/supervisor]     (default: .build/release/supervisor, else debug)
# Everything runs under a fresh SUPERVISOR_HOME and a private tmux socket, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SV=${1:-}
if [ -z "$SV" ]; then
  if [ -x .build/release/supervisor ]; then SV=$PWD/.build/release/supervisor; else SV=$PWD/.build/debug/supervisor; fi
fi
export LC_ALL=C.UTF-8 LANG=C.UTF-8
HZ=$(getconf CLK_TCK)
export SUPERVISOR_HOME=$(mktemp -d /tmp/sv-XXXXXX)
OUT=$SUPERVISOR_HOME/o.sock
T() { tmux -S "$OUT" -f /dev/null "$@"; }
cleanup() {
  T kill-server 2>/dev/null || true
  for p in flood idle; do "$SV" down "$p" >/dev/null 2>&1 || true; done
  rm -rf "$SUPERVISOR_HOME"
}
trap cleanup EXIT

profile() { # name count command
  local name=$1 n=$2 cmd=$3 f=$SUPERVISOR_HOME/$1.toml
  printf 'name = "%s"\n[logs]\ndir = "%s/logs"\nmax_bytes = 2000000000\n' "$name" "$SUPERVISOR_HOME" > "$f"
  for i in $(seq 1 "$n"); do
    printf '[[agents]]\nname = "a%02d"\nkind = "command"\ncommand = ["sh", "-c", %s]\n' "$i" "$cmd" >> "$f"
  done
  echo "$f"
}
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }
wakeups() { awk '{print $3}' /proc/$1/schedstat; }   # times run on a CPU
dash_pid() { pgrep -f "^$SV dashboard $1\$" | head -1; }
now_ms() { date +%s%3N; }

# ---- 1. 10 agents x 1 MB/s ------------------------------------------------
# Each writes 1 MB per second as 16 KB bursts of 80-column lines (~64 bursts/s).
FLOOD='"python3 -c \"import sys,time\nline=(\x27x\x27*79+\x27\\\\n\x27)\nb=line*205\nwhile True:\n t=time.time()\n for i in range(64): sys.stdout.write(b); sys.stdout.flush(); time.sleep(1/64)\n\""'
FLOOD=\''while :; do head -c 1048576 /dev/zero | tr "\0" "x" | fold -w 79; sleep 1; done'\'
f=$(profile flood 10 "$FLOOD")
"$SV" up "$f" --detach >/dev/null
T new-session -d -s o -x 200 -y 50 -e SUPERVISOR_HOME="$SUPERVISOR_HOME" -e TERM=xterm-256color "$SV dashboard flood"
for _ in $(seq 100); do [ -n "$(dash_pid flood)" ] && break; sleep 0.1; done
P=$(dash_pid flood)
sleep 3
c0=$(cpu_ticks "$P"); s0=$(date +%s%N)
sleep 10
c1=$(cpu_ticks "$P"); s1=$(date +%s%N)
cpu=$(awk -v c=$((c1-c0)) -v hz="$HZ" -v ns=$((s1-s0)) 'BEGIN{printf "%.1f", 100*c/hz/(ns/1e9)}')
bytes=$(du -cb "$SUPERVISOR_HOME"/logs/flood/*.log | tail -1 | cut -f1)

# Key-to-screen latency: Tab moves the selection marker; time until capture-pane shows it.
# The same measurement against a minimal program (it prints a counter per key) in a second
# window, under the same load, is the baseline: it is what tmux itself and the polling cost.
T new-window -d -t o: -n base "python3 -c \"import sys,tty;tty.setraw(0);n=0
while sys.stdin.read(1): n+=1; sys.stdout.write('\\r\\x1b[K▶%d' % n); sys.stdout.flush()\""
measure() { # target -> prints p50 p99 (ms) over 100 keys
  local target=$1 lat=() before after t0
  for i in $(seq 1 100); do
    before=$(T capture-pane -p -t "$target" | grep -o '▶ *[0-9]*' | head -1 || true)
    t0=$(now_ms); T send-keys -t "$target" Tab
    while :; do
      after=$(T capture-pane -p -t "$target" | grep -o '▶ *[0-9]*' | head -1 || true)
      [ "$after" != "$before" ] && break
      [ $(( $(now_ms) - t0 )) -gt 2000 ] && break
    done
    lat+=($(( $(now_ms) - t0 )))
  done
  printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END{i=int(NR*0.99+0.999); if(i>NR)i=NR; print a[int(NR*0.5)+0], a[i]}'
}
read -r p50 p99 < <(measure o:0)
read -r b50 b99 < <(measure o:base)
T kill-server; "$SV" down flood >/dev/null

# ---- 2. 20 idle agents ----------------------------------------------------
f=$(profile idle 20 '"echo ready; exec sleep 100000"')
"$SV" up "$f" --detach >/dev/null
T new-session -d -s o -x 200 -y 50 -e SUPERVISOR_HOME="$SUPERVISOR_HOME" -e TERM=xterm-256color "$SV dashboard idle"
for _ in $(seq 100); do [ -n "$(dash_pid idle)" ] && break; sleep 0.1; done
P=$(dash_pid idle)
sleep 4
c0=$(cpu_ticks "$P")
n=0
if command -v strace >/dev/null; then
  # epoll_wait returns = loop wake-ups.
  n=$(timeout 20 strace -e trace=epoll_wait,epoll_pwait -p "$P" 2>&1 | grep -c 'epoll_p\?wait(.*) = ' || true)
fi
if [ "$n" -gt 0 ]; then
  wps=$(awk -v w="$n" 'BEGIN{printf "%.2f (epoll)", w/20}')
else
  w0=$(wakeups "$P"); sleep 20; w1=$(wakeups "$P")
  wps=$(awk -v w=$((w1-w0)) 'BEGIN{printf "%.2f (schedstat)", w/20}')
fi
c1=$(cpu_ticks "$P")
idlecpu=$(awk -v c=$((c1-c0)) -v hz="$HZ" 'BEGIN{printf "%.2f", 100*c/hz/20}')

printf '\n%-52s %-12s %s\n' "measure" "result" "target"
printf '%-52s %-12s %s\n' "binary" "$(basename "$(dirname "$SV")")" ""
printf '%-52s %-12s %s\n' "10 agents flooding: MB/s written (all agents)" "$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6/13}')" "~10"
printf '%-52s %-12s %s\n' "10 agents flooding: dashboard CPU (% of one core)" "$cpu" "< 25"
printf '%-52s %-12s %s\n' "key-to-screen latency p50 (ms, 100 Tabs)" "$p50" ""
printf '%-52s %-12s %s\n' "key-to-screen latency p99 (ms, 100 Tabs)" "$p99" "< 50"
printf '%-52s %-12s %s\n' "baseline: same keys to a minimal program, p50 / p99" "$b50 / $b99" ""
printf '%-52s %-12s %s\n' "20 idle agents: dashboard wake-ups/s" "$wps" "<= 1 (its clock)"
printf '%-52s %-12s %s\n' "20 idle agents: dashboard CPU (%)" "$idlecpu" "~0"
