import CUV
import Glibc

/// The only way another thread may enter the loop: `send()` is thread-safe, and the callback
/// runs on the loop thread (coalesced: several sends may give one call).
public final class AsyncWake: Handle {
    private var callback: (() -> Void)?
    private var async: UnsafeMutablePointer<uv_async_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_async_t.self) }

    public init(loop: EventLoop, _ callback: @escaping () -> Void) {
        let raw = UnsafeMutablePointer<uv_async_t>.allocate(capacity: 1)
        self.callback = callback
        uv_async_init(loop.raw, raw) { raw in
            Handle.owner(raw, as: AsyncWake.self).callback?()
        }
        super.init(loop: loop, handle: UnsafeMutableRawPointer(raw).assumingMemoryBound(to: uv_handle_t.self))
        retainForLibuv()
    }

    public func send() { uv_async_send(async) }

    override public func willClose() { callback = nil }
}

/// A locked queue drained on the loop thread through an `AsyncWake`.
public final class LoopMailbox<Message> {
    private var mutex = pthread_mutex_t()
    private var pending: [Message] = []
    private var wake: AsyncWake!

    public init(loop: EventLoop, _ deliver: @escaping (Message) -> Void) {
        pthread_mutex_init(&mutex, nil)
        wake = AsyncWake(loop: loop) { [unowned self] in
            pthread_mutex_lock(&self.mutex)
            let messages = self.pending
            self.pending = []
            pthread_mutex_unlock(&self.mutex)
            messages.forEach(deliver)
        }
    }

    deinit { pthread_mutex_destroy(&mutex) }

    /// Thread-safe.
    public func post(_ message: Message) {
        pthread_mutex_lock(&mutex)
        pending.append(message)
        pthread_mutex_unlock(&mutex)
        wake.send()
    }

    public func close() { wake.close() }
}
