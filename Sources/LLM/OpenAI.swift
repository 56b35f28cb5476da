// OpenAI Chat Completions and legacy Completions: request encoders and SSE
// stream decoders. Also used for OpenAI-compatible servers (llama.cpp,
// llama-cpp-python, Ollama, vLLM).

public struct OpenAIChatEncoder: Sendable {
    public enum MaxTokensField: Sendable { case maxTokens, maxCompletionTokens }

    /// nil: `max_completion_tokens` for reasoning models (o1/o3/o4/gpt-5…), else `max_tokens`.
    public var maxTokensField: MaxTokensField?
    /// Prefix put before the content of a tool result with isError (OpenAI has no error flag).
    public var toolErrorPrefix = "Error: "

    public init(maxTokensField: MaxTokensField? = nil) {
        self.maxTokensField = maxTokensField
    }

    static func isReasoningModel(_ model: String) -> Bool {
        let m = model.lowercased()
        return ["o1", "o3", "o4", "gpt-5"].contains { m == $0 || m.hasPrefix($0 + "-") }
    }

    public func messages(_ r: ChatRequest) -> [JSONValue] {
        var out: [JSONValue] = []
        if let s = r.system, !s.isEmpty { out.append(["role": "system", "content": .string(s)]) }
        for m in r.messages {
            switch m.role {
            case .user:
                // Tool results must directly follow the assistant's tool_calls message.
                var texts: [String] = []
                for b in m.content {
                    switch b {
                    case .toolResult(let id, let content, let isError):
                        out.append([
                            "role": "tool", "tool_call_id": .string(id),
                            "content": .string(isError ? toolErrorPrefix + content : content),
                        ])
                    case .text(let t): texts.append(t)
                    case .toolUse: break  // not valid in a user message
                    }
                }
                if !texts.isEmpty { out.append(["role": "user", "content": .string(texts.joined(separator: "\n"))]) }
            case .assistant:
                let text = m.text
                var o: [String: JSONValue] = ["role": "assistant"]
                let calls: [JSONValue] = m.toolUses.map {
                    [
                        "id": .string($0.id), "type": "function",
                        "function": ["name": .string($0.name), "arguments": .string($0.input.serialized())],
                    ]
                }
                o["content"] = text.isEmpty && !calls.isEmpty ? .null : .string(text)
                if !calls.isEmpty { o["tool_calls"] = .array(calls) }
                out.append(.object(o))
            }
        }
        return out
    }

    public func body(_ r: ChatRequest) -> JSONValue {
        var o: [String: JSONValue] = ["model": .string(r.model), "messages": .array(messages(r))]
        let field = maxTokensField ?? (Self.isReasoningModel(r.model) ? .maxCompletionTokens : .maxTokens)
        o[field == .maxTokens ? "max_tokens" : "max_completion_tokens"] = .number(Double(r.maxTokens))
        if !r.tools.isEmpty {
            o["tools"] = .array(r.tools.map {
                [
                    "type": "function",
                    "function": [
                        "name": .string($0.name), "description": .string($0.description), "parameters": $0.inputSchema,
                    ],
                ]
            })
        }
        if let t = r.temperature { o["temperature"] = .number(t) }
        if !r.stopSequences.isEmpty { o["stop"] = .array(r.stopSequences.map { .string($0) }) }
        if r.stream {
            o["stream"] = true
            o["stream_options"] = ["include_usage": true]
        }
        return .object(o)
    }

    public func encode(_ r: ChatRequest, apiKey: String?) -> HTTPRequestSpec {
        HTTPRequestSpec(method: "POST", path: "/v1/chat/completions",
                        headers: openAIHeaders(apiKey: apiKey, stream: r.stream), body: body(r).serializedBytes())
    }
}

func openAIHeaders(apiKey: String?, stream: Bool) -> [(String, String)] {
    var h: [(String, String)] = []
    if let k = apiKey, !k.isEmpty { h.append(("Authorization", "Bearer " + k)) }
    h.append(("content-type", "application/json"))
    if stream { h.append(("accept", "text/event-stream")) }
    return h
}

