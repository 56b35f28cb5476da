#!/usr/bin/env python3
"""`supervisor serve` under load (needs Python's websockets: pip install websockets).

1. 10 agents each write 1 MB/s (80-byte lines stamped with CLOCK_MONOTONIC at write time);
   20 WebSocket clients each subscribe to all 10 agents' streams (200 streams). Measured over
   the window: serve's CPU (% of one core), agent line -> client latency (first stamped line
   of each frame; p50/p99), bytes received, and bytes lost: every frame must start exactly
   where the previous one of its stream ended, and at the end each stream's bytes must equal
   the log's (checked for every stream).
2. 1000 idle WebSocket connections: serve's RSS before and after, per connection.

    bench/serve.py [--seconds 10] [--clients 20] [--agents 10] [--idle 1000]
"""
import argparse
import asyncio
import hashlib
import os
import selectors
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PYTHON, Workspace, cpu_ns, percentile, start_serve, status_kb, table, wait_running

import websockets
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

WRITER = r"""
import os, sys, time
line_body = b"x" * 50
out = sys.stdout.buffer
n = 0
while True:
    start = time.monotonic()
    chunk = []
    for _ in range(205):  # 205 lines of 80 bytes: 16 KB, 64 times a second: ~1 MB/s
        chunk.append(b"T%019d %s %07d\n" % (time.monotonic_ns(), line_body, n % 10000000))
        n += 1
    out.write(b"".join(chunk)); out.flush()
    time.sleep(max(0, 1 / 64 - (time.monotonic() - start)))
"""


class Stream:
    def __init__(self):
        self.next = None
        self.bytes = 0
        self.first = None
        self.gaps = 0
        self.latencies = []
        self.hash = hashlib.sha256()


class Follower:
    """One agent's stream over a plain non-blocking socket, its WebSocket protocol (handshake,
    frame parsing, pings, closing) done by the `websockets` library's Sans-I/O layer. The
    library's asyncio client costs ~1.3% of a core per MB/s (a task and a 256 KiB buffer per
    read), so 20 of them could not read 200 MB/s on this machine's two cores whatever serve
    did; this way the clients are a small share and the latency is serve's and the shims'."""

    def __init__(self, url, token, agent, from_offset, stream):
        host, port = url.split(":")
        self.stream = stream
        self.protocol = ClientProtocol(parse_uri(f"ws://{url}/api/profiles/flood/agents/{agent}/stream?from={from_offset}"),
                                       max_size=None)
        request = self.protocol.connect()
        request.headers["Authorization"] = "Bearer " + token
        self.protocol.send_request(request)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.flush()
        self.sock.setblocking(False)
        self.buffer = bytearray(1 << 20)
        self.view = memoryview(self.buffer)
        self.partial = []
        self.open = True

    def flush(self):
        for data in self.protocol.data_to_send():
            if data:
                self.sock.setblocking(True)
                self.sock.sendall(data)
                self.sock.setblocking(False)

    def readable(self):
        try:
            n = self.sock.recv_into(self.buffer)
        except BlockingIOError:
            return
        now = time.monotonic_ns()
        if n == 0:
            self.protocol.receive_eof()
            self.open = False
        else:
            self.protocol.receive_data(self.view[:n].tobytes())
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                self.frame(event, now)
        self.flush()

    def frame(self, frame, now):
        if frame.opcode not in (Opcode.BINARY, Opcode.CONT) or (frame.opcode == Opcode.CONT and not self.partial):
            return
        if not frame.fin:
            self.partial.append(frame.data)
            return
        message = b"".join(self.partial + [frame.data]) if self.partial else frame.data
        self.partial = []
        stream = self.stream
        at = int.from_bytes(message[:8], "big")
        if stream.next is None:
            stream.first = at
        elif at != stream.next:
            stream.gaps += 1
        size = len(message) - 8
        stream.next = at + size
        stream.bytes += size
        stream.hash.update(memoryview(message)[8:])
        i = message.find(b"\nT", 8)
        if i >= 0 and i + 21 <= len(message):
            try:
                stream.latencies.append((now - int(message[i + 2:i + 21])) / 1e6)
            except ValueError:
                pass


