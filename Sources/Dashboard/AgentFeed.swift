import TerminalUI
import VTScreen
import Glibc

/// One agent's terminal as the dashboard sees it: a VirtualScreen of the agent's pane size,
/// fed from the log on open and then from the shim's stream, with no gap and no overlap
/// (output frames carry global log offsets).
///
/// The screen is fed lazily, at frame time, within a byte budget: libvterm is slower than
/// agents can write. Past the budget the oldest unfed bytes are skipped and feeding resumes at
/// a line start (after a CAN that ends any half-read sequence): exact for scrolling text,
/// approximate for a full-screen program caught mid-flood. The log itself is never touched.
final class AgentFeed {
    private(set) var screen: VirtualScreen
    /// Global log offset just past the last byte accepted (fed or pending).
    private(set) var acceptedUpTo: UInt64?
    private var pending: [UInt8] = []
    private var pendingHead = 0
    /// Bytes skipped because of the budget since the dashboard opened.
    private(set) var skippedBytes: UInt64 = 0
    /// The full-screen picture a program left when it switched back to the normal screen (most
    /// do just before they exit): shown once the agent has ended, so its last screen stays.
    private(set) var lastFullScreen: [[Cell]]?
    /// Reads `[from, to)` of the agent's log (for gaps), at most `max` bytes from the end.
    let readLog: (_ from: UInt64, _ to: UInt64) -> [UInt8]

    static let replayBytes: UInt64 = 256 * 1024

    init(rows: Int, cols: Int, scrollback: Int = 1000, readLog: @escaping (UInt64, UInt64) -> [UInt8]) {
        screen = VirtualScreen(rows: max(1, rows), cols: max(1, cols), scrollback: scrollback)
        self.readLog = readLog
    }

    var pendingCount: Int { pending.count - pendingHead }

    /// Rebuilds the picture from the end of the log (up to `logEnd`), starting at a line start.
    func replay(logEnd: UInt64) {
        let from = logEnd > AgentFeed.replayBytes ? logEnd - AgentFeed.replayBytes : 0
        var bytes = readLog(from, logEnd)
        if from > 0, let newline = bytes.firstIndex(of: 0x0a) { bytes.removeSubrange(0...newline) }
        screen.feed(bytes)
        _ = screen.takeOutput()
        acceptedUpTo = logEnd
    }

    /// The stream (re)starts at `logBytes` (a hello): fill any gap from the log.
    func streamStarts(at logBytes: UInt64) {
        guard let accepted = acceptedUpTo else { replay(logEnd: logBytes); return }
        if logBytes > accepted { fillGap(from: accepted, to: logBytes) }
    }

    /// Output bytes at global `offset`. Returns true when something new was accepted.
    @discardableResult
    func output(offset: UInt64, bytes: [UInt8]) -> Bool {
        let end = offset + UInt64(bytes.count)
        guard let accepted = acceptedUpTo else {
            // Nothing replayed yet (should not happen: the hello comes first).
            acceptedUpTo = end
            append(bytes[...])
            return true
        }
        if end <= accepted { return false }
        if offset > accepted { fillGap(from: accepted, to: offset) }
        let skip = acceptedUpTo! > offset ? Int(acceptedUpTo! - offset) : 0
        append(bytes[skip...])
        acceptedUpTo = end
        return true
    }

    private func fillGap(from: UInt64, to: UInt64) {
        let start = to - from > AgentFeed.replayBytes ? to - AgentFeed.replayBytes : from
        var bytes = readLog(start, to)
        if start > from {
            skippedBytes += start - from
            if let newline = bytes.firstIndex(of: 0x0a) { bytes.removeSubrange(0...newline) }
            bytes.insert(0x18, at: 0)
        }
        append(bytes[...])
        acceptedUpTo = to
    }

    private func append(_ bytes: ArraySlice<UInt8>) {
        if pendingHead > 0 && pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
        pending.append(contentsOf: bytes)
    }

    /// Feeds pending bytes into the screen, at most `budget` (then skips to the newest output).
    /// Returns the number of bytes fed.
    @discardableResult
    func feed(budget: Int) -> Int {
        let count = pendingCount
        guard count > 0 else { return 0 }
        var start = pendingHead
        var prefixCAN = false
        if count > budget {
            // Keep the newest `budget` bytes, from a line start.
            var cut = pending.count - budget
            if let newline = pending[cut...].firstIndex(of: 0x0a), newline + 1 < pending.count { cut = newline + 1 }
            skippedBytes += UInt64(cut - start)
            start = cut
            prefixCAN = true
        }
        if prefixCAN { screen.feed([0x18, 0x1b, 0x5b, 0x30, 0x6d]) }  // CAN, then SGR 0
        pending.withUnsafeBytes { raw in
            var from = start
            // Stop before each switch back to the normal screen to keep the full-screen picture.
            while let leave = AgentFeed.altScreenExit(in: raw, from: from, to: pending.count) {
                screen.feed(UnsafeRawBufferPointer(rebasing: raw[from..<leave]))
                if screen.isAltScreen { lastFullScreen = (0..<screen.rows).map { screen.row($0) } }
                from = leave + 1
                screen.feed(UnsafeRawBufferPointer(rebasing: raw[leave..<from]))
            }
            screen.feed(UnsafeRawBufferPointer(rebasing: raw[from..<pending.count]))
        }
        _ = screen.takeOutput()  // the agent's own pane answers terminal queries, not us
        let fed = pending.count - start
        pending.removeAll(keepingCapacity: pending.capacity <= 1 << 20)
        pendingHead = 0
        return fed
    }

    /// The index of the next `ESC [ ? 1049 l` (or 1047, 47) in `raw[from..<to]`.
    static func altScreenExit(in raw: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard let base = raw.baseAddress, from < to else { return nil }
        var i = from
        while i < to, let hit = memchr(base + i, 0x1b, to - i) {
            let at = base.distance(to: UnsafeRawPointer(hit))
            for tail in AgentFeed.altExits where at + tail.count < to {
                var match = true
                for (k, b) in tail.enumerated() where raw[at + 1 + k] != b { match = false; break }
                if match { return at }
            }
            i = at + 1
        }
        return nil
    }

    static let altExits: [[UInt8]] = ["[?1049l", "[?1047l", "[?47l"].map { Array($0.utf8) }

    /// Follows the agent's pane size.
    func resize(rows: Int, cols: Int) {
        guard rows > 0, cols > 0, rows != screen.rows || cols != screen.cols else { return }
        feed(budget: Int.max)
        screen.resize(rows: rows, cols: cols)
    }
}
