#!/usr/bin/env python3
"""Dashboard benchmarks (not a test): CPU with 10 agents writing 1 MB/s each, key-to-screen
latency under that load, and wake-ups per second with 20 idle agents.

    bench/dashboard.sh [path/to/supervisor] [--samples 300] [--cpu-seconds 10] [--idle-seconds 20]

How key-to-screen is measured. The dashboard runs on a pseudo-terminal this script owns
(200x50, TERM=xterm-256color), not inside a tmux window: the script blocks in select() on the
terminal's master and reads everything the dashboard writes as it comes, so there is no
polling interval and no tmux in the path. A sample: write a Tab to the master, then read until
the output draws the moved selection marker (the first "▶" after the key); the latency is from
the write to the read that completed the marker. Two baselines, sampled in the same run and
interleaved with the dashboard's samples so all three see the same load:
  harness          the kernel's own echo on a pty with no program: the script's and the
                   pseudo-terminal's cost, the floor of any row;
  minimal program  `cat` on a raw pty answering each key: what any program woken by a key gets
                   from this machine's scheduler under this load.
The dashboard's own cost is its row minus the minimal program's. The load generators (the
agents' `head | tr | fold` loops) run at nice 19, so they take the CPU left over rather than
compete with what is measured; the agents' shims and tmux server, which the dashboard's input
goes through, run at normal priority.

Idle wake-ups: 20 agents running `sleep`; the dashboard on a pty. Counted two ways, in separate
windows (tracing itself adds context switches): the scheduler's count of voluntary context
switches of all the dashboard's threads (/proc/PID/task/*/status; a thread that sleeps and is
woken counts one), and, when strace is installed, its loop's returns from epoll_wait (strace -f).
"""
import argparse
import fcntl
import os
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CLK_TCK, Workspace, cpu_ticks, percentile, wait_running

ROWS, COLS = 50, 200
MARKER = "▶".encode()
FLOOD = 'while :; do head -c 1048576 /dev/zero | tr "\\0" "x" | fold -w 79; sleep 1; done'


