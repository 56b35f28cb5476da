#!/usr/bin/env python3
"""Throughput: one agent writes N MB of output of one shape as fast as it can.

Shapes (--shape, several allowed; all by default), the kinds of output agents really write:
  lines   80-byte plain lines
  short   `yes`: "y\\n" over and over (build logs, progress output)
  ansi    coloured test-runner lines (an SGR sequence every few bytes)
  cursor  full-screen redraws with cursor addressing (like `top`), 50 rows of 80 columns
  utf8    lines of multi-byte text (accents, CJK, symbols)

Compares, in the same run:
  pipe        producer | cat >/dev/null                       (until cat exits)
  pty         producer on a bare pseudo-terminal, python reader (until all bytes are read)
  tmux        producer in a plain tmux window, 200x50 and 80x24 (until the producer has written all)
  supervisor  producer as a supervisor agent                   (until the log holds all bytes)
The supervisor run also checks the log byte for byte (size and SHA-256) with output
post-processing off (the producer clears OPOST on its terminal), so bytes lost must be 0.

    bench/throughput.py [--mb 100] [--runs 3] [--write-size 65536] [--shape lines|short|ansi|cursor|utf8 ...]

Targets, each shape and window size: at least 50% of the bare pseudo-terminal and at least
5x a plain tmux window of the same size, lossless. After the table of each shape, one table of
every shape, ready to paste.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (AGENTS_DIR, up_sized, PYTHON, Workspace, cpu_ticks, CLK_TCK, median, status_kb, table,
                    verdict, wait_running, wait_until)

PRODUCER = os.path.join(AGENTS_DIR, "producer.py")
FILL = b"the quick brown fox jumps over the lazy dog; pack my box with five dozen"[:68]


SHAPES = ["lines", "short", "ansi", "cursor", "utf8"]


def shape_block(shape, i):
    """About 64 KiB of output of `shape`, varying with `i`."""
    if shape == "lines":
        return b"".join(b"%010d %s\n" % (i * 800 + k, FILL) for k in range(800))
    if shape == "short":
        return b"y\n" * 32768
    if shape == "ansi":
        return b"".join(b"\x1b[32mPASSED\x1b[0m tests/test_%06d.py::\x1b[1mtest_case_%d\x1b[0m \x1b[2m(0.0%ds)\x1b[0m\n"
                        % (i, k, k % 10) for k in range(900))
    if shape == "cursor":
        frame = b"\x1b[H" + b"".join(b"\x1b[%d;1H\x1b[7m%3d\x1b[0m %-70s\x1b[K" % (row + 1, row, (b"cpu %5d.%d %% mem" % (i, row)))
                                     for row in range(50))
        return frame * max(1, 65536 // len(frame))
    if shape == "utf8":
        text = "héllo wörld — ünïcödé ✓ 日本語のテキスト 한국어 Ελληνικά ★ %d\n"
        return b"".join((text % (i * 600 + k)).encode() for k in range(600))
    raise ValueError(shape)


def make_data(path, total, shape="lines"):
    if shape == "lines":
        assert len(FILL) == 68
        lines = total // 80
        with open(path, "wb") as f:
            step = 100_000
            for start in range(0, lines, step):
                f.write(b"".join(b"%010d %s\n" % (i, FILL) for i in range(start, min(lines, start + step))))
            rest = total - lines * 80
            if rest:
                f.write(b"x" * (rest - 1) + b"\n")
    else:
        with open(path, "wb") as f:
            written, i = 0, 0
            while written < total:
                block = shape_block(shape, i)[: total - written]
                f.write(block)
                written += len(block)
                i += 1
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Go:
    """The producer waits for one byte on a FIFO: start-up is not part of the measurement."""

    def __init__(self, ws, tag):
        self.fifo = os.path.join(ws.dir, f"go-{tag}")
        self.done = os.path.join(ws.dir, f"done-{tag}")
        for p in (self.fifo, self.done):
            if os.path.exists(p):
                os.unlink(p)
        os.mkfifo(self.fifo)

    def fire(self):
        fd = os.open(self.fifo, os.O_WRONLY)   # blocks until the producer has opened it
        t0 = time.monotonic()
        os.write(fd, b"g")
        os.close(fd)
        return t0

    def producer_end(self, timeout=120):
        wait_until("the producer to finish", lambda: os.path.exists(self.done), timeout)
        with open(self.done) as f:
            return float(f.read().split()[1])


def run_pipe(ws, data, total, write_size):
    go = Go(ws, "pipe")
    r, w = os.pipe()
    producer = subprocess.Popen([PYTHON, PRODUCER, data, go.fifo, go.done, str(write_size)],
                                stdin=subprocess.DEVNULL, stdout=w)
    cat = subprocess.Popen(["cat"], stdin=r, stdout=subprocess.DEVNULL)
    os.close(r)
    os.close(w)
    t0 = go.fire()
    cat.wait()
    t1 = time.monotonic()
    producer.wait()
    return t1 - t0


def run_pty(ws, data, total, write_size):
    go = Go(ws, "pty")
    master, slave = os.openpty()
    producer = subprocess.Popen([PYTHON, PRODUCER, data, go.fifo, go.done, str(write_size)],
                                stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    os.close(slave)
    t0 = go.fire()
    got = 0
    while True:  # to the end (EIO once the producer exits), so a wrong count cannot hang it
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        got += len(chunk)
        if got == total:
            t1 = time.monotonic()
    producer.wait()
    os.close(master)
    if got != total:
        raise RuntimeError(f"bare pty: read {got} of {total} bytes")
    return t1 - t0


def run_tmux(ws, data, total, write_size, size=(50, 200)):
    tag = f"tmux{len(ws.tmux_sockets)}"  # a fresh server each run: the last one may still be exiting
    go = Go(ws, tag)
    sock = ws.tmux_server(tag)
    subprocess.run(ws.tmux_cmd(sock, "new-session", "-d", "-x", str(size[1]), "-y", str(size[0]), PYTHON, PRODUCER, data,
                               go.fifo, go.done, str(write_size)), env=ws.env, check=True)
    t0 = go.fire()
    t1 = go.producer_end()
    subprocess.run(ws.tmux_cmd(sock, "kill-server"), env=ws.env, stderr=subprocess.DEVNULL)
    return t1 - t0


def run_supervisor(ws, data, total, write_size, digest, index, size=None):
    go = Go(ws, f"sv{index}")
    name = f"tp{index}"
    profile = ws.write_profile(name, [("producer", [PYTHON, PRODUCER, data, go.fifo, go.done, str(write_size)],
                                       ['restart = "never"'])])
    if size:
        up_sized(ws, profile, name, *size)
    else:
        ws.up(profile, name)
    wait_running(ws, name, ["producer"])
    shim = ws.state(name, "producer")["shimPid"]
    log = ws.log_path(name, "producer")
    tmux_pid = int(subprocess.run(ws.tmux_cmd(ws.tmux_socket(name), "display-message", "-p", "#{pid}"), env=ws.env,
                                  stdout=subprocess.PIPE, text=True).stdout.strip() or 0)
    ticks0, tmux_ticks0 = cpu_ticks(shim), cpu_ticks(tmux_pid) if tmux_pid else 0
    t0 = go.fire()
    wait_until("the log to hold every byte", lambda: os.path.getsize(log) >= total, timeout=300, interval=0.001)
    t1 = time.monotonic()
    t_producer = go.producer_end()
    ticks1, tmux_ticks1 = cpu_ticks(shim), cpu_ticks(tmux_pid) if tmux_pid else 0
    wait_until("the agent to exit", lambda: ws.state(name, "producer").get("state") in ("exited", "failed"), 30)
    size = os.path.getsize(log)
    same = sha256_file(log) == digest
    hwm = status_kb(shim, "VmHWM")
    ws.down(name)
    return {"seconds": t1 - t0, "producer_seconds": t_producer - t0, "lost": total - size if size < total else 0,
            "extra": size - total if size > total else 0, "checksum_ok": same,
            "shim_cpu": (ticks1 - ticks0) / CLK_TCK, "tmux_cpu": (tmux_ticks1 - tmux_ticks0) / CLK_TCK, "shim_hwm_kb": hwm}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100, help="megabytes (10^6 bytes) to write (default 100)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each variant; the median is shown (default 3)")
    ap.add_argument("--write-size", type=int, default=65536, help="bytes per write(2) of the producer")
    ap.add_argument("--shape", action="append", choices=SHAPES, help="output shape (repeatable; default: all)")
    args = ap.parse_args()
    load_before = loadavg()
    summaries = [measure(args, shape) for shape in args.shape or SHAPES]
    rows = []
    for m in summaries:
        rows.append([m["shape"], f"{m['pty']:.0f}",
                     f"{m['tmux']:.0f}", f"{m['supervisor']:.0f} ({m['supervisor'] / m['pty']:.0%}, {m['supervisor'] / m['tmux']:.1f}x)",
                     f"{m['tmux_small']:.0f}", f"{m['small']:.0f} ({m['small'] / m['pty']:.0%}, {m['small'] / m['tmux_small']:.1f}x)",
                     f"{m['shim_cpu_per_100mb']:.2f} s", "yes" if m["lossless"] else "**NO**", verdict(m["met"])])
    table("Throughput, every shape (MB/s; shim: % of the bare pty, x plain tmux of the same size)",
          ["output shape", "bare pty", "tmux 200x50", "shim 200x50", "tmux 80x24", "shim 80x24", "shim CPU per 100 MB",
           "log byte-exact", "target met"], rows,
          [f"{args.mb:g} MB per run, {args.write_size}-byte writes, median of {args.runs} runs; {os.cpu_count()} CPUs; "
           f"load average {load_before} before, {loadavg()} after.",
           "Target, each shape and size: shim >= 50% of the bare pseudo-terminal and >= 5x a plain tmux window of "
           "the same size, log byte-exact."])


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def measure(args, shape):
    total = int(args.mb * 1_000_000)
    mb = total / 1e6
    with Workspace("svb-tp") as ws:
        data = os.path.join(ws.dir, "data.txt")
        digest = make_data(data, total, shape)
        results = {"pipe": [], "pty": [], "tmux": [], "tmux_small": [], "supervisor": [], "small": []}
        sv_runs = []
        for i in range(args.runs):
            results["pipe"].append(run_pipe(ws, data, total, args.write_size))
            results["pty"].append(run_pty(ws, data, total, args.write_size))
            results["tmux"].append(run_tmux(ws, data, total, args.write_size))
            results["tmux_small"].append(run_tmux(ws, data, total, args.write_size, size=(24, 80)))
            r = run_supervisor(ws, data, total, args.write_size, digest, i)
            sv_runs.append(r)
            results["supervisor"].append(r["seconds"])
            r = run_supervisor(ws, data, total, args.write_size, digest, 100 + i, size=(24, 80))
            sv_runs.append(r)
            results["small"].append(r["seconds"])
        rate = {key: mb / median(values) for key, values in results.items()}
        pty_rate = rate["pty"]
        rows = []
        labels = {"pipe": "plain pipe (producer | cat)", "pty": "bare pseudo-terminal (python reader)",
                  "tmux": "plain tmux window 200x50 (until producer exits)",
                  "tmux_small": "plain tmux window 80x24 (until producer exits)",
                  "supervisor": "supervisor shim, 200x50 window (until the log holds all)",
                  "small": "supervisor shim, 80x24 window (until the log holds all)"}
        for key in ("pipe", "pty", "tmux", "tmux_small", "supervisor", "small"):
            secs = median(results[key])
            rows.append([labels[key], f"{secs:.3f}", f"{rate[key]:.0f}", f"{100 * rate[key] / pty_rate:.0f}%"])
        lost = sum(r["lost"] for r in sv_runs)
        extra = sum(r["extra"] for r in sv_runs)
        checks = all(r["checksum_ok"] for r in sv_runs)
        sv_rate, small_rate = rate["supervisor"], rate["small"]
        lossless = lost == 0 and extra == 0 and checks
        met = (min(sv_rate, small_rate) >= 0.5 * pty_rate and sv_rate >= 5 * rate["tmux"]
               and small_rate >= 5 * rate["tmux_small"] and lossless)
        shim_cpu = median([r["shim_cpu"] for r in sv_runs])
        notes = [
            f"{mb:.0f} MB of output shaped `{shape}`, {args.write_size}-byte writes, median of {args.runs} runs.",
            f"supervisor: bytes lost {lost}, extra bytes {extra}, SHA-256 of the log equals the input in "
            f"{sum(r['checksum_ok'] for r in sv_runs)}/{len(sv_runs)} runs; "
            f"producer done after {median([r['producer_seconds'] for r in sv_runs]):.3f} s; "
            f"shim CPU {shim_cpu:.2f} s per run (its tmux server's {median([r['tmux_cpu'] for r in sv_runs]):.2f} s); "
            f"shim peak RSS (VmHWM) "
            f"{max(r['shim_hwm_kb'] for r in sv_runs) / 1024:.1f} MiB.",
            f"Target: >= 50% of the bare pseudo-terminal and >= 5x plain tmux of the same size: {100 * sv_rate / pty_rate:.0f}% / "
            f"{sv_rate / rate['tmux']:.1f}x (200x50), {100 * small_rate / pty_rate:.0f}% / {small_rate / rate['tmux_small']:.1f}x (80x24) -> "
            f"{verdict(met)} (and lossless: {verdict(lossless)})",
        ]
        table(f"Throughput: {shape}", ["path", "seconds", "MB/s", "vs bare pty"], rows, notes)
        return {"shape": shape, "pty": pty_rate, "tmux": rate["tmux"], "tmux_small": rate["tmux_small"],
                "supervisor": sv_rate, "small": small_rate, "shim_cpu_per_100mb": shim_cpu * 100 / mb,
                "lossless": lossless, "met": met}


if __name__ == "__main__":
    main()
