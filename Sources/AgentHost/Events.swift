/// The structured event channel.
///
/// Built-in agents write one JSON object per line to fd 3 (the shim sets
/// `SUPERVISOR_EVENTS_FD=3`). The shim splits the stream into lines
/// (`EventLineSplitter`), normalizes each (`EventLine.normalize`), appends it
/// to `<logs>/<profile>/<agent>.events.jsonl` and forwards it to subscribers.
///
/// Every event has `"type"`, `"ts"` (ISO-8601 UTC with milliseconds, added
/// if missing) and `"agent"` (added if missing). Types and their fields:
///
/// | type      | fields                                                    |
/// |-----------|-----------------------------------------------------------|
/// | `state`   | `state`: what the agent is doing ("thinking", "idle"...)  |
/// | `step`    | `n`, `limit`: step counter of a goal/exec loop            |
/// | `command` | `text`: a shell command the agent runs                    |
/// | `tool`    | `name`, `phase` ("start"/"end"/"error")                   |
/// | `tokens`  | `input`, `output`, `cache_read`, `cache_write`, `cost_usd`|
/// |           | (one model request's amounts; readers add them up)        |
/// | `message` | `text`: what the agent says                               |
/// | `reply`   | `step`, `text`: a model reply, whole once complete (exec);|
/// |           | `truncated`: true when cut (60 KiB of JSON-escaped text)  |
/// | `block`   | `n`, `status`, `duration`: a code block ran (exec)        |
/// | `block_output` | `n`, `status`, `output`: what it printed, as the model |
/// |           | is shown it; `truncated` when cut (16 KiB JSON-escaped)   |
/// | `final`   | `reason`: the run's end is conclusive; the shim does not   |
/// |           | restart it (built-in agents: a limit/budget, gave up)      |
/// | `exit`    | `status` (`{"code":N}` or `{"signal":N}`); from the shim also `restarts` |
/// | `start`   | `pid` (emitted by the shim when it starts the agent)      |
/// | `strays`  | `pids`: processes the agent left behind (shim; being ended)|
/// | `invalid` | `raw`: a line that was not a JSON object, kept verbatim;  |
/// |           | `truncated`: true when it was longer than 64 KiB          |
///
/// Unknown types and extra fields pass through untouched, in their order.
public enum EventLine {
    /// Longest line accepted whole; longer ones become truncated `invalid` events.
    public static let maxLineBytes = 64 * 1024

    /// Normalizes one line (without or with its trailing newline) into a
    /// compact single-line JSON object string. Returns nil only for blank
    /// lines; anything else that is not a JSON object is wrapped as
    /// `{"type":"invalid","raw":...}`, never dropped.
    public static func normalize(_ line: [UInt8], agent: String, now: Double) -> String? {
        var bytes = line[...]
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }

        if bytes.count > maxLineBytes {
            return invalid(Array(bytes.prefix(maxLineBytes)), truncated: true, agent: agent, now: now)
        }
        guard case .object(var fields)? = try? OrderedJSON.parse(Array(bytes)) else {
            return invalid(Array(bytes), truncated: false, agent: agent, now: now)
        }
        var prefix: [(String, OrderedJSON)] = []
        if !fields.contains(where: { $0.0 == "ts" }) { prefix.append(("ts", .string(iso8601(now)))) }
        if !fields.contains(where: { $0.0 == "agent" }) { prefix.append(("agent", .string(agent))) }
        fields.insert(contentsOf: prefix, at: 0)
        return OrderedJSON.object(fields).serialized()
    }

    /// Builds an event the shim emits itself (`start`, `exit`, ...).
    public static func make(type: String, agent: String, now: Double, fields: [(String, OrderedJSON)] = []) -> String {
        var all: [(String, OrderedJSON)] = [("ts", .string(iso8601(now))), ("agent", .string(agent)), ("type", .string(type))]
        all += fields
        return OrderedJSON.object(all).serialized()
    }

    /// The shim's `start` event.
    public static func start(agent: String, pid: Int32, now: Double) -> String {
        make(type: "start", agent: agent, now: now, fields: [("pid", .number(String(pid)))])
    }

    /// The shim's `exit` event.
    public static func exit(agent: String, status: ExitStatus, restarts: Int, now: Double) -> String {
        let statusValue: OrderedJSON
        switch status {
        case .exited(let c): statusValue = .object([("code", .number(String(c)))])
        case .signaled(let s): statusValue = .object([("signal", .number(String(s)))])
        }
        return make(type: "exit", agent: agent, now: now,
                    fields: [("status", statusValue), ("restarts", .number(String(restarts)))])
    }

    private static func invalid(_ raw: [UInt8], truncated: Bool, agent: String, now: Double) -> String {
        var fields: [(String, OrderedJSON)] = [
            ("ts", .string(iso8601(now))), ("agent", .string(agent)), ("type", .string("invalid")),
            ("raw", .string(String(decoding: raw, as: UTF8.self))),
        ]
        if truncated { fields.append(("truncated", .bool(true))) }
        return OrderedJSON.object(fields).serialized()
    }

    /// `2026-11-22T00:53:08.123Z` for unix seconds `t` (milliseconds truncated).
    public static func iso8601(_ t: Double) -> String {
        let totalMs = t.isFinite ? Int64((t * 1000).rounded(.down)) : 0
        var days = totalMs / 86_400_000
        var msOfDay = totalMs % 86_400_000
        if msOfDay < 0 { msOfDay += 86_400_000; days -= 1 }
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        let h = msOfDay / 3_600_000
        let mi = msOfDay / 60_000 % 60
        let s = msOfDay / 1000 % 60
        let ms = msOfDay % 1000
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(ms, 3))Z"
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
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

