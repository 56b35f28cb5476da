import AgentProtocol

/// The structured event channel, the shim's side.
///
/// Built-in agents write one JSON object per line to fd 3 (the shim sets
/// `SUPERVISOR_EVENTS_FD=3`); the types and their fields are the protocol's
/// (`AgentProtocol`: `AgentEvent`, `EventType`, README "Events"). The shim splits the
/// stream into lines (`EventLineSplitter`), normalizes each (`EventCodec.normalize`:
/// `ts` and `agent` added when missing, a line that is not a JSON object wrapped as
/// `invalid`), appends it to `<logs>/<profile>/<agent>.events.jsonl` and forwards it to
/// subscribers. Unknown types and extra fields pass through untouched, in their order.
public enum EventLine {
    /// Longest line accepted whole; longer ones become truncated `invalid` events.
    public static let maxLineBytes = EventCaps.line

    public static func normalize(_ line: [UInt8], agent: String, now: Double) -> String? {
        EventCodec.normalize(line, agent: agent, now: now)
    }

    /// An event the shim emits itself (`start`, `exit`, `state`, ...), as a whole line.
    public static func make(_ event: AgentEvent, agent: String, now: Double) -> String {
        EventCodec.line(event, agent: agent, now: now)
    }

    /// The shim's `start` event.
    public static func start(agent: String, pid: Int32, now: Double) -> String {
        make(.start(pid: Int(pid)), agent: agent, now: now)
    }

    /// The shim's `exit` event.
    public static func exit(agent: String, status: ExitStatus, restarts: Int, now: Double) -> String {
        let code: AgentEvent.ExitCode
        switch status {
        case .exited(let c): code = .code(Int(c))
        case .signaled(let s): code = .signal(Int(s))
        }
        return make(.exit(status: code, restarts: restarts), agent: agent, now: now)
    }

    public static func iso8601(_ t: Double) -> String { EventTime.iso8601(t) }
}

/// `2026-11-22T00:53:08.123Z` (also without milliseconds, or with `+00:00`) to unix seconds.
public func parseISO8601(_ s: String) -> Double? {
    let b = Array(s.utf8)
    guard b.count >= 19, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x20, b[13] == 0x3A, b[16] == 0x3A else { return nil }
    func num(_ from: Int, _ count: Int) -> Int? {
        var v = 0
        for i in from..<(from + count) {
            guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
            v = v * 10 + Int(b[i] - 0x30)
        }
        return v
    }
    guard let y = num(0, 4), let m = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2), let sec = num(17, 2) else { return nil }
    var fraction = 0.0
    var i = 19
    if i < b.count, b[i] == 0x2E {
        i += 1
        var scale = 0.1
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { fraction += Double(b[i] - 0x30) * scale; scale /= 10; i += 1 }
    }
    // Howard Hinnant's days_from_civil.
    let yy = m <= 2 ? y - 1 : y
    let era = (yy >= 0 ? yy : yy - 399) / 400
    let yoe = yy - era * 400
    let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    var seconds = Double(days * 86400 + h * 3600 + mi * 60 + sec) + fraction
    if i + 5 < b.count + 0, i < b.count, b[i] == 0x2B || b[i] == 0x2D, let oh = num(i + 1, 2), let om = num(i + 4, 2) {
        let offset = Double(oh * 3600 + om * 60)
        seconds += b[i] == 0x2B ? -offset : offset
    }
    return seconds
}

/// Splits a byte stream into lines, across chunk boundaries. Lines longer
/// than `maxLineBytes` are cut: the first `maxLineBytes + 1` bytes are kept
/// (so the consumer can see it was too long) and the rest up to the newline
/// is discarded, keeping memory bounded whatever an agent writes.
public struct EventLineSplitter {
    public let maxLineBytes: Int
    private var current: [UInt8] = []
    private var overflowing = false

    public init(maxLineBytes: Int = EventLine.maxLineBytes) {
        self.maxLineBytes = maxLineBytes
    }

    /// Complete lines in this chunk, without their `\n`.
    public mutating func feed(_ bytes: [UInt8]) -> [[UInt8]] {
        bytes.withUnsafeBytes { feed($0) }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var segStart = 0
        let limit = maxLineBytes + 1
        func take(_ end: Int) {
            if segStart < end && current.count < limit {
                let n = min(end - segStart, limit - current.count)
                current.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[segStart..<(segStart + n)]))
            }
        }
        for (i, b) in bytes.enumerated() where b == 0x0A {
            take(i)
            lines.append(current)
            current = []
            segStart = i + 1
        }
        take(bytes.count)
        return lines
    }

    /// The unterminated last line at end of stream, if any.
    public mutating func finish() -> [UInt8]? {
        defer { current = [] }
        return current.isEmpty ? nil : current
    }
}

