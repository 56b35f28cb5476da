#!/usr/bin/env python3
"""Start-up: `supervisor up --detach` of N agents until all run, next to plain tmux.

`up --detach` returns once every shim has reported its agent started; the script also checks
every state.json says running. Baselines in the same run: N separate `tmux new-session` /
`tmux new-window` invocations, and one tmux invocation creating all N windows (what `up` does).
Median of R runs; `down` between runs is not timed.

    bench/startup.py [--agents 10] [--runs 5]
"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Workspace, median, table, verdict, wait_running


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    n = args.agents
    with Workspace("svb-start") as ws:
        agents = [f"a{i:02d}" for i in range(n)]
        sv, separate, single = [], [], []
        for run in range(args.runs):
            name = "start"
            profile = ws.write_profile(name, [(a, ["sleep", "100000"]) for a in agents])
            t0 = time.monotonic()
            ws.up(profile, name)
            sv.append(time.monotonic() - t0)
            wait_running(ws, name, agents, timeout=5)
            ws.down(name)

            sock = ws.tmux_server(f"sep{run}")
            t0 = time.monotonic()
            subprocess.run(ws.tmux_cmd(sock, "new-session", "-d", "-x", "200", "-y", "50", "sleep", "100000"),
                           env=ws.env, check=True)
            for _ in range(n - 1):
                subprocess.run(ws.tmux_cmd(sock, "new-window", "-d", "sleep", "100000"), env=ws.env, check=True)
            separate.append(time.monotonic() - t0)
            subprocess.run(ws.tmux_cmd(sock, "kill-server"), env=ws.env)

            sock = ws.tmux_server(f"one{run}")
            cmd = ws.tmux_cmd(sock, "new-session", "-d", "-x", "200", "-y", "50", "sleep", "100000")
            for _ in range(n - 1):
                cmd += [";", "new-window", "-d", "sleep", "100000"]
            t0 = time.monotonic()
            subprocess.run(cmd, env=ws.env, check=True)
            single.append(time.monotonic() - t0)
            subprocess.run(ws.tmux_cmd(sock, "kill-server"), env=ws.env)

        rows = [[f"supervisor up --detach, {n} agents (all running)", f"{median(sv):.3f}", f"{min(sv):.3f}", f"{max(sv):.3f}"],
                [f"baseline: {n} separate tmux new-session/new-window calls", f"{median(separate):.3f}",
                 f"{min(separate):.3f}", f"{max(separate):.3f}"],
                [f"baseline: one tmux call creating {n} windows", f"{median(single):.3f}", f"{min(single):.3f}",
                 f"{max(single):.3f}"]]
        table("Start-up", ["what", "median s", "min s", "max s"], rows, [
            f"{args.runs} runs each, agents `sleep 100000`.",
            f"Target: up under 0.3 s: {median(sv):.3f} s -> {verdict(median(sv) < 0.3)}",
        ])


if __name__ == "__main__":
    main()
