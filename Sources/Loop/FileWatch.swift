import CUV

/// Changes in a directory (inotify through libuv): a name was created, removed or written.
/// Used where something appears on disk without telling anyone (a profile coming up).
public final class FileWatch: Handle {
    private var callback: ((String?) -> Void)?
    private var event: UnsafeMutablePointer<uv_fs_event_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_fs_event_t.self) }

    public init(loop: EventLoop) {
        let raw = UnsafeMutablePointer<uv_fs_event_t>.allocate(capacity: 1)
        uv_fs_event_init(loop.raw, raw)
        super.init(loop: loop, handle: UnsafeMutableRawPointer(raw).assumingMemoryBound(to: uv_handle_t.self))
        retainForLibuv()
    }

    /// Calls back with the changed entry's name (nil when the kernel did not say).
    public func start(path: String, _ callback: @escaping (String?) -> Void) throws {
        self.callback = callback
        try check(uv_fs_event_start(event, { raw, name, _, _ in
            Handle.owner(raw, as: FileWatch.self).callback?(name.map { String(cString: $0) })
        }, path, 0), "watch \(path)")
    }

    override public func willClose() { callback = nil }
}
