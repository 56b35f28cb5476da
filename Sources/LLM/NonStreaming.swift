// Responses to requests sent with `stream: false`: one JSON body, turned into
// the same StreamEvents a stream would give, so the Assembler handles both.

extension WireAPI {
    /// Events for a complete (non-streamed) 2xx response body. A body that is
    /// not the expected JSON gives a single `.error`.
    public func decodeResponse(_ body: [UInt8]) -> [StreamEvent] {
        let provider = providerName
        func fail(_ kind: ProviderError.Kind, _ msg: String) -> [StreamEvent] {
            [.error(ProviderError(provider: provider, kind: kind, message: msg))]
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(body)
        } catch {
            return fail(.malformedJSON, "malformed JSON response (\(error)): \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        guard case .object = json else { return fail(.malformedJSON, "response is not a JSON object") }
        if let e = json["error"], !e.isNull {
            let (type, msg) = ProviderErrorBody.parse(body) ?? (nil, e.serialized())
            return [.error(ProviderError(provider: provider, kind: .api(type: type ?? "error"), message: msg))]
        }
        var out: [StreamEvent] = [.messageStart(id: json["id"]?.stringValue ?? "", model: json["model"]?.stringValue ?? "")]
        switch self {
        case .anthropicMessages:
            guard let content = json["content"]?.arrayValue else { return fail(.unexpectedEvent, "response has no content array") }
            for (i, b) in content.enumerated() {
                switch b["type"]?.stringValue {
                case "text":
                    if let t = b["text"]?.stringValue, !t.isEmpty { out.append(.textDelta(t)) }
                case "tool_use":
                    guard let id = b["id"]?.stringValue, let name = b["name"]?.stringValue else {
                        return fail(.unexpectedEvent, "tool_use block without id or name")
                    }
                    out.append(.toolCallStart(index: i, id: id, name: name))
                    out.append(.toolCallArgumentsDelta(index: i, (b["input"] ?? .object([:])).serialized()))
                    out.append(.toolCallEnd(index: i))
                default:
                    break
                }
            }
            let u = json["usage"]
            out.append(.usage(Usage(input: u?["input_tokens"]?.intValue ?? 0, output: u?["output_tokens"]?.intValue ?? 0,
                                    cacheRead: u?["cache_read_input_tokens"]?.intValue ?? 0,
                                    cacheWrite: u?["cache_creation_input_tokens"]?.intValue ?? 0)))
            out.append(.stop(reason: StopReason(anthropic: json["stop_reason"]?.stringValue ?? "end_turn")))
        case .openAIChat, .openAICompletions:
            guard let choice = json["choices"]?[0] else { return fail(.unexpectedEvent, "response has no choices") }
            if self == .openAICompletions {
                if let t = choice["text"]?.stringValue, !t.isEmpty { out.append(.textDelta(t)) }
            } else {
                let m = choice["message"]
                if let t = m?["content"]?.stringValue, !t.isEmpty { out.append(.textDelta(t)) }
                for (i, c) in (m?["tool_calls"]?.arrayValue ?? []).enumerated() {
                    guard let name = c["function"]?["name"]?.stringValue else {
                        return fail(.unexpectedEvent, "tool call \(i) without a function name")
                    }
                    out.append(.toolCallStart(index: i, id: c["id"]?.stringValue ?? "call_\(i)", name: name))
                    let args = c["function"]?["arguments"]
                    out.append(.toolCallArgumentsDelta(index: i, args?.stringValue ?? args?.serialized() ?? "{}"))
                    out.append(.toolCallEnd(index: i))
                }
            }
            let u = json["usage"]
            let prompt = u?["prompt_tokens"]?.intValue ?? 0
            let cached = u?["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? 0
            out.append(.usage(Usage(input: max(0, prompt - cached), output: u?["completion_tokens"]?.intValue ?? 0,
                                    cacheRead: cached)))
            out.append(.stop(reason: StopReason(openAI: choice["finish_reason"]?.stringValue ?? "stop")))
        }
        return out
    }
}
