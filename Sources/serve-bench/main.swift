// serve-bench: one load client of bench/serve.py, fast enough that 20 of them can read the
// 200 MB/s the bench sends on a 2-core machine. Python clients cost ~8% of a core each per
// 10 MB/s in 16 KB messages, and libwebsockets' client side (4.1, `WebSocketClient`) parses
// payload a byte at a time (16% of a core per 10 MB/s), so 20 of either measured themselves.
// This one reads RFC 6455 frames from plain sockets (server frames are unmasked: a header,
// then the payload in one piece), polled by one thread.
//
//   serve-bench URL TOKEN LOG_DIR START END AGENT=OFFSET...
//
// URL: ws://host:port/api/profiles/P/agents (one connection per agent: the per-agent streams)
// or ws://host:port/api/profiles/P/stream (one connection for all: the profile stream's
// records). START, END: CLOCK_MONOTONIC seconds of the measuring window. Each agent's output
// starts at OFFSET. Every piece is checked: its offset must continue the agent's previous one
// and its bytes must equal the log's there (pread). Prints one JSON object: bytes in the
// window, latencies (ms, agent line -> here, first stamped line of each piece in the window),
// and per agent first/next offsets, gaps and mismatches.
import AgentProtocol
import Glibc
import Loop
import Serve

setvbuf(stdout, nil, _IOLBF, 0)
let arguments = CommandLine.arguments
guard arguments.count >= 7, let start = Double(arguments[4]), let end = Double(arguments[5]) else {
    fputs("usage: serve-bench URL TOKEN LOG_DIR START END AGENT=OFFSET...\n", stderr)
    exit(2)
}
let (base, token, logDirectory) = (arguments[1], arguments[2], arguments[3])

final class Stream {
    let agent: String
    let log: Int32
    var first: UInt64?
    var next: UInt64?
    var gaps = 0
    var mismatches = 0
    var scratch: [UInt8] = []
    init(agent: String, log: Int32) { self.agent = agent; self.log = log }
}

/// CLOCK_MONOTONIC, as the writers stamp it (Python's time.monotonic_ns).
func monotonicNanoseconds() -> UInt64 { UInt64(EventLoop.monotonicSeconds() * 1e9) }

/// The write time stamped on the first line in the output that carries one: a line that
/// starts with "T" and 19 digits of CLOCK_MONOTONIC nanoseconds (bench/serve.py's writers
/// stamp the first line of each write; no other byte they write is a "T").
func stamp(_ message: UnsafeRawBufferPointer) -> UInt64? {
    var from = 0
    while from < message.count, let hit = memchr(message.baseAddress! + from, 0x54, message.count - from) {
        let i = message.baseAddress!.distance(to: UnsafeRawPointer(hit))
        from = i + 1
        guard i == 0 || message[i - 1] == 0x0a, i + 20 <= message.count else { continue }
        var value: UInt64 = 0
        for j in (i + 1)...(i + 19) {
            let digit = message[j] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + UInt64(digit)
        }
        return value
    }
    return nil
}

/// A connection: one agent's stream, or the profile stream (its agents by record number,
/// from the hello).
final class Connection {
    let fd: Int32
    let name: String
    /// The per-agent stream's agent; nil on the profile stream.
    let stream: Stream?
    var byIndex: [Int: Stream] = [:]
    var buffer: [UInt8] = []
    var message: [UInt8] = []
    var text: [UInt8] = []
    /// The message being continued is text (events, states), not output.
    var continuingText = false
    init(fd: Int32, name: String, stream: Stream?) { self.fd = fd; self.name = name; self.stream = stream }
}

func fail(_ text: String) -> Never { fputs("serve-bench: \(text)\n", stderr); exit(1) }

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    if let error = Posix.writeAll(fd, bytes) { fail("\(error)") }
}

/// Connects and upgrades (blocking); the socket is non-blocking afterwards.
func connectStream(host: String, port: UInt16, path: String) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    inet_pton(AF_INET, host, &address.sin_addr)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if connected != 0 { fail("connect \(host):\(port): \(String(cString: strerror(errno)))") }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    writeAll(fd, Array(("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                        "Sec-WebSocket-Key: c2VydmUtYmVuY2gtY2xpZW50\r\nSec-WebSocket-Version: 13\r\n" +
                        "Authorization: Bearer \(token)\r\n\r\n").utf8))
    return fd
}

