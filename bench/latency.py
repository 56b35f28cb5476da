#!/usr/bin/env python3
"""Latency: an agent prints a line; how long until a socket subscriber has it.

The agent (agents/echo.py, raw terminal) echoes every line it reads with the CLOCK_MONOTONIC
time at which it wrote it. A subscriber speaking the shim's frame protocol
(u8 type, u32 BE length, payload) subscribes (type 16, {"output":true,"events":false}), then
for each sample sends the line as an input frame (type 17) and waits for the output frame(s)
(type 2: u64 BE log offset, bytes) carrying the echo. Two numbers per sample:
  output   agent's write -> subscriber has the line   (log write + relay; the target)
  round    subscriber sends input -> has the echo     (input relay + agent + output)
Baseline in the same run: the same agent on a bare pseudo-terminal, read by this script.

    bench/latency.py [--samples 1000] [--warmup 50]
"""
import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import AGENTS_DIR, PYTHON, Workspace, percentile, table, verdict, wait_running

ECHO = os.path.join(AGENTS_DIR, "echo.py")


class Subscriber:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.settimeout(10)  # a lost echo fails the run instead of hanging it
        self.buf = b""
        self.text = b""
        self.now = 0
        kind, payload = self.frame()
        assert kind == 1, f"expected hello, got frame type {kind}"
        self.hello = json.loads(payload)
        self.send(16, json.dumps({"output": True, "events": False}).encode())

    def send(self, kind, payload):
        self.sock.sendall(struct.pack(">BI", kind, len(payload)) + payload)

    def frame(self):
        while True:
            if len(self.buf) >= 5:
                kind, length = struct.unpack(">BI", self.buf[:5])
                if len(self.buf) >= 5 + length:
                    payload = self.buf[5:5 + length]
                    self.buf = self.buf[5 + length:]
                    return kind, payload
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("shim closed the connection")
            self.buf += chunk

    def output_until(self, token):
        """Output bytes until the agent's line "token <ns>" is complete; returns (line, time).
        Lines with the token alone are the terminal's own echo from before the agent went raw."""
        while True:
            while b"\n" in self.text:
                line, self.text = self.text.split(b"\n", 1)
                fields = line.strip().split()
                if len(fields) == 2 and fields[0] == token and fields[1].isdigit():
                    return fields, self.now
            kind, payload = self.frame()
            if kind == 2:  # state and ack frames answer the input frame
                self.text += payload[8:]
                self.now = time.monotonic_ns()


def measure_shim(ws, samples, warmup):
    name = "lat"
    profile = ws.write_profile(name, [("echo", [PYTHON, ECHO], ['restart = "never"'])])
    ws.up(profile, name)
    wait_running(ws, name, ["echo"])
    sub = Subscriber(ws.shim_socket(name, "echo"))
    out, rtt = [], []
    for i in range(warmup + samples):
        token = b"s%07d" % i
        t0 = time.monotonic_ns()
        sub.send(17, token + b"\n")
        fields, t1 = sub.output_until(token)
        written = int(fields[1])
        if i >= warmup:
            out.append((t1 - written) / 1e3)
            rtt.append((t1 - t0) / 1e3)
    sub.send(17, b"quit\n")
    sub.sock.close()
    ws.down(name)
    return out, rtt


def measure_pty(samples, warmup):
    master, slave = os.openpty()
    proc = subprocess.Popen([PYTHON, ECHO], stdin=slave, stdout=slave, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    os.close(slave)
    # Wait for raw mode: until then the kernel would echo what we type.
    import termios
    deadline = time.monotonic() + 10
    while termios.tcgetattr(master)[3] & termios.ECHO:
        if time.monotonic() > deadline:
            raise TimeoutError("echo agent did not switch to raw mode")
        time.sleep(0.005)
    out, rtt = [], []
    buf = b""
    for i in range(warmup + samples):
        token = b"s%07d" % i
        t0 = time.monotonic_ns()
        os.write(master, token + b"\n")
        while True:
            buf += os.read(master, 65536)
            at = buf.find(token)
            if at >= 0 and buf.find(b"\n", at) >= 0:
                t1 = time.monotonic_ns()
                line = buf[at:buf.index(b"\n", at)]
                buf = buf[buf.index(b"\n", at) + 1:]
                break
        if i >= warmup:
            out.append((t1 - int(line.split()[1])) / 1e3)
            rtt.append((t1 - t0) / 1e3)
    os.write(master, b"quit\n")
    proc.wait(5)
    os.close(master)
    return out, rtt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=50)
    args = ap.parse_args()
    with Workspace("svb-lat") as ws:
        sv_out, sv_rtt = measure_shim(ws, args.samples, args.warmup)
        pty_out, pty_rtt = measure_pty(args.samples, args.warmup)

    def row(label, values):
        return [label, f"{percentile(values, 50):.0f}", f"{percentile(values, 90):.0f}",
                f"{percentile(values, 99):.0f}", f"{max(values):.0f}"]
    rows = [row("supervisor: agent write -> subscriber has it", sv_out),
            row("supervisor: input frame -> echo at subscriber", sv_rtt),
            row("baseline bare pty: agent write -> reader has it", pty_out),
            row("baseline bare pty: write -> echo read", pty_rtt)]
    p99 = percentile(sv_out, 99)
    table("Latency (microseconds)", ["path", "p50", "p90", "p99", "max"], rows, [
        f"{args.samples} samples after {args.warmup} warm-up, one at a time; subscriber and agent are python3.",
        f"Target: p99 under 1 ms (agent write -> subscriber): {p99 / 1000:.3f} ms -> {verdict(p99 < 1000)}; "
        f"round trip p99 {percentile(sv_rtt, 99) / 1000:.3f} ms",
    ])


if __name__ == "__main__":
    main()
