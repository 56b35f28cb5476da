import XCTest
@testable import LLM

let weatherTool = ToolDefinition(
    name: "get_weather", description: "Get the current weather",
    inputSchema: [
        "type": "object",
        "properties": ["location": ["type": "string"], "unit": ["type": "string", "enum": ["celsius", "fahrenheit"]]],
        "required": ["location"],
    ])

let conversation = ChatRequest(
    model: "claude-sonnet-4-20250514",
    system: "You are terse.",
    messages: [
        .user("Weather in Paris?"),
        Message(role: .assistant, content: [
            .text("Checking."),
            .toolUse(id: "toolu_1", name: "get_weather", input: ["location": "Paris"]),
        ]),
        Message(role: .user, content: [
            .toolResult(toolUseId: "toolu_1", content: "18°C, cloudy", isError: false),
            .text("And in °F?"),
        ]),
        Message(role: .assistant, content: [
            .toolUse(id: "toolu_2", name: "get_weather", input: ["location": "Paris", "unit": "fahrenheit"]),
        ]),
        Message(role: .user, content: [.toolResult(toolUseId: "toolu_2", content: "timeout", isError: true)]),
    ],
    tools: [weatherTool], maxTokens: 512, temperature: 0.2, stopSequences: ["END"])

func body(_ spec: HTTPRequestSpec) throws -> JSONValue { try JSONValue.parse(spec.body) }

final class EncoderTests: XCTestCase {
    let key = "sk-ant-secret-KEY-12345"

