"""Shared helpers for the supervisor benchmarks (python3 standard library only).

Every benchmark uses a private SUPERVISOR_HOME and private tmux sockets under a fresh
/tmp/svb-XXXXXX directory, and ends only what it started (by socket and by pid).
"""
import json
import re
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
AGENTS_DIR = os.path.join(BENCH_DIR, "agents")
PYTHON = sys.executable or "python3"


def supervisor_binary():
    path = os.environ.get("SUPERVISOR_BIN") or os.path.join(REPO, ".build", "release", "supervisor")
    if not os.access(path, os.X_OK):
        sys.exit(f"bench: no supervisor binary at {path}; run `swift build -c release` (or set SUPERVISOR_BIN)")
    return os.path.realpath(path)


def tmux_binary():
    path = shutil.which("tmux")
    if not path:
        sys.exit("bench: tmux is not installed")
    return path


def toml_string(value):
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(value)


def clean_env(extra=None):
    env = dict(os.environ)
    env.pop("TMUX", None)
    env.pop("TMUX_PANE", None)
    if extra:
        env.update(extra)
    return env


class Workspace:
    """A private SUPERVISOR_HOME plus room for profiles, logs and tmux sockets."""

    def __init__(self, tag="svb"):
        self.dir = tempfile.mkdtemp(prefix=f"{tag}-", dir="/tmp")
        self.home = os.path.join(self.dir, "h")
        self.logs = os.path.join(self.dir, "logs")
        self.bin = supervisor_binary()
        self.tmux = tmux_binary()
        self.env = clean_env({"SUPERVISOR_HOME": self.home})
        self.profiles = []          # names brought up
        self.tmux_sockets = []      # private baseline servers
        self.pids = []              # processes we started outside tmux

    # --- profiles -------------------------------------------------------------------------
    def write_profile(self, name, agents, max_bytes=4 * 1024 * 1024 * 1024, keep=1):
        """agents: list of (agent name, argv list, extra toml lines)."""
        lines = [f"name = {toml_string(name)}", "[logs]", f"dir = {toml_string(self.logs)}",
                 f"max_bytes = {max_bytes}", f"keep = {keep}", ""]
        for agent in agents:
            agent_name, argv = agent[0], agent[1]
            extra = agent[2] if len(agent) > 2 else []
            lines += ["[[agents]]", f"name = {toml_string(agent_name)}", 'kind = "command"',
                      "command = [" + ", ".join(toml_string(a) for a in argv) + "]"] + list(extra) + [""]
        path = os.path.join(self.dir, f"{name}.toml")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return path

    def supervisor(self, *args, check=True, **kwargs):
        result = subprocess.run([self.bin, *args], env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
        if check and result.returncode != 0:
            raise RuntimeError(f"supervisor {' '.join(args)} failed ({result.returncode}):\n{result.stdout}")
        return result

    def up(self, profile_path, name):
        self.profiles.append(name)
        return self.supervisor("up", "--detach", profile_path)

    def down(self, name):
        self.supervisor("down", name, check=False)
        self.kill_leftovers(name)
        if name in self.profiles:
            self.profiles.remove(name)

    def profile_dir(self, name):
        return os.path.join(self.home, "profiles", name)

    def tmux_socket(self, name):
        return os.path.join(self.profile_dir(name), "tmux.sock")

    def state(self, profile, agent):
        with open(os.path.join(self.profile_dir(profile), "agents", agent, "state.json")) as f:
            return json.load(f)

    def shim_socket(self, profile, agent):
        return os.path.join(self.profile_dir(profile), "agents", agent, "shim.sock")

    def log_path(self, profile, agent):
        return os.path.join(self.logs, profile, f"{agent}.log")

    def tmux_server_pid(self, name):
        """The pid of the tmux server that holds profile `name`'s windows."""
        out = subprocess.run([self.tmux, "-S", self.tmux_socket(name), "display-message", "-p", "#{pid}"],
                             env=self.env, capture_output=True, text=True, check=True).stdout
        return int(out.strip())

    def recorded_pids(self, name):
        pids = []
        agents_dir = os.path.join(self.profile_dir(name), "agents")
        for agent in sorted(os.listdir(agents_dir)) if os.path.isdir(agents_dir) else []:
            try:
                st = self.state(name, agent)
            except (OSError, ValueError):
                continue
            pids.append((agent, st.get("shimPid") or 0, st.get("agentPid") or 0))
        return pids

    def kill_leftovers(self, name):
        """After `down`: anything of this profile still alive is ended (by recorded pid only)."""
        subprocess.run([self.tmux, "-S", self.tmux_socket(name), "kill-server"], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _, shim, agent in self.recorded_pids(name):
            if agent and alive(agent) and os.getsid(agent) == agent:
                try:
                    os.killpg(agent, signal.SIGKILL)
                except OSError:
                    pass
            if shim and alive(shim) and is_shim(shim):
                try:
                    os.kill(shim, signal.SIGKILL)
                except OSError:
                    pass

    # --- private plain tmux servers (baselines) ----------------------------------------------
    def tmux_server(self, tag):
        sock = os.path.join(self.dir, f"{tag}.sock")
        self.tmux_sockets.append(sock)
        return sock

    def tmux_cmd(self, sock, *args):
        return [self.tmux, "-S", sock, "-f", "/dev/null", *args]

    def close(self):
        for name in list(self.profiles):
            self.down(name)
        for sock in self.tmux_sockets:
            subprocess.run([self.tmux, "-S", sock, "kill-server"], env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for pid in self.pids:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# --- /proc --------------------------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def is_shim(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return len(argv) > 1 and argv[1] == b"shim"


def cpu_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def cpu_ns(pid):
    """Time on CPU of all live threads, in nanoseconds (schedstat; finer than ticks)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    except OSError:
        pass
    return total


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wait_until(what, condition, timeout=30.0, interval=0.005):
    """Benchmarks poll observable state with a deadline; they are measurements, not product code."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


def wait_running(ws, name, agents, timeout=30.0):
    def ok():
        for agent in agents:
            try:
                st = ws.state(name, agent)
            except (OSError, ValueError):
                return False
            if st.get("state") != "running" or not st.get("agentPid"):
                return False
        return True
    wait_until(f"agents of {name} to run", ok, timeout)


# --- output -----------------------------------------------------------------------------------
def table(title, header, rows, notes=()):
    cells = [list(map(str, header))] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = [f"## {title}", ""]
    out.append("| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |")
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    for n in notes:
        out.append("")
        out.append(n)
    print("\n".join(out) + "\n", flush=True)


def median(values):
    return statistics.median(values)


def percentile(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def verdict(ok):
    return "yes" if ok else "**NO**"


def up_sized(ws, profile_path, name, rows, cols):
    """`supervisor up --detach` with its stdout on a pseudo-terminal of rows x cols, so the
    agents' windows (and the shims' screens) get that size instead of the 50x200 default."""
    import fcntl
    import struct
    import termios
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    ws.profiles.append(name)
    proc = subprocess.Popen([ws.bin, "up", "--detach", profile_path], env=ws.env, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait()
    os.close(master)
    if proc.returncode != 0:
        raise RuntimeError(f"supervisor up failed ({proc.returncode}): {out.decode(errors='replace')}")


def start_serve(ws, flags=()):
    """`supervisor serve` on a free loopback port: (process, "127.0.0.1:PORT", control token)."""
    serve = subprocess.Popen([ws.bin, "serve", "--port", "0", *flags], env=ws.env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ws.pids.append(serve.pid)
    url = None
    for line in serve.stdout:
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if m:
            url = f"127.0.0.1:{m.group(1)}"
            break
    if not url:
        sys.exit("bench: serve printed no URL")
    with open(os.path.join(ws.home, "serve", "control.token")) as f:
        token = f.read().strip()
    return serve, url, token
