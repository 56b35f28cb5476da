import AgentProtocol

// The shim socket protocol.
//
// A frame is `[u8 type][u32 big-endian payload length][payload]`. Framing is
// length-prefixed (not line-based) because output frames carry raw terminal
// bytes, which may contain anything. Payloads are capped at 4 MiB so a
// corrupt or hostile peer cannot make either side allocate without bound.

/// Frame types. 1...15 flow server (shim) -> client, 16... flow client -> server.
public enum FrameType: UInt8, CaseIterable, Sendable {
    /// JSON `ShimHello`, sent first on every connection.
    case hello = 1
    /// u64 BE global log offset of the first byte, then the bytes.
    case output = 2
    /// One JSON object (an events.jsonl line without the newline).
    case event = 3
    /// JSON `AgentState`.
    case state = 4
    /// JSON `Ack` (`{"ok":Bool,"error":String?}`), the reply to control/input requests.
    case ack = 5
    /// JSON `SubscribeRequest` (`{"output":Bool,"events":Bool}`).
    case subscribe = 16
    /// Raw bytes to type into the agent's terminal.
    case input = 17
    /// UTF-8 text to deliver as one submission (bracketed paste when the agent enabled it).
    case paste = 18
    /// JSON `ControlRequest` (`{"op":"stop"|"start"|"restart"|"status"}`).
    case control = 19
    /// u16 BE rows, u16 BE cols.
    case resize = 20

    /// True for frames the shim sends; false for frames clients send.
    public var isServerToClient: Bool { rawValue < 16 }
}

/// Protocol violations. Any of them means the connection should be closed.
public enum FrameError: Error, Equatable, CustomStringConvertible {
    case unknownType(UInt8)
    case payloadTooLarge(Int)
    /// An accessor was used on a frame of another type.
    case wrongType(expected: FrameType, actual: FrameType)
    /// The payload does not have the shape its type requires.
    case malformedPayload(FrameType, String)

    public var description: String {
        switch self {
        case .unknownType(let t): return "shim protocol: unknown frame type \(t)"
        case .payloadTooLarge(let n): return "shim protocol: frame payload of \(n) bytes exceeds the \(Frame.maxPayload)-byte limit"
        case .wrongType(let e, let a): return "shim protocol: expected a \(e) frame, got \(a)"
        case .malformedPayload(let t, let why): return "shim protocol: malformed \(t) payload: \(why)"
        }
    }
}

/// The first frame on every connection: who this shim is and where its log stands.
public struct ShimHello: Codable, Equatable, Sendable {
    /// Bumped on incompatible protocol changes so a client can refuse politely.
    public var version: Int
    public var profile: String
    public var agent: String
    public var shimPid: Int32
    /// Global log offset of the next byte the shim will write.
    public var logBytes: UInt64
    /// The agent's state at connection time, so a client needs no second request.
    public var state: AgentState?
    /// Size of the events file when this hello was sent: every event after it comes as a frame,
    /// so a reader of the file up to here and of the frames after sees each event once. Nil
    /// from a shim older than this field.
    public var eventsBytes: UInt64?

    public static let currentVersion = 1

    public init(version: Int = ShimHello.currentVersion, profile: String, agent: String, shimPid: Int32, logBytes: UInt64,
                state: AgentState? = nil, eventsBytes: UInt64? = nil) {
        self.state = state
        self.eventsBytes = eventsBytes
        self.version = version
        self.profile = profile
        self.agent = agent
        self.shimPid = shimPid
        self.logBytes = logBytes
    }
}

/// The reply to a client request.
public struct Ack: Codable, Equatable, Sendable {
    public var ok: Bool
    public var error: String?
    public init(ok: Bool, error: String? = nil) {
        self.ok = ok
        self.error = error
    }
}

/// What a client wants streamed to it. Nothing is streamed before this arrives.
public struct SubscribeRequest: Codable, Equatable, Sendable {
    public var output: Bool
    public var events: Bool
    public init(output: Bool, events: Bool) {
        self.output = output
        self.events = events
    }
}

