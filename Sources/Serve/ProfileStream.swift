/// `/api/profiles/P/stream`: every agent of a profile on one WebSocket (a remote mirror, a
/// dashboard of many agents), where the per-agent stream would take one connection per agent.
///
/// Output goes in binary messages of one or more records, each `[u16 agent][u64 offset]
/// [u32 length][length bytes]` (big-endian): the agent by its index in the profile (the hello
/// lists them), the offset of the bytes in that agent's log. Each agent's records continue
/// one another exactly, as the per-agent stream's messages do.
///
/// One connection for many agents is also what lets serve send less often: output of several
/// agents (and several frames of one) that come within `StreamPacer`'s interval of the last
/// message goes as one message. A message to a client costs serve about the same whatever its
/// size (on loopback, mostly waking the reader: ~11 us per send plus ~0.2 us per KiB measured
/// here), so fewer, bigger messages are most of what a busy server can save.
public enum StreamRecords {
    /// The record format's version, in the stream's hello.
    public static let version = 1
    public static let headerSize = 14

    public static func header(agent: Int, offset: UInt64, length: Int) -> [UInt8] {
        bigEndian(UInt64(agent), 2) + bigEndian(offset, 8) + bigEndian(UInt64(length), 4)
    }

    /// `value`'s low `count` bytes, most significant first (the agent stream's offset header too).
    static func bigEndian(_ value: UInt64, _ count: Int) -> [UInt8] {
        (0..<count).reversed().map { UInt8(truncatingIfNeeded: value >> UInt64($0 * 8)) }
    }

    public struct Record: Equatable, Sendable {
        public var agent: Int
        public var offset: UInt64
        /// Where the record's bytes are in the message.
        public var bytes: Range<Int>
    }

    /// The records of one message; nil when it is not a whole number of well-formed records.
    public static func decode(_ message: UnsafeRawBufferPointer) -> [Record]? {
        var records: [Record] = []
        var at = 0
        while at < message.count {
            guard message.count - at >= headerSize else { return nil }
            let agent = Int(message[at]) << 8 | Int(message[at + 1])
            let offset = message[(at + 2)..<(at + 10)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let length = message[(at + 10)..<(at + 14)].reduce(0) { $0 << 8 | Int($1) }
            guard message.count - at - headerSize >= length else { return nil }
            records.append(Record(agent: agent, offset: offset, bytes: (at + headerSize)..<(at + headerSize + length)))
            at += headerSize + length
        }
        return records
    }
}

/// When a profile stream's client is sent its next message: at once when the last one went at
/// least `interval` ago, else at the end of the interval, with whatever came meanwhile. A
/// client that gets output now and then gets it without delay; one that gets a lot gets at
/// most one message per interval (plus full ones). Pure: times are microseconds of a monotonic
/// clock.
public struct StreamPacer: Equatable, Sendable {
    public enum Decision: Equatable, Sendable {
        case sendNow
        /// Hold what came; send it at this time (when the client is not behind).
        case holdUntil(UInt64)
    }

    public let interval: UInt64
    /// When the last message went.
    public private(set) var lastSent: UInt64?

    public init(interval: UInt64) { self.interval = interval }

    /// Output came at `now`.
    public func decide(now: UInt64) -> Decision {
        guard interval > 0, let last = lastSent, now < last + interval else { return .sendNow }
        return .holdUntil(last + interval)
    }

    public mutating func sent(at now: UInt64) { lastSent = now }
}

/// A profile stream client's output waiting to go as one message: records appended in the
/// order they came, the last one extended in place when the next bytes of the same agent
/// follow it.
final class RecordBatch {
    private(set) var message: OutgoingMessage?
    /// The last record's agent, offset and length, and where its length field is.
    private var last: (agent: Int, offset: UInt64, length: Int, lengthAt: Int)?
    /// The size a batch may grow to (a single bigger record is taken whole).
    let limit: Int

    init(limit: Int) { self.limit = limit }

    var count: Int { message?.count ?? 0 }
    var isEmpty: Bool { message == nil }

    /// Appends `bytes` of `agent` at `offset`; false when the batch is not empty and they do
    /// not fit (send it, then add them to the empty batch).
    func add(agent: Int, offset: UInt64, bytes: ArraySlice<UInt8>) -> Bool {
        if let message, let last, last.agent == agent, last.offset + UInt64(last.length) == offset {
            guard message.count + bytes.count <= limit, message.append(bytes) else { return false }
            self.last!.length += bytes.count
            message.overwrite(at: last.lengthAt, with: StreamRecords.bigEndian(UInt64(self.last!.length), 4))
            return true
        }
        let header = StreamRecords.header(agent: agent, offset: offset, length: bytes.count)
        if let message {
            guard message.count + header.count + bytes.count <= limit else { return false }
            message.append(header[...])
            message.append(bytes)
        } else {
            message = OutgoingMessage(header[...], bytes, capacity: limit)
        }
        last = (agent, offset, bytes.count, message!.count - bytes.count - 4)
        return true
    }

    /// The message, leaving the batch empty.
    func take() -> OutgoingMessage? {
        defer { message = nil; last = nil }
        return message
    }
}

/// What a client asks of `/api/profiles/P/stream`: which agents (`agents=a,b`; all when
/// absent), where each one's output starts (`from=a:OFFSET,b:OFFSET`; the others at `start`:
/// `0`, the default, or `end` for live output only), and whose events file is replayed from
/// where (`events_from=a:BYTE`, as on the agent stream). Pure.
public struct ProfileStreamRequest: Equatable, Sendable {
    public enum Start: Equatable, Sendable {
        case offset(UInt64)
        /// The log's end when the stream opens.
        case end
    }

    /// Per asked agent, where its output starts.
    public var starts: [String: Start]
    /// Agents whose events are replayed first, from these bytes of their events files.
    public var eventsFrom: [String: UInt64] = [:]

    /// `agents`: the profile's agents. A failure is the one message a 400 says.
    public static func parse(query: [String: String], agents: [String]) -> Result<ProfileStreamRequest, ServeError> {
        let known = Set(agents)
        var asked = known
        if let list = query["agents"] {
            asked = Set(list.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
            if let unknown = asked.sorted().first(where: { !known.contains($0) }) {
                return .failure(ServeError("agents: no agent \(unknown.isEmpty ? "\"\"" : unknown) in this profile"))
            }
        }
        let start: Start
        switch query["start"] {
        case nil, "0": start = .offset(0)
        case "end": start = .end
        case let other?: return .failure(ServeError("start must be 0 or end, not \(other)"))
        }
        var request = ProfileStreamRequest(starts: Dictionary(uniqueKeysWithValues: asked.map { ($0, start) }))
        for key in ["from", "events_from"] {
            for item in (query[key] ?? "").split(separator: ",") {
                let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, let offset = UInt64(parts[1]) else { return .failure(ServeError("\(key): \(item) is not AGENT:OFFSET")) }
                guard asked.contains(parts[0]) else { return .failure(ServeError("\(key): \(parts[0]) is not an agent this stream asks for")) }
                if key == "from" { request.starts[parts[0]] = .offset(offset) } else { request.eventsFrom[parts[0]] = offset }
            }
        }
        return .success(request)
    }
}
