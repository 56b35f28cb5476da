import Foundation
import LLM
import Loop

/// One request the fake server received.
public struct FakeRequestRecord {
    public var method: String
    public var path: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// The body parsed as JSON, nil if it is not JSON.
    public var json: JSONValue?
    /// `EventLoop.monotonicSeconds()` when the request was complete.
    public var receivedAt: Double

    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.0.lowercased() == n }?.1
    }
}

/// What the fake server answers one request with: streamed content in the protocol of the
/// request's path, or a fault.
public struct FakeReply {
    public enum Item {
        case text(String)
        /// `arguments` is the JSON text of the input, sent in `argumentFragments` pieces.
        case tool(id: String, name: String, arguments: String)
    }

    public enum Fault {
        /// No fault: the full stream.
        case none
        /// An HTTP response with this status, JSON body and extra headers (e.g. retry-after).
        case status(Int, body: String, headers: [(String, String)])
        /// A complete non-stream response (for "the body is not an event stream").
        case raw(status: Int, contentType: String, body: String)
        /// Closes the connection after this many events.
        case resetAfter(events: Int)
        /// Stops sending for `seconds` after this many events, then goes on.
        case stall(afterEvents: Int, seconds: Double)
        /// The event at this index carries broken JSON (and the stream goes on).
        case malformedJSON(atEvent: Int)
        /// After this many events, an Anthropic `error` event, then the stream ends.
        case anthropicError(afterEvents: Int, type: String, message: String)
        /// Writes split inside every multi-byte UTF-8 character.
        case splitUTF8
        /// One body byte per write.
        case drip
    }

    public var items: [Item]
    public var usage: Usage
    /// Anthropic vocabulary ("end_turn", "tool_use", "max_tokens"); default from the items.
    public var stopReason: String?
    public var fault: Fault
    public var id = "msg_fake_1"
    public var model = "fake-model"
    /// Characters per text delta.
    public var textChunk = 5
    public var argumentFragments = 3
    /// Milliseconds between writes (1: each event is its own read; 0: all at once, for benchmarks).
    public var intervalMilliseconds: UInt64 = 1

    public init(items: [Item], usage: Usage = Usage(input: 10, output: 5), stopReason: String? = nil, fault: Fault = .none) {
        self.items = items
        self.usage = usage
        self.stopReason = stopReason
        self.fault = fault
    }

    public static func text(_ t: String, usage: Usage = Usage(input: 10, output: 5)) -> FakeReply {
        FakeReply(items: [.text(t)], usage: usage)
    }

    public static func status(_ code: Int, type: String = "api_error", message: String, headers: [(String, String)] = []) -> FakeReply {
        let body: JSONValue = ["type": "error", "error": ["type": .string(type), "message": .string(message)]]
        return FakeReply(items: [], fault: .status(code, body: body.serialized(), headers: headers))
    }
}

/// A loopback HTTP/1.1 server speaking the Anthropic Messages and OpenAI (chat and legacy
/// completions) streaming protocols, scripted by a queue of replies. Real sockets, real request
/// parsing (request line, headers, Content-Length body), keep-alive, chunked responses.
public final class FakeLLMServer {
    public let loop: EventLoop
    private let listener: TCPStream
    public let port: Int
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// Replies in order of arrival of requests.
    public var replies: [FakeReply] = []
    /// Used when `replies` is empty.
    public var fallback: ((FakeRequestRecord) -> FakeReply)?
    public private(set) var requests: [FakeRequestRecord] = []
    private var connections: [ObjectIdentifier: FakeConnection] = [:]
    private var stopped = false

    public init(loop: EventLoop) throws {
        _ = ignoreBrokenPipes
        self.loop = loop
        listener = TCPStream(loop: loop)
        try listener.bind(host: "127.0.0.1", port: 0)
        port = listener.localPort
        try listener.listen { [weak self] client in
            guard let self, !self.stopped else { client.close(); return }
            let c = FakeConnection(server: self, stream: client)
            self.connections[ObjectIdentifier(c)] = c
            c.start()
        }
    }

    deinit { stop() }

