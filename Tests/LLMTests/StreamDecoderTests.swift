import XCTest
import Foundation
@testable import LLM

/// Runs `body` through a StreamParser in one piece and at every split point; all must agree.
func parseAllSplits(_ body: String, api: WireAPI, file: StaticString = #filePath, line: UInt = #line) -> [StreamEvent] {
    let bytes = Array(body.utf8)
    func run(_ chunks: [[UInt8]]) -> [StreamEvent] {
        var p = StreamParser(api: api)
        var out: [StreamEvent] = []
        for c in chunks { out += p.feed(c) }
        return out + p.finish()
    }
    let whole = run([bytes])
    for i in stride(from: 0, through: bytes.count, by: 1) {
        XCTAssertEqual(run([Array(bytes[..<i]), Array(bytes[i...])]), whole, "split at \(i)", file: file, line: line)
    }
    return whole
}

func assemble(_ events: [StreamEvent], provider: String) -> Result<ChatResponse, ProviderError> {
    var a = Assembler(provider: provider)
    a.apply(events)
    return a.result()
}

// Real wire format (Anthropic streaming docs, tool use example), including a
// ping, an empty first input_json_delta and cache usage in message_start.
let anthropicToolStream = """
event: message_start
data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":100,"cache_read_input_tokens":2048,"output_tokens":2},"content":[],"stop_reason":null}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", let's check the weather for San Francisco, CA:"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \\"San Francisco, CA\\""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":", \\"unit\\": \\"fahrenheit\\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}


"""

let openAIToolStream = """
data: {"id":"chatcmpl-B9xYz","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-B9xYz","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-B9xYz","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"location"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-B9xYz","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\":\\"Paris"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-B9xYz","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-B9xYz","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2nd","type":"function","function":{"name":"get_time","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-B9xYz","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\\"tz\\": \\"CET\\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-B9xYz","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}

data: {"id":"chatcmpl-B9xYz","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[],"usage":{"prompt_tokens":85,"completion_tokens":40,"total_tokens":125,"prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}

data: [DONE]


"""

final class AnthropicStreamTests: XCTestCase {
    func testToolUseStream() throws {
        let ev = parseAllSplits(anthropicToolStream, api: .anthropicMessages)
        XCTAssertEqual(ev, [
            .messageStart(id: "msg_014p7gG3wDgGV9EUtLvnow3U", model: "claude-sonnet-4-20250514"),
            .usage(Usage(input: 472, output: 2, cacheRead: 2048, cacheWrite: 100)),
            .textDelta("Okay"),
            .textDelta(", let's check the weather for San Francisco, CA:"),
            .toolCallStart(index: 1, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather"),
            .toolCallArgumentsDelta(index: 1, "{\"location\":"),
            .toolCallArgumentsDelta(index: 1, " \"San Francisco, CA\""),
            .toolCallArgumentsDelta(index: 1, ", \"unit\": \"fahrenheit\"}"),
            .toolCallEnd(index: 1),
            .usage(Usage(input: 472, output: 89, cacheRead: 2048, cacheWrite: 100)),
            .stop(reason: .toolUse),
        ])
        let r = try assemble(ev, provider: "anthropic").get()
        XCTAssertEqual(r.message, Message(role: .assistant, content: [
            .text("Okay, let's check the weather for San Francisco, CA:"),
            .toolUse(id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather",
                     input: ["location": "San Francisco, CA", "unit": "fahrenheit"]),
        ]))
        XCTAssertEqual(r.stopReason, .toolUse)
        XCTAssertEqual(r.usage, Usage(input: 472, output: 89, cacheRead: 2048, cacheWrite: 100))
        XCTAssertEqual(r.id, "msg_014p7gG3wDgGV9EUtLvnow3U")
    }

    func testMidStreamErrorEvent() {
        let s = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-3-5-haiku-20241022","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}

        event: error
        data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}


        """
        let ev = parseAllSplits(s, api: .anthropicMessages)
        let err = ProviderError(provider: "anthropic", kind: .api(type: "overloaded_error"), message: "Overloaded")
        XCTAssertEqual(ev.last, .error(err))
        XCTAssertEqual(ev.filter { if case .error = $0 { return true } else { return false } }.count, 1,
                       "no second 'truncated' error after the error event")
        var a = Assembler(provider: "anthropic")
        a.apply(ev)
        XCTAssertTrue(a.streamedAnyByte)
        XCTAssertEqual(a.result(), .failure(err))
        XCTAssertEqual(err.description, "anthropic: overloaded_error: Overloaded")
    }

    func testUnknownEventsAndThinkingBlocksIgnored() throws {
        let s = """
        event: message_start
        data: {"type":"message_start","message":{"id":"m","model":"claude-sonnet-4","usage":{"input_tokens":1,"output_tokens":1}}}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm"}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}

        event: brand_new_event
        data: {"type":"brand_new_event","whatever":1}

