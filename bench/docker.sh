#!/usr/bin/env bash
# Docker backend benchmarks (not a test), all in one run so the numbers compare:
#   1. start-up: `supervisor up --detach` of 5 docker command agents until all run (containers
#      made, shims up, each agent's program running inside its container), and `down`;
#   2. per-command overhead of a tool call in a container (`docker exec CONTAINER true`, what
#      DockerBox runs) next to the same command run locally (`true`).
#   3. the same tool call on a second engine reached over TCP with TLS (scripts/second-engine.sh:
#      a private dockerd in a network namespace on this machine, so the figure is the TLS and
#      TCP cost, not a network's latency); skipped with a line saying why when it cannot run.
#   bench/docker.sh [path/to/supervisor] [N execs]   (default: .build/release, else debug; N=50)
# Uses the test image (scripts/docker-test-image.sh) and network none; everything it makes is
# under a fresh SUPERVISOR_HOME and removed at the end (containers by label).
set -euo pipefail
cd "$(dirname "$0")/.."
SV=${1:-}
if [ -z "$SV" ]; then
  if [ -x .build/release/supervisor ]; then SV=$PWD/.build/release/supervisor; else SV=$PWD/.build/debug/supervisor; fi
fi
N=${2:-50}
IMAGE=${SV_DOCKER_TEST_IMAGE:-supervisor-test:bookworm}
docker info >/dev/null 2>&1 || { echo "bench/docker.sh: no Docker engine answers" >&2; exit 2; }
docker image inspect "$IMAGE" >/dev/null 2>&1 || { echo "bench/docker.sh: image $IMAGE missing: scripts/docker-test-image.sh" >&2; exit 2; }
export SUPERVISOR_HOME=$(mktemp -d /tmp/sv-bench-XXXXXX)
chmod 755 "$SUPERVISOR_HOME"
WS=$SUPERVISOR_HOME/ws; mkdir -p "$WS"; chmod 777 "$WS"
ENGINE_DIR=/tmp/sve-bench-$$
cleanup() {
  [ -d "$ENGINE_DIR" ] && scripts/second-engine.sh down "$ENGINE_DIR" >/dev/null 2>&1 || true
  "$SV" down dbench >/dev/null 2>&1 || true
  ids=$(docker ps -aq --filter "label=supervisor.home=$SUPERVISOR_HOME" --filter "label=supervisor.bench=1")
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
  ids=$(docker ps -aq --filter "label=supervisor.home=$SUPERVISOR_HOME")
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
  rm -rf "$SUPERVISOR_HOME"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

F=$SUPERVISOR_HOME/dbench.toml
{
  printf 'name = "dbench"\n[logs]\ndir = "%s/logs"\n' "$SUPERVISOR_HOME"
  printf '[backend]\ntype = "docker"\nimage = "%s"\nnetwork = "none"\nmemory = "256m"\n' "$IMAGE"
  for i in 1 2 3 4 5; do
    printf '[[agents]]\nname = "a%d"\nkind = "command"\ncwd = "%s"\ncommand = ["sh", "-c", "echo ready-in-$(hostname); exec sleep 600"]\n' "$i" "$WS"
  done
} > "$F"

# ---- 1. start-up of 5 docker agents ------------------------------------------
t0=$(now_ms)
"$SV" up "$F" --detach >/dev/null
t_up=$(( $(now_ms) - t0 ))
for i in 1 2 3 4 5; do   # `up` returns when every shim started its agent; wait for the program's first line
  until grep -q "ready-in-sv-dbench-a$i" "$SUPERVISOR_HOME/logs/dbench/a$i.log" 2>/dev/null; do sleep 0.02; done
done
t_ready=$(( $(now_ms) - t0 ))
t0=$(now_ms)
"$SV" down dbench >/dev/null
t_down=$(( $(now_ms) - t0 ))

# ---- 2. per-command overhead ------------------------------------------------
C=sv-bench-$$
docker run -d --init --name "$C" --label supervisor.home="$SUPERVISOR_HOME" --label supervisor.bench=1 --network none \
  --user "$(id -u):$(id -g)" --cap-drop ALL --security-opt no-new-privileges "$IMAGE" sleep infinity >/dev/null
docker exec "$C" true   # warm
t0=$(now_ms); for _ in $(seq 1 "$N"); do /bin/true; done; t_local=$(( $(now_ms) - t0 ))
t0=$(now_ms); for _ in $(seq 1 "$N"); do docker exec "$C" true; done; t_exec=$(( $(now_ms) - t0 ))
t0=$(now_ms); for _ in $(seq 1 "$N"); do docker exec -i "$C" bash -c 'exec 2>&1; true' </dev/null; done; t_execb=$(( $(now_ms) - t0 ))
t0=$(now_ms); for _ in $(seq 1 "$N"); do bash -c 'exec 2>&1; true' </dev/null; done; t_localb=$(( $(now_ms) - t0 ))

# ---- 3. the same on a remote engine (TCP + TLS) --------------------------------
t_remote=""; t_remoteb=""; remote_note=""
if why=$(scripts/second-engine.sh check); then
  eval "$(scripts/second-engine.sh up "$ENGINE_DIR" "$IMAGE" | sed 's/^/R_/')"
  R=(docker --host "$R_HOST" --tlsverify --tlscacert "$R_CA" --tlscert "$R_CERT" --tlskey "$R_KEY")
  "${R[@]}" run -d --init --name "$C" --label supervisor.bench=1 --network none \
    --user "$(id -u):$(id -g)" --cap-drop ALL --security-opt no-new-privileges "$IMAGE" sleep infinity >/dev/null
  "${R[@]}" exec "$C" true   # warm
  t0=$(now_ms); for _ in $(seq 1 "$N"); do "${R[@]}" exec "$C" true; done; t_remote=$(( $(now_ms) - t0 ))
  t0=$(now_ms); for _ in $(seq 1 "$N"); do "${R[@]}" exec -i "$C" bash -c 'exec 2>&1; true' </dev/null; done; t_remoteb=$(( $(now_ms) - t0 ))
  "${R[@]}" rm -f "$C" >/dev/null 2>&1 || true
else
  remote_note="remote engine: skipped ($why)"
fi

per() { awk -v t="$1" -v n="$N" 'BEGIN { printf "%.2f", t / n }'; }
echo
echo "Docker backend ($(docker version --format '{{.Server.Version}}' 2>/dev/null) engine, client $(docker version --format '{{.Client.Version}}'), $(nproc) cores, $($SV --version 2>/dev/null || basename "$SV"))"
printf '%-58s %12s\n' "measure" "result"
printf '%-58s %12s\n' "----------------------------------------------------------" "------------"
printf '%-58s %9d ms\n' "up --detach, 5 docker agents (containers + shims started)" "$t_up"
printf '%-58s %9d ms\n' "... until all 5 programs printed inside their containers" "$t_ready"
printf '%-58s %9d ms\n' "down (5 shims stopped, 5 containers removed)" "$t_down"
printf '%-58s %9s ms\n' "local: true (per call, mean of $N)" "$(per "$t_local")"
printf '%-58s %9s ms\n' "docker exec CONTAINER true (per call)" "$(per "$t_exec")"
printf '%-58s %9s ms\n' "local: bash -c 'exec 2>&1; true' (a BoxCommand)" "$(per "$t_localb")"
printf '%-58s %9s ms\n' "docker exec -i CONTAINER bash -c ... (a BoxCommand)" "$(per "$t_execb")"
if [ -n "$t_remote" ]; then
  printf '%-58s %9s ms\n' "remote engine (tcp+TLS): docker exec CONTAINER true" "$(per "$t_remote")"
  printf '%-58s %9s ms\n' "remote engine (tcp+TLS): docker exec -i ... bash -c ..." "$(per "$t_remoteb")"
else
  echo "$remote_note"
fi
