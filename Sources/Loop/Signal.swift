import CUV
import Glibc

/// Delivers a POSIX signal as a loop callback (never runs code in signal context).
public final class SignalWatcher: Handle {
    private var callback: ((Int32) -> Void)?
    private var signal: UnsafeMutablePointer<uv_signal_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_signal_t.self) }

    public init(loop: EventLoop) {
        let raw = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
        uv_signal_init(loop.raw, raw)
        super.init(loop: loop, handle: UnsafeMutableRawPointer(raw).assumingMemoryBound(to: uv_handle_t.self))
        retainForLibuv()
    }

    public func start(_ signum: Int32, _ callback: @escaping (Int32) -> Void) throws {
        self.callback = callback
        try check(uv_signal_start(signal, { raw, signum in
            Handle.owner(raw, as: SignalWatcher.self).callback?(signum)
        }, signum), "uv_signal_start(\(signum))")
    }

    public func stop() { if !isClosed { uv_signal_stop(signal) } }

    override public func willClose() { callback = nil }
}

/// SIGPIPE ignored only while a write to a peer that may vanish (a shim's socket, a shim asking
/// `up` for its keys) is in flight: such a write must fail with EPIPE, not kill the CLI. Not
/// ignored for good, because a CLI writing to a closed stdout (`supervisor logs | head`) must
/// still end by SIGPIPE as a Unix filter does. Holds nest (several writes in flight); the
/// disposition found at the first hold is put back at the last release.
public enum BrokenPipes {
    private nonisolated(unsafe) static var holders = 0
    private nonisolated(unsafe) static var previous = sigaction()
    private nonisolated(unsafe) static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        return lock
    }()

    public static func hold() {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if holders == 0 {
            var ignore = sigaction()
            ignore.__sigaction_handler.sa_handler = SIG_IGN
            sigaction(SIGPIPE, &ignore, &previous)
        }
        holders += 1
    }

    public static func release() {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        precondition(holders > 0, "BrokenPipes.release without hold")
        holders -= 1
        if holders == 0 { sigaction(SIGPIPE, &previous, nil) }
    }
}

extension ByteStream {
    /// `write`, with SIGPIPE ignored until this write completes (see `BrokenPipes`): a peer
    /// that closes mid-write gives the completion an EPIPE error instead of ending the process.
    public func writeSurvivingClose(_ bytes: [UInt8], completion: ((PosixError?) -> Void)? = nil) {
        BrokenPipes.hold()
        write(bytes) { error in
            BrokenPipes.release()
            completion?(error)
        }
    }
}