        event: content_block_start
        data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":"Hi"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":1}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}

        event: message_stop
        data: {"type":"message_stop"}


        """
        let ev = parseAllSplits(s, api: .anthropicMessages)
        let r = try assemble(ev, provider: "anthropic").get()
        XCTAssertEqual(r.message, .assistant("Hi"))
        XCTAssertEqual(r.stopReason, .endTurn)
        XCTAssertEqual(r.usage.output, 5)
    }

    func testMalformedJSONIsAClearError() {
        let s = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\n\n"
        let ev = parseAllSplits(s, api: .anthropicMessages)
        guard case .error(let e)? = ev.first else { return XCTFail("\(ev)") }
        XCTAssertEqual(e.kind, .malformedJSON)
        XCTAssertEqual(e.provider, "anthropic")
        XCTAssertTrue(e.description.hasPrefix("anthropic: malformed JSON in 'content_block_delta' event"), e.description)
        XCTAssertEqual(ev.count, 1)
    }

    func testTruncatedStream() {
        let cut = String(anthropicToolStream.prefix(upTo: anthropicToolStream.range(of: "event: message_delta")!.lowerBound))
        let ev = parseAllSplits(cut, api: .anthropicMessages)
        guard case .error(let e)? = ev.last else { return XCTFail() }
        XCTAssertEqual(e.kind, .truncated)
        XCTAssertTrue(e.message.contains("message_stop"))
    }

    func testDeltaForWrongBlockIsError() {
        let s = """
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

        data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}}


        """
        let ev = parseAllSplits(s, api: .anthropicMessages)
        guard case .error(let e)? = ev.last else { return XCTFail("\(ev)") }
        XCTAssertEqual(e.kind, .unexpectedEvent)
    }

    func testBodyThatIsNotSSE() {
        let body = #"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#
        let ev = parseAllSplits(body, api: .anthropicMessages)
        XCTAssertEqual(ev.count, 1)
        guard case .error(let e)? = ev.first else { return XCTFail() }
        XCTAssertEqual(e.kind, .notEventStream)
        XCTAssertEqual(e.description,
                       "anthropic: response body is not an event stream: invalid_request_error: max_tokens: Field required")
        let html = parseAllSplits("<html><body>502 Bad Gateway</body></html>", api: .openAIChat)
        guard case .error(let e2)? = html.first else { return XCTFail() }
        XCTAssertTrue(e2.description.hasPrefix("openai: response body is not an event stream: <html>"), e2.description)
    }
}

final class OpenAIStreamTests: XCTestCase {
    func testToolCallFragmentsAndUsageChunk() throws {
        let ev = parseAllSplits(openAIToolStream, api: .openAIChat)
        XCTAssertEqual(ev, [
            .messageStart(id: "chatcmpl-B9xYz", model: "gpt-4o-mini-2024-07-18"),
            .toolCallStart(index: 0, id: "call_DdmO9pD3xa9XTPNJ32zg2hcA", name: "get_weather"),
            .toolCallArgumentsDelta(index: 0, "{\""),
            .toolCallArgumentsDelta(index: 0, "location"),
            .toolCallArgumentsDelta(index: 0, "\":\"Paris"),
            .toolCallArgumentsDelta(index: 0, "\"}"),
            .toolCallStart(index: 1, id: "call_2nd", name: "get_time"),
            .toolCallArgumentsDelta(index: 1, "{\"tz\": \"CET\"}"),
            .toolCallEnd(index: 0),
            .toolCallEnd(index: 1),
            .usage(Usage(input: 21, output: 40, cacheRead: 64, cacheWrite: 0)),
            .stop(reason: .toolUse),
        ])
        let r = try assemble(ev, provider: "openai").get()
        XCTAssertEqual(r.message.content, [
            .toolUse(id: "call_DdmO9pD3xa9XTPNJ32zg2hcA", name: "get_weather", input: ["location": "Paris"]),
            .toolUse(id: "call_2nd", name: "get_time", input: ["tz": "CET"]),
        ])
        XCTAssertEqual(r.usage.totalInput, 85)
    }

    func testTextStream() throws {
        let s = """
        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" wörld"},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}],"usage":null}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}

        data: [DONE]


        """
        let ev = parseAllSplits(s, api: .openAIChat)
        let r = try assemble(ev, provider: "openai").get()
        XCTAssertEqual(r.message, .assistant("Hello wörld"))
        XCTAssertEqual(r.stopReason, .maxTokens)
        XCTAssertEqual(r.usage, Usage(input: 9, output: 2))
    }

    func testMidStreamErrorObject() {
        let s = """
        data: {"id":"c","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}

        data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}


        """
        let ev = parseAllSplits(s, api: .openAIChat)
        XCTAssertEqual(ev.last, .error(ProviderError(provider: "openai", kind: .api(type: "server_error"),
                                                     message: "The server had an error while processing your request.")))
    }

    func testDoneWithoutFinishReasonIsTruncated() {
        let s = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n"
        guard case .error(let e)? = parseAllSplits(s, api: .openAIChat).last else { return XCTFail() }
        XCTAssertEqual(e.kind, .truncated)
    }

    func testMissingDoneAfterFinishReasonIsTolerated() throws {
        let s = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n"
        let r = try assemble(parseAllSplits(s, api: .openAIChat), provider: "openai").get()
        XCTAssertEqual(r.message, .assistant("Hi"))
        XCTAssertEqual(r.stopReason, .endTurn)
    }

    func testMalformedChunk() {
        let ev = parseAllSplits("data: {\"id\": \"c\", choices}\n\n", api: .openAIChat)
        guard case .error(let e)? = ev.first else { return XCTFail() }
        XCTAssertEqual(e.kind, .malformedJSON)
        XCTAssertTrue(e.description.hasPrefix("openai: malformed JSON"), e.description)
    }

    func testInvalidToolArgumentsAtEndIsError() {
        let s = """
        data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"shell","arguments":"{\\"cmd\\": \\"ls"}}]},"finish_reason":null}]}

        data: {"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

        data: [DONE]


        """
        let r = assemble(parseAllSplits(s, api: .openAIChat), provider: "openai")
        guard case .failure(let e) = r else { return XCTFail("\(r)") }
        XCTAssertEqual(e.kind, .invalidToolArguments)
        XCTAssertTrue(e.message.contains("'shell' (call_1)"), e.message)
    }

    func testLegacyCompletionsStream() throws {
        let s = """
        data: {"id":"cmpl-1","object":"text_completion","created":1,"choices":[{"text":" One","index":0,"logprobs":null,"finish_reason":null}],"model":"llama"}

        data: {"id":"cmpl-1","object":"text_completion","created":1,"choices":[{"text":", two, three.","index":0,"logprobs":null,"finish_reason":"stop"}],"model":"llama"}

        data: {"id":"cmpl-1","object":"text_completion","created":1,"choices":[],"model":"llama","usage":{"prompt_tokens":20,"completion_tokens":6,"total_tokens":26}}

        data: [DONE]


        """
        let ev = parseAllSplits(s, api: .openAICompletions)
        XCTAssertEqual(ev.first, .messageStart(id: "cmpl-1", model: "llama"))
        let r = try assemble(ev, provider: "openai-completions").get()
        XCTAssertEqual(r.message, .assistant(" One, two, three."))
        XCTAssertEqual(r.usage, Usage(input: 20, output: 6))
        XCTAssertEqual(r.stopReason, .endTurn)
    }
}

final class NonStreamingTests: XCTestCase {
    func testAnthropicMessageObject() throws {
        let body = #"""
        {"id":"msg_01","type":"message","role":"assistant","model":"claude-3-5-haiku-20241022",
         "content":[{"type":"text","text":"Let me check."},
                    {"type":"tool_use","id":"toolu_9","name":"shell","input":{"command":"ls"}}],
         "stop_reason":"tool_use","stop_sequence":null,
         "usage":{"input_tokens":30,"output_tokens":12,"cache_read_input_tokens":5,"cache_creation_input_tokens":0}}
        """#
        var a = Assembler(provider: "anthropic")
        a.apply(WireAPI.anthropicMessages.decodeResponse(Array(body.utf8)))
        let r = try a.finish()
        XCTAssertEqual(r.message.content, [.text("Let me check."), .toolUse(id: "toolu_9", name: "shell", input: ["command": "ls"])])
        XCTAssertEqual(r.stopReason, .toolUse)
        XCTAssertEqual(r.usage, Usage(input: 30, output: 12, cacheRead: 5))
    }

    func testOpenAIChatCompletionObject() throws {
        let body = #"""
        {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4.1",
         "choices":[{"index":0,"message":{"role":"assistant","content":null,
           "tool_calls":[{"id":"call_1","type":"function","function":{"name":"shell","arguments":"{\"command\":\"pwd\"}"}}]},
           "finish_reason":"tool_calls"}],
         "usage":{"prompt_tokens":50,"completion_tokens":7,"total_tokens":57,"prompt_tokens_details":{"cached_tokens":0}}}
        """#
        var a = Assembler(provider: "openai")
        a.apply(WireAPI.openAIChat.decodeResponse(Array(body.utf8)))
        let r = try a.finish()
        XCTAssertEqual(r.message.content, [.toolUse(id: "call_1", name: "shell", input: ["command": "pwd"])])
        XCTAssertEqual(r.usage, Usage(input: 50, output: 7))
    }

    func testGarbage() {
        guard case .error(let e)? = WireAPI.openAIChat.decodeResponse(Array("nope".utf8)).first else { return XCTFail() }
        XCTAssertEqual(e.kind, .malformedJSON)
    }
}