    func testAnthropicRequest() throws {
        let spec = AnthropicEncoder().encode(conversation, apiKey: key)
        XCTAssertEqual(spec.method, "POST")
        XCTAssertEqual(spec.path, "/v1/messages")
        XCTAssertEqual(spec.header("x-api-key"), key)
        XCTAssertEqual(spec.header("anthropic-version"), "2023-06-01")
        XCTAssertEqual(spec.header("content-type"), "application/json")
        let golden = try JSONValue.parse(#"""
        {
          "model": "claude-sonnet-4-20250514",
          "max_tokens": 512,
          "system": "You are terse.",
          "temperature": 0.2,
          "stop_sequences": ["END"],
          "stream": true,
          "tools": [{"name": "get_weather", "description": "Get the current weather",
                     "input_schema": {"type": "object",
                                      "properties": {"location": {"type": "string"},
                                                     "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                                      "required": ["location"]}}],
          "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {"role": "assistant", "content": [
              {"type": "text", "text": "Checking."},
              {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}]},
            {"role": "user", "content": [
              {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C, cloudy"},
              {"type": "text", "text": "And in °F?"}]},
            {"role": "assistant", "content": [
              {"type": "tool_use", "id": "toolu_2", "name": "get_weather",
               "input": {"location": "Paris", "unit": "fahrenheit"}}]},
            {"role": "user", "content": [
              {"type": "tool_result", "tool_use_id": "toolu_2", "content": "timeout", "is_error": true}]}
          ]
        }
        """#)
        XCTAssertEqual(try body(spec), golden)
        XCTAssertFalse(String(decoding: spec.body, as: UTF8.self).contains(key))
    }

    func testAnthropicOmitsOptionalFields() throws {
        let r = ChatRequest(model: "m", messages: [.user("hi")], maxTokens: 10, stream: false)
        let spec = AnthropicEncoder().encode(r, apiKey: nil)
        XCTAssertNil(spec.header("x-api-key"))
        XCTAssertEqual(try body(spec), try JSONValue.parse(#"""
        {"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}
        """#))
    }

    func testOpenAIChatRequest() throws {
        var r = conversation
        r.model = "gpt-4o-mini"
        let spec = OpenAIChatEncoder().encode(r, apiKey: "sk-proj-SECRET")
        XCTAssertEqual(spec.path, "/v1/chat/completions")
        XCTAssertEqual(spec.header("authorization"), "Bearer sk-proj-SECRET")
        let golden = try JSONValue.parse(#"""
        {
          "model": "gpt-4o-mini",
          "max_tokens": 512,
          "temperature": 0.2,
          "stop": ["END"],
          "stream": true,
          "stream_options": {"include_usage": true},
          "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather",
                     "parameters": {"type": "object",
                                    "properties": {"location": {"type": "string"},
                                                   "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                                    "required": ["location"]}}}],
          "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
              {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18°C, cloudy"},
            {"role": "user", "content": "And in °F?"},
            {"role": "assistant", "content": null, "tool_calls": [
              {"id": "toolu_2", "type": "function",
               "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\",\"unit\":\"fahrenheit\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: timeout"}
          ]
        }
        """#)
        XCTAssertEqual(try body(spec), golden)
        // arguments are a JSON string that itself parses back to the input.
        let args = try body(spec)["messages"]?[2]?["tool_calls"]?[0]?["function"]?["arguments"]?.stringValue
        XCTAssertEqual(try JSONValue.parse(args ?? ""), ["location": "Paris"])
    }

    func testOpenAIReasoningModelsUseMaxCompletionTokens() throws {
        let r = ChatRequest(model: "o4-mini", messages: [.user("hi")], maxTokens: 99)
        let b = try body(OpenAIChatEncoder().encode(r, apiKey: nil))
        XCTAssertEqual(b["max_completion_tokens"], 99)
        XCTAssertNil(b["max_tokens"])
        let b2 = try body(OpenAIChatEncoder(maxTokensField: .maxTokens).encode(r, apiKey: nil))
        XCTAssertEqual(b2["max_tokens"], 99)
    }

    func testLegacyCompletionsPrompt() throws {
        let r = ChatRequest(model: "local", system: "Be brief.",
                            messages: [.user("Hi"), .assistant("Hello!"), .user("Count to 3")],
                            maxTokens: 64, temperature: 0)
        let spec = OpenAICompletionsEncoder().encode(r, apiKey: nil)
        XCTAssertEqual(spec.path, "/v1/completions")
        XCTAssertNil(spec.header("authorization"))
        let b = try body(spec)
        XCTAssertEqual(b["prompt"]?.stringValue, "Be brief.\n\nUser: Hi\n\nAssistant: Hello!\n\nUser: Count to 3\n\nAssistant:")
        XCTAssertEqual(b["stop"], ["\nUser:"])
        XCTAssertEqual(b["max_tokens"], 64)
        XCTAssertEqual(b["temperature"], 0)
        XCTAssertEqual(b["stream"], true)
        let p = OpenAICompletionsEncoder().prompt(conversation)
        XCTAssertTrue(p.contains("[tool call get_weather {\"location\":\"Paris\"}]"), p)
        XCTAssertTrue(p.contains("[tool error for toolu_2]: timeout"), p)
    }

    func testRedaction() {
        let a = AnthropicEncoder().encode(conversation, apiKey: key)
        let red = a.redactedHeaders()
        XCTAssertEqual(red.first { $0.0 == "x-api-key" }?.1, "[REDACTED]")
        XCTAssertEqual(red.first { $0.0 == "anthropic-version" }?.1, "2023-06-01")
        XCTAssertFalse(red.contains { $0.1.contains(key) })
        XCTAssertFalse(a.description.contains(key))
        XCTAssertFalse("\(a)".contains(key))

        let o = OpenAIChatEncoder().encode(conversation, apiKey: "sk-proj-SECRET")
        XCTAssertEqual(o.redactedHeaders().first { $0.0 == "Authorization" }?.1, "[REDACTED]")
        XCTAssertFalse(o.description.contains("SECRET"))
        // The real headers still carry the key.
        XCTAssertEqual(o.headers.first { $0.0 == "Authorization" }?.1, "Bearer sk-proj-SECRET")
    }

    func testURLJoin() {
        let s = OpenAIChatEncoder().encode(conversation, apiKey: nil)
        XCTAssertEqual(s.url(baseURL: "https://api.openai.com"), "https://api.openai.com/v1/chat/completions")
        XCTAssertEqual(s.url(baseURL: "http://localhost:8000/v1/"), "http://localhost:8000/v1/chat/completions")
        XCTAssertEqual(s.url(baseURL: "http://proxy/openai"), "http://proxy/openai/v1/chat/completions")
    }

    func testWireAPIDispatch() throws {
        XCTAssertEqual(WireAPI.anthropicMessages.encode(conversation, apiKey: "k").path, "/v1/messages")
        XCTAssertEqual(WireAPI.openAIChat.encode(conversation, apiKey: "k").path, "/v1/chat/completions")
        XCTAssertEqual(WireAPI.openAICompletions.encode(conversation, apiKey: "k").path, "/v1/completions")
    }
}
