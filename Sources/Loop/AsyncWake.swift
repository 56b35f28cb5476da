import CUV
import Glibc

/// The only way another thread may enter the loop: `send()` is thread-safe, and the callback
/// runs on the loop thread (coalesced: several sends may give one call).
///
/// `send()` after the handle was closed (e.g. by `EventLoop.close()` while a worker thread
/// still runs) does nothing: a lock orders it against `close`, so it never touches freed memory.
public final class AsyncWake: Handle {
    private var callback: (() -> Void)?
    private var async: UnsafeMutablePointer<uv_async_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_async_t.self) }
    /// Guards `closing` between `send()` (any thread) and `willClose()` (the loop thread).
    private let sendLock: UnsafeMutablePointer<pthread_mutex_t> = .allocate(capacity: 1)
    private var closing = false

    public init(loop: EventLoop, _ callback: @escaping () -> Void) {
        let raw = UnsafeMutablePointer<uv_async_t>.allocate(capacity: 1)
        self.callback = callback
        pthread_mutex_init(sendLock, nil)
        uv_async_init(loop.raw, raw) { raw in
            Handle.owner(raw, as: AsyncWake.self).callback?()
        }
        super.init(loop: loop, handle: UnsafeMutableRawPointer(raw).assumingMemoryBound(to: uv_handle_t.self))
        retainForLibuv()
    }

    deinit {
        pthread_mutex_destroy(sendLock)
        sendLock.deallocate()
    }

    /// Thread-safe.
    public func send() {
        pthread_mutex_lock(sendLock)
        if !closing { uv_async_send(async) }
        pthread_mutex_unlock(sendLock)
    }

    override public func willClose() {
        callback = nil
        pthread_mutex_lock(sendLock)
        closing = true
        pthread_mutex_unlock(sendLock)
    }
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
