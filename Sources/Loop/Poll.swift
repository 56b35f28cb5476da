import CUV

/// Readiness notifications for a file descriptor someone else reads and writes (curl sockets,
/// ncurses' stdin).
public final class Poll: Handle {
    public struct Events: OptionSet {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: Int32(UV_READABLE.rawValue))
        public static let writable = Events(rawValue: Int32(UV_WRITABLE.rawValue))
        public static let disconnect = Events(rawValue: Int32(UV_DISCONNECT.rawValue))
    }

    public let fd: Int32
    private var callback: ((Int32, Events) -> Void)?
    private var poll: UnsafeMutablePointer<uv_poll_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_poll_t.self) }

    public init(loop: EventLoop, fd: Int32) throws {
        let raw = UnsafeMutablePointer<uv_poll_t>.allocate(capacity: 1)
        let status = uv_poll_init(loop.raw, raw, fd)
        if status < 0 { raw.deallocate(); throw PosixError(libuv: status, "uv_poll_init(fd \(fd))") }
        self.fd = fd
        super.init(loop: loop, handle: UnsafeMutableRawPointer(raw).assumingMemoryBound(to: uv_handle_t.self))
        retainForLibuv()
    }

    /// The callback gets a libuv status (negative on error) and the ready events.
    public func start(_ events: Events, _ callback: @escaping (Int32, Events) -> Void) throws {
        self.callback = callback
        try check(uv_poll_start(poll, events.rawValue, { raw, status, events in
            Handle.owner(raw, as: Poll.self).callback?(status, Events(rawValue: events))
        }), "uv_poll_start")
    }

    public func stop() { if !isClosed { uv_poll_stop(poll) } }

    override public func willClose() { callback = nil }
}
