import CUV
import Glibc
import Synchronization

/// How a child process ended.
public enum ProcessExit: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    public var description: String {
        switch self {
        case .exited(let code): return "exit \(code)"
        case .signaled(let sig): return "signal \(sig) (\(String(cString: strsignal(sig))))"
        }
    }
    public init(waitStatus status: Int32) {
        // WIFEXITED/WEXITSTATUS/WTERMSIG are macros Swift cannot see.
        if status & 0x7f == 0 { self = .exited((status >> 8) & 0xff) } else { self = .signaled(status & 0x7f) }
    }
}

/// A child process started by libuv from an argv array (never through a shell).
public final class ChildProcess: Handle {
    public enum Stdio {
        case ignore
        case inherit(Int32)
        /// A pipe the child reads (`readable` true from the child's view) or writes.
        case pipe(PipeStream, childReads: Bool)
    }

    public private(set) var pid: Int32 = 0
    private var onExit: ((ProcessExit) -> Void)?
    private var process: UnsafeMutablePointer<uv_process_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_process_t.self) }

    /// Starts `arguments[0]` (searched in PATH when it has no slash). `environment` nil inherits.
    public init(loop: EventLoop, arguments: [String], environment: [String: String]? = nil,
                directory: String? = nil, stdio: [Stdio] = [.ignore, .inherit(1), .inherit(2)],
                newSession: Bool = false, onExit: @escaping (ProcessExit) -> Void) throws {
        let raw = UnsafeMutablePointer<uv_process_t>.allocate(capacity: 1)
        super.init(loop: loop, handle: UnsafeMutableRawPointer(raw).assumingMemoryBound(to: uv_handle_t.self))
        self.onExit = onExit

        let argv = CStringArray(arguments)
        let envp = environment.map { env in CStringArray(env.map { "\($0.key)=\($0.value)" }) }
        var containers = stdio.map { spec -> uv_stdio_container_t in
            var c = uv_stdio_container_t()
            switch spec {
            case .ignore: c.flags = UV_IGNORE
            case .inherit(let fd): c.flags = UV_INHERIT_FD; c.data.fd = fd
            case .pipe(let pipe, let childReads):
                c.flags = uv_stdio_flags(UV_CREATE_PIPE.rawValue | (childReads ? UV_READABLE_PIPE.rawValue : UV_WRITABLE_PIPE.rawValue))
                c.data.stream = pipe.stream
            }
            return c
        }
        var options = uv_process_options_t()
        options.exit_cb = { raw, status, signal in
            let owner = Handle.owner(raw, as: ChildProcess.self)
            ChildProcess.runningPids.withLock { _ = $0.remove(owner.pid) }
            let exit: ProcessExit = signal != 0 ? .signaled(signal) : .exited(Int32(truncatingIfNeeded: status))
            owner.onExit?(exit)
        }
        options.file = argv.pointers[0].map { UnsafePointer($0) }
        options.args = argv.base
        options.env = envp?.base
        let status: Int32 = directory.withOptionalCString { cwd in
            options.cwd = cwd
            options.flags = newSession ? UInt32(UV_PROCESS_DETACHED.rawValue) : 0
            return containers.withUnsafeMutableBufferPointer { buffer in
                options.stdio = buffer.baseAddress
                options.stdio_count = Int32(buffer.count)
                return uv_spawn(loop.raw, raw, &options)
            }
        }
        // Even a failed uv_spawn initialised the handle: it must be closed.
        retainForLibuv()
        if status < 0 {
            close()
            throw PosixError(libuv: status, "cannot start \(arguments.first ?? "?")")
        }
        pid = raw.pointee.pid
        let started = pid
        ChildProcess.runningPids.withLock { _ = $0.insert(started) }
    }

    /// Pids of children libuv is waiting for: a process that reaps orphans (`ChildWatcher`
    /// with `adoptsOrphans`) must leave these to libuv, or their exit callbacks never come.
    /// Behind a lock: loops on other threads (a worker's `git`) start and end children too; an
    /// unlocked set crashed the test process once (two threads in `Set.remove`).
    public static var running: Set<pid_t> { runningPids.withLock { $0 } }
    private static let runningPids = Mutex<Set<pid_t>>([])

    public func kill(_ signal: Int32) { if !isClosed { uv_process_kill(process, signal) } }

    override public func willClose() {
        onExit = nil
        let ended = pid
        ChildProcess.runningPids.withLock { _ = $0.remove(ended) } // libuv stops waiting for it
    }
}

/// A NUL-terminated `char *[]` that frees itself.
final class CStringArray {
    let pointers: [UnsafeMutablePointer<CChar>?]
    let base: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
        base = .allocate(capacity: pointers.count)
        base.initialize(from: pointers, count: pointers.count)
    }
    deinit {
        pointers.forEach { free($0) }
        base.deallocate()
    }
}

extension Optional where Wrapped == String {
    func withOptionalCString<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
        switch self {
        case .some(let s): return s.withCString { body($0) }
        case .none: return body(nil)
        }
    }
}

/// Looks a program up in PATH the way execvp would, so "not found" is reported before starting.
public func resolveExecutable(_ program: String, path: String?) -> String? {
    if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
    for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
        let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + program
        var info = stat()
        if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}
