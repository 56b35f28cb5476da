// Server-Sent Events decoder following the WHATWG HTML "event stream
// interpretation" rules, fed incrementally with arbitrary byte chunks.
//
// Lines are split on CRLF, LF or CR. A CR that ends one chunk is acted on
// at once (so an event is never delayed waiting for the next chunk) and a
// LF that starts the following chunk is then skipped, so CR|LF across a
// chunk boundary is one line end. Bytes are decoded as UTF-8 only when a
// whole line is complete, so a multi-byte character split across chunks
// decodes correctly.

/// One dispatched event.
public struct SSEEvent: Equatable, Sendable {
    /// The `event:` field, or "message" when none was given.
    public var event: String
    /// All `data:` lines of the event joined with "\n".
    public var data: String
    /// The last event ID in effect when this event was dispatched ("" if none).
    public var id: String
    /// The reconnection time (ms) last set by a `retry:` field, if any.
    public var retry: Int?

    public init(event: String = "message", data: String, id: String = "", retry: Int? = nil) {
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry
    }
}

public struct SSEDecoder: Sendable {
    private static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    private var line: [UInt8] = []
    private var skipLF = false
    private var atStart = true
    private var startBytes: [UInt8] = []

    private var dataLines: [String] = []
    private var eventType = ""
    public private(set) var lastEventId = ""
    /// Reconnection time in milliseconds set by the last valid `retry:` field.
    public private(set) var reconnectionTime: Int?

    /// Number of lines seen that were a comment or a known field
    /// (data/event/id/retry). Lets callers tell an SSE body from, say, JSON.
    public private(set) var recognizedLines = 0
    /// Number of events dispatched so far.
    public private(set) var dispatchedEvents = 0

    public init() {}

    /// Feeds the next chunk of the stream and returns the events it completed.
    public mutating func feed(_ bytes: [UInt8]) -> [SSEEvent] {
        var out: [SSEEvent] = []
        var input = bytes[...]
        if atStart {
            // Hold back bytes while they could still be a (split) BOM.
            startBytes.append(contentsOf: input)
            input = []
            if startBytes.count < 3, startBytes == Array(Self.bom.prefix(startBytes.count)) {
                return out
            }
            atStart = false
            if startBytes.starts(with: Self.bom) {
                input = startBytes[3...]
            } else {
                input = startBytes[...]
            }
            let held = Array(input)
            startBytes = []
            process(held[...], into: &out)
            return out
        }
        process(input, into: &out)
        return out
    }

    /// Ends the stream. Per the spec an incomplete event (one not followed by
    /// a blank line) is discarded, so this returns no events; it resets the
    /// decoder. Use `hasPendingData` before calling it to detect truncation.
    public mutating func finish() -> [SSEEvent] {
        line = []
        dataLines = []
        eventType = ""
        skipLF = false
        atStart = true
        startBytes = []
        return []
    }

    /// True when data has been received that has not been dispatched
    /// (a partial line, or data lines not yet followed by a blank line).
    public var hasPendingData: Bool {
        !dataLines.isEmpty || !line.isEmpty || (!startBytes.isEmpty)
    }

    private mutating func process(_ bytes: ArraySlice<UInt8>, into out: inout [SSEEvent]) {
        var i = bytes.startIndex
        let end = bytes.endIndex
        while i < end {
            if skipLF {
                skipLF = false
                if bytes[i] == 0x0A { i += 1; continue }
            }
            // Find the next line end.
            var j = i
            while j < end, bytes[j] != 0x0A, bytes[j] != 0x0D { j += 1 }
            line.append(contentsOf: bytes[i..<j])
            if j == end { break }
            if bytes[j] == 0x0D { skipLF = true }
            i = j + 1
            let complete = line
            line.removeAll(keepingCapacity: true)
            processLine(complete, into: &out)
        }
    }

    private mutating func processLine(_ l: [UInt8], into out: inout [SSEEvent]) {
        if l.isEmpty {
            dispatch(into: &out)
            return
        }
        if l[0] == UInt8(ascii: ":") {
            recognizedLines += 1
            return
        }
        let field: String
        var value: String
        if let colon = l.firstIndex(of: UInt8(ascii: ":")) {
            field = String(decoding: l[..<colon], as: UTF8.self)
            var v = colon + 1
            if v < l.count, l[v] == 0x20 { v += 1 }
            value = String(decoding: l[v...], as: UTF8.self)
        } else {
            field = String(decoding: l, as: UTF8.self)
            value = ""
        }
        switch field {
        case "event":
            recognizedLines += 1
            eventType = value
        case "data":
            recognizedLines += 1
            dataLines.append(value)
        case "id":
            recognizedLines += 1
            if !value.unicodeScalars.contains("\u{0}") { lastEventId = value }
        case "retry":
            recognizedLines += 1
            if !value.isEmpty, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                reconnectionTime = Int(value) ?? Int.max
            }
        default:
            value = ""  // unknown fields are ignored
        }
    }

    private mutating func dispatch(into out: inout [SSEEvent]) {
        defer {
            dataLines = []
            eventType = ""
        }
        if dataLines.isEmpty { return }
        dispatchedEvents += 1
        out.append(SSEEvent(
            event: eventType.isEmpty ? "message" : eventType,
            data: dataLines.joined(separator: "\n"),
            id: lastEventId,
            retry: reconnectionTime))
    }
}
