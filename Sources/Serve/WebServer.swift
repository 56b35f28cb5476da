import CWebSockets
import Glibc
import Loop

/// What the server asks of the application: answers to requests, and the life of each WebSocket.
/// Everything is called on the loop thread.
public protocol WebServerDelegate: AnyObject {
    /// Answer a request, now or later (the exchange waits; nothing is sent before `reply`).
    func handle(_ request: WebRequest, reply: @escaping (WebResponse) -> Void)
    /// Decide on a WebSocket upgrade: nil accepts it, a response refuses it (sent as it is).
    func checkUpgrade(_ request: WebRequest) -> WebResponse?
    func opened(_ socket: WebSocket, request: WebRequest)
    func received(_ socket: WebSocket, message: [UInt8], binary: Bool)
    func closed(_ socket: WebSocket)
}

/// Where and how to listen, and the limits that keep a hostile client from costing memory.
public struct WebServerOptions: Sendable {
    public var address: String
    public var port: Int
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Largest request body (POST input, paste, settings).
    public var maxBodyBytes = 1 << 20
    /// Largest WebSocket message from a client (input, paste, control).
    public var maxMessageBytes = 1 << 20
    /// Open WebSocket connections beyond this are refused with 503.
    public var maxWebSockets = 2048
    /// File descriptors libwebsockets may use (all connections, listening sockets included).
    public var maxConnections = 4096
    /// Seconds a connection may take to send its headers or body (slowloris).
    public var requestTimeout = 10

    public init(address: String, port: Int) {
        self.address = address
        self.port = port
    }
}

/// A message's bytes with `LWS_PRE` free bytes in front, as libwebsockets writes from: made
/// once and queued for every client that gets the same bytes (a shim's output frame goes to
/// every stream of its agent: perf put ~7% of serve's time with 20 clients in copying it into
/// each queue). libwebsockets writes the frame header into the free bytes in front, the same
/// header for every client of one message (server frames are unmasked), one write at a time.
public final class OutgoingMessage {
    private var storage: UnsafeMutableRawBufferPointer
    /// Bytes in use, the free ones in front included.
    private var used: Int
    /// Payload bytes.
    public var count: Int { used - OutgoingMessage.pre }
    fileprivate static let pre = Int(sv_lws_pre())

    /// `parts` one after the other, with room for `capacity` payload bytes in all.
    public init(_ parts: ArraySlice<UInt8>..., capacity: Int = 0) {
        let size = parts.reduce(0) { $0 + $1.count }
        storage = .allocate(byteCount: OutgoingMessage.pre + max(size, capacity), alignment: 16)
        used = OutgoingMessage.pre
        for part in parts { append(part) }
    }

    /// `message`'s payload then `bytes`, with room for `capacity` payload bytes in all.
    fileprivate convenience init(_ message: OutgoingMessage, then bytes: ArraySlice<UInt8>, capacity: Int) {
        self.init(capacity: max(capacity, message.count + bytes.count))
        storage.baseAddress!.advanced(by: used).copyMemory(from: message.payload.baseAddress!, byteCount: message.count)
        used += message.count
        append(bytes)
    }

    /// Appends within the capacity; false when there is no room.
    @discardableResult
    func append(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard used + bytes.count <= storage.count else { return false }
        bytes.withUnsafeBytes { if let from = $0.baseAddress { storage.baseAddress!.advanced(by: used).copyMemory(from: from, byteCount: $0.count) } }
        used += bytes.count
        return true
    }

