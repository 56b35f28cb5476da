#!/usr/bin/env python3
"""Memory: resident set size (VmRSS, and peak VmHWM) from /proc/PID/status of
  - one idle shim (median and largest of N),
  - `supervisor up` showing its live view on a terminal (the viewer),
  - `supervisor up --headless` waiting for its agents,
next to the agent itself (`sleep`) and the profile's tmux server as reference points.
The shim's peak after pushing 100 MB is in the throughput table.

    bench/memory.py [--agents 5]
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Workspace, status_kb, table, verdict, wait_running, wait_until, alive


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def breakdown(pid):
    """RSS, its anonymous (private heap/stack) and file-backed (shared libraries) parts, PSS, peak."""
    return {"rss": status_kb(pid, "VmRSS"), "anon": status_kb(pid, "RssAnon"), "file": status_kb(pid, "RssFile"),
            "pss": pss_kb(pid), "hwm": status_kb(pid, "VmHWM")}


def top_mappings(pid, count=6):
    """The mapped files (or [anon]) holding most of a process's RSS."""
    import collections
    rss, current = collections.Counter(), None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                parts = line.split()
                if parts and "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
                    current = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
                elif parts and parts[0] == "Rss:":
                    rss[current] += int(parts[1])
    except OSError:
        return ""
    return ", ".join(f"{name} {kb / 1024:.1f}" for name, kb in rss.most_common(count))


def mib(kb):
    return f"{kb / 1024:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=5)
    ap.add_argument("--settle", type=float, default=1.5, help="seconds to let the viewer draw before reading RSS")
    args = ap.parse_args()
    rows = []
    with Workspace("svb-mem") as ws:
        agents = [f"a{i}" for i in range(args.agents)]

        # The viewer: `up` on a terminal (no --detach) shows the live status view.
        import fcntl, struct, termios
        name = "memview"
        profile = ws.write_profile(name, [(a, ["sleep", "100000"]) for a in agents])
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        ws.profiles.append(name)
        viewer = subprocess.Popen([ws.bin, "up", profile], env=ws.env, stdin=slave, stdout=slave, stderr=slave,
                                  start_new_session=True)
        ws.pids.append(viewer.pid)
        os.close(slave)
        os.set_blocking(master, False)

        def drain():
            try:
                while os.read(master, 65536):
                    pass
            except (BlockingIOError, OSError):
                pass

        def running():
            drain()
            try:
                return all(ws.state(name, a).get("state") == "running" for a in agents)
            except (OSError, ValueError):
                return False
        wait_until("the viewer's agents to run", running, 30)
        deadline = time.monotonic() + args.settle
        while time.monotonic() < deadline:  # let it draw a few frames, keep its terminal drained
            drain()
            time.sleep(0.05)
        viewer_m = breakdown(viewer.pid)
        shims = [ws.state(name, a)["shimPid"] for a in agents]
        shim_m = sorted((breakdown(p) for p in shims), key=lambda m: m["rss"])
        shim_top = top_mappings(shims[0])
        agent_m = breakdown(ws.state(name, agents[0])["agentPid"])
        out = subprocess.run(ws.tmux_cmd(ws.tmux_socket(name), "display-message", "-p", "#{pid}"), env=ws.env,
                             stdout=subprocess.PIPE, text=True).stdout.strip()
        tmux_m = breakdown(int(out))
        os.write(master, b"q")
        wait_until("the viewer to quit", lambda: (drain(), viewer.poll() is not None)[1], 10)
        os.close(master)
        ws.down(name)

        # The headless waiter.
        name = "memhead"
        profile = ws.write_profile(name, [(a, ["sleep", "100000"]) for a in agents])
        ws.profiles.append(name)
        waiter = subprocess.Popen([ws.bin, "up", "--headless", profile], env=ws.env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ws.pids.append(waiter.pid)
        wait_running(ws, name, agents)
        time.sleep(args.settle)  # let it connect to every shim
        head_m = breakdown(waiter.pid)
        waiter.send_signal(signal.SIGINT)
        waiter.wait(10)
        ws.down(name)

        med = shim_m[len(shim_m) // 2]

        def row(label, m):
            return [label, mib(m["rss"]), mib(m["anon"]), mib(m["file"]), mib(m["pss"]), mib(m["hwm"])]
        rows = [
            row(f"one idle shim (median of {len(shims)})", med),
            row("largest idle shim", shim_m[-1]),
            row(f"up: live view on a terminal ({args.agents} agents)", viewer_m),
            row(f"up --headless waiter ({args.agents} agents)", head_m),
            row("reference: the agent (`sleep`)", agent_m),
            row("reference: the profile's tmux server", tmux_m),
        ]
        table("Memory", ["process", "RSS MiB", "anon MiB", "file MiB", "PSS MiB", "peak RSS MiB"], rows, [
            "anon = private heap and stacks; file = mapped files: the program and its shared libraries (for `up`: "
            "Swift runtime, Foundation, ICU data, libcurl), shared with every process running the same file; "
            "PSS divides shared pages among the processes using them. The shim is `supervisor-shim`, linked "
            "fully static without Foundation.",
            f"Largest parts of a shim's RSS (MiB): {shim_top}.",
            f"Target: shim under 8 MB: RSS {med['rss'] / 1024:.1f} MiB ({med['rss'] * 1024 / 1e6:.1f} MB) -> "
            f"{verdict(med['rss'] * 1024 < 8e6)}; PSS {med['pss'] / 1024:.1f} MiB, private {med['anon'] / 1024:.1f} MiB",
        ])


if __name__ == "__main__":
    main()
