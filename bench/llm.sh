#!/usr/bin/env bash
# LLM transport benchmarks: SSE decoding throughput, per-request client overhead next to the
# curl command line against the same loopback fake server (in the same run), and N concurrent
# streams (CPU, peak RSS). Usage: bench/llm.sh [requests=200] [concurrent=100]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
C=${2:-100}
CONFIG=${CONFIG:-release}
swift build -c "$CONFIG" --product llm-bench >/dev/null
BIN=$(swift build -c "$CONFIG" --show-bin-path)/llm-bench

echo "== SSE decoding"
"$BIN" sse 32

TMP=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
"$BIN" serve >"$TMP/port" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
PORT=$(cat "$TMP/port")
URL="http://127.0.0.1:$PORT/v1/messages"
"$BIN" body >"$TMP/body.json"

echo "== per request, fake server on 127.0.0.1:$PORT (the same reply: ~360 chars in 31 SSE events)"
"$BIN" sequential "$PORT" "$N"

curl_once() {
  curl -sS -N -o /dev/null -w '%{time_total}\n' -X POST "$URL" \
    -H 'x-api-key: bench-key' -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \
    -H 'accept: text/event-stream' --data-binary @"$TMP/body.json"
}
for _ in 1 2 3; do curl_once >/dev/null; done
start=$(date +%s%N)
for _ in $(seq "$N"); do curl_once; done >"$TMP/curl-times"
end=$(date +%s%N)
awk -v n="$N" -v wall_ns=$((end - start)) '{ s += $1 } END {
  printf "curl command line: %d requests, mean time_total %.3f ms (curl'"'"'s own timing), mean wall %.3f ms per run (incl. process start)\n", n, s / n * 1000, wall_ns / n / 1e6 }' "$TMP/curl-times"

echo "== $C concurrent streams on one loop"
"$BIN" concurrent "$PORT" "$C"
/usr/bin/time -f "whole process (time -f): %e s wall, %U s user, %S s sys, max RSS %M KB" "$BIN" concurrent "$PORT" "$C" >/dev/null
