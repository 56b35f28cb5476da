import CUV
import Glibc

/// A failed system call or libuv operation: what was done, the file it concerned when there is
/// one (so a message names the file to fix, not a bare errno), and errno. The one error type of
/// the POSIX layer: libuv's statuses are negated errno values on Linux and map onto it
/// (`init(libuv:_:)`); the few codes of libuv's own (end of file, getaddrinfo's) keep libuv's
/// message.
public struct PosixError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String?
    /// errno, positive (ENOENT), or the negated code of an error only libuv has.
    public let code: Int32

    public init(_ operation: String, path: String? = nil, code: Int32) {
        self.operation = operation; self.path = path; self.code = code
    }

    /// From errno as the failing libc call left it.
    public static func errno(_ operation: String, path: String? = nil) -> PosixError {
        PosixError(operation, path: path, code: Glibc.errno)
    }

    /// From a negative libuv status.
    public init(libuv status: Int32, _ operation: String) { self.init(operation, code: -status) }

    /// The symbolic name ("ENOENT"), for short messages.
    public var name: String { String(cString: uv_err_name(-code)) }

    /// The system's message for the code.
    public var reason: String {
        // errno values are small; libuv's own codes (UV_EOF = -4095, UV_EAI_*) are >= 3000.
        code < 3000 ? String(cString: strerror(code)) : String(cString: uv_strerror(-code))
    }

    public var description: String { "\(operation)\(path.map { " " + $0 } ?? ""): \(reason)" }
}

/// The one way blocking code does a read or write syscall. The policy, everywhere:
/// EINTR is retried; EAGAIN (a descriptor someone made non-blocking, like a terminal shared
/// with a libuv loop) waits in `poll` until the descriptor is ready instead of spinning;
/// short writes continue where they stopped; any other errno is an error.
public enum Posix {
    /// Writes every byte. On failure, `written` says how many did get out.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (written: Int, error: PosixError?) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n >= 0 { done += n; continue }
            switch errno {
            case EINTR: continue
            case EAGAIN: waitUntilReady(fd, for: Int16(POLLOUT))
            default: return (done, PosixError("write", code: errno))
            }
        }
        return (done, nil)
    }

    /// Writes every byte of `bytes`; nil on success.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> PosixError? {
        bytes.withUnsafeBytes { writeAll(fd, $0).error }
    }

    /// Writes every byte of `text` as UTF-8; nil on success.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ text: String) -> PosixError? {
        var text = text
        return text.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)).error }
    }

    /// Opens `path` (always close-on-exec), retrying EINTR.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) -> Result<Int32, PosixError> {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return .success(fd) }
            if errno != EINTR { return .failure(PosixError("open", path: path, code: errno)) }
        }
    }

    /// One positioned read of at most `buffer.count` bytes at `offset`: the count (0 at end of file).
    public static func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: UInt64) -> Result<Int, PosixError> {
        while true {
            let n = Glibc.pread(fd, buffer.baseAddress!, buffer.count, off_t(offset))
            if n >= 0 { return .success(n) }
            if errno != EINTR { return .failure(PosixError("read", code: errno)) }
        }
    }

    /// One read of at most `buffer.count` bytes: the count (0 at end of file).
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, PosixError> {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if n >= 0 { return .success(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN: waitUntilReady(fd, for: Int16(POLLIN))
            default: return .failure(PosixError("read", code: errno))
            }
        }
    }

    /// One read that does not wait: the count, or nil when nothing is there (EAGAIN).
    public static func readNow(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int?, PosixError> {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if n >= 0 { return .success(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN: return .success(nil)
            default: return .failure(PosixError("read", code: errno))
            }
        }
    }

    /// Everything until end of file (at most `limit` bytes).
    public static func readAll(_ fd: Int32, limit: Int = Int.max) -> Result<[UInt8], PosixError> {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let wanted = min(chunk.count, limit - out.count)
            let result = chunk.withUnsafeMutableBytes { read(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<wanted])) }
            switch result {
            case .failure(let error): return .failure(error)
            case .success(0): return .success(out)
            case .success(let n): out += chunk[0..<n]
            }
        }
        return .success(out)
    }

    /// Reads what a non-blocking descriptor holds now, chunk by chunk, until it would block,
    /// ends or fails (a terminal whose process ended: what it wrote last is still there).
    public static func drain(_ fd: Int32, _ body: (UnsafeRawBufferPointer) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n > 0 { buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }; continue }
            if n < 0 && errno == EINTR { continue }
            return // 0, EAGAIN, EIO (no process on the other side any more)
        }
    }

    private static func waitUntilReady(_ fd: Int32, for events: Int16) {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        _ = poll(&entry, 1, -1) // returns on readiness, an error condition or a signal: the caller retries
    }
}