    /// Replaces payload bytes from `offset` on (a length field written before its bytes were all known).
    func overwrite(at offset: Int, with bytes: [UInt8]) {
        precondition(offset >= 0 && offset + bytes.count <= count)
        bytes.withUnsafeBytes { storage.baseAddress!.advanced(by: OutgoingMessage.pre + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// The payload (for tests, and for reading back what was built).
    var bytes: [UInt8] { Array(payload) }

    /// What a queue slot holds once its message is written.
    fileprivate static let written = OutgoingMessage()

    fileprivate var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[OutgoingMessage.pre..<used]) }
    fileprivate var start: UnsafeMutablePointer<UInt8> { storage.baseAddress!.advanced(by: OutgoingMessage.pre).assumingMemoryBound(to: UInt8.self) }

    deinit { storage.deallocate() }
}

/// One WebSocket connection. Messages are queued and written when the socket can take them;
/// `queuedBytes` lets the application stop feeding a slow client.
public final class WebSocket {
    /// The connection's number, unique for the server's life (for logs and maps).
    public let id: Int
    let wsi: OpaquePointer
    /// Messages not yet written; `tag` marks one that a later message may extend (`extendLast`).
    fileprivate var queue: [(message: OutgoingMessage, binary: Bool, tag: UInt64?)] = []
    fileprivate var queueStart = 0
    var fragments: [UInt8] = []
    fileprivate var closeRequested: (code: lws_close_status, reason: String)?
    public internal(set) var isOpen = true
    public private(set) var queuedBytes = 0
    /// Called when the queue has emptied (the place to read more of a log for a catching-up client).
    public var onDrained: (() -> Void)?
    /// Anything the application keeps per connection.
    public var context: AnyObject?
    /// Stamps `lastDrained` (set by the server, which has the loop's clock).
    var drainedAt: (() -> Void)?

    init(id: Int, wsi: OpaquePointer) {
        self.id = id
        self.wsi = wsi
    }

    public func send(text: String) { enqueue(OutgoingMessage(Array(text.utf8)[...]), binary: false, tag: nil) }
    /// A binary message of `header` then `body` (one copy, into the buffer libwebsockets
    /// writes from). `tag`: lets `extendLast` append to it while it waits in the queue.
    public func send(binary header: [UInt8], _ body: ArraySlice<UInt8> = [], tag: UInt64? = nil) {
        enqueue(OutgoingMessage(header[...], body), binary: true, tag: tag)
    }
    /// A binary message other connections may be sent too (no copy).
    public func send(binary message: OutgoingMessage, tag: UInt64? = nil) { enqueue(message, binary: true, tag: tag) }

    /// Appends `bytes` to the last queued message when it waits unwritten with tag `tag`
    /// and stays within `limit` bytes; it then carries `newTag`. A client that is behind gets
    /// fewer, bigger messages (less work per byte on both sides); one that keeps up gets each
    /// message as it comes, since its queue is empty. False: nothing was done.
    public func extendLast(tag: UInt64, with bytes: ArraySlice<UInt8>, newTag: UInt64, limit: Int) -> Bool {
        guard isOpen, closeRequested == nil, queueStart < queue.count, let last = queue.indices.last,
              queue[last].tag == tag, queue[last].message.count + bytes.count <= limit else { return false }
        // In place when only this queue has the message and it has room; else a copy with room
        // for the rest (the message may be queued for other clients too).
        if !(isKnownUniquelyReferenced(&queue[last].message) && queue[last].message.append(bytes)) {
            queue[last].message = OutgoingMessage(queue[last].message, then: bytes, capacity: limit)
        }
        queue[last].tag = newTag
        queuedBytes += bytes.count
        return true
    }

    private func enqueue(_ message: OutgoingMessage, binary: Bool, tag: UInt64?) {
        guard isOpen, closeRequested == nil else { return }
        queue.append((message, binary, tag))
        queuedBytes += message.count
        // Nothing else waits and the socket takes more: written now, in this loop turn, not a
        // poll round trip later from a writeable callback (one client's p99 2.6 -> 2.2 ms; no
        // CPU change measured). Checking `lws_send_pipe_choked` first is what makes a write
        // outside the callback legal.
        if !writing && queue.count - queueStart == 1 && lws_send_pipe_choked(wsi) == 0 {
            if !writeQueued() { drop() }
        } else {
            lws_callback_on_writable(wsi)
        }
    }

    /// Inside `writeQueued`: a message queued meanwhile (by `onDrained`) waits for the
    /// writeable callback instead of recursing.
    private var writing = false

    /// When the queue last emptied (or the connection opened), in loop milliseconds: a client
    /// whose queue has not emptied for long is stuck.
    public internal(set) var lastDrained: UInt64 = 0

    /// Ends the connection now, whatever is queued (a stuck client: no close handshake to wait for).
    public func drop() {
        guard isOpen else { return }
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, -1)  // LWS_TO_KILL_ASYNC
    }

    /// Closes after what is queued (`policy` for refusals: 1008).
    public func close(policy: Bool = false, reason: String = "") {
        guard isOpen, closeRequested == nil else { return }
        closeRequested = (policy ? LWS_CLOSE_STATUS_POLICY_VIOLATION : LWS_CLOSE_STATUS_NORMAL, reason)
        lws_callback_on_writable(wsi)
    }

