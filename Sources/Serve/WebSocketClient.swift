import CWebSockets
import Glibc
import Loop

/// A WebSocket client on our loop (libwebsockets' client side, on the same foreign libuv loop
/// as the server): what `supervisor client` speaks to a local or remote `serve` with.
public final class WebSocketClient {
    private let loop: EventLoop
    private var context: OpaquePointer?
    private var protocols: UnsafeMutablePointer<lws_protocols>?
    private var foreignLoops: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    private let cStrings = CStringPool()
    private let headers: [(String, String)]
    private var socket: WebSocket?
    private var closed = false

    public var onOpen: (() -> Void)?
    public var onMessage: (([UInt8], Bool) -> Void)?
    /// Once: the connection failed or ended (nil reason: closed by us).
    public var onClose: ((String?) -> Void)?

    /// `url`: ws://host:port/path or wss://...; `headers` go with the upgrade request;
    /// `caFile`: the certificate (or CA) to trust for wss://, instead of the system's.
    public init(loop: EventLoop, url: String, headers: [(String, String)], caFile: String? = nil) throws {
        self.loop = loop
        self.headers = headers
        guard let parsed = ServerURL(url) else { throw ServeError("not a ws:// or wss:// URL: \(url)") }
        let protocols = UnsafeMutablePointer<lws_protocols>.allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)  // the second, all zero, ends the list
        protocols[0].name = UnsafePointer(cStrings.make("supervisor-client"))
        protocols[0].callback = webSocketClientCallback
        protocols[0].rx_buffer_size = 64 * 1024
        self.protocols = protocols
        let loops = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 1)
        loops.initialize(to: UnsafeMutableRawPointer(loop.raw))
        foreignLoops = loops

        lws_set_log_level(0, nil)
        var info = lws_context_creation_info()
        info.port = -1  // CONTEXT_PORT_NO_LISTEN: a client only
        info.protocols = UnsafePointer(protocols)
        info.options = sv_lws_option_libuv() | (parsed.tls ? sv_lws_option_ssl_global_init() : 0)
        info.foreign_loops = loops
        info.user = Unmanaged.passUnretained(self).toOpaque()
        if let caFile { info.client_ssl_ca_filepath = UnsafePointer(cStrings.make(caFile)) }
        guard let context = lws_create_context(&info) else { throw ServeError("cannot start a WebSocket client") }
        self.context = context

        var connect = lws_client_connect_info()
        connect.context = context
        connect.address = UnsafePointer(cStrings.make(parsed.host))
        connect.port = Int32(parsed.port)
        connect.path = UnsafePointer(cStrings.make(parsed.path))
        connect.host = connect.address
        connect.origin = nil  // a program, not a page: no Origin to check
        connect.protocol = nil
        connect.ietf_version_or_minus_one = -1
        if parsed.tls {
            connect.ssl_connection = Int32(LCCSCF_USE_SSL.rawValue)
        }
        if lws_client_connect_via_info(&connect) == nil { throw ServeError("cannot connect to \(parsed.host):\(parsed.port)") }
    }

    public func send(text: String) { socket?.send(text: text) }

    public func close() {
        guard let context else { return }
        self.context = nil
        end(nil)  // first: what libwebsockets reports while closing is not news
        socket?.isOpen = false
        lws_context_destroy(context)
        for _ in 0..<8 { loop.runOnce(wait: false) }
    }

    private func end(_ reason: String?) {
        guard !closed else { return }
        closed = true
        onClose?(reason)
    }

    deinit {
        protocols?.deallocate()
        foreignLoops?.deallocate()
    }

    fileprivate func callback(_ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        switch reason {
        case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
            guard let input else { return 0 }
            let cursor = input.assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
            guard let start = cursor.pointee else { return 0 }
            let end = start + length
            for (name, value) in headers {
                if lws_add_http_header_by_name(wsi, name.lowercased() + ":", value, Int32(value.utf8.count), cursor, end) != 0 { return -1 }
            }
            return 0
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            socket = WebSocket(id: 1, wsi: wsi)
            onOpen?()
            return 0
        case LWS_CALLBACK_CLIENT_RECEIVE:
            guard let socket else { return -1 }
            if let input, length > 0 { socket.fragments += UnsafeRawBufferPointer(start: input, count: length) }
            if lws_is_final_fragment(wsi) != 0 && lws_remaining_packet_payload(wsi) == 0 {
                let message = socket.fragments
                socket.fragments = []
                onMessage?(message, lws_frame_is_binary(wsi) != 0)
            }
            return 0
        case LWS_CALLBACK_CLIENT_WRITEABLE:
            return socket?.writeQueued() == false ? -1 : 0
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            let why = input.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? "connection failed"
            end(why)
            return 0
        case LWS_CALLBACK_CLIENT_CLOSED:
            socket?.isOpen = false
            end("the server closed the connection")
            return 0
        default:
            return lws_callback_http_dummy(wsi, reason, nil, input, length)
        }
    }
}

/// `scheme://host:port/path` of a serve URL (http/https/ws/wss).
public struct ServerURL: Equatable, Sendable {
    public var tls: Bool
    public var host: String
    public var port: Int
    public var path: String

    public init?(_ text: String) {
        let schemes = ["http://": false, "ws://": false, "https://": true, "wss://": true]
        guard let (prefix, tls) = schemes.first(where: { text.hasPrefix($0.key) }) else { return nil }
        self.tls = tls
        var rest = Substring(text.dropFirst(prefix.count))
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash]
        rest = rest[slash...]
        path = rest.isEmpty ? "/" : String(rest)
        port = tls ? 443 : 80
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            authority = authority[authority.index(after: close)...]
            if authority.hasPrefix(":") { guard let p = Int(authority.dropFirst()) else { return nil }; port = p }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = p
        } else {
            host = String(authority)
        }
        if host.isEmpty { return nil }
    }
}

private func webSocketClientCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                                     _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let owner = lws_context_user(context) else {
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }
    return Unmanaged<WebSocketClient>.fromOpaque(owner).takeUnretainedValue().callback(wsi, reason, input, length)
}