    public func enqueue(_ reply: FakeReply) { replies.append(reply) }

    /// Closes the listener and every connection (and their timers).
    public func stop() {
        guard !stopped else { return }
        stopped = true
        listener.close()
        for c in connections.values { c.close() }
        connections = [:]
    }

    /// Number of TCP connections accepted so far (keep-alive reuse shows as fewer than requests).
    public private(set) var connectionsAccepted = 0

    func connectionClosed(_ c: FakeConnection) { connections[ObjectIdentifier(c)] = nil }

    func record(_ r: FakeRequestRecord) -> FakeReply {
        requests.append(r)
        if !replies.isEmpty { return replies.removeFirst() }
        if let fallback { return fallback(r) }
        return .status(500, message: "fake server: no reply queued for \(r.method) \(r.path)")
    }

    func accepted() { connectionsAccepted += 1 }
}

final class FakeConnection {
    unowned let server: FakeLLMServer
    let stream: TCPStream
    private var buffer: [UInt8] = []
    private var busy = false
    private var closed = false
    private var timer: LoopTimer

    init(server: FakeLLMServer, stream: TCPStream) {
        self.server = server
        self.stream = stream
        timer = LoopTimer(loop: server.loop)
    }

    func start() {
        server.accepted()
        stream.setNoDelay(true)
        try? stream.startReading { [weak self] result in
            guard let self else { return }
            switch result {
            case .data(let bytes):
                self.buffer.append(contentsOf: bytes)
                self.serveNext()
            case .eof, .error:
                self.close()
            }
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        timer.close()
        stream.close()
        server.connectionClosed(self)
    }

    private func serveNext() {
        guard !busy, !closed else { return }
        let crlf2: [UInt8] = [13, 10, 13, 10]
        guard let end = buffer.firstRange(of: crlf2) else { return }
        let headText = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { close(); return }
        var headers: [(String, String)] = []
        for l in lines {
            guard let colon = l.firstIndex(of: ":") else { continue }
            headers.append((String(l[..<colon]), l[l.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
        guard buffer.count >= end.upperBound + length else { return }
        let body = Array(buffer[end.upperBound..<(end.upperBound + length)])
        buffer.removeFirst(end.upperBound + length)
        let record = FakeRequestRecord(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers,
                                       body: body, json: try? JSONValue.parse(body), receivedAt: EventLoop.monotonicSeconds())
        let reply = server.record(record)
        busy = true
        run(steps: FakeWire.steps(for: reply, path: record.path), interval: reply.intervalMilliseconds)
    }

    private func run(steps: [FakeWire.Step], interval: UInt64) {
        var rest = steps[...]
        func next() {
            guard !closed else { return }
            guard let step = rest.popFirst() else {
                busy = false
                serveNext()
                return
            }
            switch step {
            case .write(let bytes):
                stream.write(bytes)
                if interval == 0 { next(); return }  // benchmarks: everything at once
                // Reason: the fake server paces its writes so the client sees separate reads.
                timer.start(milliseconds: interval) { next() }
            case .pause(let seconds):
                // Reason: fault injection (a stalled stream).
                timer.start(seconds: seconds) { next() }
            case .close:
                close()
            }
        }
        next()
    }
}

/// Bytes of the fake replies.
enum FakeWire {
    enum Step {
        case write([UInt8])
        case pause(Double)
        case close
    }

    enum API { case anthropic, chat, completions }

    static func api(for path: String) -> API? {
        if path.hasSuffix("/messages") { return .anthropic }
        if path.hasSuffix("/chat/completions") { return .chat }
        if path.hasSuffix("/completions") { return .completions }
        return nil
    }

    static func reason(_ anthropic: String, _ api: API) -> String {
        guard api != .anthropic else { return anthropic }
        switch anthropic {
        case "end_turn": return "stop"
        case "tool_use": return "tool_calls"
        case "max_tokens": return "length"
        default: return anthropic
        }
    }

    static func statusText(_ code: Int) -> String {
        switch code {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 529: return "Overloaded"
        default: return "Status"
        }
    }

    static func plain(status: Int, contentType: String, body: String, headers: [(String, String)]) -> [UInt8] {
        let b = Array(body.utf8)
        var h = "HTTP/1.1 \(status) \(statusText(status))\r\ncontent-type: \(contentType)\r\ncontent-length: \(b.count)\r\n"
        for (k, v) in headers { h += "\(k): \(v)\r\n" }
        return Array((h + "\r\n").utf8) + b
    }

    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [13, 10]
    }

    static func chunks(_ s: String, _ n: Int) -> [String] {
        let c = Array(s)
        guard !c.isEmpty else { return [] }
        return stride(from: 0, to: c.count, by: max(1, n)).map { String(c[$0..<min($0 + max(1, n), c.count)]) }
    }

    static func sse(_ event: String?, _ data: JSONValue) -> String {
        (event.map { "event: \($0)\n" } ?? "") + "data: \(data.serialized())\n\n"
    }

    /// The SSE events of a full reply, one string each.
    static func events(_ r: FakeReply, _ api: API) -> [String] {
        let hasTool = r.items.contains { if case .tool = $0 { return true } else { return false } }
        let stop = r.stopReason ?? (hasTool ? "tool_use" : "end_turn")
        let u = r.usage
        var out: [String] = []
        switch api {
        case .anthropic:
            out.append(sse("message_start", ["type": "message_start", "message": [
                "id": .string(r.id), "type": "message", "role": "assistant", "model": .string(r.model), "content": [],
                "stop_reason": .null, "stop_sequence": .null,
                "usage": ["input_tokens": .number(Double(u.input)), "output_tokens": 1,
                          "cache_read_input_tokens": .number(Double(u.cacheRead)),
                          "cache_creation_input_tokens": .number(Double(u.cacheWrite))],
            ]]))
            out.append(sse("ping", ["type": "ping"]))
            for (i, item) in r.items.enumerated() {
                let index = JSONValue.number(Double(i))
                switch item {
                case .text(let t):
                    out.append(sse("content_block_start", ["type": "content_block_start", "index": index, "content_block": ["type": "text", "text": ""]]))
                    for piece in chunks(t, r.textChunk) {
                        out.append(sse("content_block_delta", ["type": "content_block_delta", "index": index, "delta": ["type": "text_delta", "text": .string(piece)]]))
                    }
                case .tool(let id, let name, let args):
                    out.append(sse("content_block_start", ["type": "content_block_start", "index": index,
                                                           "content_block": ["type": "tool_use", "id": .string(id), "name": .string(name), "input": [:]]]))
                    for piece in chunks(args, (args.count + r.argumentFragments - 1) / max(1, r.argumentFragments)) {
                        out.append(sse("content_block_delta", ["type": "content_block_delta", "index": index, "delta": ["type": "input_json_delta", "partial_json": .string(piece)]]))
                    }
                }
                out.append(sse("content_block_stop", ["type": "content_block_stop", "index": index]))
            }
            out.append(sse("message_delta", ["type": "message_delta", "delta": ["stop_reason": .string(stop), "stop_sequence": .null],
                                             "usage": ["output_tokens": .number(Double(u.output))]]))
            out.append(sse("message_stop", ["type": "message_stop"]))
        case .chat, .completions:
            let chat = api == .chat
            func chunk(_ choice: JSONValue?, usage: JSONValue? = nil) -> String {
                var o: [String: JSONValue] = ["id": .string(r.id), "object": chat ? "chat.completion.chunk" : "text_completion",
                                              "created": 1_700_000_000, "model": .string(r.model),
                                              "choices": choice.map { .array([$0]) } ?? .array([])]
                if let usage { o["usage"] = usage }
                return sse(nil, .object(o))
            }
            if chat { out.append(chunk(["index": 0, "delta": ["role": "assistant", "content": ""], "finish_reason": .null])) }
            var toolIndex = 0
            for item in r.items {
                switch item {
                case .text(let t):
                    for piece in chunks(t, r.textChunk) {
                        out.append(chat ? chunk(["index": 0, "delta": ["content": .string(piece)], "finish_reason": .null])
                                        : chunk(["index": 0, "text": .string(piece), "logprobs": .null, "finish_reason": .null]))
                    }
                case .tool(let id, let name, let args):
                    guard chat else { continue }
                    let ti = JSONValue.number(Double(toolIndex))
                    out.append(chunk(["index": 0, "delta": ["tool_calls": [["index": ti, "id": .string(id), "type": "function",
                                                                             "function": ["name": .string(name), "arguments": ""]]]],
                                      "finish_reason": .null]))
                    for piece in chunks(args, (args.count + r.argumentFragments - 1) / max(1, r.argumentFragments)) {
                        out.append(chunk(["index": 0, "delta": ["tool_calls": [["index": ti, "function": ["arguments": .string(piece)]]]],
                                          "finish_reason": .null]))
                    }
                    toolIndex += 1
                }
            }
            let fr = JSONValue.string(reason(stop, .chat))
            out.append(chat ? chunk(["index": 0, "delta": [:], "finish_reason": fr])
                            : chunk(["index": 0, "text": "", "logprobs": .null, "finish_reason": fr]))
            out.append(chunk(nil, usage: [
                "prompt_tokens": .number(Double(u.input + u.cacheRead)), "completion_tokens": .number(Double(u.output)),
                "total_tokens": .number(Double(u.input + u.cacheRead + u.output)),
                "prompt_tokens_details": ["cached_tokens": .number(Double(u.cacheRead))],
            ]))
            out.append("data: [DONE]\n\n")
        }
        return out
    }

    static func steps(for r: FakeReply, path: String) -> [Step] {
        guard let api = api(for: path) else {
            return [.write(plain(status: 404, contentType: "application/json",
                                 body: #"{"error":{"message":"no route for \#(path)","type":"not_found"}}"#, headers: []))]
        }
        switch r.fault {
        case .status(let code, let body, let headers):
            return [.write(plain(status: code, contentType: "application/json", body: body, headers: headers))]
        case .raw(let status, let type, let body):
            return [.write(plain(status: status, contentType: type, body: body, headers: []))]
        default: break
        }
        let head = Array("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nrequest-id: req_fake\r\n\r\n".utf8)
        var events = events(r, api)
        var steps: [Step] = [.write(head)]
        let end: [UInt8] = Array("0\r\n\r\n".utf8)
        switch r.fault {
        case .none, .status, .raw:
            steps += events.map { .write(chunk(Array($0.utf8))) }
            steps.append(.write(end))
        case .resetAfter(let n):
            steps += events.prefix(n).map { .write(chunk(Array($0.utf8))) }
            steps.append(.close)
        case .stall(let n, let seconds):
            steps += events.prefix(n).map { .write(chunk(Array($0.utf8))) }
            steps.append(.pause(seconds))
            steps += events.dropFirst(n).map { .write(chunk(Array($0.utf8))) }
            steps.append(.write(end))
        case .malformedJSON(let i):
            if i < events.count {
                events[i] = api == .anthropic
                    ? "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"oops\"\n\n"
                    : "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"oops\"}\n\n"
            }
            steps += events.map { .write(chunk(Array($0.utf8))) }
            steps.append(.write(end))
        case .anthropicError(let n, let type, let message):
            steps += events.prefix(n).map { .write(chunk(Array($0.utf8))) }
            steps.append(.write(chunk(Array(sse("error", ["type": "error", "error": ["type": .string(type), "message": .string(message)]]).utf8))))
            steps.append(.write(end))
        case .splitUTF8:
            let all = Array(events.joined().utf8)
            var piece: [UInt8] = []
            for b in all {
                piece.append(b)
                if b >= 0xC0 {  // a lead byte: cut right after it, inside the character
                    steps.append(.write(chunk(piece)))
                    piece = []
                }
            }
            if !piece.isEmpty { steps.append(.write(chunk(piece))) }
            steps.append(.write(end))
        case .drip:
            steps += Array(events.joined().utf8).map { .write(chunk([$0])) }
            steps.append(.write(end))
        }
        return steps
    }
}
