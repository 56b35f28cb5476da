import CUV
import Glibc

/// A one-shot timer with microsecond resolution: a timerfd polled on the loop. libuv's timers
/// count whole milliseconds of a clock read once per loop turn, so "1 ms from now" fires 1 to
/// 2 ms later; this is for delays where that difference is the point (pacing a stream).
public final class PreciseTimer {
    private let fd: Int32
    private let poll: Poll
    private var callback: (() -> Void)?
    public private(set) var isArmed = false

    public init(loop: EventLoop) throws {
        fd = sv_timerfd_create()
        if fd < 0 { throw PosixError("timerfd_create", code: errno) }
        do {
            poll = try Poll(loop: loop, fd: fd)
        } catch {
            Glibc.close(fd)
            throw error
        }
        try poll.start(.readable) { [weak self] _, _ in self?.fired() }
    }

    /// `CLOCK_MONOTONIC` in microseconds (the clock `start(at:)` counts in).
    public static func now() -> UInt64 { uv_hrtime() / 1000 }

    /// Calls `callback` once at `deadline` (`now()`'s clock), or at once if it has passed;
    /// replaces an earlier arming.
    public func start(at deadline: UInt64, _ callback: @escaping () -> Void) {
        self.callback = callback
        let now = PreciseTimer.now()
        // timerfd takes 0 as "disarm": a deadline that has passed fires after 1 ns.
        _ = sv_timerfd_arm(fd, deadline > now ? (deadline - now) * 1000 : 1)
        isArmed = true
    }

    public func stop() {
        guard isArmed else { return }
        _ = sv_timerfd_arm(fd, 0)
        isArmed = false
    }

    private func fired() {
        var expirations: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &expirations) { Posix.readNow(fd, into: $0) }
        guard isArmed else { return }
        isArmed = false
        callback?()
    }

    public func close() {
        callback = nil
        isArmed = false
        let fd = self.fd
        poll.close { Glibc.close(fd) }
    }
}
