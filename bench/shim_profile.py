#!/usr/bin/env python3
"""Instructions the shim spends per MB of agent output, counted by valgrind's callgrind.

On a shared, noisy machine wall-clock throughput moves with the load; instruction counts do
not. This runs the release `supervisor-shim` under callgrind in a private tmux window (its
pane, as under `up`), with one agent writing N MB of one output shape (the shapes of
`throughput.py`), and reports the shim's instructions per MB of output between the first and
the last byte (start-up and exit are not counted: counting is zeroed before the producer is
released and dumped once the log holds every byte).

    bench/shim_profile.py [--mb 5] [--shape short ...] [--size 50x200] [--keep]

--keep leaves the callgrind.out files (read them with callgrind_annotate) and prints where.
Needs valgrind (callgrind_control) and tmux.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import AGENTS_DIR, PYTHON, REPO, wait_until  # noqa: E402
from throughput import SHAPES, make_data  # noqa: E402

PRODUCER = os.path.join(AGENTS_DIR, "producer.py")


def shim_binary():
    path = os.environ.get("SUPERVISOR_SHIM_BIN") or os.path.join(REPO, ".build", "release", "supervisor-shim")
    if not os.access(path, os.X_OK):
        sys.exit(f"shim_profile: no shim binary at {path}; run `swift build -c release --product supervisor-shim`")
    return path


def write_spec(d, data, fifo, done):
    spec = {
        "profile": "cg", "agent": "producer", "kind": "command", "executable": PYTHON,
        "arguments": [PYTHON, PRODUCER, data, fifo, done, "65536"], "environment": {}, "directory": d,
        "logPath": os.path.join(d, "logs", "producer.log"), "eventsPath": os.path.join(d, "logs", "producer.events.jsonl"),
        "logMaxBytes": 4 * 1024 ** 3, "logKeep": 1, "socketPath": os.path.join(d, "shim.sock"),
        "statePath": os.path.join(d, "agent", "state.json"), "restart": "never", "backoffInitial": 1,
        "backoffMax": 60, "maxRestarts": 0, "restartWindow": 60, "stopTimeout": 5,
    }
    os.makedirs(os.path.join(d, "agent"), mode=0o700)
    path = os.path.join(d, "agent", "spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    os.chmod(path, 0o600)
    return spec, path


def profile(shape, mb, rows, cols, keep, perf=False):
    d = tempfile.mkdtemp(prefix="svb-cg-", dir="/tmp")
    os.chmod(d, 0o700)
    sock = os.path.join(d, "tmux.sock")
    total = int(mb * 1_000_000)
    try:
        data = os.path.join(d, "data")
        make_data(data, total, shape)
        fifo, done = os.path.join(d, "go"), os.path.join(d, "done")
        os.mkfifo(fifo)
        spec, spec_path = write_spec(d, data, fifo, done)
        out = os.path.join(d, "callgrind.out")
        env = dict(os.environ)
        env.pop("TMUX", None)
        env.pop("TMUX_PANE", None)
        tool = [] if perf else ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no"]
        subprocess.run(["tmux", "-S", sock, "-f", "/dev/null", "new-session", "-d", "-x", str(cols), "-y", str(rows),
                        *tool, shim_binary(), "shim", spec_path], env=env, check=True)

        def running():
            try:
                with open(spec["statePath"]) as f:
                    return json.load(f).get("state") == "running"
            except (OSError, ValueError):
                return False
        wait_until("the agent to run under the shim", running, timeout=120)
        with open(spec["statePath"]) as f:
            shim_pid = json.load(f)["shimPid"]
        if perf:
            recorder = subprocess.Popen(["perf", "record", "-g", "-o", out, "-p", str(shim_pid)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # perf attaches
        else:
            subprocess.run(["callgrind_control", "-z", str(shim_pid)], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        go = os.open(fifo, os.O_WRONLY)
        os.write(go, b"g")
        os.close(go)
        t0 = time.monotonic()
        log = spec["logPath"]
        wait_until("the log to hold every byte", lambda: os.path.exists(log) and os.path.getsize(log) >= total,
                   timeout=1800, interval=0.01)
        seconds = time.monotonic() - t0
        if perf:
            recorder.send_signal(2)
            recorder.wait()
            kept = os.path.join("/tmp", f"perf.shim.{shape}.{rows}x{cols}.data")
            shutil.copy(out, kept)
            print(f"  kept {kept} ({seconds:.2f} s)", file=sys.stderr)
            os.kill(shim_pid, 15)
            return 0, 0
        subprocess.run(["callgrind_control", "-d", str(shim_pid)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        os.kill(shim_pid, 15)
        wait_until("the shim to exit", lambda: not os.path.exists(spec["socketPath"]), timeout=120)
        dumps = sorted(glob.glob(out + "*"), key=os.path.getmtime)
        dump = next(p for p in dumps if re.search(r"\.\d+$", p))  # the -d dump (callgrind.out.N)
        instructions = 0
        with open(dump) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    instructions = int(line.split()[1])
                    break
        repaints = paced_instructions(dump)
        if keep:
            kept = os.path.join("/tmp", f"callgrind.shim.{shape}.{rows}x{cols}.out")
            shutil.copy(dump, kept)
            print(f"  kept {kept}", file=sys.stderr)
        return instructions, repaints
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], stderr=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)


def paced_instructions(dump):
    """The instructions of the screen mirror's work, which is paced by wall time (a budget per
    second, at most 20 repaints a second) rather than by bytes: libvterm's parsing, making a
    fresh screen and rendering a repaint."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", dump],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    best = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) .*:(\S+)", line)
        if not m:
            continue
        symbol = m.group(2)
        for key in ("vterm_input_write", "vterm_free", "VirtualScreenC13renderRepaintSays5UInt8VGyF",
                    "VirtualScreenC4rows4cols10scrollback"):
            if symbol == key or symbol.endswith(key):
                best[key] = max(best.get(key, 0), int(m.group(1).replace(",", "")))
    return sum(best.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=5, help="megabytes (10^6 bytes) the agent writes (default 5)")
    ap.add_argument("--shape", action="append", choices=SHAPES, help="output shape (repeatable; default: all)")
    ap.add_argument("--size", action="append", help="pane ROWSxCOLS (repeatable; default 50x200 and 24x80)")
    ap.add_argument("--keep", action="store_true", help="keep the callgrind output files in /tmp")
    ap.add_argument("--perf", action="store_true", help="record with `perf record -g` instead (kept in /tmp)")
    args = ap.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in (args.size or ["50x200", "24x80"])]
    print("| shape | pane | shim instructions per MB | without the screen's paced work |")
    print("|---|---|---|---|")
    for shape in args.shape or SHAPES:
        for rows, cols in sizes:
            instructions, repaints = profile(shape, args.mb, rows, cols, args.keep, args.perf)
            print(f"| {shape} | {cols}x{rows} | {instructions / args.mb / 1e6:.1f} M | "
                  f"{(instructions - repaints) / args.mb / 1e6:.1f} M |", flush=True)


if __name__ == "__main__":
    main()
