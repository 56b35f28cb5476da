// Folds a response's StreamEvents into the final assistant message.

public struct ChatResponse: Equatable, Sendable {
    public var id: String
    public var model: String
    /// The assistant message: text and tool calls in the order they were streamed.
    public var message: Message
    public var stopReason: StopReason
    public var usage: Usage
    /// The name of the last tool call when the reply was cut off at max_tokens in the middle of
    /// its arguments: that call is not in `message` (it cannot be run), the rest of the reply is.
    public var cutToolCall: String?

    public init(id: String, model: String, message: Message, stopReason: StopReason, usage: Usage, cutToolCall: String? = nil) {
        self.id = id
        self.model = model
        self.message = message
        self.stopReason = stopReason
        self.usage = usage
        self.cutToolCall = cutToolCall
    }
}

public struct Assembler: Sendable {
    public let provider: String
    public private(set) var id = ""
    public private(set) var model = ""
    public private(set) var usage = Usage()
    public private(set) var stopReason: StopReason?
    /// The first error seen (a provider error event or a protocol violation); later events are ignored.
    public private(set) var error: ProviderError?
    /// True once any content (text or tool call) has been streamed. The transport
    /// may retry a request only while this is false.
    public private(set) var streamedAnyByte = false

    private enum Part {
        case text(String)
        case tool(index: Int, id: String, name: String, args: String, ended: Bool)
    }
    private var parts: [Part] = []
    private var toolPart: [Int: Int] = [:]  // stream index -> parts index

    public init(provider: String) {
        self.provider = provider
    }

    /// The text streamed so far (all text parts joined).
    public var text: String {
        parts.compactMap { if case .text(let t) = $0 { return t } else { return nil } }.joined()
    }

    /// True once `.stop` or `.error` was applied.
    public var isComplete: Bool { stopReason != nil || error != nil }

    private mutating func fail(_ kind: ProviderError.Kind, _ msg: String) {
        if error == nil { error = ProviderError(provider: provider, kind: kind, message: msg) }
    }

    public mutating func apply(_ event: StreamEvent) {
        if error != nil { return }
        if stopReason != nil {
            if case .usage(let u) = event { usage = u }  // tolerate late usage
            return
        }
        switch event {
        case .messageStart(let i, let m):
            id = i
            model = m
        case .textDelta(let t):
            guard !t.isEmpty else { return }
            streamedAnyByte = true
            if case .text(var prev)? = parts.last {
                // Take the string out first so appending reuses its buffer (linear, not quadratic).
                parts.removeLast()
                prev += t
                parts.append(.text(prev))
            } else {
                parts.append(.text(t))
            }
        case .toolCallStart(let index, let tid, let name):
            streamedAnyByte = true
            if toolPart[index] != nil { return fail(.unexpectedEvent, "tool call \(index) started twice") }
            toolPart[index] = parts.count
            parts.append(.tool(index: index, id: tid, name: name, args: "", ended: false))
        case .toolCallArgumentsDelta(let index, let frag):
            guard let p = toolPart[index], case .tool(let i, let tid, let name, let args, let ended) = parts[p] else {
                return fail(.unexpectedEvent, "arguments for tool call \(index), which was not started")
            }
            if ended { return fail(.unexpectedEvent, "arguments for tool call \(index) after its end") }
            streamedAnyByte = true
            parts[p] = .text("") // release the old value so the arguments' buffer is unique
            var grown = args
            grown += frag
            parts[p] = .tool(index: i, id: tid, name: name, args: grown, ended: false)
        case .toolCallEnd(let index):
            guard let p = toolPart[index], case .tool(let i, let tid, let name, let args, _) = parts[p] else {
                return fail(.unexpectedEvent, "end of tool call \(index), which was not started")
            }
            parts[p] = .tool(index: i, id: tid, name: name, args: args, ended: true)
        case .usage(let u):
            usage = u
        case .stop(let r):
            stopReason = r
        case .error(let e):
            error = e
        }
    }

    public mutating func apply<S: Sequence>(_ events: S) where S.Element == StreamEvent {
        for e in events { apply(e) }
    }

    /// The final response, or the error that ended it: a provider error, a
    /// stream without a stop, or a tool call whose arguments are not a JSON object. The one
    /// exception: when the reply stopped at max_tokens, a last tool call whose arguments do not
    /// parse was cut off by that limit; it is left out and named in `cutToolCall`.
    public func result() -> Result<ChatResponse, ProviderError> {
        if let error { return .failure(error) }
        guard let stop = stopReason else {
            return .failure(ProviderError(provider: provider, kind: .truncated, message: "response ended without a stop reason"))
        }
        var blocks: [ContentBlock] = []
        var cutToolCall: String?
        let lastTool = parts.lastIndex { if case .tool = $0 { return true } else { return false } }
        for (n, p) in parts.enumerated() {
            switch p {
            case .text(let t):
                blocks.append(.text(t))
            case .tool(_, let tid, let name, let args, _):
                let input: JSONValue
                if args.allSatisfy({ $0.isWhitespace }) {
                    input = .object([:])
                } else {
                    do {
                        input = try JSONValue.parse(args)
                    } catch {
                        if stop == .maxTokens && n == lastTool {
                            cutToolCall = name
                            continue
                        }
                        return .failure(ProviderError(
                            provider: provider, kind: .invalidToolArguments,
                            message: "tool call '\(name)' (\(tid)) has invalid JSON arguments (\(error)): \(args.truncated(200))"))
                    }
                }
                guard case .object = input else {
                    return .failure(ProviderError(
                        provider: provider, kind: .invalidToolArguments,
                        message: "tool call '\(name)' (\(tid)) arguments are not a JSON object: \(args.truncated(200))"))
                }
                blocks.append(.toolUse(id: tid, name: name, input: input))
            }
        }
        return .success(ChatResponse(id: id, model: model, message: Message(role: .assistant, content: blocks),
                                     stopReason: stop, usage: usage, cutToolCall: cutToolCall))
    }

    /// `result()` as a throwing call.
    public func finish() throws -> ChatResponse {
        try result().get()
    }
}
