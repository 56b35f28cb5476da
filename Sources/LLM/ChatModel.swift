// Provider-neutral chat model: what an agent sends and what comes back.

public enum Role: String, Equatable, Hashable, Sendable {
    case user
    case assistant
}

public enum ContentBlock: Equatable, Hashable, Sendable {
    case text(String)
    /// A tool call made by the assistant; `input` is the parsed JSON arguments.
    case toolUse(id: String, name: String, input: JSONValue)
    /// The result of a tool call, sent back in a user message.
    case toolResult(toolUseId: String, content: String, isError: Bool)
}

public struct Message: Equatable, Hashable, Sendable {
    public var role: Role
    public var content: [ContentBlock]

    public init(role: Role, content: [ContentBlock]) {
        self.role = role
        self.content = content
    }

    public static func user(_ text: String) -> Message { Message(role: .user, content: [.text(text)]) }
    public static func assistant(_ text: String) -> Message { Message(role: .assistant, content: [.text(text)]) }

    /// All text blocks joined (no separator).
    public var text: String {
        content.compactMap { if case .text(let t) = $0 { return t } else { return nil } }.joined()
    }

    /// The tool calls in this message, in order.
    public var toolUses: [(id: String, name: String, input: JSONValue)] {
        content.compactMap {
            if case .toolUse(let id, let name, let input) = $0 { return (id, name, input) } else { return nil }
        }
    }
}

public struct ToolDefinition: Equatable, Hashable, Sendable {
    public var name: String
    public var description: String
    /// JSON Schema of the tool's input object.
    public var inputSchema: JSONValue

    public init(name: String, description: String, inputSchema: JSONValue) {
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
    }
}

public struct ChatRequest: Equatable, Hashable, Sendable {
    public var model: String
    public var system: String?
    public var messages: [Message]
    public var tools: [ToolDefinition]
    public var maxTokens: Int
    public var temperature: Double?
    public var stopSequences: [String]
    public var stream: Bool

    public init(
        model: String, system: String? = nil, messages: [Message], tools: [ToolDefinition] = [],
        maxTokens: Int = 1024, temperature: Double? = nil, stopSequences: [String] = [], stream: Bool = true
    ) {
        self.model = model
        self.system = system
        self.messages = messages
        self.tools = tools
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.stopSequences = stopSequences
        self.stream = stream
    }
}

/// Token counts. `input` counts input tokens that were neither read from nor
/// written to the prompt cache (Anthropic's `input_tokens` meaning; for
/// OpenAI it is `prompt_tokens - cached_tokens`), so the four fields add up
/// to everything billed and each has its own price.
public struct Usage: Equatable, Hashable, Sendable {
    public var input: Int
    public var output: Int
    public var cacheRead: Int
    public var cacheWrite: Int

    public init(input: Int = 0, output: Int = 0, cacheRead: Int = 0, cacheWrite: Int = 0) {
        self.input = input
        self.output = output
        self.cacheRead = cacheRead
        self.cacheWrite = cacheWrite
    }

    /// All input tokens including cached ones.
    public var totalInput: Int { input + cacheRead + cacheWrite }

    public static func + (a: Usage, b: Usage) -> Usage {
        Usage(input: a.input + b.input, output: a.output + b.output,
              cacheRead: a.cacheRead + b.cacheRead, cacheWrite: a.cacheWrite + b.cacheWrite)
    }

    public static func += (a: inout Usage, b: Usage) { a = a + b }
}

public enum StopReason: Equatable, Hashable, Sendable {
    case endTurn
    case toolUse
    case maxTokens
    case stopSequence
    case other(String)

    /// Wire name in Anthropic's vocabulary (also used by the script format).
    public var wireName: String {
        switch self {
        case .endTurn: return "end_turn"
        case .toolUse: return "tool_use"
        case .maxTokens: return "max_tokens"
        case .stopSequence: return "stop_sequence"
        case .other(let s): return s
        }
    }

    public init(anthropic s: String) {
        switch s {
        case "end_turn": self = .endTurn
        case "tool_use": self = .toolUse
        case "max_tokens": self = .maxTokens
        case "stop_sequence": self = .stopSequence
        default: self = .other(s)
        }
    }

    public init(openAI s: String) {
        switch s {
        case "stop": self = .endTurn
        case "tool_calls", "function_call": self = .toolUse
        case "length": self = .maxTokens
        default: self = .other(s)
        }
    }
}

/// A provider-neutral streaming event.
public enum StreamEvent: Equatable, Sendable {
    case messageStart(id: String, model: String)
    case textDelta(String)
    case toolCallStart(index: Int, id: String, name: String)
    case toolCallArgumentsDelta(index: Int, String)
    case toolCallEnd(index: Int)
    /// Cumulative usage known so far for this response (later events replace earlier ones).
    case usage(Usage)
    case stop(reason: StopReason)
    case error(ProviderError)
}

/// An error from or about a provider. Its description always names the provider
/// and never contains request headers (so never an API key).
public struct ProviderError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Hashable, Sendable {
        /// The provider reported an error (HTTP error body or in-stream error event); `type` is its error type.
        case api(type: String)
        /// An HTTP status without a usable body.
        case http(status: Int)
        case malformedJSON
        case unexpectedEvent
        case notEventStream
        /// The stream ended before the response was complete.
        case truncated
        case invalidToolArguments
        case scriptExhausted
        case scriptExpectation
        case script
    }

    /// "anthropic", "openai", "openai-completions", "script", ...
    public var provider: String
    public var kind: Kind
    public var message: String
    /// The HTTP status if the error came with one.
    public var status: Int?

    public init(provider: String, kind: Kind, message: String, status: Int? = nil) {
        self.provider = provider
        self.kind = kind
        self.message = message
        self.status = status
    }

    public var description: String {
        var s = provider + ": "
        if let status { s += "HTTP \(status): " }
        if case .api(let type) = kind, !type.isEmpty { s += type + ": " }
        return s + message
    }

    /// A copy with every occurrence of `secret` replaced by "[REDACTED]".
    public func redacting(_ secret: String) -> ProviderError {
        guard secret.count >= 4 else { return self }
        var e = self
        e.message = e.message.replacing(secret, with: "[REDACTED]")
        return e
    }
}


extension String {
    /// At most `n` characters, with "…" appended when cut.
    func truncated(_ n: Int) -> String {
        count <= n ? self : String(prefix(n)) + "…"
    }
}