    /// Writes queued messages while the socket takes them (up to `budget` bytes, so one busy
    /// client does not hold the loop), instead of one per writeable callback: a loop turn per
    /// message would cost a poll round trip each. False when the connection is to be closed.
    func writeQueued(budget: Int = 512 * 1024) -> Bool {
        writing = true
        defer { writing = false }
        var written = 0
        while true {
            // (Not queuedBytes before and after: onDrained may queue the next piece meanwhile.)
            guard let count = writeNext() else { return false }
            written += count
            if queueStart >= queue.count || written >= budget || lws_send_pipe_choked(wsi) != 0 { break }
        }
        if queueStart < queue.count { lws_callback_on_writable(wsi) }
        return true
    }

    /// Writes one queued message: its byte count, nil when the connection is to be closed.
    private func writeNext() -> Int? {
        var count = 0
        if queueStart < queue.count {
            let (message, binary, _) = queue[queueStart]
            queue[queueStart].message = OutgoingMessage.written  // its bytes go when the last client has written them
            queueStart += 1
            count = message.count
            queuedBytes -= count
            let written = sv_lws_write(wsi, message.start, count, binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT)
            if written < count { return nil }
            if queueStart == queue.count {
                queue.removeAll(keepingCapacity: false)
                queueStart = 0
            } else if queueStart > 64 {
                queue.removeFirst(queueStart)
                queueStart = 0
            }
        }
        if queueStart < queue.count { return count }
        if let close = closeRequested {
            var reason = Array(close.reason.utf8.prefix(120))
            reason.withUnsafeMutableBufferPointer { lws_close_reason(wsi, close.code, $0.baseAddress, $0.count) }
            return nil
        }
        drainedAt?()
        onDrained?()
        return count
    }
}

/// HTTP and WebSocket over libwebsockets, on a loop we own (libwebsockets' *foreign loop*
/// support through its libuv event library). The only code that touches libwebsockets.
public final class WebServer {
    private let loop: EventLoop
    private let options: WebServerOptions
    private weak var delegate: WebServerDelegate?
    private var context: OpaquePointer?
    private var protocols: UnsafeMutablePointer<lws_protocols>?
    private var foreignLoops: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    private let cStrings = CStringPool()
    /// HTTP exchanges by connection (a keep-alive connection carries one at a time).
    fileprivate var exchanges: [OpaquePointer: Exchange] = [:]
    /// Accepted upgrades waiting for ESTABLISHED, and open WebSockets.
    fileprivate var upgrades: [OpaquePointer: WebRequest] = [:]
    fileprivate var sockets: [OpaquePointer: WebSocket] = [:]
    private var nextSocketID = 1
    public private(set) var port = 0

    public var openWebSockets: Int { sockets.count }
    /// The open WebSockets (for the application's own sweeps).
    public var webSockets: [WebSocket] { Array(sockets.values) }

    public init(loop: EventLoop, options: WebServerOptions, delegate: WebServerDelegate) {
        self.loop = loop
        self.options = options
        self.delegate = delegate
    }

    /// Binds and starts serving. Throws with one clear message when it cannot listen.
    public func start() throws {
        lws_set_log_level(LLL_ERR, lwsLog)
        let protocols = UnsafeMutablePointer<lws_protocols>.allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)  // the second, all zero, ends the list
        protocols[0].name = UnsafePointer(cStrings.make("supervisor"))
        protocols[0].callback = webServerCallback
        protocols[0].per_session_data_size = 0
        protocols[0].rx_buffer_size = 16 * 1024
        // A message goes to send() whole. With 0, libwebsockets sends at most rx_buffer_size at
        // once and keeps the rest for writeable callbacks: every message over 16 KiB (merged
        // ones, log pieces, profile stream batches) took a copy, a POLLOUT round trip and two
        // epoll_ctl calls per 16 KiB, most of the epoll_ctl strace counted under load.
        protocols[0].tx_packet_size = 1 << 20
        self.protocols = protocols

