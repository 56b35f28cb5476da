// Plain values of the HTTP transport: what to send, what came back, what went wrong.

/// One HTTP request. Header values may hold secrets: nothing in this module prints them.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Seconds to establish the connection (TCP + TLS); nil: curl's default (300 s).
    public var connectTimeout: Double?
    /// Seconds without receiving any byte (head or body) before the transfer fails; nil: none.
    public var stallTimeout: Double?
    /// Seconds for the whole transfer; nil: none.
    public var totalTimeout: Double?

    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8] = [],
                connectTimeout: Double? = nil, stallTimeout: Double? = nil, totalTimeout: Double? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.totalTimeout = totalTimeout
    }
}

/// Status line and headers of the final (non-1xx) response, delivered before any body byte.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    /// "1.1", "2", ...
    public var version: String
    public var headers: [(String, String)]

    public init(status: Int, version: String, headers: [(String, String)]) {
        self.status = status
        self.version = version
        self.headers = headers
    }

    /// First value of a header, case-insensitive.
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.0.lowercased() == n }?.1
    }
}

/// What a completed transfer reports (the body went to `onBody`).
public struct HTTPTransferInfo: Sendable {
    public var head: HTTPResponseHead
    public var bodyBytes: Int
    /// Seconds from start: connection established, first byte, end (curl's timings).
    public var connectTime: Double
    public var firstByteTime: Double
    public var totalTime: Double
}

/// A transfer that did not complete. The message is curl's (it names hosts and ports, never headers).
public struct HTTPError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// DNS, refused, unreachable, TLS handshake: nothing was sent.
        case connectFailed
        case connectTimeout
        /// No byte for `stallTimeout` seconds.
        case stallTimeout
        case totalTimeout
        /// The connection broke after it was established (reset, closed early, send/receive error).
        case connectionLost
        case cancelled
        /// Anything else curl reports (bad URL, TLS verification, ...).
        case other
    }

    public var kind: Kind
    public var message: String
    /// The CURLcode, 0 for errors of our own (stall, cancel).
    public var curlCode: Int
    /// True when the response head had arrived before the failure.
    public var receivedHead: Bool

    public init(kind: Kind, message: String, curlCode: Int = 0, receivedHead: Bool = false) {
        self.kind = kind
        self.message = message
        self.curlCode = curlCode
        self.receivedHead = receivedHead
    }

    public var description: String { message }

    /// Worth retrying while nothing was used yet (the caller decides about partial bodies).
    public var isTransient: Bool {
        switch kind {
        case .connectFailed, .connectTimeout, .stallTimeout, .connectionLost: return true
        case .totalTimeout, .cancelled, .other: return false
        }
    }
}
