import VTScreen

/// What the agent's pane should show, kept so a pane that fell behind can be repainted instead
/// of replaying everything it missed (as mosh does).
///
/// libvterm sustains only ~5-25 MB/s (it moves the whole screen on every scrolled line), far
/// below what an agent can write, so the screen is fed lazily: output waits in a bounded queue
/// and reaches the screen when the queue overflows (within a CPU budget) or when a repaint
/// needs it. Past the budget the oldest bytes are dropped and the next repaint rebuilds the
/// screen from the newest output alone: exact for scrolling text, approximate for full-screen
/// programs caught mid-flood, and never in the way of the log.
struct PaneMirror {
    private(set) var screen: VirtualScreen
    private var pending = ByteQueue()
    private var stale = false
    private let capacity: Int
    private let budgetBytesPerSecond: Int
    private var budgetWindowStart: UInt64 = 0
    private var budgetUsed = 0

    init(rows: Int, cols: Int, capacity: Int = 256 * 1024, budgetBytesPerSecond: Int = 256 * 1024) {
        screen = VirtualScreen(rows: rows, cols: cols, scrollback: 0)
        self.capacity = capacity
        self.budgetBytesPerSecond = budgetBytesPerSecond
    }

    /// Cheap on the hot path: a copy into the queue, and at most a budgeted screen update.
    mutating func append(_ bytes: UnsafeRawBufferPointer, nowMilliseconds: UInt64) {
        pending.append(bytes)
        guard pending.count > capacity else { return }
        let excess = pending.count - capacity / 2
        if nowMilliseconds &- budgetWindowStart >= 1000 { budgetWindowStart = nowMilliseconds; budgetUsed = 0 }
        if !stale && budgetUsed + excess <= budgetBytesPerSecond {
            budgetUsed += excess
            pending.withFront(excess) { screen.feed($0) }
            _ = screen.takeOutput() // the pane answers terminal queries itself
        } else {
            stale = true
        }
        pending.drop(excess)
    }

    mutating func resize(rows: Int, cols: Int) {
        sync()
        screen.resize(rows: rows, cols: cols)
    }

    /// Bytes that restore the current picture on a terminal of the pane's size.
    mutating func repaint() -> [UInt8] {
        sync()
        return screen.renderRepaint()
    }

    /// Replaying more than a few screenfuls at a repaint costs more than it shows: past that the
    /// screen is rebuilt from the newest output, like a budget overflow.
    private var replayLimit: Int { max(16 * 1024, screen.rows * screen.cols * 4) }

    private mutating func sync() {
        if pending.count > replayLimit {
            pending.drop(pending.count - replayLimit)
            stale = true
        }
        if stale {
            // Start over from the newest output, at a line start so no sequence is cut in half.
            screen = VirtualScreen(rows: screen.rows, cols: screen.cols, scrollback: 0)
            if let newline = pending.firstIndex(of: 0x0a) { pending.drop(newline + 1) }
            stale = false
        }
        pending.withFront(pending.count) { screen.feed($0) }
        _ = screen.takeOutput()
        pending.drop(pending.count)
    }
}

/// A FIFO of bytes with amortised O(1) append and drop-from-front.
struct ByteQueue {
    private var storage: [UInt8] = []
    private var head = 0

    var count: Int { storage.count - head }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        storage.append(contentsOf: bytes)
    }

    func withFront<R>(_ n: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[head..<(head + n)])) }
    }

    func firstIndex(of byte: UInt8) -> Int? {
        storage[head...].firstIndex(of: byte).map { $0 - head }
    }

    mutating func drop(_ n: Int) {
        head += n
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 65536 && head > storage.count / 2 {
            storage.removeFirst(head)
            head = 0
        }
    }
}
