// The Python side of the exec agent's runtime. It is passed to `python3 -c` (so it works the
// same in a Docker box, where the agent's state directory is not mounted) and is also written
// to `<stateDir>/exec-runtime.py` at start for reading. The protocol is described at its top and
// in RuntimeProtocol.swift.

enum PythonRuntimeScript {
    static let source = #"""
# supervisor exec runtime: one persistent Python namespace driven over a framed protocol.
#
# Protocol (both directions): 4-byte big-endian length, then that many bytes of UTF-8 JSON.
# The agent writes requests to our stdin and reads frames from our stdout; both descriptors
# are moved away at start so user code (and anything it runs) can never write into them:
# fd 0 becomes /dev/null and fd 1 a copy of fd 2 (stray output the agent shows as such).
#
# Requests:  {"op": "exec", "id": N, "code": "...", "name": "block 3"}
#            {"op": "interrupt", "id": N}        (also: SIGINT to this process, locally)
#            {"op": "ping", "id": N}
# Frames:    {"type": "ready", "pid", "python", "memory_limit"}
#            {"type": "output", "id", "stream": "stdout"|"stderr", "text"}   (live, while a block runs)
#            {"type": "child", "id", "pid", "running": bool}                 (bash() process groups)
#            {"type": "result", "id", "status": "ok"|"error"|"interrupted"|"answer",
#             "stdout", "stderr", "stdout_dropped", "stderr_dropped", "value", "error",
#             "error_type", "answer", "duration"}
#            {"type": "pong", "id"}
#
# Processes: the runtime is a session leader (it starts one when it is not) and bash() commands
# run in their own process groups inside that session, so the agent can end the runtime with
# everything it started by killing the session (in a container: through `docker exec`, as
# signals to the host-side client reach nobody). An `interrupt` frame makes the reader thread
# send SIGINT to the main thread, which works wherever the frame arrives.
import ast, builtins, collections, io, json, linecache, os, queue, signal, struct, subprocess, sys, threading, time, traceback
import _thread

CONFIG = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
OUTPUT_LIMIT = int(CONFIG.get("output_limit", 20000))
LIVE_LIMIT = int(CONFIG.get("live_limit", 65536))

_proto_in = os.dup(0)
_proto_out = os.dup(1)
os.set_inheritable(_proto_in, False)
os.set_inheritable(_proto_out, False)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
os.dup2(2, 1)
sys.stdin = open(os.devnull, "r")
_real_stdout, _real_stderr = sys.stdout, sys.stderr
_send_lock = threading.Lock()


def _send(obj):
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8", "replace")
    frame = struct.pack(">I", len(data)) + data
    with _send_lock:
        view = memoryview(frame)
        while view:
            try:
                n = os.write(_proto_out, view)
            except InterruptedError:
                continue
            view = view[n:]


def _read_exact(n):
    parts, got = [], 0
    while got < n:
        try:
            chunk = os.read(_proto_in, n - got)
        except InterruptedError:
            continue
        if not chunk:
            return None
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class _State:
    running_id = None
    running = False
    interrupted = False


_state = _State()
_requests = queue.Queue()


_children = set()  # process groups of bash() commands in flight


def _quit():
    # The agent is gone (or asks us to go): so are we, with our bash() commands.
    for pid in list(_children):
        _killpg(pid)
    os._exit(0)


def _reader():
    main = threading.main_thread().ident
    while True:
        head = _read_exact(4)
        if head is None:
            _quit()
        body = _read_exact(struct.unpack(">I", head)[0])
        if body is None:
            _quit()
        try:
            msg = json.loads(body.decode("utf-8"))
        except ValueError:
            continue
        op = msg.get("op")
        if op == "interrupt":
            if _state.running and _state.running_id == msg.get("id"):
                # A real signal to the main thread (not interrupt_main(), which only sets a flag):
                # it also ends a blocking call such as time.sleep() or a wait on a child.
                try:
                    signal.pthread_kill(main, signal.SIGINT)
                except (OSError, ValueError):
                    _thread.interrupt_main()
        elif op == "shutdown":
            _quit()
        else:
            _requests.put(msg)


def _on_sigint(signum, frame):
    # Only user code is ever interrupted: an interrupt that arrives between blocks (or while a
    # result is being sent) is dropped, so the protocol stream is never cut mid-frame.
    if _state.running and not _state.interrupted:
        _state.interrupted = True
        raise KeyboardInterrupt


class _Capture(io.TextIOBase):
    """Keeps the first and last OUTPUT_LIMIT/2 characters and streams the first LIVE_LIMIT live."""