/// Legacy `/v1/completions`: the conversation is flattened into one prompt.
///
/// Prompt layout (defaults):
/// ```
/// <system>\n\n
/// User: <text>\n\n
/// Assistant: <text>\n\n
/// User: <text>\n\n
/// Assistant:
/// ```
/// Tool calls are rendered as `[tool call NAME {json}]`, tool results as
/// `[tool result for ID]: content` (`[tool error for ID]` when isError).
/// Tool definitions are not sent (such models have no tool protocol).
/// The stop sequence "\nUser:" is added so the model does not speak for the user.
public struct OpenAICompletionsEncoder: Sendable {
    public var userPrefix = "User: "
    public var assistantPrefix = "Assistant: "
    public var separator = "\n\n"
    /// Send `stream_options.include_usage` (some older servers reject unknown fields).
    public var includeUsage = true

    public init() {}

    public func prompt(_ r: ChatRequest) -> String {
        var parts: [String] = []
        if let s = r.system, !s.isEmpty { parts.append(s) }
        for m in r.messages {
            var lines: [String] = []
            for b in m.content {
                switch b {
                case .text(let t): lines.append(t)
                case .toolUse(_, let name, let input): lines.append("[tool call \(name) \(input.serialized())]")
                case .toolResult(let id, let content, let isError):
                    lines.append("[tool \(isError ? "error" : "result") for \(id)]: \(content)")
                }
            }
            parts.append((m.role == .user ? userPrefix : assistantPrefix) + lines.joined(separator: "\n"))
        }
        var p = parts.joined(separator: separator)
        if !p.isEmpty { p += separator }
        // No trailing space: tokenizers handle " word" better than "Assistant: " + "word".
        var a = assistantPrefix
        while a.hasSuffix(" ") { a.removeLast() }
        return p + a
    }

    public func body(_ r: ChatRequest) -> JSONValue {
        var o: [String: JSONValue] = [
            "model": .string(r.model), "prompt": .string(prompt(r)), "max_tokens": .number(Double(r.maxTokens)),
        ]
        if let t = r.temperature { o["temperature"] = .number(t) }
        var stops = r.stopSequences
        let userStop = "\n" + userPrefix.trimmingTrailingSpaces()
        if !stops.contains(userStop) { stops.append(userStop) }
        o["stop"] = .array(stops.map { .string($0) })
        if r.stream {
            o["stream"] = true
            if includeUsage { o["stream_options"] = ["include_usage": true] }
        }
        return .object(o)
    }

    public func encode(_ r: ChatRequest, apiKey: String?) -> HTTPRequestSpec {
        HTTPRequestSpec(method: "POST", path: "/v1/completions",
                        headers: openAIHeaders(apiKey: apiKey, stream: r.stream), body: body(r).serializedBytes())
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}

/// Shared handling of OpenAI-style chunks (`[DONE]`, error objects, usage, finish_reason).
struct OpenAIStreamCore {
    let provider: String
    var started = false
    var finishReason: StopReason?
    var done = false
    var failed = false

    func err(_ kind: ProviderError.Kind, _ msg: String) -> StreamEvent {
        .error(ProviderError(provider: provider, kind: kind, message: msg))
    }

    /// Parses a chunk; returns nil plus events when the caller should stop handling it.
    mutating func begin(_ e: SSEEvent) -> (JSONValue?, [StreamEvent]) {
        if done || failed { return (nil, []) }
        let data = e.data.trimmingTrailingSpaces()
        if data == "[DONE]" {
            done = true
            if finishReason == nil {
                failed = true
                return (nil, [err(.truncated, "stream ended ([DONE]) without a finish_reason")])
            }
            return (nil, [.stop(reason: finishReason!)])
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(e.data)
        } catch {
            failed = true
            return (nil, [err(.malformedJSON, "malformed JSON in stream chunk (\(error)): \(e.data.truncated(200))")])
        }
        guard case .object = json else {
            failed = true
            return (nil, [err(.malformedJSON, "stream chunk is not a JSON object: \(e.data.truncated(200))")])
        }
        if let errObj = json["error"], !errObj.isNull {
            failed = true
            let msg = errObj["message"]?.stringValue ?? errObj.stringValue ?? errObj.serialized()
            let type = errObj["type"]?.stringValue ?? errObj["code"]?.stringValue ?? "error"
            return (nil, [.error(ProviderError(provider: provider, kind: .api(type: type), message: msg))])
        }
        if e.event == "error" {
            failed = true
            return (nil, [err(.api(type: "error"), e.data.truncated(500))])
        }
        var out: [StreamEvent] = []
        if !started {
            started = true
            out.append(.messageStart(id: json["id"]?.stringValue ?? "", model: json["model"]?.stringValue ?? ""))
        }
        return (json, out)
    }

