import Hosting
import LLM

/// The framing between the agent and its Python runtime, both directions: a 4-byte big-endian
/// length, then that many bytes of UTF-8 JSON (one object). Requests go to the runtime's stdin,
/// frames come back on its stdout; the runtime moves user code's stdout/stderr away from both
/// (into capture buffers, and fd-level writes to its stderr), so no output can corrupt a frame.
///
/// Requests: `{"op":"exec","id":N,"code":"...","name":"block 3"}`, `{"op":"interrupt","id":N}`,
/// `{"op":"ping","id":N}`, `{"op":"shutdown"}`.
/// Frames: `ready`, `output` (live stdout/stderr of a running block), `child` (a bash() process
/// group started or ended), `result`, `pong`. See RuntimeScript.swift for every field.
public enum RuntimeFrame {
    public static let maxFrame = 64 << 20

    public static func encode(_ value: JSONValue) -> [UInt8] {
        let body = value.serializedBytes()
        let n = UInt32(body.count)
        return [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] + body
    }
}

public struct RuntimeProtocolError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { "python runtime protocol: \(message)" }
}

/// Splits a byte stream into frames; bytes may arrive in any pieces.
public struct RuntimeFrameDecoder {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws -> [JSONValue] {
        buffer.append(contentsOf: bytes)
        return try drain()
    }

    public mutating func feed(_ bytes: [UInt8]) throws -> [JSONValue] {
        buffer.append(contentsOf: bytes)
        return try drain()
    }

    /// Bytes of an incomplete frame held back.
    public var pendingBytes: Int { buffer.count - start }

    private mutating func drain() throws -> [JSONValue] {
        var frames: [JSONValue] = []
        while buffer.count - start >= 4 {
            let n = Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
            guard n <= RuntimeFrame.maxFrame else { throw RuntimeProtocolError(message: "frame of \(n) bytes is too large") }
            guard buffer.count - start - 4 >= n else { break }
            let body = Array(buffer[(start + 4)..<(start + 4 + n)])
            start += 4 + n
            do {
                frames.append(try JSONValue.parse(body))
            } catch {
                throw RuntimeProtocolError(message: "bad frame: \(error)")
            }
        }
        if start > 0 && (start == buffer.count || start > 65536) {
            buffer.removeFirst(start)
            start = 0
        }
        return frames
    }
}

/// What running one block did.
public struct BlockResult: Equatable, Codable {
    public enum Status: String, Codable {
        /// Ran to the end.
        case ok
        /// Raised (the traceback is in `error`), SyntaxError included.
        case error
        /// Stopped by its timeout (or the person) with KeyboardInterrupt; the runtime kept its state.
        case interrupted
        /// Called answer(value): the turn ends with `answer`.
        case answer
        /// Did not stop after the interrupt: the runtime was killed; its state is lost.
        case killed
        /// The runtime died while running it (crash, out of memory, os._exit): its state is lost.
        case crashed
    }

    public var status: Status
    public var stdout: String = ""
    public var stderr: String = ""
    /// repr() of the last expression statement's value (nil when there is none, or it is None).
    public var value: String?
    /// Traceback (or the crash/kill explanation).
    public var error: String?
    public var errorType: String?
    public var answer: String?
    /// Output written to the runtime's file descriptors directly (C code, os.system, threads
    /// after their block ended), not through sys.stdout/sys.stderr.
    public var strayOutput: String = ""
    public var duration: Double = 0

    public init(status: Status) { self.status = status }

    /// True when the runtime's variables are gone after this block.
    public var lostState: Bool { status == .killed || status == .crashed }

    init(frame: JSONValue) {
        status = frame["status"]?.stringValue.flatMap(Status.init(rawValue:)) ?? .error
        stdout = frame["stdout"]?.stringValue ?? ""
        stderr = frame["stderr"]?.stringValue ?? ""
        value = frame["value"]?.stringValue
        error = frame["error"]?.stringValue
        errorType = frame["error_type"]?.stringValue
        answer = frame["answer"]?.stringValue
        duration = frame["duration"]?.doubleValue ?? 0
    }
}

/// "512m", "2g", "1048576" (bytes) -> bytes; the profile validates the form.
public func parseMemorySize(_ text: String) -> Int? {
    var s = text.lowercased().trimmed
    var multiplier = 1
    switch s.last {
    case "b": s.removeLast()
    case "k": multiplier = 1 << 10; s.removeLast()
    case "m": multiplier = 1 << 20; s.removeLast()
    case "g": multiplier = 1 << 30; s.removeLast()
    default: break
    }
    guard let n = Int(s), n > 0 else { return nil }
    let (product, overflow) = n.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : product
}