/// Lifecycle operations a client may ask of the shim.
public enum ControlOp: String, Codable, CaseIterable, Sendable {
    case stop, start, restart, status
    /// Stop the agent, then exit the shim (used by `down`).
    case shutdown
}

public struct ControlRequest: Codable, Equatable, Sendable {
    public var op: ControlOp
    public init(op: ControlOp) { self.op = op }
}

/// One protocol frame.
public struct Frame: Equatable, Sendable {
    /// Largest payload either side accepts (4 MiB).
    public static let maxPayload = 4 * 1024 * 1024
    /// Bytes before the payload: type + u32 length.
    public static let headerSize = 5

    public var type: FrameType
    public var payload: [UInt8]

    public init(type: FrameType, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    /// Wire form. Traps if the payload exceeds `maxPayload`: building such a
    /// frame is a programming error (use `Frame.outputFrames` to split output).
    public func encode() -> [UInt8] {
        precondition(payload.count <= Frame.maxPayload, "frame payload exceeds Frame.maxPayload")
        var out = [UInt8]()
        out.reserveCapacity(Frame.headerSize + payload.count)
        out.append(type.rawValue)
        appendBE(UInt32(payload.count), to: &out)
        out += payload
        return out
    }

    // MARK: constructors

    public static func hello(_ hello: ShimHello) -> Frame {
        Frame(type: .hello, payload: encodeJSON(hello))
    }

    /// Output bytes that start at global log offset `offset`.
    public static func output(offset: UInt64, bytes: [UInt8]) -> Frame {
        var p = [UInt8]()
        p.reserveCapacity(8 + bytes.count)
        appendBE(offset, to: &p)
        p += bytes
        return Frame(type: .output, payload: p)
    }

    /// Output of any size as frames that each fit `maxPayload`, offsets kept exact.
    public static func outputFrames(offset: UInt64, bytes: [UInt8]) -> [Frame] {
        let chunk = maxPayload - 8
        if bytes.count <= chunk { return [output(offset: offset, bytes: bytes)] }
        var frames: [Frame] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + chunk, bytes.count)
            frames.append(output(offset: offset + UInt64(start), bytes: Array(bytes[start..<end])))
            start = end
        }
        return frames
    }

    /// An event line; a trailing newline, if any, is not sent.
    public static func event(line: String) -> Frame {
        var bytes = Array(line.utf8)
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        return Frame(type: .event, payload: bytes)
    }

    public static func state(_ state: AgentState) -> Frame {
        Frame(type: .state, payload: encodeJSON(state))
    }

    public static func ack(ok: Bool, error: String? = nil) -> Frame {
        Frame(type: .ack, payload: encodeJSON(Ack(ok: ok, error: error)))
    }

    public static func subscribe(output: Bool, events: Bool) -> Frame {
        Frame(type: .subscribe, payload: encodeJSON(SubscribeRequest(output: output, events: events)))
    }

    public static func input(_ bytes: [UInt8]) -> Frame {
        Frame(type: .input, payload: bytes)
    }

    public static func paste(_ text: String) -> Frame {
        Frame(type: .paste, payload: Array(text.utf8))
    }

    public static func control(_ op: ControlOp) -> Frame {
        Frame(type: .control, payload: encodeJSON(ControlRequest(op: op)))
    }

    public static func resize(rows: UInt16, cols: UInt16) -> Frame {
        var p = [UInt8]()
        appendBE(rows, to: &p)
        appendBE(cols, to: &p)
        return Frame(type: .resize, payload: p)
    }

    // MARK: accessors (throw `FrameError` on the wrong type or a bad payload)

    public func decodeHello() throws -> ShimHello { try decodeJSON(ShimHello.self, expecting: .hello) }

    /// The global log offset of the first byte and the bytes.
    public func decodeOutput() throws -> (offset: UInt64, bytes: [UInt8]) {
        try expect(.output)
        guard payload.count >= 8 else { throw FrameError.malformedPayload(.output, "shorter than the 8-byte offset") }
        return (readBE(UInt64.self, payload, at: 0), Array(payload[8...]))
    }

    /// The event's JSON text.
    public func decodeEvent() throws -> String {
        try expect(.event)
        guard let s = String(validating: payload, as: UTF8.self) else {
            throw FrameError.malformedPayload(.event, "not UTF-8")
        }
        return s
    }

    public func decodeState() throws -> AgentState { try decodeJSON(AgentState.self, expecting: .state) }
    public func decodeAck() throws -> Ack { try decodeJSON(Ack.self, expecting: .ack) }
    public func decodeSubscribe() throws -> SubscribeRequest { try decodeJSON(SubscribeRequest.self, expecting: .subscribe) }

    public func decodeInput() throws -> [UInt8] {
        try expect(.input)
        return payload
    }

    public func decodePaste() throws -> String {
        try expect(.paste)
        guard let s = String(validating: payload, as: UTF8.self) else {
            throw FrameError.malformedPayload(.paste, "not UTF-8")
        }
        return s
    }

    public func decodeControl() throws -> ControlRequest { try decodeJSON(ControlRequest.self, expecting: .control) }

    public func decodeResize() throws -> (rows: UInt16, cols: UInt16) {
        try expect(.resize)
        guard payload.count == 4 else { throw FrameError.malformedPayload(.resize, "expected 4 bytes, got \(payload.count)") }
        return (readBE(UInt16.self, payload, at: 0), readBE(UInt16.self, payload, at: 2))
    }

    // MARK: helpers

    private func expect(_ t: FrameType) throws {
        if type != t { throw FrameError.wrongType(expected: t, actual: type) }
    }

    private func decodeJSON<T: Decodable>(_: T.Type, expecting t: FrameType) throws -> T {
        try expect(t)
        do {
            return try JSONCoding.decode(T.self, from: payload)
        } catch {
            throw FrameError.malformedPayload(t, "invalid JSON for \(T.self)")
        }
    }

    private static func encodeJSON<T: Encodable>(_ value: T) -> [UInt8] {
        // Only non-finite doubles can fail here; those are caller bugs.
        guard let bytes = try? JSONCoding.encodeBytes(value, sortedKeys: true) else {
            preconditionFailure("cannot JSON-encode \(T.self) (non-finite number?)")
        }
        return bytes
    }
}

