import Glibc

/// A flag set on the loop thread and polled by work running on another thread, so the work
/// can stop early (Esc while a large directory walk runs). Thread-safe.
public final class CancellationFlag {
    private let lock: UnsafeMutablePointer<pthread_mutex_t> = .allocate(capacity: 1)
    private var cancelled = false

    public init() { pthread_mutex_init(lock, nil) }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    public func cancel() {
        pthread_mutex_lock(lock)
        cancelled = true
        pthread_mutex_unlock(lock)
    }

    public var isCancelled: Bool {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return cancelled
    }
}

/// Blocking work (file system walks, file reads) on a thread of its own, its result delivered
/// on the loop thread through an `AsyncWake`.
///
/// The work must touch no loop handle and no state of the loop thread: give it immutable
/// inputs (value types captured by the closure) and let it return its result. It runs on a
/// detached pthread (no Foundation, no Dispatch); the handoff of the result goes through a
/// lock, then `send()`.
public enum WorkerThread {
    /// Runs `work(cancel)` on a new thread; `completion` runs on the loop thread with its result
    /// (never when the loop is closed first). The pending wake-up keeps the loop running until
    /// the result is in.
    public static func run<T>(loop: EventLoop, cancel: CancellationFlag, _ work: @escaping (CancellationFlag) -> T,
                              completion: @escaping (T) -> Void) {
        let slot = ResultSlot<T>()
        var wake: AsyncWake?
        wake = AsyncWake(loop: loop) {
            guard let value = slot.take() else { return }
            wake?.close()  // drops this callback, and with it the reference cycle through `wake`
            wake = nil
            completion(value)
        }
        let sender = wake!
        start {
            slot.put(work(cancel))
            sender.send()
        }
    }

    /// Starts a detached thread running `body`; runs it on the calling thread when no thread
    /// can be created.
    static func start(_ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
        pthread_attr_destroy(&attributes)
        if status != 0 {
            Unmanaged<Body>.fromOpaque(box).release()
            body()
        }
    }

    private final class Body {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// One value handed from the worker to the loop thread under a lock.
    private final class ResultSlot<T> {
        private let lock: UnsafeMutablePointer<pthread_mutex_t> = .allocate(capacity: 1)
        private var value: T?

        init() { pthread_mutex_init(lock, nil) }

        deinit {
            pthread_mutex_destroy(lock)
            lock.deallocate()
        }

        func put(_ v: T) {
            pthread_mutex_lock(lock)
            value = v
            pthread_mutex_unlock(lock)
        }

        func take() -> T? {
            pthread_mutex_lock(lock)
            defer { pthread_mutex_unlock(lock) }
            let v = value
            value = nil
            return v
        }
    }
}