let loopback = "ws://127.0.0.1:"
guard base.hasPrefix(loopback), let slash = base.dropFirst(loopback.count).firstIndex(of: "/"),
      let port = UInt16(base[base.index(base.startIndex, offsetBy: loopback.count)..<slash]) else {
    fail("URL must be ws://127.0.0.1:PORT/...: \(base)")
}
let basePath = String(base[slash...])
let profileStream = basePath.hasSuffix("/stream")
var inWindowBytes = 0
var inWindowMessages = 0
var latencies: [Double] = []
var streams: [Stream] = []
var connections: [Connection] = []
let startNs = UInt64(start * 1e9), endNs = UInt64(end * 1e9)

var froms: [String] = []
for spec in arguments[6...] {
    guard let equals = spec.firstIndex(of: "="), let offset = UInt64(spec[spec.index(after: equals)...]) else {
        fail("not AGENT=OFFSET: \(spec)")
    }
    let agent = String(spec[..<equals])
    let log = open("\(logDirectory)/\(agent).log", O_RDONLY | O_CLOEXEC)
    guard log >= 0 else { fail("cannot open the log of \(agent)") }
    let stream = Stream(agent: agent, log: log)
    streams.append(stream)
    froms.append("\(agent):\(offset)")
    if !profileStream {
        connections.append(Connection(fd: connectStream(host: "127.0.0.1", port: port, path: "\(basePath)/\(agent)/stream?from=\(offset)"),
                                      name: agent, stream: stream))
    }
}
if profileStream {
    let query = "agents=\(streams.map(\.agent).joined(separator: ","))&from=\(froms.joined(separator: ","))"
    connections.append(Connection(fd: connectStream(host: "127.0.0.1", port: port, path: "\(basePath)?\(query)"), name: "profile stream", stream: nil))
}

/// `count` bytes of `stream`'s output at offset `at`: checked against the log, timed.
func check(_ stream: Stream, at: UInt64, _ bytes: UnsafeRawBufferPointer, now: UInt64) {
    let count = bytes.count
    if stream.first == nil { stream.first = at } else if at != stream.next { stream.gaps += 1 }
    stream.next = at + UInt64(count)
    // The same bytes as the log's at that offset (the shim logs before it sends).
    if stream.scratch.count < count { stream.scratch = [UInt8](repeating: 0, count: count) }
    let read = stream.scratch.withUnsafeMutableBytes { Posix.pread(stream.log, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]), offset: at) }
    let same = (try? read.get()) == count && stream.scratch.withUnsafeBytes { memcmp($0.baseAddress!, bytes.baseAddress!, count) == 0 }
    if !same { stream.mismatches += 1 }
    if now >= startNs && now < endNs {
        inWindowBytes += count
        if let written = stamp(bytes), written <= now { latencies.append(Double(now - written) / 1e6) }
    }
}

