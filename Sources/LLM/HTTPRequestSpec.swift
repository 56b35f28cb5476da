// What the transport has to send. Built by the encoders; contains the API key
// only in a header, so printing it goes through `redactedHeaders()`.

public struct HTTPRequestSpec: Equatable, Sendable, CustomStringConvertible {
    public var method: String
    /// Absolute path such as "/v1/messages"; join with a base URL via `url(baseURL:)`.
    public var path: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(method: String, path: String, headers: [(String, String)], body: [UInt8]) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// Header names (lowercase) whose values are secrets.
    public static let secretHeaderNames: Set<String> = [
        "x-api-key", "authorization", "proxy-authorization", "api-key", "x-goog-api-key", "cookie",
    ]

    /// The headers with secret values replaced by "[REDACTED]", for debug logs.
    public func redactedHeaders() -> [(String, String)] {
        headers.map { name, value in
            Self.secretHeaderNames.contains(name.lowercased()) ? (name, "[REDACTED]") : (name, value)
        }
    }

    /// First value of a header, case-insensitive.
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.0.lowercased() == n }?.1
    }

    /// Joins a base URL such as "https://api.openai.com" or "http://localhost:8000/v1"
    /// with `path`, without doubling a "/v1" that both end and start with.
    public func url(baseURL: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        var p = path
        if base.hasSuffix("/v1"), p.hasPrefix("/v1/") { p.removeFirst(3) }
        return base + p
    }

    /// Method, path and redacted headers (never the key), plus the body size.
    public var description: String {
        let hs = redactedHeaders().map { "\($0.0): \($0.1)" }.joined(separator: ", ")
        return "\(method) \(path) [\(hs)] body \(body.count) bytes"
    }

    public static func == (a: HTTPRequestSpec, b: HTTPRequestSpec) -> Bool {
        a.method == b.method && a.path == b.path && a.body == b.body
            && a.headers.map { $0.0 } == b.headers.map { $0.0 } && a.headers.map { $0.1 } == b.headers.map { $0.1 }
    }
}

/// Which wire protocol a provider speaks.
public enum WireAPI: String, Equatable, Hashable, Sendable, CaseIterable {
    /// Anthropic Messages API, POST /v1/messages.
    case anthropicMessages = "anthropic"
    /// OpenAI (and compatible) Chat Completions, POST /v1/chat/completions.
    case openAIChat = "openai"
    /// Legacy OpenAI-style completions, POST /v1/completions (local models without chat templates).
    case openAICompletions = "openai-completions"

    /// Encodes `request` for this API. `apiKey` goes only into a header; nil or empty sends none.
    public func encode(_ request: ChatRequest, apiKey: String?) -> HTTPRequestSpec {
        switch self {
        case .anthropicMessages: return AnthropicEncoder().encode(request, apiKey: apiKey)
        case .openAIChat: return OpenAIChatEncoder().encode(request, apiKey: apiKey)
        case .openAICompletions: return OpenAICompletionsEncoder().encode(request, apiKey: apiKey)
        }
    }

    /// A fresh stream decoder for this API.
    public func makeStreamDecoder() -> any StreamEventDecoder {
        switch self {
        case .anthropicMessages: return AnthropicStreamDecoder()
        case .openAIChat: return OpenAIChatStreamDecoder()
        case .openAICompletions: return OpenAICompletionsStreamDecoder()
        }
    }

    /// Provider name used in error messages.
    public var providerName: String { rawValue }
}