    func usage(_ json: JSONValue) -> [StreamEvent] {
        guard let u = json["usage"], case .object = u else { return [] }
        let prompt = u["prompt_tokens"]?.intValue ?? 0
        let cached = u["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? 0
        return [.usage(Usage(input: max(0, prompt - cached), output: u["completion_tokens"]?.intValue ?? 0,
                             cacheRead: cached, cacheWrite: 0))]
    }

    mutating func finish() -> [StreamEvent] {
        if done || failed { return [] }
        if let r = finishReason {
            // Some compatible servers close the stream without "data: [DONE]".
            done = true
            return [.stop(reason: r)]
        }
        failed = true
        return [err(.truncated, "stream ended before a finish_reason")]
    }
}

public struct OpenAIChatStreamDecoder: StreamEventDecoder, Sendable {
    public var provider: String { core.provider }
    private var core: OpenAIStreamCore
    /// Tool call indices started, in order of appearance.
    private var openCalls: [Int] = []

    public init(provider: String = "openai") {
        core = OpenAIStreamCore(provider: provider)
    }

    public mutating func decode(_ e: SSEEvent) -> [StreamEvent] {
        let (j, pre) = core.begin(e)
        guard let json = j else { return pre }
        var out = pre
        if let choice = json["choices"]?[0] {
            let delta = choice["delta"]
            if let t = delta?["content"]?.stringValue, !t.isEmpty { out.append(.textDelta(t)) }
            if let calls = delta?["tool_calls"]?.arrayValue {
                for (pos, call) in calls.enumerated() {
                    // Some servers omit "index" when they send each call whole.
                    let index = call["index"]?.intValue ?? (openCalls.count > pos && call["id"] == nil ? openCalls[pos] : pos)
                    let fn = call["function"]
                    if !openCalls.contains(index) {
                        guard let name = fn?["name"]?.stringValue, !name.isEmpty else {
                            core.failed = true
                            out.append(core.err(.unexpectedEvent, "tool call \(index) started without a function name"))
                            return out
                        }
                        let id = call["id"]?.stringValue ?? "call_\(index)"
                        openCalls.append(index)
                        out.append(.toolCallStart(index: index, id: id, name: name))
                    }
                    if let a = fn?["arguments"]?.stringValue, !a.isEmpty {
                        out.append(.toolCallArgumentsDelta(index: index, a))
                    } else if let a = fn?["arguments"], case .object = a {
                        out.append(.toolCallArgumentsDelta(index: index, a.serialized()))  // Ollama style
                    }
                }
            }
            if let r = choice["finish_reason"]?.stringValue {
                core.finishReason = StopReason(openAI: r)
                out += openCalls.map { .toolCallEnd(index: $0) }
                openCalls = []
            }
        }
        out += core.usage(json)
        return out
    }

    public mutating func finish() -> [StreamEvent] {
        openCalls = []  // closed at finish_reason; without one the stream is truncated anyway
        return core.finish()
    }
}

public struct OpenAICompletionsStreamDecoder: StreamEventDecoder, Sendable {
    public var provider: String { core.provider }
    private var core: OpenAIStreamCore

    public init(provider: String = "openai-completions") {
        core = OpenAIStreamCore(provider: provider)
    }

    public mutating func decode(_ e: SSEEvent) -> [StreamEvent] {
        let (j, pre) = core.begin(e)
        guard let json = j else { return pre }
        var out = pre
        if let choice = json["choices"]?[0] {
            if let t = choice["text"]?.stringValue, !t.isEmpty { out.append(.textDelta(t)) }
            if let r = choice["finish_reason"]?.stringValue { core.finishReason = StopReason(openAI: r) }
        }
        out += core.usage(json)
        return out
    }

    public mutating func finish() -> [StreamEvent] { core.finish() }
}
