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
public func parseISO8601(_ s: String) -> Double? { EventTime.seconds(iso8601: s) }

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