def client_process(url, token, agents, ends, window, results):
    """One client (its own process, so the clients are not one Python thread): a stream per
    agent; counts what arrives inside the measuring window [start, end] (monotonic seconds)."""
    streams = [(a, Stream()) for a in agents]
    followers = [Follower(url, token, a, ends[a], s) for a, s in streams]
    selector = selectors.DefaultSelector()
    for f in followers:
        selector.register(f.sock, selectors.EVENT_READ, f)

    def run_until(deadline):
        while time.monotonic() < deadline:
            for key, _ in selector.select(max(0, deadline - time.monotonic())):
                key.data.readable()

    start, end = window
    run_until(start)
    b0 = sum(s.bytes for _, s in streams)
    for _, s in streams:
        s.latencies = []
    run_until(end)
    b1 = sum(s.bytes for _, s in streams)
    latencies = [x for _, s in streams for x in s.latencies]
    for f in followers:
        f.sock.close()
    checked = [(a, s.first, s.next, s.hash.hexdigest(), s.gaps) for a, s in streams]
    results.put((b1 - b0, latencies, checked))


def load(url, token, agents, clients, seconds, serve_pid, ws):
    import multiprocessing
    ends = {}
    for a in agents:  # start every stream at the log's current end: live output only
        request = urllib.request.Request(f"http://{url}/api/profiles/flood/agents/{a}/log?from=0&max=0",
                                         headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(request) as response:
            ends[a] = int(response.headers["X-Log-End"])
    results = multiprocessing.Queue()
    start = time.monotonic() + 3  # connections settle first
    window = (start, start + seconds)
    processes = [multiprocessing.Process(target=client_process, args=(url, token, agents, ends, window, results))
                 for _ in range(clients)]
    for p in processes:
        p.start()
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
    received, latencies, checked = 0, [], []
    for _ in processes:
        got, lat, chk = results.get(timeout=120)
        received += got
        latencies += lat
        checked += chk
    for p in processes:
        p.join(timeout=30)
    # Every stream's bytes against the log's.
    mismatched = 0
    for a, first, nxt, digest, _ in checked:
        if first is None:
            mismatched += 1
            continue
        with open(os.path.join(ws.dir, "logs", "flood", f"{a}.log"), "rb") as f:
            f.seek(first)
            if hashlib.sha256(f.read(nxt - first)).hexdigest() != digest:
                mismatched += 1
    return {
        "cpu": share["serve"], "share": share,
        "mb_s": received / (t1 - t0) / 1e6,
        "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "samples": len(latencies),
        "gaps": sum(c[4] for c in checked), "mismatched": mismatched, "streams": len(checked),
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
    args = parser.parse_args()
    with Workspace("svserve") as ws:
        agents = [f"a{i:02d}" for i in range(args.agents)]
        path = ws.write_profile("flood", [(a, [PYTHON, "-c", WRITER]) for a in agents])
        ws.up(path, "flood")
        wait_running(ws, "flood", agents)
        rows, shares = [], []
        for clients in sorted({args.clients, 1}, reverse=True):
            serve, url, token = start_serve(ws)
            try:
                r = load(url, token, agents, clients, args.seconds, serve.pid, ws)
                shares.append([clients] + [f"{r['share'][k]:.1f}%" for k in ("serve", "shims", "writers", "clients", "tmux")])
                rows.append([clients, f"{r['cpu']:.1f}%", f"{r['mb_s']:.1f} MB/s", f"{r['p50']:.2f} ms", f"{r['p99']:.2f} ms",
                             r["samples"], r["gaps"], f"{r['mismatched']}/{r['streams']}", f"{status_kb(serve.pid, 'VmHWM') / 1024:.0f} MiB"])
            finally:
                serve.terminate()
                serve.wait(timeout=10)
        table(f"serve: {args.agents} agents x 1 MB/s, each client subscribed to all ({args.seconds:.0f} s)",
              ["clients", "serve CPU", "to clients", "line -> client p50", "p99", "samples", "gaps", "streams != log", "serve peak RSS"], rows)
        table("CPU in the same windows (% of one core; the machine has " + str(os.cpu_count()) + ")",
              ["clients", "serve", f"{args.agents} shims", f"{args.agents} writers", "clients", "tmux server"], shares)
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
