import CUV
import Glibc

/// Maps a negative libuv/syscall status to a thrown `PosixError`; the one place raw results are checked.
@discardableResult
@inline(__always)
func check(_ status: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
    if status < 0 { throw PosixError(libuv: status, operation()) }
    return status
}

/// One libuv loop. Every uv call happens on the thread that runs it; other threads enter only
/// through `AsyncWake`.
public final class EventLoop {
    public let raw: UnsafeMutablePointer<uv_loop_t>

    public init() {
        raw = .allocate(capacity: 1)
        let status = uv_loop_init(raw)
        precondition(status == 0, "uv_loop_init failed: \(status)")
    }

    /// Gives heap pages freed since (a dropped connection's queued writes) back to the system,
    /// so a burst of buffering does not stay in the process's resident size for good.
    public static func releaseFreedMemory() { _ = malloc_trim(0) }

    /// Runs until no active handle is left or `stop()` is called.
    public func run() { uv_run(raw, UV_RUN_DEFAULT) }
    /// Runs one iteration, blocking for events when `wait` is true.
    @discardableResult
    public func runOnce(wait: Bool = true) -> Bool { uv_run(raw, wait ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0 }
    public func stop() { uv_stop(raw) }

    /// Loop time in milliseconds (cached at the start of the iteration).
    public var nowMilliseconds: UInt64 { uv_now(raw) }
    /// Monotonic high-resolution clock in seconds.
    public static func monotonicSeconds() -> Double { Double(uv_hrtime()) / 1e9 }

    /// Closes every handle still open and runs the loop until their close callbacks ran, then
    /// releases the loop (the neovim `loop_close` pattern, without the timeout: we own all handles).
    public func close() {
        uv_walk(raw, { handle, _ in
            guard let handle, uv_is_closing(handle) == 0 else { return }
            if let data = handle.pointee.data {
                Unmanaged<Handle>.fromOpaque(data).takeUnretainedValue().close()
            } else {
                uv_close(handle, nil)
            }
        }, nil)
        while uv_run(raw, UV_RUN_NOWAIT) != 0 {}
        uv_loop_close(raw)
        raw.deallocate()
    }
}

/// Base class of every handle. While open, libuv's `data` field holds a retained reference to
/// the owner, so a handle stays alive as long as libuv may call back into it; the reference is
/// released only in the close callback, which also frees the C memory.
open class Handle {
    public let loop: EventLoop
    let handle: UnsafeMutablePointer<uv_handle_t>
    private var closeCallbacks: [() -> Void] = []
    public private(set) var isClosed = false

    init(loop: EventLoop, handle: UnsafeMutablePointer<uv_handle_t>) {
        self.loop = loop
        self.handle = handle
    }

    /// Call after a successful `uv_*_init`: from now on libuv owns a reference to self.
    func retainForLibuv() {
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// Called from C callbacks: the owner of a libuv handle.
    static func owner<T: Handle>(_ raw: UnsafeMutableRawPointer?, as type: T.Type) -> T {
        Unmanaged<Handle>.fromOpaque(raw!.assumingMemoryBound(to: uv_handle_t.self).pointee.data!)
            .takeUnretainedValue() as! T
    }

    /// Closes the handle; `then` runs once libuv has let go of it. Idempotent.
    public func close(then: (() -> Void)? = nil) {
        if let then { closeCallbacks.append(then) }
        guard !isClosed else { return }
        isClosed = true
        willClose()
        uv_close(handle) { raw in
            let owner = Unmanaged<Handle>.fromOpaque(raw!.pointee.data!)
            let handle = owner.takeUnretainedValue()
            let callbacks = handle.closeCallbacks
            handle.closeCallbacks = []
            raw!.pointee.data = nil
            callbacks.forEach { $0() }
            handle.handle.deallocate()
            owner.release()
        }
    }

    /// Hook for subclasses to drop callbacks (and the cycles they may hold) before closing.
    open func willClose() {}

    /// An unreferenced handle does not keep the loop running (e.g. a clock for display).
    public func unref() { uv_unref(handle) }
    public func ref() { uv_ref(handle) }
}
