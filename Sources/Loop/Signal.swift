import CUV

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
