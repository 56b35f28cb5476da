import CUV
import Glibc

/// A pseudo-terminal pair. The master stays with us; the slave becomes the child's controlling
/// terminal so Ctrl-C, job control and SIGHUP-on-hangup work.
public final class PseudoTerminal {
    public let masterFD: Int32
    public let slavePath: String

    public init(rows: Int, cols: Int) throws {
        var master: Int32 = -1, slave: Int32 = -1
        var size = winsize(ws_row: UInt16(clamping: max(rows, 1)), ws_col: UInt16(clamping: max(cols, 1)), ws_xpixel: 0, ws_ypixel: 0)
        guard openpty(&master, &slave, nil, nil, &size) == 0 else { throw PosixError.errno("openpty") }
        var name = [CChar](repeating: 0, count: 128)
        let nameStatus = ttyname_r(slave, &name, name.count)
        // The child opens the slave by path (to make it its controlling terminal); our copy
        // would keep the terminal open after the child exits and hide its hang-up.
        Glibc.close(slave)
        guard nameStatus == 0 else { Glibc.close(master); throw PosixError("ttyname_r", code: nameStatus) }
        _ = fcntl(master, F_SETFD, FD_CLOEXEC)
        masterFD = master
        slavePath = String(cString: name)
    }

    public func resize(rows: Int, cols: Int) throws {
        var size = winsize(ws_row: UInt16(clamping: max(rows, 1)), ws_col: UInt16(clamping: max(cols, 1)), ws_xpixel: 0, ws_ypixel: 0)
        if sv_ioctl_set_winsize(masterFD, &size) != 0 { throw PosixError.errno("TIOCSWINSZ") }
    }

    /// The size of any terminal fd (the shim's own pane).
    public static func size(of fd: Int32) -> (rows: Int, cols: Int)? {
        var size = winsize()
        guard sv_ioctl_get_winsize(fd, &size) == 0, size.ws_row > 0, size.ws_col > 0 else { return nil }
        return (Int(size.ws_row), Int(size.ws_col))
    }

    /// Starts `executable` with `arguments` as a session leader whose stdin/stdout/stderr and
    /// controlling terminal are this terminal's slave. `extraFDs` maps child fd numbers to our
    /// fds (e.g. 3 -> the write end of the events pipe). Uses posix_spawn: no Swift code runs
    /// between fork and exec.
    public func spawn(executable: String, arguments: [String], environment: [String: String],
                      directory: String?, extraFDs: [(child: Int32, parent: Int32)] = []) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        // setsid happens before the file actions, so opening the slave (without O_NOCTTY)
        // makes it the new session's controlling terminal.
        posix_spawn_file_actions_addopen(&actions, 0, slavePath, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
        // Move our fds high first so dup2 into low numbers never clobbers a source still needed.
        var moved: [Int32] = []
        defer { moved.forEach { Glibc.close($0) } }
        for (child, parent) in extraFDs {
            let high = fcntl(parent, F_DUPFD_CLOEXEC, 100)
            guard high >= 0 else { throw PosixError.errno("dup fd \(parent)") }
            moved.append(high)
            posix_spawn_file_actions_adddup2(&actions, high, child)
        }
        if let directory { posix_spawn_file_actions_addchdir_np(&actions, directory) }

        var defaults = sigset_t()
        sigfillset(&defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(SV_POSIX_SPAWN_SETSID) | Int16(POSIX_SPAWN_SETSIGDEF) | Int16(POSIX_SPAWN_SETSIGMASK))

        let argv = CStringArray(arguments)
        let envp = CStringArray(environment.map { "\($0.key)=\($0.value)" }.sorted())
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv.base, envp.base)
        if status != 0 { throw PosixError("cannot start \(executable)", code: status) }
        return pid
    }

    public func closeMaster() { Glibc.close(masterFD) }
}

/// Reaps specific children started outside libuv (posix_spawn) when SIGCHLD arrives.
/// libuv reaps only the pids of its own process handles, so the two coexist.
public final class ChildWatcher {
    private let signal: SignalWatcher
    private var watched: [pid_t: (ProcessExit) -> Void] = [:]
    /// Called after reaping a child nobody watched: an orphan this process adopted as child
    /// subreaper (see `becomeSubreaper`). Nil: such children are not reaped here.
    private let onOrphanExit: ((pid_t) -> Void)?

    public init(loop: EventLoop, onOrphanExit: ((pid_t) -> Void)? = nil) throws {
        self.onOrphanExit = onOrphanExit
        signal = SignalWatcher(loop: loop)
        try signal.start(SIGCHLD) { [unowned self] _ in self.reap() }
    }

    /// Makes orphaned descendants (a daemon that double-forked or called setsid, whose parent
    /// then ended) children of this process instead of pid 1, so they can be found and ended.
    public static func becomeSubreaper() throws {
        guard sv_prctl_set_child_subreaper() == 0 else { throw PosixError.errno("prctl(PR_SET_CHILD_SUBREAPER)") }
    }

    /// The children of `pid` (all its threads'), from /proc.
    public static func children(of pid: pid_t) -> [pid_t] { ProcFS.children(of: pid) }

    /// `pid`'s descendants, parents before their children.
    public static func descendants(of pid: pid_t) -> [pid_t] { ProcFS.descendants(of: pid) }

    public func watch(_ pid: pid_t, onExit: @escaping (ProcessExit) -> Void) {
        watched[pid] = onExit
        reap() // it may already have ended before we watched it
    }

    private func reap() {
        for (pid, onExit) in watched {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                watched[pid] = nil
                onExit(ProcessExit(waitStatus: status))
            }
        }
        guard let onOrphanExit else { return }
        for pid in ChildWatcher.children(of: getpid()) where watched[pid] == nil && !ChildProcess.running.contains(pid) {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { onOrphanExit(pid) }
        }
    }

    public func close() { signal.close() }
}

/// Waits for processes we did not spawn (or no longer own) to end, without polling: a pidfd
/// becomes readable when its process exits.
public enum ProcessExitWaiter {
    /// Returns the pids still alive when the deadline passed.
    public static func wait(for pids: [pid_t], timeout: Double) -> [pid_t] {
        let loop = EventLoop()
        defer { loop.close() }
        var alive = Set<pid_t>()
        var polls: [Poll] = []
        for pid in pids {
            let fd = pidfd_open(pid, 0)
            guard fd >= 0 else { continue } // already gone (ESRCH)
            guard let poll = try? Poll(loop: loop, fd: fd) else { Glibc.close(fd); continue }
            alive.insert(pid)
            polls.append(poll)
            try? poll.start(.readable) { _, _ in
                alive.remove(pid)
                poll.close { Glibc.close(fd) }
            }
        }
        var expired = false
        let timer = LoopTimer(loop: loop)
        timer.start(seconds: timeout) { expired = true } // the caller escalates past this
        while !alive.isEmpty && !expired { loop.runOnce() }
        timer.close()
        return Array(alive)
    }
}