/// A whole binary message: `[u64 offset][bytes]` on an agent's stream, records on the profile stream.
func received(_ message: UnsafeRawBufferPointer, on connection: Connection, now: UInt64) {
    if now >= startNs && now < endNs { inWindowMessages += 1 }
    if let stream = connection.stream {
        guard message.count >= 8 else { return }
        let at = message[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return check(stream, at: at, UnsafeRawBufferPointer(rebasing: message[8...]), now: now)
    }
    guard let records = StreamRecords.decode(message) else { fail("a malformed message of records") }
    for record in records {
        guard let stream = connection.byIndex[record.agent] else { fail("a record of agent \(record.agent), not in the hello") }
        check(stream, at: record.offset, UnsafeRawBufferPointer(rebasing: message[record.bytes]), now: now)
    }
}

/// A whole text message: on the profile stream, the hello numbers the agents.
func receivedText(_ text: [UInt8], on connection: Connection) {
    guard connection.stream == nil, let json = try? OrderedJSON.parse(text), case .string("hello")? = json["type"],
          case .array(let agents)? = json["agents"] else { return }
    for agent in agents {
        guard case .string(let name)? = agent["agent"], case .number(let index)? = agent["index"], let i = Int(index),
              let stream = streams.first(where: { $0.agent == name }) else { fail("a hello without agents' names and numbers") }
        connection.byIndex[i] = stream
    }
}

/// Takes the upgrade answer, then every whole frame, from the front of `data`: how many bytes
/// it used (the rest waits for more). No copy for a message in one frame, the usual case.
func parse(_ connection: Connection, _ data: UnsafeRawBufferPointer, now: UInt64, upgraded: inout Bool) -> Int {
    var used = 0
    if !upgraded {
        guard let end = (0..<max(0, data.count - 3)).first(where: { data[$0] == 13 && data[$0 + 1] == 10 && data[$0 + 2] == 13 && data[$0 + 3] == 10 }) else { return 0 }
        let head = String(decoding: data[..<end], as: UTF8.self)
        guard head.hasPrefix("HTTP/1.1 101") else { fail("upgrade refused: \(head.prefix(80))") }
        upgraded = true
        used = end + 4
    }
    while data.count - used >= 2 {
        let b0 = data[used], b1 = data[used + 1]
        var length = Int(b1 & 0x7f), header = 2
        if length == 126 {
            guard data.count - used >= 4 else { break }
            length = Int(data[used + 2]) << 8 | Int(data[used + 3]); header = 4
        } else if length == 127 {
            guard data.count - used >= 10 else { break }
            length = data[(used + 2)..<(used + 10)].reduce(0) { $0 << 8 | Int($1) }; header = 10
        }
        if b1 & 0x80 != 0 { fail("a masked frame from the server") }
        guard data.count - used >= header + length else { break }
        let payload = UnsafeRawBufferPointer(rebasing: data[(used + header)..<(used + header + length)])
        used += header + length
        let opcode = b0 & 0x0f, fin = b0 & 0x80 != 0
        if opcode == 1 || (opcode == 0 && connection.continuingText) {
            connection.continuingText = !fin  // text: the hello, events and states
            connection.text += payload
            if fin {
                receivedText(connection.text, on: connection)
                connection.text = []
            }
            continue
        }
        switch opcode {
        case 0, 2:  // continuation, binary
            if fin && connection.message.isEmpty {
                received(payload, on: connection, now: now)
            } else {
                connection.message += payload
                if fin {
                    connection.message.withUnsafeBytes { received($0, on: connection, now: now) }
                    connection.message = []
                }
            }
        case 9:  // ping: pong with the same payload, masked (key 0) as a client must
            writeAll(connection.fd, [0x8a, 0x80 | UInt8(payload.count), 0, 0, 0, 0] + Array(payload))
        case 8: fail("\(connection.name): the server closed the stream")
        default: break
        }
    }
    return used
}

// libuv (epoll), not poll(2): poll's scan of every socket on every call was a quarter of this
// client's time.
let loop = EventLoop()
var upgraded = [Bool](repeating: false, count: connections.count)
var chunk = [UInt8](repeating: 0, count: 256 * 1024)
var watchers: [Poll] = []
for (index, connection) in connections.enumerated() {
    let watcher = try Poll(loop: loop, fd: connection.fd)
    try watcher.start(.readable) { _, _ in
        let now = monotonicNanoseconds()
        let got = chunk.withUnsafeMutableBytes { Posix.readNow(connection.fd, into: $0) }
        guard case .success(let read) = got else { fail("\(got)") }
        guard let n = read else { return }
        if n == 0 { fail("\(connection.name): the server closed the connection") }
        if connection.buffer.isEmpty {
            // Parsed where it was read; only an unfinished frame is kept.
            let used = chunk.withUnsafeBytes { parse(connection, UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: now, upgraded: &upgraded[index]) }
            if used < n { connection.buffer = Array(chunk[used..<n]) }
        } else {
            connection.buffer += chunk[0..<n]
            let used = connection.buffer.withUnsafeBytes { parse(connection, $0, now: now, upgraded: &upgraded[index]) }
            connection.buffer.removeFirst(used)
        }
    }
    watchers.append(watcher)
}
let windowEnd = LoopTimer(loop: loop)
windowEnd.start(milliseconds: UInt64(max(0, (Double(endNs) - Double(monotonicNanoseconds())) / 1e6)) + 1) { loop.stop() }
loop.run()
for connection in connections { close(connection.fd) }

func number(_ value: some CustomStringConvertible) -> OrderedJSON { .number(value.description) }
let result = OrderedJSON.object([
    ("bytes", number(inWindowBytes)),
    ("messages", number(inWindowMessages)),
    ("latencies", .array(latencies.map { number(($0 * 1000).rounded() / 1000) })),
    ("streams", .array(streams.map { s in
        .object([("agent", .string(s.agent)), ("first", s.first.map { number($0) } ?? .null),
                 ("next", s.next.map { number($0) } ?? .null), ("gaps", number(s.gaps)),
                 ("mismatches", number(s.mismatches))])
    })),
])
print(result.serialized())
