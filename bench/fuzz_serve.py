#!/usr/bin/env python3
"""A bounded fuzz of `supervisor serve`'s entry points on loopback (standard library only):
malformed and random requests, oversized headers and bodies, WebSocket frames announcing huge
lengths, random WebSocket frames after a valid upgrade, and slowloris connections. After each
round serve must still answer a normal request; its RSS is reported before, during and after.

    bench/fuzz_serve.py [--rounds 3] [--seed 1] [--slow 200]
"""
import argparse
import base64
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Workspace, start_serve, status_kb, table, wait_running


def connect(port, timeout=3):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def exchange(port, data, read=True):
    try:
        s = connect(port)
        s.sendall(data)
        answer = b""
        if read:
            try:
                while len(answer) < 65536:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
            except (socket.timeout, ConnectionError):
                pass
        s.close()
        return answer
    except (ConnectionError, socket.timeout, OSError):
        return b""


def healthy(port, token):
    answer = exchange(port, f"GET /api/profiles HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode())
    return answer.startswith(b"HTTP/1.1 200")


def upgrade_request(token, path="/api/profiles/fz/agents/a/stream"):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode()


def ws_frame(payload, opcode=1, length=None, masked=True):
    n = len(payload) if length is None else length
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + n.to_bytes(8, "big")
    mask = os.urandom(4) if masked else b""
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if masked else payload
    return head + mask + body


def cases(rng, token):
    yield "random bytes", lambda p: exchange(p, rng.randbytes(rng.randint(1, 4096)))
    yield "garbage request line", lambda p: exchange(p, b"\x00GET /\xff\xfe HTTP/9.9\r\n\r\n")
    yield "no headers end", lambda p: exchange(p, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 200, read=False)
    yield "64 KiB header", lambda p: exchange(p, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
    yield "huge Content-Length", lambda p: exchange(p, f"POST /api/profiles/fz/agents/a/paste HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 99999999999\r\n\r\nabc".encode())
    yield "body over the limit", lambda p: exchange(p, f"POST /api/profiles/fz/agents/a/paste HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 3000000\r\n\r\n".encode() + b"z" * 3000000)
    yield "lying Content-Length", lambda p: exchange(p, f"POST /api/profiles/fz/agents/a/paste HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 10\r\n\r\n".encode() + b"y" * 5000)
    yield "path traversal", lambda p: exchange(p, f"GET /api/profiles/../../etc/passwd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    yield "many query args", lambda p: exchange(p, ("GET /api/profiles?" + "&".join(f"a{i}={i}" for i in range(2000)) + f" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
    yield "ws frame of 2^62 bytes", lambda p: exchange(p, upgrade_request(token) + ws_frame(b"abc", length=1 << 62))
    yield "ws message over the limit", lambda p: exchange(p, upgrade_request(token) + ws_frame(b"a" * (2 << 20)))
    yield "ws random frames", lambda p: exchange(p, upgrade_request(token) + b"".join(ws_frame(rng.randbytes(rng.randint(0, 300)), opcode=rng.choice([0, 1, 2, 3, 8, 9, 10, 15])) for _ in range(50)))
    yield "ws unmasked frames", lambda p: exchange(p, upgrade_request(token) + ws_frame(b'{"type":"paste","text":"x"}', masked=False))
    yield "ws bad JSON messages", lambda p: exchange(p, upgrade_request(token) + b"".join(ws_frame(m) for m in [b"{", b"[]", b'{"type":5}', b'{"type":"control","op":"shutdown"}', b'{"type":"input"}']))
    profile_stream = "/api/profiles/fz/stream"
    yield "profile stream: bad queries", lambda p: [exchange(p, upgrade_request(token, profile_stream + q)) for q in
                                                    ["?agents=a,,a", "?from=a:99999999999999999999", "?from=" + ",".join(f"a:{i}" for i in range(3000)),
                                                     "?agents=" + "b" * 5000, "?start=-1", "?from=a:18446744073709551615"]]
    yield "profile stream: messages", lambda p: exchange(p, upgrade_request(token, profile_stream) + b"".join(ws_frame(m) for m in [
        b'{"type":"paste","text":"x"}', b'{"type":"paste","agent":"zz","text":"x"}', b'{"type":"input","agent":5,"data":"x"}',
        b'{"type":"control","agent":"a","op":"explode"}', rng.randbytes(200)]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slow", type=int, default=200, help="slowloris connections")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with Workspace("svfuzz") as ws:
        path = ws.write_profile("fz", [("a", ["cat"])])
        ws.up(path, "fz")
        wait_running(ws, "fz", ["a"])
        serve, url, token = start_serve(ws)
        port = int(url.rsplit(":", 1)[1])
        rss = [status_kb(serve.pid, "VmRSS")]
        rows = []
        failures = 0
        for round_ in range(args.rounds):
            for name, run in cases(rng, token):
                started = time.monotonic()
                run(port)
                ok = serve.poll() is None and healthy(port, token)
                failures += not ok
                if round_ == 0:
                    rows.append([name, "ok" if ok else "FAILED", f"{(time.monotonic() - started) * 1000:.0f} ms"])
            rss.append(status_kb(serve.pid, "VmRSS"))
        # Slowloris: many connections each sending a header byte now and then.
        slow = []
        for _ in range(args.slow):
            try:
                s = connect(port)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                slow.append(s)
            except OSError:
                break
        served_meanwhile = healthy(port, token)
        deadline = time.monotonic() + 15
        closed = 0
        while time.monotonic() < deadline and closed < len(slow):
            closed = 0
            for s in slow:
                try:
                    s.sendall(b"X")
                except OSError:
                    closed += 1
            time.sleep(1)
        rows.append([f"slowloris x{len(slow)}", f"served meanwhile: {served_meanwhile}; {closed} dropped within 15 s",
                     f"{(time.monotonic() - (deadline - 15)):.0f} s"])
        for s in slow:
            s.close()
        alive = serve.poll() is None and healthy(port, token)
        rss.append(status_kb(serve.pid, "VmRSS"))
        table(f"serve fuzz ({args.rounds} rounds, seed {args.seed})", ["case", "serve afterwards", "time"], rows,
              notes=[f"RSS (MiB) at start, after each round, after slowloris: {' '.join(f'{r / 1024:.1f}' for r in rss)}; "
                     f"alive at the end: {alive}; failed checks: {failures}"])
        serve.terminate()
        serve.wait(timeout=10)
        sys.exit(0 if alive and failures == 0 else 1)


if __name__ == "__main__":
    main()
