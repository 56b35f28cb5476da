import AgentProtocol

/// What the API sees of an HTTP request (or of a WebSocket upgrade request): only what routing,
/// authentication and the handlers need. Built by `WebServer` from libwebsockets' parsed headers.
public struct WebRequest: Sendable {
    public var method: String
    /// The path without the query, percent-decoding left to the router (names are plain ASCII).
    public var path: String
    public var query: [String: String]
    public var authorization: String?
    public var cookie: String?
    public var origin: String?
    public var host: String?
    public var body: [UInt8]

    public init(method: String, path: String, query: [String: String] = [:], authorization: String? = nil,
                cookie: String? = nil, origin: String? = nil, host: String? = nil, body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.authorization = authorization
        self.cookie = cookie
        self.origin = origin
        self.host = host
        self.body = body
    }
}

/// A whole HTTP response; bodies are small (API JSON, a page, a bounded log range).
public struct WebResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var headers: [Header]
    public var body: [UInt8]

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }

    public init(status: Int, contentType: String = "application/json", headers: [Header] = [], body: [UInt8] = []) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    /// A JSON body from already-encoded JSON text.
    public static func json(_ status: Int = 200, _ text: String, headers: [Header] = []) -> WebResponse {
        WebResponse(status: status, contentType: "application/json", headers: headers, body: Array(text.utf8))
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 303: return "See Other"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 413: return "Payload Too Large"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }

    /// An error as `{"error": "..."}`: the one shape every refusal has.
    public static func error(_ status: Int, _ message: String, headers: [Header] = []) -> WebResponse {
        .json(status, OrderedJSON.object([("error", .string(message))]).serialized(), headers: headers)
    }
}

/// A JSON string literal.
func jsonQuote(_ text: String) -> String { OrderedJSON.string(text).serialized() }