@inline(__always)
func appendBE<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
    var be = v.bigEndian
    withUnsafeBytes(of: &be) { out += $0 }
}

@inline(__always)
func readBE<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at index: Int) -> T {
    var v: T = 0
    for i in 0..<MemoryLayout<T>.size {
        v = (v << 8) | T(bytes[index + i])
    }
    return v
}

/// Incremental frame decoder: feed it whatever a read returned; it hands back
/// every complete frame, keeping partial ones for the next call.
///
/// Header problems (unknown type, oversize length) are reported as soon as the
/// 5 header bytes arrive, before any payload is buffered. After an error the
/// stream is unusable: further feeds throw the same error.
public struct FrameDecoder {
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: FrameError?

    public init() {}

    /// Bytes held for an incomplete frame.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func feed(_ bytes: [UInt8]) throws -> [Frame] {
        try bytes.withUnsafeBytes { try feed($0) }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws -> [Frame] {
        if let failure { throw failure }
        buffer.append(contentsOf: bytes)
        var frames: [Frame] = []
        while buffer.count - start >= Frame.headerSize {
            guard let type = FrameType(rawValue: buffer[start]) else {
                failure = .unknownType(buffer[start])
                throw failure!
            }
            let length = Int(readBE(UInt32.self, buffer, at: start + 1))
            if length > Frame.maxPayload {
                failure = .payloadTooLarge(length)
                throw failure!
            }
            let end = start + Frame.headerSize + length
            if buffer.count < end { break }
            frames.append(Frame(type: type, payload: Array(buffer[(start + Frame.headerSize)..<end])))
            start = end
        }
        // Compact: drop consumed bytes so the buffer never grows past one frame plus a chunk.
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 16)
            start = 0
        } else if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        return frames
    }
}
