import Glibc

/// A failed system call: the operation and errno, with the system's message.
public struct PosixError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let code: Int32
    public init(_ operation: String, code: Int32) { self.operation = operation; self.code = code }
    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
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
