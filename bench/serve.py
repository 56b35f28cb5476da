#!/usr/bin/env python3
"""`supervisor serve` under load (needs Python's websockets: pip install websockets; and the
release build's serve-bench: swift build -c release).

1. 10 agents each write 1 MB/s (16 KB writes of 80-byte lines, the first stamped with
   CLOCK_MONOTONIC at write time);
   20 WebSocket clients each follow all 10 agents, in two shapes: one profile stream each
   (/api/profiles/P/stream: 20 connections), and the agents' own streams (10 each: 200
   connections). Measured over the window: serve's CPU (% of one core), agent line -> client latency (first stamped line
   of each frame; p50/p99), bytes received, and bytes lost: every frame must start exactly
   where the previous one of its stream ended, and at the end each stream's bytes must equal
   the log's (checked for every stream).
2. 1000 idle WebSocket connections: serve's RSS before and after, per connection.

    bench/serve.py [--seconds 10] [--clients 20] [--agents 10] [--idle 1000]
                   [--shape profile|agents|both] [--batch-ms N (serve's --batch-ms)]
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PYTHON, REPO, Workspace, cpu_ns, percentile, start_serve, status_kb, table, wait_running

SERVE_BENCH = os.environ.get("SERVE_BENCH_BIN") or os.path.join(REPO, ".build", "release", "serve-bench")
if not os.access(SERVE_BENCH, os.X_OK):
    sys.exit(f"bench: no serve-bench binary at {SERVE_BENCH}; run `swift build -c release` (or set SERVE_BENCH_BIN)")

import websockets

WRITER = r"""
import os, sys, time
line_body = b"x" * 50
out = sys.stdout.buffer
n = 0
rest = b"".join(b"U%019d %s %07d\n" % (0, line_body, i) for i in range(1, 205))
while True:
    start = time.monotonic()
    # 205 lines of 80 bytes (16 KB), 64 times a second: ~1 MB/s. The first line of each write
    # carries its CLOCK_MONOTONIC time: the line that waits longest for the rest of its write.
    out.write(b"T%019d %s %07d\n" % (time.monotonic_ns(), line_body, n % 10000000) + rest); out.flush()
    n += 1
    time.sleep(max(0, 1 / 64 - (time.monotonic() - start)))
