// Anthropic Messages API: request encoder and SSE stream decoder.
// Wire reference: https://docs.anthropic.com/en/api/messages-streaming

public struct AnthropicEncoder: Sendable {
    public var version = "2023-06-01"

    public init() {}

    public func body(_ r: ChatRequest) -> JSONValue {
        var o: [String: JSONValue] = [
            "model": .string(r.model),
            "max_tokens": .number(Double(r.maxTokens)),
            "messages": .array(r.messages.map(message)),
        ]
        if let s = r.system, !s.isEmpty { o["system"] = .string(s) }
        if !r.tools.isEmpty {
            o["tools"] = .array(r.tools.map {
                ["name": .string($0.name), "description": .string($0.description), "input_schema": $0.inputSchema]
            })
        }
        if let t = r.temperature { o["temperature"] = .number(t) }
        if !r.stopSequences.isEmpty { o["stop_sequences"] = .array(r.stopSequences.map { .string($0) }) }
        if r.stream { o["stream"] = true }
        return .object(o)
    }

    func message(_ m: Message) -> JSONValue {
        let blocks: [JSONValue] = m.content.map { b in
            switch b {
            case .text(let t):
                return ["type": "text", "text": .string(t)]
            case .toolUse(let id, let name, let input):
                return ["type": "tool_use", "id": .string(id), "name": .string(name), "input": input]
            case .toolResult(let id, let content, let isError):
                var o: [String: JSONValue] = [
                    "type": "tool_result", "tool_use_id": .string(id), "content": .string(content),
                ]
                if isError { o["is_error"] = true }
                return .object(o)
            }
        }
        return ["role": .string(m.role.rawValue), "content": .array(blocks)]
    }

    public func encode(_ r: ChatRequest, apiKey: String?) -> HTTPRequestSpec {
        var headers: [(String, String)] = []
        if let k = apiKey, !k.isEmpty { headers.append(("x-api-key", k)) }
        headers.append(("anthropic-version", version))
        headers.append(("content-type", "application/json"))
        if r.stream { headers.append(("accept", "text/event-stream")) }
        return HTTPRequestSpec(method: "POST", path: "/v1/messages", headers: headers, body: body(r).serializedBytes())
    }
}

public struct AnthropicStreamDecoder: StreamEventDecoder, Sendable {
    public let provider = "anthropic"

    private enum Block { case text, tool, other }
    private var blocks: [Int: Block] = [:]
    private var usage = Usage()
    private var stopReason: StopReason?
    private var finished = false
    private var failed = false

    public init() {}

    private func err(_ kind: ProviderError.Kind, _ msg: String) -> StreamEvent {
        .error(ProviderError(provider: provider, kind: kind, message: msg))
    }

    private mutating func mergeUsage(_ u: JSONValue?) -> Bool {
        guard let u, case .object = u else { return false }
        if let v = u["input_tokens"]?.intValue { usage.input = v }
        if let v = u["output_tokens"]?.intValue { usage.output = v }
        if let v = u["cache_read_input_tokens"]?.intValue { usage.cacheRead = v }
        if let v = u["cache_creation_input_tokens"]?.intValue { usage.cacheWrite = v }
        return true
    }

    public mutating func decode(_ e: SSEEvent) -> [StreamEvent] {
        if finished || failed { return [] }
        let json: JSONValue
        do {
            json = try JSONValue.parse(e.data)
        } catch {
            failed = true
            return [err(.malformedJSON, "malformed JSON in '\(e.event)' event (\(error)): \(e.data.truncated(200))")]
        }
        guard case .object = json else {
            failed = true
            return [err(.malformedJSON, "'\(e.event)' event data is not a JSON object: \(e.data.truncated(200))")]
        }
        let type = json["type"]?.stringValue ?? e.event
        func missing(_ what: String) -> [StreamEvent] {
            failed = true
            return [err(.unexpectedEvent, "'\(type)' event without \(what): \(e.data.truncated(200))")]
        }
        switch type {
        case "message_start":
            guard let m = json["message"] else { return missing("message") }
            var out: [StreamEvent] = [.messageStart(id: m["id"]?.stringValue ?? "", model: m["model"]?.stringValue ?? "")]
            if mergeUsage(m["usage"]) { out.append(.usage(usage)) }
            return out
        case "content_block_start":
            guard let index = json["index"]?.intValue, let cb = json["content_block"] else {
                return missing("index or content_block")
            }
            switch cb["type"]?.stringValue {
            case "text":
                blocks[index] = .text
                if let t = cb["text"]?.stringValue, !t.isEmpty { return [.textDelta(t)] }
                return []
            case "tool_use":
                blocks[index] = .tool
                guard let id = cb["id"]?.stringValue, let name = cb["name"]?.stringValue else {
                    return missing("tool_use id or name")
                }
                var out: [StreamEvent] = [.toolCallStart(index: index, id: id, name: name)]
                // The input normally arrives through input_json_delta; a non-empty
                // initial input (seen from some proxies) is passed on as one fragment.
                if let input = cb["input"], input != .object([:]), !input.isNull {
                    out.append(.toolCallArgumentsDelta(index: index, input.serialized()))
                }
                return out
            default:
                blocks[index] = .other  // thinking, server tools, ...: not part of the neutral model
                return []
            }
        case "content_block_delta":
            guard let index = json["index"]?.intValue, let d = json["delta"] else { return missing("index or delta") }
            switch d["type"]?.stringValue {
            case "text_delta":
                guard blocks[index] == .text else {
                    failed = true
                    return [err(.unexpectedEvent, "text_delta for content block \(index), which is not a text block")]
                }
                let t = d["text"]?.stringValue ?? ""
                return t.isEmpty ? [] : [.textDelta(t)]
            case "input_json_delta":
                guard blocks[index] == .tool else {
                    failed = true
                    return [err(.unexpectedEvent, "input_json_delta for content block \(index), which is not a tool_use block")]
                }
                let p = d["partial_json"]?.stringValue ?? ""
                return p.isEmpty ? [] : [.toolCallArgumentsDelta(index: index, p)]
            default:
                return []  // thinking_delta, signature_delta, citations_delta, future types
            }
        case "content_block_stop":
            guard let index = json["index"]?.intValue else { return missing("index") }
            return blocks[index] == .tool ? [.toolCallEnd(index: index)] : []
        case "message_delta":
            if let r = json["delta"]?["stop_reason"]?.stringValue { stopReason = StopReason(anthropic: r) }
            return mergeUsage(json["usage"]) ? [.usage(usage)] : []
        case "message_stop":
            finished = true
            return [.stop(reason: stopReason ?? .endTurn)]
        case "ping":
            return []
        case "error":
            failed = true
            let et = json["error"]?["type"]?.stringValue ?? "error"
            let msg = json["error"]?["message"]?.stringValue ?? e.data.truncated(200)
            return [.error(ProviderError(provider: provider, kind: .api(type: et), message: msg))]
        default:
            return []  // "new event types may be added": ignore unknown ones
        }
    }

    public mutating func finish() -> [StreamEvent] {
        if finished || failed { return [] }
        failed = true
        return [err(.truncated, "stream ended before message_stop")]
    }
}