class Terminal:
    """A program on a pseudo-terminal whose output this script reads as it comes."""

    def __init__(self, argv, env, echo_only=False):
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.proc = None
        self.seen = None  # output since the last key, while a sample runs
        if echo_only:
            # No program: the line discipline echoes what is written to the master.
            tty.setraw(self.slave)
            attrs = termios.tcgetattr(self.slave)
            attrs[3] |= termios.ECHO
            termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        else:
            slave = self.slave
            self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                                         preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
            os.close(slave)
            self.slave = None
        os.set_blocking(self.master, False)

    def fds(self):
        return [self.master] + ([self.slave] if self.slave is not None else [])

    def read(self, fd):
        try:
            data = os.read(fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:  # EIO: the program is gone
            return b""
        if fd == self.master and self.seen is not None:
            self.seen += data
        return data

    def close(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
        for fd in self.fds():
            os.close(fd)


class Pump:
    """Reads every terminal's output as it comes (a program blocked writing to its terminal
    would stall), until a condition holds or a deadline passes."""

    def __init__(self, terminals):
        self.terminals = terminals

    def run(self, seconds, until=None):
        deadline = time.monotonic() + seconds
        owners = {fd: t for t in self.terminals for fd in t.fds()}
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select(list(owners), [], [], left)
            for fd in ready:
                owners[fd].read(fd)
            if until:
                at = until()
                if at:
                    return at


def sample(pump, term, key, marker, timeout=5.0):
    """Milliseconds from writing `key` to reading output that contains `marker`."""
    term.seen = bytearray()
    t0 = time.monotonic_ns()
    os.write(term.master, key)
    done = pump.run(timeout, until=lambda: time.monotonic_ns() if marker in term.seen else None)
    term.seen = None
    return (done - t0) / 1e6 if done else timeout * 1000


def wait_raw(term, timeout=10):
    deadline = time.monotonic() + timeout
    while termios.tcgetattr(term.master)[3] & termios.ECHO:
        if time.monotonic() > deadline:
            raise TimeoutError("the minimal program's terminal did not go raw")
        time.sleep(0.005)


def start_dashboard(ws, pump_terms, profile):
    env = dict(ws.env, TERM="xterm-256color", LC_ALL="C.UTF-8", LANG="C.UTF-8")
    dash = Terminal([ws.bin, "dashboard", profile], env)
    pump_terms.append(dash)
    dash.seen = bytearray()
    if not Pump(pump_terms).run(30, until=lambda: MARKER in dash.seen):
        raise TimeoutError("the dashboard drew no selected tile within 30 s")
    dash.seen = None
    return dash


def log_bytes(ws, profile, agents):
    total = 0
    for a in agents:
        try:
            total += os.path.getsize(ws.log_path(profile, a))
        except OSError:
            pass
    return total


def thread_switches(pid):
    """(voluntary, involuntary) context switches of all the process's threads, by thread name."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        name = f"{fields['Name'].strip()}/{tid}"
        out[name] = (int(fields["voluntary_ctxt_switches"]), int(fields["nonvoluntary_ctxt_switches"]))
    return out


def strace_epoll_returns(pid, seconds):
    """Returns from epoll_wait of every thread over `seconds` (each is one loop wake-up)."""
    strace = shutil.which("strace")
    if not strace:
        return None
    out = subprocess.run(["timeout", "-s", "INT", str(seconds), strace, "-f", "-qq", "-e",
                          "trace=epoll_wait,epoll_pwait,epoll_pwait2", "-p", str(pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    if "Operation not permitted" in out:
        return None
    return sum(1 for line in out.splitlines() if re.search(r"epoll_p?wait2?\(.*= \d+", line) or
               re.search(r"epoll_p?wait2? resumed>.*= \d+", line))


def row(label, result, target=""):
    print(f"{label:<58} {result:<22} {target}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=300, help="keys per row (default 300)")
    ap.add_argument("--cpu-seconds", type=float, default=10)
    ap.add_argument("--idle-seconds", type=float, default=20)
    ap.add_argument("--agents", type=int, default=10)
    args = ap.parse_args()
    results = []

    with Workspace("svb-dash") as ws:
        # ---- 1. agents x 1 MB/s, CPU and key-to-screen ------------------------------------------
        agents = [f"a{i:02d}" for i in range(1, args.agents + 1)]
        ws.up(ws.write_profile("flood", [(a, ["nice", "-n", "19", "sh", "-c", FLOOD]) for a in agents]), "flood")
        wait_running(ws, "flood", agents)
        terms = []
        try:
            dash = start_dashboard(ws, terms, "flood")
            harness = Terminal(None, None, echo_only=True)
            minimal = Terminal(["sh", "-c", "stty raw -echo; exec cat"], ws.env)
            terms += [harness, minimal]
            pump = Pump(terms)
            pump.run(3)
            wait_raw(minimal)
            pid = dash.proc.pid
            c0, b0, t0 = cpu_ticks(pid), log_bytes(ws, "flood", agents), time.monotonic()
            pump.run(args.cpu_seconds)
            c1, b1, t1 = cpu_ticks(pid), log_bytes(ws, "flood", agents), time.monotonic()
            cpu = 100 * (c1 - c0) / CLK_TCK / (t1 - t0)
            mbps = (b1 - b0) / 1e6 / (t1 - t0)
            lat = {"dash": [], "minimal": [], "harness": []}
            plan = [("dash", dash, b"\t", MARKER), ("minimal", minimal, b"x", b"x"), ("harness", harness, b"x", b"x")]
            for _ in range(args.samples):
                random.shuffle(plan)
                for name, term, key, marker in plan:
                    lat[name].append(sample(pump, term, key, marker))
                    pump.run(random.uniform(0.02, 0.06))  # keys at human speed, not back to back
        finally:
            for t in terms:
                t.close()
        ws.down("flood")

        # ---- 2. 20 idle agents --------------------------------------------------------------------
        idle_agents = [f"i{i:02d}" for i in range(1, 21)]
        ws.up(ws.write_profile("idle", [(a, ["sh", "-c", "echo ready; exec sleep 100000"]) for a in idle_agents]), "idle")
        wait_running(ws, "idle", idle_agents)
        terms = []
        try:
            dash = start_dashboard(ws, terms, "idle")
            pump = Pump(terms)
            pump.run(4)
            pid = dash.proc.pid
            s0, c0, t0 = thread_switches(pid), cpu_ticks(pid), time.monotonic()
            pump.run(args.idle_seconds)
            s1, c1, t1 = thread_switches(pid), cpu_ticks(pid), time.monotonic()
            idle_cpu = 100 * (c1 - c0) / CLK_TCK / (t1 - t0)
            per_thread = {n: ((s1[n][0] - s0[n][0]) / (t1 - t0), (s1[n][1] - s0[n][1]) / (t1 - t0)) for n in s1 if n in s0}
            voluntary = sum(v for v, _ in per_thread.values())
            strace_n = None
            if shutil.which("strace"):
                # strace runs as a child of this script while the pump keeps reading the terminal.
                box = {}
                th = threading.Thread(target=lambda: box.update(n=strace_epoll_returns(pid, int(args.idle_seconds))))
                th.start()
                while th.is_alive():
                    pump.run(0.2)
                strace_n = box.get("n")
        finally:
            for t in terms:
                t.close()
        ws.down("idle")

    def pct(values):
        return f"{percentile(values, 50):.1f} / {percentile(values, 99):.1f}"

    load = open("/proc/loadavg").read().split()[:3]
    print()
    row("measure", "result", "target")
    row("binary", os.path.basename(os.path.dirname(ws.bin)) + f", load average {' '.join(load)}")
    row(f"{args.agents} agents flooding: MB/s written (all agents)", f"{mbps:.1f}", f"~{args.agents}")
    row(f"{args.agents} agents flooding: dashboard CPU (% of one core)", f"{cpu:.1f}", "< 25")
    row(f"key-to-screen p50 / p99 (ms, {args.samples} Tabs): dashboard", pct(lat["dash"]), "p99 < 50")
    row("  baseline: minimal program (cat, raw pty), p50 / p99", pct(lat["minimal"]))
    row("  baseline: harness alone (kernel pty echo), p50 / p99", pct(lat["harness"]))
    row("  dashboard minus minimal program, p50 / p99", f"{percentile(lat['dash'], 50) - percentile(lat['minimal'], 50):.1f}"
        f" / {percentile(lat['dash'], 99) - percentile(lat['minimal'], 99):.1f}")
    row("  max: dashboard / minimal / harness", " / ".join(f"{max(lat[k]):.0f}" for k in ("dash", "minimal", "harness")))
    if strace_n is not None:
        row("20 idle agents: dashboard wake-ups/s (strace: epoll_wait)", f"{strace_n / args.idle_seconds:.2f}", "<= 1 (its clock)")
    else:
        row("20 idle agents: dashboard wake-ups/s (strace: not installed)", "-", "<= 1 (its clock)")
    row("20 idle agents: voluntary switches/s, all threads (sched)", f"{voluntary:.2f}", "<= 1")
    busy = sorted(per_thread.items(), key=lambda kv: -kv[1][0])[:4]
    row("  by thread (voluntary/involuntary per s)", ", ".join(f"{n} {v:.1f}/{i:.1f}" for n, (v, i) in busy))
    row("20 idle agents: dashboard CPU (% of one core)", f"{idle_cpu:.2f}", "~0")


if __name__ == "__main__":
    main()