"""


def load(url, token, agents, clients, seconds, serve_pid, ws, shape):
    """Each client is a `serve-bench` process (plain sockets; one profile stream, or a
    connection per agent, as `shape` says): Python
    clients cost ~8% of a core each for 10 MB/s in 16 KB messages, so 20 of them could not read
    the 200 MB/s on this machine's two cores, and the 20-client figures measured the clients.
    serve-bench checks every message against the log (offset continuity and the bytes at that
    offset) and stamps the arrival of the first stamped line of each."""
    ends = {}
    for a in agents:  # start every stream at the log's current end: live output only
        request = urllib.request.Request(f"http://{url}/api/profiles/flood/agents/{a}/log?from=0&max=0",
                                         headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(request) as response:
            ends[a] = int(response.headers["X-Log-End"])
    start = time.monotonic() + 3  # connections settle first
    window = (start, start + seconds)
    path = "/api/profiles/flood/stream" if shape == "profile" else "/api/profiles/flood/agents"
    command = [SERVE_BENCH, f"ws://{url}{path}", token, os.path.join(ws.dir, "logs", "flood"),
               f"{window[0]:.6f}", f"{window[1]:.6f}"] + [f"{a}={ends[a]}" for a in agents]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(clients)]
    time.sleep(max(0, start - time.monotonic()))
    # Where the two cores go: serve, and everything else the run needs.
    recorded = ws.recorded_pids("flood")
    groups = {"serve": [serve_pid], "shims": [s for _, s, _ in recorded], "writers": [a for _, _, a in recorded],
              "clients": [p.pid for p in processes], "tmux": [ws.tmux_server_pid("flood")]}
    def sample():
        return {name: sum(cpu_ns(pid) for pid in pids) for name, pids in groups.items()}, time.monotonic()
    c0, t0 = sample()
    time.sleep(seconds)
    c1, t1 = sample()
    share = {name: 100 * (c1[name] - c0[name]) / 1e9 / (t1 - t0) for name in groups}
    received, latencies, streams, messages = 0, [], [], 0
    for p in processes:
        out, err = p.communicate(timeout=60)
        if p.returncode != 0:  # it names what went wrong (a refused upgrade, a closed stream)
            sys.exit("bench/serve.py: " + err.decode(errors="replace").strip())
        result = json.loads(out)
        received += result["bytes"]
        latencies += result["latencies"]
        streams += result["streams"]
        messages += result["messages"]
    return {
        "cpu": share["serve"], "share": share,
        "mb_s": received / seconds / 1e6,
        "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "samples": len(latencies),
        "gaps": sum(s["gaps"] for s in streams),
        "mismatched": sum(1 for s in streams if s["mismatches"] or s["first"] is None), "streams": len(streams),
        "messages_s": messages / seconds,
    }


async def idle(url, token, count, serve_pid):
    before = status_kb(serve_pid, "VmRSS")
    sockets = []
    for _ in range(count):
        sockets.append(await websockets.connect(f"ws://{url}/api/profiles/flood/events",
                                                additional_headers={"Authorization": "Bearer " + token}))
    await asyncio.sleep(1)
    after = status_kb(serve_pid, "VmRSS")
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return before, after


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--shape", choices=["profile", "agents", "both"], default="both")
    parser.add_argument("--batch-ms", type=float, default=None)
    args = parser.parse_args()
    flags = [] if args.batch_ms is None else ["--batch-ms", str(args.batch_ms)]
    shapes = ["profile", "agents"] if args.shape == "both" else [args.shape]
    names = {"profile": "profile stream", "agents": "agent streams"}
    with Workspace("svserve") as ws:
        agents = [f"a{i:02d}" for i in range(args.agents)]
        path = ws.write_profile("flood", [(a, [PYTHON, "-c", WRITER]) for a in agents])
        ws.up(path, "flood")
        wait_running(ws, "flood", agents)
        rows, shares = [], []
        for shape in shapes:
            for clients in sorted({args.clients, 1}, reverse=True):
                serve, url, token = start_serve(ws, flags)
                try:
                    r = load(url, token, agents, clients, args.seconds, serve.pid, ws, shape)
                    shares.append([names[shape], clients] + [f"{r['share'][k]:.1f}%" for k in ("serve", "shims", "writers", "clients", "tmux")])
                    rows.append([names[shape], clients, f"{r['cpu']:.1f}%", f"{r['mb_s']:.1f} MB/s", f"{r['messages_s']:.0f}",
                                 f"{r['p50']:.2f} ms", f"{r['p99']:.2f} ms", r["samples"], r["gaps"],
                                 f"{r['mismatched']}/{r['streams']}", f"{status_kb(serve.pid, 'VmHWM') / 1024:.0f} MiB"])
                finally:
                    serve.terminate()
                    serve.wait(timeout=10)
        table(f"serve: {args.agents} agents x 1 MB/s, each client subscribed to all ({args.seconds:.0f} s)",
              ["shape", "clients", "serve CPU", "to clients", "messages/s", "line -> client p50", "p99", "samples", "gaps", "streams != log", "serve peak RSS"], rows)
        table("CPU in the same windows (% of one core; the machine has " + str(os.cpu_count()) + ")",
              ["shape", "clients", "serve", f"{args.agents} shims", f"{args.agents} writers", "clients", "tmux server"], shares)
        serve, url, token = start_serve(ws)
        try:
            time.sleep(1)
            before, after = asyncio.run(idle(url, token, args.idle, serve.pid))
            table(f"serve: {args.idle} idle WebSocket connections",
                  ["RSS before", "RSS after", "per connection"],
                  [[f"{before / 1024:.1f} MiB", f"{after / 1024:.1f} MiB", f"{(after - before) / args.idle:.1f} KiB"]])
        finally:
            serve.terminate()
            serve.wait(timeout=10)


if __name__ == "__main__":
    main()
