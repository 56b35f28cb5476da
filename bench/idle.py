#!/usr/bin/env python3
"""Idle cost: N idle agents (`sleep 100000`), CPU used by all their shims over D seconds.

Runs, at the same time and for the same D seconds, a plain tmux server with N windows of
`sleep 100000` as the baseline. CPU comes from /proc/PID/stat (utime + stime, clock ticks) and,
finer, /proc/PID/task/*/schedstat (nanoseconds on CPU).

    bench/idle.py [--agents 20] [--seconds 30]
"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CLK_TCK, Workspace, cpu_ns, cpu_ticks, table, verdict, wait_running


def tmux_server_pid(ws, sock):
    out = subprocess.run(ws.tmux_cmd(sock, "display-message", "-p", "#{pid}"), env=ws.env,
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    return int(out.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0, help="measurement window (default 30)")
    ap.add_argument("--settle", type=float, default=2.0, help="wait after start-up before measuring (default 2)")
    args = ap.parse_args()
    n = args.agents
    with Workspace("svb-idle") as ws:
        name = "idle"
        agents = [f"a{i:02d}" for i in range(n)]
        profile = ws.write_profile(name, [(a, ["sleep", "100000"]) for a in agents])
        ws.up(profile, name)
        wait_running(ws, name, agents)
        shims = [ws.state(name, a)["shimPid"] for a in agents]
        sv_tmux = tmux_server_pid(ws, ws.tmux_socket(name))

        base = ws.tmux_server("idle-base")
        cmd = ws.tmux_cmd(base, "new-session", "-d", "-x", "200", "-y", "50", "sleep", "100000")
        for _ in range(n - 1):
            cmd += [";", "new-window", "-d", "sleep", "100000"]
        subprocess.run(cmd, env=ws.env, check=True)
        base_tmux = tmux_server_pid(ws, base)

        time.sleep(args.settle)  # start-up work (state files, tmux status updates) is not idle cost
        groups = {"shims": shims, "sv_tmux": [sv_tmux], "base_tmux": [base_tmux]}
        before = {k: (sum(cpu_ticks(p) for p in v), sum(cpu_ns(p) for p in v)) for k, v in groups.items()}
        per_shim_before = {p: cpu_ns(p) for p in shims}
        t0 = time.monotonic()
        time.sleep(args.seconds)  # the measurement window
        elapsed = time.monotonic() - t0
        after = {k: (sum(cpu_ticks(p) for p in v), sum(cpu_ns(p) for p in v)) for k, v in groups.items()}
        worst = max(cpu_ns(p) - per_shim_before[p] for p in shims)

        def row(label, key):
            ticks = (after[key][0] - before[key][0]) / CLK_TCK
            ns = (after[key][1] - before[key][1]) / 1e9
            return [label, f"{ticks:.3f}", f"{ns * 1000:.2f}", f"{100 * ns / elapsed:.4f}%"]

        shim_ns = (after["shims"][1] - before["shims"][1]) / 1e9
        shim_ticks = (after["shims"][0] - before["shims"][0]) / CLK_TCK
        pct = 100 * max(shim_ns, shim_ticks) / elapsed
        rows = [row(f"{n} shims (total)", "shims"),
                row("supervisor's tmux server", "sv_tmux"),
                row(f"baseline: plain tmux server, {n} windows", "base_tmux")]
        table("Idle cost", ["processes", "CPU s (ticks)", "CPU ms (schedstat)", "% of one core"], rows, [
            f"{n} agents running `sleep 100000`, measured over {elapsed:.1f} s after {args.settle:.0f} s settling; "
            f"busiest shim {worst / 1e6:.3f} ms.",
            f"Target: all shims under 0.05% of one core: {pct:.4f}% -> {verdict(pct < 0.05)}",
        ])


if __name__ == "__main__":
    main()