/// A JSON value that keeps object keys in their original order and numbers as
/// their original text, so re-serializing an agent's event changes nothing
/// but whitespace.
public enum OrderedJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's literal text, validated against the JSON grammar.
    case number(String)
    case string(String)
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    public static func == (a: OrderedJSON, b: OrderedJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public struct ParseError: Error, Equatable {
        public let offset: Int
        public let reason: String
    }

    /// Parses exactly one JSON value (surrounding whitespace allowed).
    public static func parse(_ bytes: [UInt8]) throws -> OrderedJSON {
        var p = JSONParser(bytes: bytes)
        p.skipWhitespace()
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        if p.i != bytes.count { throw p.fail("trailing characters") }
        return v
    }

    /// Looks up a key in an object.
    public subscript(key: String) -> OrderedJSON? {
        if case .object(let f) = self { return f.first { $0.0 == key }?.1 }
        return nil
    }

    /// Compact JSON text on one line (non-ASCII kept as UTF-8).
    public func serialized() -> String {
        var out: [UInt8] = []
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func write(to out: inout [UInt8]) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .number(let n): out += Array(n.utf8)
        case .string(let s): OrderedJSON.writeString(s, to: &out)
        case .array(let items):
            out.append(0x5B)
            for (i, v) in items.enumerated() {
                if i > 0 { out.append(0x2C) }
                v.write(to: &out)
            }
            out.append(0x5D)
        case .object(let fields):
            out.append(0x7B)
            for (i, (k, v)) in fields.enumerated() {
                if i > 0 { out.append(0x2C) }
                OrderedJSON.writeString(k, to: &out)
                out.append(0x3A)
                v.write(to: &out)
            }
            out.append(0x7D)
        }
    }

    static func writeString(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0x00...0x1F, 0x7F:
                out += [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    static let maxDepth = 64

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ reason: String) -> OrderedJSON.ParseError { .init(offset: i, reason: reason) }

    mutating func skipWhitespace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func literal(_ word: String, _ v: OrderedJSON) throws -> OrderedJSON {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw fail("bad literal") }
        i += w.count
        return v
    }

    mutating func value(depth: Int) throws -> OrderedJSON {
        guard depth < JSONParser.maxDepth else { throw fail("nested too deeply") }
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case 0x7B: return try object(depth: depth)
        case 0x5B: return try array(depth: depth)
        case 0x22: return .string(try string())
        case 0x74: return try literal("true", .bool(true))
        case 0x66: return try literal("false", .bool(false))
        case 0x6E: return try literal("null", .null)
        case 0x2D, 0x30...0x39: return .number(try number())
        default: throw fail("unexpected character")
        }
    }

    mutating func object(depth: Int) throws -> OrderedJSON {
        i += 1
        var fields: [(String, OrderedJSON)] = []
        skipWhitespace()
        if i < bytes.count && bytes[i] == 0x7D { i += 1; return .object(fields) }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == 0x22 else { throw fail("expected key") }
            let k = try string()
            skipWhitespace()
            guard i < bytes.count, bytes[i] == 0x3A else { throw fail("expected ':'") }
            i += 1
            skipWhitespace()
            fields.append((k, try value(depth: depth + 1)))
            skipWhitespace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == 0x2C { i += 1; continue }
            if bytes[i] == 0x7D { i += 1; return .object(fields) }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws -> OrderedJSON {
        i += 1
        var items: [OrderedJSON] = []
        skipWhitespace()
        if i < bytes.count && bytes[i] == 0x5D { i += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == 0x2C { i += 1; continue }
            if bytes[i] == 0x5D { i += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func digits() -> Int {
        let s = i
        while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        return i - s
    }

    mutating func number() throws -> String {
        let s = i
        if bytes[i] == 0x2D { i += 1 }
        guard i < bytes.count else { throw fail("bad number") }
        if bytes[i] == 0x30 { i += 1 } else if digits() == 0 { throw fail("bad number") }
        if i < bytes.count && bytes[i] == 0x2E {
            i += 1
            if digits() == 0 { throw fail("bad number") }
        }
        if i < bytes.count && (bytes[i] == 0x65 || bytes[i] == 0x45) {
            i += 1
            if i < bytes.count && (bytes[i] == 0x2B || bytes[i] == 0x2D) { i += 1 }
            if digits() == 0 { throw fail("bad number") }
        }
        return String(decoding: bytes[s..<i], as: UTF8.self)
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("bad \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("bad \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let b = bytes[i]
            switch b {
            case 0x22:
                i += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8") }
                return s
            case 0x5C:
                i += 1
                guard i < bytes.count else { throw fail("unterminated string") }
                let e = bytes[i]
                i += 1
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar), i + 1 < bytes.count, bytes[i] == 0x5C, bytes[i + 1] == 0x75 {
                        let save = i
                        i += 2
                        let low = try hex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            i = save
                        }
                    }
                    let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    out += Array(String(Character(u)).utf8)
                default: throw fail("bad escape")
                }
            case 0x00...0x1F:
                throw fail("control character in string")
            default:
                out.append(b)
                i += 1
            }
        }
    }
}