    def __init__(self, stream, block_id):
        self.stream, self.block_id = stream, block_id
        self.half = max(OUTPUT_LIMIT // 2, 1)
        self.head, self.tail, self.tail_len, self.total = "", collections.deque(), 0, 0
        self.pending, self.live_sent = "", 0
        self.lock = threading.Lock()

    @property
    def encoding(self):
        return "utf-8"

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        with self.lock:
            self.total += len(s)
            rest = s
            if len(self.head) < self.half:
                take = rest[: self.half - len(self.head)]
                self.head += take
                rest = rest[len(take):]
            if rest:
                self.tail.append(rest)
                self.tail_len += len(rest)
                while self.tail and self.tail_len - len(self.tail[0]) >= self.half:
                    self.tail_len -= len(self.tail.popleft())
            if self.live_sent < LIVE_LIMIT:
                self.pending += s[: LIVE_LIMIT - self.live_sent - len(self.pending)]
                if "\n" in s or len(self.pending) >= 4096 or self.live_sent + len(self.pending) >= LIVE_LIMIT:
                    self._flush_live()
        return len(s)

    def _flush_live(self):
        if self.pending:
            _send({"type": "output", "id": self.block_id, "stream": self.stream, "text": self.pending})
            self.live_sent += len(self.pending)
            self.pending = ""

    def flush(self):
        with self.lock:
            self._flush_live()

    def result(self):
        tail = "".join(self.tail)[-self.half:] if self.tail else ""
        dropped = self.total - len(self.head) - len(tail)
        if dropped > 0:
            return self.head + "\n[... %d characters left out ...]\n" % dropped + tail, dropped
        return self.head + tail, 0


class _Answer(BaseException):
    def __init__(self, text):
        BaseException.__init__(self, text)
        self.text = text


def _repr(value, limit=None):
    try:
        text = repr(value)
    except BaseException as e:  # a broken __repr__ must not break the runtime
        text = "<repr() failed: %s: %s>" % (type(e).__name__, e)
    limit = limit or OUTPUT_LIMIT
    if len(text) > limit:
        text = text[: limit // 2] + "\n[... %d characters left out ...]\n" % (len(text) - limit) + text[-(limit // 2):]
    return text


class BashResult:
    """What bash() returns: stdout, stderr, returncode (None if killed by its timeout), timed_out."""

    def __init__(self, stdout, stderr, returncode, timed_out=False):
        self.stdout, self.stderr, self.returncode, self.timed_out = stdout, stderr, returncode, timed_out

    @property
    def ok(self):
        return self.returncode == 0

    def __str__(self):
        return self.stdout

    def __repr__(self):
        status = "timed out" if self.timed_out else "exit %s" % self.returncode
        return "BashResult(%s, stdout=%s, stderr=%s)" % (status, _repr(self.stdout, 4000), _repr(self.stderr, 4000))


def bash(cmd, timeout=60, cwd=None, input=None):
    """Runs cmd with bash -c; returns BashResult(stdout, stderr, returncode, timed_out)."""
    p = subprocess.Popen(["bash", "-c", cmd], stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, text=True, errors="replace",
                         **_OWN_GROUP)
    _children.add(p.pid)
    _send({"type": "child", "id": _state.running_id, "pid": p.pid, "running": True})
    try:
        try:
            out, err = p.communicate(input=input, timeout=timeout)
            return BashResult(out, err, p.returncode)
        except subprocess.TimeoutExpired:
            _killpg(p.pid)
            out, err = p.communicate()
            return BashResult(out, err, None, timed_out=True)
        except BaseException:
            _killpg(p.pid)
            p.wait()
            raise
    finally:
        _children.discard(p.pid)
        _send({"type": "child", "id": _state.running_id, "pid": p.pid, "running": False})


# bash() commands get their own process group (killed alone on a timeout) in our session (killed
# with us).
_OWN_GROUP = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}


def _killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def read_file(path, encoding="utf-8"):
    """Returns the text of a file (relative paths: the workspace)."""
    with open(path, "r", encoding=encoding, errors="replace") as f:
        return f.read()


def write_file(path, content, encoding="utf-8"):
    """Writes text (or bytes), creating parent directories; returns the number of bytes written."""
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    data = content if isinstance(content, (bytes, bytearray)) else str(content).encode(encoding)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def answer(value):
    """Hands back the final result: the turn ends with this value (the rest of the block is skipped)."""
    raise _Answer(value if isinstance(value, str) else _repr(value))


_namespace = {"__name__": "__main__", "__builtins__": builtins, "bash": bash, "BashResult": BashResult,
              "read_file": read_file, "write_file": write_file, "answer": answer}


def _format_error(e, filename):
    # The traceback shows the user's frames (and libraries they called), never the runtime's.
    frames = []
    tb = None if isinstance(e, SyntaxError) else e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals is not _runtime_globals:
            frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    text = ""
    if frames:
        text = "Traceback (most recent call last):\n" + "".join(traceback.StackSummary.extract(iter(frames)).format())
    return text + "".join(traceback.format_exception_only(type(e), e))


_runtime_globals = globals()


def _run(msg):
    block_id = msg.get("id")
    code = msg.get("code", "")
    filename = "<%s>" % msg.get("name", "block %s" % block_id)
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    out, err = _Capture("stdout", block_id), _Capture("stderr", block_id)
    result = {"type": "result", "id": block_id, "status": "ok", "value": None, "error": None, "error_type": None,
              "answer": None}
    started = time.monotonic()
    _state.running_id = block_id
    _state.interrupted = False
    try:
        try:
            tree = ast.parse(code, filename, "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            body = compile(tree, filename, "exec")
            final = compile(last, filename, "eval") if last is not None else None
            sys.stdout, sys.stderr = out, err
            _state.running = True
            try:
                exec(body, _namespace)
                if final is not None:
                    value = eval(final, _namespace)
                    if value is not None:
                        result["value"] = _repr(value)
                        _namespace["_"] = value
            finally:
                _state.running = False
        except _Answer as a:
            result["status"] = "answer"
            result["answer"] = a.text
        except KeyboardInterrupt as e:
            result["status"] = "interrupted"
            result["error_type"] = "KeyboardInterrupt"
            result["error"] = _format_error(e, filename)
        except BaseException as e:  # SystemExit too: the runtime stays up
            result["status"] = "error"
            result["error_type"] = type(e).__name__
            result["error"] = _format_error(e, filename)
    finally:
        _state.running = False
        sys.stdout, sys.stderr = _real_stdout, _real_stderr
    out.flush()
    err.flush()
    result["stdout"], result["stdout_dropped"] = out.result()
    result["stderr"], result["stderr_dropped"] = err.result()
    result["duration"] = round(time.monotonic() - started, 6)
    return result


def _main():
    try:
        os.setsid()  # already a session leader when started by the agent or docker exec
    except OSError:
        pass
    signal.signal(signal.SIGINT, _on_sigint)
    threading.Thread(target=_reader, name="protocol-reader", daemon=True).start()
    limit = CONFIG.get("memory_limit")
    if limit:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    workspace = CONFIG.get("workspace")
    if workspace:
        try:
            os.chdir(workspace)
        except OSError:
            pass
    sys.path.insert(0, os.getcwd())
    _send({"type": "ready", "pid": os.getpid(), "python": sys.version.split()[0], "memory_limit": limit})
    while True:
        try:
            msg = _requests.get()
        except KeyboardInterrupt:
            continue
        try:
            op = msg.get("op")
            if op == "exec":
                _send(_run(msg))
            elif op == "ping":
                _send({"type": "pong", "id": msg.get("id")})
        except KeyboardInterrupt:
            continue
        except MemoryError:
            _send({"type": "result", "id": msg.get("id"), "status": "error", "error_type": "MemoryError",
                   "error": "MemoryError (the runtime ran out of memory while reporting the result)",
                   "stdout": "", "stderr": "", "value": None, "answer": None, "duration": 0})


_main()
"""#
}
