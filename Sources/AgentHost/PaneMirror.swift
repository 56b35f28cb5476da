import Glibc
import VTScreen

/// What the agent's pane should show, kept so a pane that fell behind can be repainted instead
/// of replaying everything it missed (as mosh does).
///
/// libvterm is slow on floods: it moves the whole screen for every line that scrolls (about
/// 40 000 instructions per line on a 200x50 screen, so `yes` alone would need several cores),
/// so the screen is fed lazily: output waits in a bounded queue and reaches the screen when
/// the queue overflows (within a budget of work per second) or when a repaint needs it. Work is
/// counted in bytes plus a price per line feed that grows with the screen's size. Past the
/// budget the oldest bytes are dropped and the next repaint rebuilds the screen from the newest
/// output alone (a few screenfuls at most): exact for scrolling text, approximate for
/// full-screen programs caught mid-flood, and never in the way of the log.
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
        if !stale {
            let left = budgetBytesPerSecond - budgetUsed
            let cost = pending.withFront(excess) { PaneMirror.cost(of: $0, lineFeedCost: lineFeedCost, limit: left) }
            if cost <= left {
                budgetUsed += cost
                pending.withFront(excess) { screen.feed($0) }
                _ = screen.takeOutput() // the pane answers terminal queries itself
                pending.drop(excess)
                return
            }
            stale = true
        }
        // Stale: a repaint replays no more than `replayLimit` bytes, so no more are kept (less
        // to move in the queue on a flood).
        pending.drop(pending.count - min(replayLimit, capacity / 2))
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
    /// screen is rebuilt from the newest output, like a budget overflow. In bytes, and in lines:
    /// one screenful, which a fresh screen takes without scrolling (each line that scrolls moves
    /// the whole screen in libvterm: with two screenfuls, half a flooded shim's time went there)
    /// and which holds the last frame of a full-screen program that draws its rows line by line.
    private var replayLimit: Int { max(16 * 1024, screen.rows * screen.cols * 4) }

    /// What a line feed costs libvterm, in bytes of plain text: a scroll moves every cell.
    private var lineFeedCost: Int { max(1, screen.rows * screen.cols / 32) }

    private mutating func sync() {
        if let start = pending.withFront(pending.count, { PaneMirror.replayStart($0, maxBytes: replayLimit, maxLineFeeds: screen.rows) }) {
            pending.drop(start)
            stale = true
        } else if stale {
            // The queue begins wherever an overflow cut it: from the first whole sequence on.
            pending.drop(pending.withFront(pending.count) { PaneMirror.boundary(in: $0, from: 0) })
        }
        if stale {
            // Start over from the newest output.
            screen.reset()
            stale = false
        }
        pending.withFront(pending.count) { screen.feed($0) }
        _ = screen.takeOutput()
        pending.drop(pending.count)
    }

    /// The work of feeding `bytes` (bytes plus `lineFeedCost` per line feed), counted only up
    /// to just past `limit`: a flood of short lines is priced without counting all its lines.
    static func cost(of bytes: UnsafeRawBufferPointer, lineFeedCost: Int, limit: Int) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var cost = bytes.count
        var index = 0
        while cost <= limit, index < bytes.count, let hit = memchr(base + index, 0x0a, bytes.count - index) {
            cost += lineFeedCost
            index = base.distance(to: UnsafeRawPointer(hit)) + 1
        }
        return cost
    }

    /// Where to start replaying `bytes` so that the replay holds at most `maxBytes` bytes and
    /// `maxLineFeeds` line feeds, or nil when all of it does. The start is a line start or an
    /// ESC at or after the point where a limit is reached, whichever comes first, so that no
    /// escape sequence or UTF-8 character is cut in half.
    static func replayStart(_ bytes: UnsafeRawBufferPointer, maxBytes: Int, maxLineFeeds: Int) -> Int? {
        var lineFeeds = 0
        var boundary: Int? = nil
        var index = bytes.count
        let floor = max(0, bytes.count - maxBytes)
        while index > floor {
            index -= 1
            let byte = bytes[index]
            if byte == 0x0a {
                lineFeeds += 1
                if lineFeeds > maxLineFeeds { return index + 1 }
                boundary = index + 1
            } else if byte == 0x1b {
                boundary = index
            }
        }
        guard index > 0 else { return nil }
        // No sequence or line starts in the window (one long line): the first whole character.
        if let boundary, boundary < bytes.count { return boundary }
        return PaneMirror.characterStart(in: bytes, from: index)
    }

    /// The first place at or after `from` where replay can begin: after a line feed or at an
    /// ESC, whichever comes first; failing both, the first byte that begins a character.
    static func boundary(in bytes: UnsafeRawBufferPointer, from: Int) -> Int {
        guard let base = bytes.baseAddress, from < bytes.count else { return bytes.count }
        let rest = bytes.count - from
        let lineEnd = memchr(base + from, 0x0a, rest).map { base.distance(to: UnsafeRawPointer($0)) + 1 }
        let escape = memchr(base + from, 0x1b, min(rest, (lineEnd ?? bytes.count) - from)).map { base.distance(to: UnsafeRawPointer($0)) }
        return escape ?? lineEnd ?? PaneMirror.characterStart(in: bytes, from: from)
    }

    /// The first byte at or after `from` that is not inside a UTF-8 character.
    static func characterStart(in bytes: UnsafeRawBufferPointer, from: Int) -> Int {
        var index = from
        while index < bytes.count && bytes[index] & 0xC0 == 0x80 { index += 1 }
        return index
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