        let loops = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 1)
        loops.initialize(to: UnsafeMutableRawPointer(loop.raw))
        foreignLoops = loops

        var info = lws_context_creation_info()
        info.port = Int32(options.port)
        info.iface = UnsafePointer(cStrings.make(options.address))
        info.protocols = UnsafePointer(protocols)
        info.options = sv_lws_option_libuv() | sv_lws_option_validate_utf8()
        if !options.address.contains(":") { info.options |= sv_lws_option_disable_ipv6() }
        info.foreign_loops = loops
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.timeout_secs = UInt32(options.requestTimeout)
        info.keepalive_timeout = 30
        info.fd_limit_per_thread = UInt32(options.maxConnections)
        info.server_string = UnsafePointer(cStrings.make("supervisor"))
        if let certificate = options.tlsCertificate, let key = options.tlsKey {
            info.options |= sv_lws_option_ssl_global_init()
            info.ssl_cert_filepath = UnsafePointer(cStrings.make(certificate))
            info.ssl_private_key_filepath = UnsafePointer(cStrings.make(key))
        }
        guard let context = lws_create_context(&info) else {
            throw ServeError("cannot listen on \(options.address):\(options.port) (address in use, not an address of this machine, or an unreadable TLS certificate or key)")
        }
        self.context = context
        if let vhost = lws_get_vhost_by_name(context, "default") { port = Int(lws_get_vhost_listen_port(vhost)) }
    }

    /// Ends every connection and releases libwebsockets; its libuv handles close on the next
    /// turns of the loop, which this runs.
    public func stop() {
        guard let context else { return }
        self.context = nil
        lws_context_destroy(context)
        for _ in 0..<8 { loop.runOnce(wait: false) }
        exchanges = [:]
        upgrades = [:]
        sockets = [:]
    }

    deinit {
        protocols?.deallocate()
        foreignLoops?.deallocate()
    }

    // MARK: callbacks

    fileprivate func callback(_ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        switch reason {
        case LWS_CALLBACK_HTTP:
            let path = input.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? "/"
            var request = readRequest(wsi, path: path)
            let exchange = Exchange(request: request)
            exchanges[wsi] = exchange
            let lengthHeader = headerValue(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH)
            let declared = lengthHeader.flatMap { Int($0) } ?? 0
            if declared > options.maxBodyBytes {
                respond(wsi, exchange, .error(413, "request body over \(options.maxBodyBytes) bytes"))
                return 0
            }
            // A POST with Content-Length (even an explicit 0) gets BODY callbacks and then
            // BODY_COMPLETION from libwebsockets; one without has its answer now.
            if request.method == "POST" && lengthHeader != nil {
                request.body.reserveCapacity(declared)
                exchange.request = request
                return 0  // the body follows: LWS_CALLBACK_HTTP_BODY, then _COMPLETION
            }
            dispatch(wsi, exchange)
            return 0
        case LWS_CALLBACK_HTTP_BODY:
            guard let exchange = exchanges[wsi] else { return -1 }
            guard let input, length > 0 else { return 0 }
            if exchange.request.body.count + length > options.maxBodyBytes { return -1 }
            exchange.request.body += UnsafeRawBufferPointer(start: input, count: length)
            return 0
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            guard let exchange = exchanges[wsi] else { return -1 }
            if !exchange.dispatched { dispatch(wsi, exchange) }
            return 0
        case LWS_CALLBACK_HTTP_WRITEABLE:
            guard let exchange = exchanges[wsi], let response = exchange.response else { return 0 }
            return writeResponse(wsi, exchange, response)
        case LWS_CALLBACK_CLOSED_HTTP:
            exchanges[wsi]?.closed = true
            exchanges[wsi] = nil
            upgrades[wsi] = nil
            return 0
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            let uri = headerValue(wsi, WSI_TOKEN_GET_URI) ?? "/"
            let request = readRequest(wsi, path: uri)
            if sockets.count >= options.maxWebSockets {
                return refuseUpgrade(wsi, .error(503, "too many WebSocket connections"))
            }
            if let refusal = delegate?.checkUpgrade(request) { return refuseUpgrade(wsi, refusal) }
            upgrades[wsi] = request
            return 0
        case LWS_CALLBACK_ESTABLISHED:
            guard let request = upgrades.removeValue(forKey: wsi) else { return -1 }
            let socket = WebSocket(id: nextSocketID, wsi: wsi)
            nextSocketID += 1
            let loop = self.loop
            socket.lastDrained = loop.nowMilliseconds
            socket.drainedAt = { [unowned socket] in socket.lastDrained = loop.nowMilliseconds }
            sockets[wsi] = socket
            delegate?.opened(socket, request: request)
            return 0
        case LWS_CALLBACK_RECEIVE:
            guard let socket = sockets[wsi] else { return -1 }
            if let input, length > 0 {
                if socket.fragments.count + length > options.maxMessageBytes {
                    var reason = Array("message over \(options.maxMessageBytes) bytes".utf8)
                    reason.withUnsafeMutableBufferPointer { lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, $0.baseAddress, $0.count) }
                    return -1
                }
                socket.fragments += UnsafeRawBufferPointer(start: input, count: length)
            }
            if lws_is_final_fragment(wsi) != 0 && lws_remaining_packet_payload(wsi) == 0 {
                let message = socket.fragments
                socket.fragments = []
                delegate?.received(socket, message: message, binary: lws_frame_is_binary(wsi) != 0)
            }
            return 0
        case LWS_CALLBACK_SERVER_WRITEABLE:
            guard let socket = sockets[wsi] else { return -1 }
            return socket.writeQueued() ? 0 : -1
        case LWS_CALLBACK_CLOSED:
            upgrades[wsi] = nil
            if let socket = sockets.removeValue(forKey: wsi) {
                socket.isOpen = false
                socket.onDrained = nil
                socket.drainedAt = nil
                delegate?.closed(socket)
            }
            return 0
        default:
            return lws_callback_http_dummy(wsi, reason, nil, input, length)
        }
    }

    private func dispatch(_ wsi: OpaquePointer, _ exchange: Exchange) {
        exchange.dispatched = true
        guard let delegate else { respond(wsi, exchange, .error(503, "shutting down")); return }
        delegate.handle(exchange.request) { [weak self, weak exchange] response in
            guard let self, let exchange, !exchange.closed, self.context != nil else { return }
            self.respond(wsi, exchange, response)
        }
    }

    private func respond(_ wsi: OpaquePointer, _ exchange: Exchange, _ response: WebResponse) {
        guard exchange.response == nil else { return }
        exchange.response = response
        lws_callback_on_writable(wsi)
    }

    /// Headers first, then the body in chunks, one per writeable callback.
    private func writeResponse(_ wsi: OpaquePointer, _ exchange: Exchange, _ response: WebResponse) -> Int32 {
        let pre = Int(sv_lws_pre())
        if !exchange.headersSent {
            exchange.headersSent = true
            var buffer = [UInt8](repeating: 0, count: pre + 4096)
            let ok = buffer.withUnsafeMutableBufferPointer { raw -> Bool in
                let start = raw.baseAddress! + pre
                var p: UnsafeMutablePointer<UInt8>? = start
                let end = raw.baseAddress! + raw.count - 1
                if lws_add_http_common_headers(wsi, UInt32(response.status), response.contentType,
                                               lws_filepos_t(response.body.count), &p, end) != 0 { return false }
                for header in securityHeaders + response.headers {
                    let name = header.name.lowercased() + ":"
                    if lws_add_http_header_by_name(wsi, name, header.value, Int32(header.value.utf8.count), &p, end) != 0 { return false }
                }
                return lws_finalize_write_http_header(wsi, start, &p, end) == 0
            }
            if !ok { return -1 }
            if !response.body.isEmpty {
                lws_callback_on_writable(wsi)
                return 0
            }
            return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
        }
        let chunk = min(response.body.count - exchange.bodySent, 64 * 1024)
        var buffer = [UInt8](repeating: 0, count: pre + chunk)
        buffer.replaceSubrange(pre..<(pre + chunk), with: response.body[exchange.bodySent..<(exchange.bodySent + chunk)])
        exchange.bodySent += chunk
        let last = exchange.bodySent == response.body.count
        let written = buffer.withUnsafeMutableBufferPointer {
            sv_lws_write(wsi, $0.baseAddress! + pre, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP)
        }
        if written < chunk { return -1 }
        if !last {
            lws_callback_on_writable(wsi)
            return 0
        }
        exchanges[wsi] = nil
        return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
    }

    /// A refused upgrade's answer, written whole by hand: libwebsockets' own status writer
    /// answers an upgrade request as HTTP/1.0, which WebSocket clients reject as malformed.
    private func refuseUpgrade(_ wsi: OpaquePointer, _ response: WebResponse) -> Int32 {
        var text = "HTTP/1.1 \(response.status) \(WebResponse.reason(response.status))\r\n"
        text += "content-type: \(response.contentType)\r\ncontent-length: \(response.body.count)\r\n"
        for header in securityHeaders + response.headers { text += "\(header.name.lowercased()): \(header.value)\r\n" }
        text += "connection: close\r\n\r\n"
        let pre = Int(sv_lws_pre())
        var buffer = [UInt8](repeating: 0, count: pre) + Array(text.utf8) + response.body
        let count = buffer.count - pre
        let written = buffer.withUnsafeMutableBufferPointer { sv_lws_write(wsi, $0.baseAddress! + pre, count, LWS_WRITE_HTTP) }
        return written < count ? -1 : 1
    }

    private var securityHeaders: [WebResponse.Header] {
        [.init("Cache-Control", "no-store"), .init("X-Content-Type-Options", "nosniff"),
         .init("Referrer-Policy", "no-referrer"), .init("X-Frame-Options", "DENY")]
    }

    // MARK: reading requests

    private func readRequest(_ wsi: OpaquePointer, path: String) -> WebRequest {
        var method = "GET"
        for (token, name) in [(WSI_TOKEN_POST_URI, "POST"), (WSI_TOKEN_OPTIONS_URI, "OPTIONS"),
                              (WSI_TOKEN_PUT_URI, "PUT"), (WSI_TOKEN_DELETE_URI, "DELETE"),
                              (WSI_TOKEN_PATCH_URI, "PATCH"), (WSI_TOKEN_HEAD_URI, "HEAD")]
            where lws_hdr_total_length(wsi, token) > 0 { method = name }
        var cleanPath = path
        if let question = cleanPath.firstIndex(of: "?") { cleanPath = String(cleanPath[..<question]) }
        return WebRequest(method: method, path: cleanPath, query: readQuery(wsi),
                          authorization: headerValue(wsi, WSI_TOKEN_HTTP_AUTHORIZATION),
                          cookie: headerValue(wsi, WSI_TOKEN_HTTP_COOKIE),
                          origin: headerValue(wsi, WSI_TOKEN_ORIGIN),
                          host: headerValue(wsi, WSI_TOKEN_HOST))
    }

    private func headerValue(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
        let length = Int(lws_hdr_total_length(wsi, token))
        guard length > 0, length < 16 * 1024 else { return nil }
        var buffer = [CChar](repeating: 0, count: length + 1)
        guard lws_hdr_copy(wsi, &buffer, Int32(buffer.count), token) >= 0 else { return nil }
        return String(cString: buffer)
    }

    /// `a=1&b=2` as fragments libwebsockets has already split and URL-decoded.
    private func readQuery(_ wsi: OpaquePointer) -> [String: String] {
        var query: [String: String] = [:]
        var buffer = [CChar](repeating: 0, count: 4096)
        var index: Int32 = 0
        while index < 32, lws_hdr_copy_fragment(wsi, &buffer, Int32(buffer.count), WSI_TOKEN_HTTP_URI_ARGS, index) > 0 {
            let fragment = String(cString: buffer)
            if let equals = fragment.firstIndex(of: "=") {
                query[String(fragment[..<equals])] = String(fragment[fragment.index(after: equals)...])
            } else {
                query[fragment] = ""
            }
            index += 1
        }
        return query
    }
}

/// One HTTP request in flight on a connection.
private final class Exchange {
    var request: WebRequest
    var response: WebResponse?
    var headersSent = false
    var bodySent = 0
    var closed = false
    var dispatched = false
    init(request: WebRequest) { self.request = request }
}

/// libwebsockets calls this for every connection of the server's one protocol.
private func webServerCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                               _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let owner = lws_context_user(context) else {
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }
    return Unmanaged<WebServer>.fromOpaque(owner).takeUnretainedValue().callback(wsi, reason, input, length)
}

/// libwebsockets' own errors (never a request line: those may carry a login token).
private func lwsLog(_ level: Int32, _ line: UnsafePointer<CChar>?) {
    guard let line else { return }
    var text = String(cString: line)
    while text.hasSuffix("\n") { text.removeLast() }
    fputs("supervisor serve: libwebsockets: \(text)\n", stderr)
}

public struct ServeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
