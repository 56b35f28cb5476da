import CUV

/// A libuv timer. Every use names its reason at the call site (DESIGN: timers with a reason).
public final class LoopTimer: Handle {
    private var callback: (() -> Void)?
    private var timer: UnsafeMutablePointer<uv_timer_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_timer_t.self) }

    public init(loop: EventLoop) {
        let raw = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
        uv_timer_init(loop.raw, raw)
        super.init(loop: loop, handle: UnsafeMutableRawPointer(raw).assumingMemoryBound(to: uv_handle_t.self))
        retainForLibuv()
    }

    /// Fires once after `milliseconds`, then every `repeatMilliseconds` when non-zero.
    public func start(milliseconds: UInt64, repeatMilliseconds: UInt64 = 0, _ callback: @escaping () -> Void) {
        guard !isClosed else { return }
        self.callback = callback
        // Count from now, not from the loop's cached time at the start of this iteration (work
        // done since, like fsyncs, would otherwise be taken off the delay).
        uv_update_time(timer.pointee.loop)
        uv_timer_start(timer, { raw in
            Handle.owner(raw, as: LoopTimer.self).callback?()
        }, milliseconds, repeatMilliseconds)
    }

    public func start(seconds: Double, _ callback: @escaping () -> Void) {
        // Clamped: a huge or non-finite time must not trap in the conversion (about 8900 years).
        let milliseconds = (seconds * 1000).rounded(.up)
        start(milliseconds: milliseconds > 0 ? UInt64(min(milliseconds, 0x1p48)) : 0, callback)
    }

    public func stop() {
        guard !isClosed else { return }
        uv_timer_stop(timer)
    }

    public var isActive: Bool { !isClosed && uv_is_active(handle) != 0 }

    override public func willClose() { callback = nil }
}
