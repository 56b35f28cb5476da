import Foundation
import HTTP
import LLM
import LLMClient
import Loop
import Profile
import XCTest
import _TestSupport

final class LLMClientTests: XCTestCase {
    static let key = "sk-test-LEAKCHECK-7f3a9c1e5d42"
    var loop: EventLoop!
    var server: FakeLLMServer!
    var dir: TemporaryDirectory!
    var clients: [LLMClient] = []
    let env = ["FAKE_LLM_KEY": LLMClientTests.key]

    override func setUpWithError() throws {
        loop = EventLoop()
        server = try FakeLLMServer(loop: loop)
        dir = TemporaryDirectory(prefix: "llmc")
    }

    override func tearDown() {
        clients.forEach { $0.close() }
        clients = []
        server.stop()
        loop.close()
    }

    func settings(_ provider: LLMProvider = .anthropic, model: String = "claude-sonnet-4-5") -> LLMSettings {
        var s = LLMSettings()
        s.provider = provider
        s.model = model
        s.baseURL = server.baseURL
        s.apiKeyEnv = "FAKE_LLM_KEY"
        s.maxTokens = 256
        s.connectTimeout = 2
        s.stallTimeout = 5
        s.requestTimeout = 30
        s.maxRetries = 3
        return s
    }

    func client(_ s: LLMSettings? = nil, debugFile: String? = nil) throws -> LLMClient {
        let c = try LLMClient(settings: s ?? settings(), loop: loop, environment: env, debugFile: debugFile)
        c.retryPolicy.baseDelay = 0.01
        c.random = { 0.5 }
        clients.append(c)
        return c
    }

    struct Outcome {
        var events: [StreamEvent]
        var result: Result<LLMReply, LLMError>
        var reply: LLMReply { get throws { try result.get() } }
        var error: LLMError? { if case .failure(let e) = result { return e } else { return nil } }
        var text: String { events.compactMap { if case .textDelta(let t) = $0 { return t } else { return nil } }.joined() }
    }

    func call(_ c: LLMClient, _ prompt: String = "Say hello", tools: [ToolDefinition] = [], seconds: Double = 15) throws -> Outcome {
        var events: [StreamEvent] = []
        var result: Result<LLMReply, LLMError>?
        c.stream(request: c.makeRequest(system: "Be brief.", messages: [.user(prompt)], tools: tools),
                 onEvent: { events.append($0) }, completion: { result = $0 })
        XCTAssertNil(result, "completion never runs inside stream()")
        try runLoop(loop, until: "LLM call", seconds: seconds) { result != nil }
        return Outcome(events: events, result: result!)
    }

    // MARK: Streaming

    /// A script replays a reply in microseconds: no absurd speed (it used to say 3981705.7 tok/s).
    func testTheScriptProviderReportsNoModelSpeed() throws {
        let dir = NSTemporaryDirectory() + "llm-script-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/s.script"
        try "--- turn 1\nHello from a script, with a few more words to count.\n".write(toFile: path, atomically: true, encoding: .utf8)
        var s = settings()
        s.provider = .script
        s.script = path
        let r = try call(try client(s)).reply
        XCTAssertEqual(r.response.message.text.hasPrefix("Hello from a script"), true)
        XCTAssertNil(r.metrics.outputTokensPerSecond)
        XCTAssertNil(r.metrics.timeToFirstToken)
    }

    func testAnthropicTextStreamWithUsageCostAndTiming() throws {
        var reply = FakeReply.text("Hello there, this answer is streamed in pieces.",
                                   usage: Usage(input: 1200, output: 48, cacheRead: 5000, cacheWrite: 300))
        reply.model = "claude-sonnet-4-5-20250929"
        server.enqueue(reply)
        let o = try call(try client())
        let r = try o.reply
        XCTAssertEqual(r.response.message.text, "Hello there, this answer is streamed in pieces.")
        XCTAssertGreaterThan(o.events.filter { if case .textDelta = $0 { return true } else { return false } }.count, 5)
        XCTAssertEqual(o.text, r.response.message.text)
        XCTAssertEqual(r.response.stopReason, .endTurn)
        XCTAssertEqual(r.metrics.usage, Usage(input: 1200, output: 48, cacheRead: 5000, cacheWrite: 300))
        let expected = (1200 * 3.0 + 48 * 15.0 + 5000 * 0.3 + 300 * 3.75) / 1_000_000
        XCTAssertEqual(r.cost ?? -1, expected, accuracy: 1e-12)
        XCTAssertEqual(r.metrics.attempts, 1)
        let ttft = try XCTUnwrap(r.metrics.timeToFirstToken)
        XCTAssertGreaterThan(ttft, 0)
        XCTAssertLessThan(ttft, r.metrics.duration)
        XCTAssertNotNil(r.metrics.outputTokensPerSecond)
        XCTAssertEqual(r.model, "claude-sonnet-4-5-20250929")

        let req = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(req.method, "POST")
        XCTAssertEqual(req.path, "/v1/messages")
        XCTAssertEqual(req.header("x-api-key"), Self.key)
        XCTAssertEqual(req.header("anthropic-version"), "2023-06-01")
        XCTAssertEqual(req.json?["model"]?.stringValue, "claude-sonnet-4-5")
        XCTAssertEqual(req.json?["max_tokens"]?.intValue, 256)
        XCTAssertEqual(req.json?["stream"], .bool(true))
        XCTAssertEqual(req.json?["system"]?.stringValue, "Be brief.")
    }

    func testOpenAIChatTextStream() throws {
        server.enqueue(.text("OpenAI says hi.", usage: Usage(input: 90, output: 6, cacheRead: 10)))
        let o = try call(try client(settings(.openai, model: "gpt-4o-mini")))
        let r = try o.reply
        XCTAssertEqual(r.response.message.text, "OpenAI says hi.")
        XCTAssertEqual(r.metrics.usage, Usage(input: 90, output: 6, cacheRead: 10))
        XCTAssertEqual(r.cost ?? -1, (90 * 0.15 + 6 * 0.6 + 10 * 0.075) / 1_000_000, accuracy: 1e-12)
        let req = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(req.path, "/v1/chat/completions")
        XCTAssertEqual(req.header("authorization"), "Bearer " + Self.key)
        XCTAssertEqual(req.json?["stream_options"]?["include_usage"], .bool(true))
    }

    func testLegacyCompletionsEndpoint() throws {
        var s = settings(.openaiCompatible, model: "local-model")
        s.endpoint = .completions
        s.baseURL = server.baseURL + "/v1"
        server.enqueue(.text("completion text"))
        let o = try call(try client(s))
        XCTAssertEqual(try o.reply.response.message.text, "completion text")
        XCTAssertEqual(server.requests.first?.path, "/v1/completions")
        XCTAssertNotNil(server.requests.first?.json?["prompt"]?.stringValue)
        XCTAssertEqual(try o.reply.provider, "openai-compatible")
    }

    func testProfilePriceOverrides() throws {
        var s = settings()
        s.prices = ["claude-sonnet-4-5": .init(input: 100, output: 1000)]
        server.enqueue(.text("priced", usage: Usage(input: 10, output: 1)))
        let r = try call(try client(s)).reply
        XCTAssertEqual(r.cost ?? -1, (10 * 100.0 + 1000) / 1_000_000, accuracy: 1e-12)
    }

    func toolReply() -> FakeReply {
        var r = FakeReply(items: [.text("Let me look."),
                                  .tool(id: "toolu_01", name: "read_file", arguments: #"{"path":"/etc/hosts","lines":[1,2,3],"all":true}"#),
                                  .tool(id: "toolu_02", name: "shell", arguments: #"{"command":"ls -la"}"#)])
        r.argumentFragments = 4
        return r
    }

    func checkToolCalls(_ o: Outcome) throws {
        let r = try o.reply
        XCTAssertEqual(r.response.stopReason, .toolUse)
        let uses = r.response.message.toolUses
        XCTAssertEqual(uses.map(\.name), ["read_file", "shell"])
        XCTAssertEqual(uses.first?.input, try JSONValue.parse(#"{"path":"/etc/hosts","lines":[1,2,3],"all":true}"#))
        XCTAssertEqual(uses.last?.input, ["command": "ls -la"])
        let fragments = o.events.filter { if case .toolCallArgumentsDelta = $0 { return true } else { return false } }
        XCTAssertGreaterThanOrEqual(fragments.count, 6, "arguments arrived in fragments")
    }

    func testAnthropicToolCallsWithArgumentFragments() throws {
        server.enqueue(toolReply())
        let tools = [ToolDefinition(name: "read_file", description: "Read", inputSchema: ["type": "object"])]
        let o = try call(try client(), tools: tools)
        try checkToolCalls(o)
        XCTAssertEqual(try o.reply.response.message.toolUses.first?.id, "toolu_01")
        XCTAssertEqual(server.requests.first?.json?["tools"]?[0]?["name"]?.stringValue, "read_file")
    }

    func testOpenAIToolCallsWithArgumentFragments() throws {
        server.enqueue(toolReply())
        try checkToolCalls(try call(try client(settings(.openai, model: "gpt-4o"))))
    }

    // MARK: Faults and retries

    func testRetryAfterIsHonouredThenSuccess() throws {
        server.enqueue(.status(429, type: "rate_limit_error", message: "rate limited", headers: [("retry-after", "1")]))
        server.enqueue(.text("after the wait"))
        let o = try call(try client())
        XCTAssertEqual(try o.reply.response.message.text, "after the wait")
        XCTAssertEqual(try o.reply.metrics.attempts, 2)
        XCTAssertEqual(server.requests.count, 2)
        let gap = server.requests[1].receivedAt - server.requests[0].receivedAt
        XCTAssertGreaterThan(gap, 0.95, "retry-after: 1 was honoured")
        XCTAssertLessThan(gap, 1.8)
    }

    func testRetryAfterMillisecondsThenSuccess() throws {
        server.enqueue(.status(529, type: "overloaded_error", message: "Overloaded", headers: [("retry-after-ms", "400")]))
        server.enqueue(.text("recovered"))
        let o = try call(try client())
        XCTAssertEqual(try o.reply.response.message.text, "recovered")
        let gap = server.requests[1].receivedAt - server.requests[0].receivedAt
        XCTAssertGreaterThan(gap, 0.38)
        XCTAssertLessThan(gap, 1.2)
    }

    func test500ThenSuccessAndOnlyTheSuccessfulAttemptsEventsAreSeen() throws {
        server.enqueue(.status(500, message: "internal"))
        server.enqueue(.status(500, message: "internal again"))
        server.enqueue(.text("third time lucky"))
        let o = try call(try client())
        XCTAssertEqual(try o.reply.metrics.attempts, 3)
        XCTAssertEqual(o.text, "third time lucky")
        XCTAssertEqual(o.events.filter { if case .messageStart = $0 { return true } else { return false } }.count, 1)
    }

    func test529OverloadedGivesUpAfterMaxAttempts() throws {
        var s = settings()
        s.maxRetries = 2
        for _ in 0..<3 { server.enqueue(.status(529, type: "overloaded_error", message: "Overloaded")) }
        let e = try XCTUnwrap(try call(try client(s)).error)
        XCTAssertEqual(e.status, 529)
        XCTAssertEqual(e.attempts, 3)
        XCTAssertEqual(server.requests.count, 3)
        XCTAssertTrue(e.description.contains("overloaded_error: Overloaded"), e.description)
        XCTAssertTrue(e.description.contains("after 3 attempts"), e.description)
    }

    func test4xxIsNotRetriedAndShowsTheProvidersMessage() throws {
        server.enqueue(.status(400, type: "invalid_request_error", message: "max_tokens: must be at most 8192"))
        server.enqueue(.text("must not be used"))
        let e = try XCTUnwrap(try call(try client()).error)
        XCTAssertEqual(e.status, 400)
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertEqual(e.kind, .provider(.api(type: "invalid_request_error")))
        XCTAssertTrue(e.description.contains("max_tokens: must be at most 8192"), e.description)
        XCTAssertTrue(e.description.hasPrefix("anthropic POST \(server.baseURL)/v1/messages: HTTP 400"), e.description)
    }

    func testResetMidStreamIsATypedErrorAndNotRetried() throws {
        var r = FakeReply.text("This answer will be cut off in the middle of streaming.")
        r.fault = .resetAfter(events: 6)
        server.enqueue(r)
        server.enqueue(.text("must not be used"))
        let o = try call(try client())
        let e = try XCTUnwrap(o.error)
        XCTAssertEqual(e.kind, .transport(.connectionLost), e.description)
        XCTAssertTrue(e.partial)
        XCTAssertEqual(e.attempts, 1)
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertFalse(o.text.isEmpty, "content had been streamed before the reset")
    }

    func testResetBeforeAnyContentIsRetried() throws {
        var r = FakeReply.text("cut before content")
        r.fault = .resetAfter(events: 2)  // message_start, ping
        server.enqueue(r)
        server.enqueue(.text("second try"))
        let o = try call(try client())
        XCTAssertEqual(try o.reply.response.message.text, "second try")
        XCTAssertEqual(o.text, "second try")
    }

    func testStallTimeout() throws {
        var s = settings()
        s.stallTimeout = 0.4
        var r = FakeReply.text("starts, then hangs for a long time")
        r.fault = .stall(afterEvents: 5, seconds: 20)
        server.enqueue(r)
        let started = EventLoop.monotonicSeconds()
        let e = try XCTUnwrap(try call(try client(s)).error)
        XCTAssertEqual(e.kind, .transport(.stallTimeout), e.description)
        XCTAssertTrue(e.partial)
        XCTAssertTrue(e.description.contains("stall timeout"), e.description)
        XCTAssertLessThan(EventLoop.monotonicSeconds() - started, 4)
        XCTAssertEqual(server.requests.count, 1)
    }

    func testMalformedJSONNamesProviderAndRequest() throws {
        var r = FakeReply.text("fine until it is not")
        r.fault = .malformedJSON(atEvent: 3)
        server.enqueue(r)
        let e = try XCTUnwrap(try call(try client()).error)
        XCTAssertEqual(e.kind, .provider(.malformedJSON))
        XCTAssertTrue(e.description.hasPrefix("anthropic POST \(server.baseURL)/v1/messages: malformed JSON"), e.description)
        XCTAssertEqual(server.requests.count, 1)
    }

    func testMalformedJSONOpenAI() throws {
        var r = FakeReply.text("openai chunk breaks")
        r.fault = .malformedJSON(atEvent: 2)
        server.enqueue(r)
        let e = try XCTUnwrap(try call(try client(settings(.openai, model: "gpt-4o"))).error)
        XCTAssertEqual(e.kind, .provider(.malformedJSON))
        XCTAssertTrue(e.description.hasPrefix("openai POST \(server.baseURL)/v1/chat/completions: malformed JSON"), e.description)
    }

    func testNonEventStreamBody() throws {
        server.enqueue(FakeReply(items: [], fault: .raw(status: 200, contentType: "text/html", body: "<html>proxy login</html>")))
        let e = try XCTUnwrap(try call(try client()).error)
        XCTAssertEqual(e.kind, .provider(.notEventStream))
        XCTAssertTrue(e.description.contains("not an event stream"), e.description)
        XCTAssertTrue(e.description.contains("POST \(server.baseURL)/v1/messages"), e.description)
    }

    func testMidStreamOverloadedErrorAfterContentIsNotRetried() throws {
        var r = FakeReply.text("partial answer before the overload")
        r.fault = .anthropicError(afterEvents: 5, type: "overloaded_error", message: "Overloaded")
        server.enqueue(r)
        server.enqueue(.text("must not be used"))
        let e = try XCTUnwrap(try call(try client()).error)
        XCTAssertEqual(e.kind, .provider(.api(type: "overloaded_error")))
        XCTAssertTrue(e.partial)
        XCTAssertEqual(server.requests.count, 1)
    }

    func testMidStreamOverloadedErrorBeforeContentIsRetried() throws {
        var r = FakeReply.text("never shown")
        r.fault = .anthropicError(afterEvents: 2, type: "overloaded_error", message: "Overloaded")
        server.enqueue(r)
        server.enqueue(.text("shown"))
        let o = try call(try client())
        XCTAssertEqual(o.text, "shown")
        XCTAssertEqual(try o.reply.metrics.attempts, 2)
    }

    func testUTF8SplitAcrossChunks() throws {
        let text = "héllo wörld — 日本語テキスト 🎉🚀 ñandú"
        var r = FakeReply.text(text)
        r.textChunk = 7
        r.fault = .splitUTF8
        server.enqueue(r)
        let o = try call(try client())
        XCTAssertEqual(try o.reply.response.message.text, text)
        XCTAssertEqual(o.text, text)
    }

    func testOneByteDrip() throws {
        var r = FakeReply(items: [.text("drip é"), .tool(id: "t1", name: "x", arguments: #"{"a":"ü"}"#)])
        r.fault = .drip
        server.enqueue(r)
        let o = try call(try client(settings(.openai, model: "gpt-4o")), seconds: 30)
        let reply = try o.reply
        XCTAssertEqual(reply.response.message.text, "drip é")
        XCTAssertEqual(reply.response.message.toolUses.first?.input, ["a": "ü"])
    }

    func testCancellationDuringStream() throws {
        var r = FakeReply.text("a long answer that will be cancelled by the caller")
        r.fault = .stall(afterEvents: 5, seconds: 20)
        server.enqueue(r)
        let c = try client()
        var result: Result<LLMReply, LLMError>?
        var handle: LLMCall!
        handle = c.stream(request: c.makeRequest(messages: [.user("hi")]), onEvent: { e in
            if case .textDelta = e { handle.cancel() }  // from inside the stream's callback
        }, completion: { result = $0 })
        try runLoop(loop, until: "cancelled") { result != nil }
        guard case .failure(let e) = result! else { return XCTFail("not cancelled") }
        XCTAssertEqual(e.kind, .cancelled)
        XCTAssertEqual(c.activeCalls, 0)
        XCTAssertEqual(c.http?.activeTransfers ?? -1, 0)
    }

    func testCancellationDuringRetryWait() throws {
        server.enqueue(.status(429, message: "wait", headers: [("retry-after", "10")]))
        let c = try client()
        var result: Result<LLMReply, LLMError>?
        let handle = c.stream(request: c.makeRequest(messages: [.user("hi")]), onEvent: { _ in }, completion: { result = $0 })
        try runLoop(loop, until: "first attempt") { server.requests.count == 1 && c.http?.activeTransfers == 0 }
        handle.cancel()
        try runLoop(loop, until: "cancelled", seconds: 2) { result != nil }
        guard case .failure(let e)? = result else { return XCTFail("not cancelled") }
        XCTAssertEqual(e.kind, .cancelled)
    }

    func testConnectFailureIsRetriedThenFailsClearly() throws {
        let closed = TCPStream(loop: loop)
        try closed.bind(host: "127.0.0.1", port: 0)
        let port = closed.localPort
        closed.close()
        var s = settings()
        s.baseURL = "http://127.0.0.1:\(port)"
        s.maxRetries = 2
        let e = try XCTUnwrap(try call(try client(s)).error)
        XCTAssertEqual(e.kind, .transport(.connectFailed), e.description)
        XCTAssertEqual(e.attempts, 3)
        XCTAssertTrue(e.description.contains("127.0.0.1:\(port)"), e.description)
        XCTAssertTrue(e.description.contains("after 3 attempts"), e.description)
    }

    // MARK: Script provider

    func testScriptProviderThroughTheSameAPI() throws {
        let path = dir.write("demo.script", """
        --- turn 1
        I'll look first.
        @tool shell {"command": "ls"}
        --- turn 2
        @expect-any README
        Done.
        @usage 120 9
        """)
        var s = LLMSettings()
        s.provider = .script
        s.script = path
        let c = try LLMClient(settings: s, loop: loop, environment: [:])
        clients.append(c)
        let first = try call(c)
        XCTAssertEqual(try first.reply.response.message.toolUses.first?.name, "shell")
        XCTAssertEqual(try first.reply.response.stopReason, .toolUse)
        XCTAssertGreaterThan(first.events.count, 3)
        let second = try call(c, "see README.md")
        XCTAssertEqual(try second.reply.response.message.text, "Done.")
        XCTAssertEqual(try second.reply.metrics.usage, Usage(input: 120, output: 9))
        XCTAssertEqual(try second.reply.cost, 0)
        let third = try call(c)
        XCTAssertEqual(third.error?.kind, .provider(.scriptExhausted))
    }

    /// `debug = true` with the script provider logs what was asked and answered, as for a real
    /// provider (it wrote an empty file).
    func testScriptProviderWritesTheDebugLog() throws {
        let path = dir.write("dbg.script", "--- turn\nhello from the script\n")
        var s = LLMSettings()
        s.provider = .script
        s.script = path
        s.model = "scripted"
        let debugPath = dir.file("script-debug.jsonl")
        let c = try client(s, debugFile: debugPath)
        XCTAssertNotNil(try call(c).result.get())
        let lines = try String(contentsOfFile: debugPath, encoding: .utf8).split(separator: "\n").map { try JSONValue.parse(String($0)) }
        XCTAssertEqual(lines.map { $0["type"]?.stringValue }, ["request", "response"])
        XCTAssertEqual(lines[0]["provider"]?.stringValue, "script")
        XCTAssertEqual(lines[0]["body"]?["model"]?.stringValue, "scripted")
        XCTAssertEqual(lines[1]["text"]?.stringValue, "hello from the script")
        XCTAssertEqual(lines[1]["stop_reason"]?.stringValue, "end_turn")
    }

    func testPingWithScriptProvider() throws {
        let path = dir.write("ping.script", "--- turn\npong\n@usage 12 1\n")
        var s = LLMSettings()
        s.provider = .script
        s.script = path
        let report = try LLMPing.run(settings: s, environment: [:]).get()
        XCTAssertEqual(report.provider, "script")
        XCTAssertEqual(report.text, "pong")
        XCTAssertEqual(report.usage, Usage(input: 12, output: 1))
        XCTAssertNil(report.baseURL)
    }

    // MARK: Credentials and secrets

    func testMissingAPIKeyIsReportedBeforeAnythingStarts() throws {
        var s = settings()
        s.apiKeyEnv = "NO_SUCH_KEY_VARIABLE"
        XCTAssertThrowsError(try LLMClient.checkCredentials(settings: s, environment: env)) { error in
            XCTAssertEqual((error as? LLMError)?.kind, .missingAPIKey(variable: "NO_SUCH_KEY_VARIABLE"))
            XCTAssertTrue("\(error)".contains("NO_SUCH_KEY_VARIABLE"))
        }
        XCTAssertThrowsError(try LLMClient(settings: s, loop: loop, environment: env))
        var d = settings()
        d.apiKeyEnv = nil
        XCTAssertThrowsError(try LLMClient.checkCredentials(settings: d, environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("ANTHROPIC_API_KEY"))
        }
        XCTAssertNoThrow(try LLMClient.checkCredentials(settings: s, environment: ["NO_SUCH_KEY_VARIABLE": "x"]))
        XCTAssertEqual(server.requests.count, 0)
    }

    func testAPIKeyNeverAppearsInErrorsEventsOrDebugDump() throws {
        let debugPath = dir.file("debug.jsonl")
        var written: [String] = []
        // A provider that echoes the key in its error message (some proxies do).
        server.enqueue(.status(401, type: "authentication_error", message: "invalid x-api-key: \(Self.key)"))
        server.enqueue(.text("fine"))
        var bad = FakeReply.text("breaks")
        bad.fault = .malformedJSON(atEvent: 3)
        server.enqueue(bad)
        server.enqueue(.status(500, message: "oops \(Self.key)"))
        server.enqueue(.status(500, message: "oops \(Self.key)"))
        for provider in [LLMProvider.anthropic, .openai] {
            var s = settings(provider, model: provider == .openai ? "gpt-4o" : "claude-sonnet-4-5")
            s.maxRetries = 1
            s.debug = true
            let c = try client(s, debugFile: debugPath)
            for _ in 0..<(provider == .anthropic ? 3 : 1) {
                let o = try call(c)
                written += o.events.map { "\($0)" }
                switch o.result {
                case .success(let r): written.append("\(r)")
                case .failure(let e): written += ["\(e)", e.message, e.request ?? "", String(reflecting: e)]
                }
            }
        }
        var s = settings()
        s.apiKeyEnv = "UNSET_VARIABLE"
        do { _ = try LLMClient(settings: s, loop: loop, environment: env) } catch { written.append("\(error)") }

        // The key did reach the server (so this test can fail), and nowhere else.
        XCTAssertTrue(server.requests.contains { $0.header("x-api-key") == Self.key })
        XCTAssertTrue(server.requests.contains { $0.header("authorization") == "Bearer \(Self.key)" })
        let dump = try String(contentsOfFile: debugPath, encoding: .utf8)
        XCTAssertTrue(dump.contains(#""type":"request""#))
        XCTAssertTrue(dump.contains(#""type":"response""#))
        XCTAssertTrue(dump.contains("[REDACTED]"))
        XCTAssertTrue(dump.contains("authentication_error"), "the provider's error is in the dump")
        XCTAssertGreaterThan(dump.split(separator: "\n").count, 6)
        for line in dump.split(separator: "\n") { XCTAssertNoThrow(try JSONValue.parse(String(line)), String(line)) }
        XCTAssertTrue(written.contains { $0.contains("invalid x-api-key: [REDACTED]") }, "the echoed key was seen and redacted")
        let everything = written.joined(separator: "\n") + "\n" + dump
        XCTAssertFalse(everything.contains(Self.key), "the API key leaked")
        XCTAssertFalse(everything.contains("LEAKCHECK"), "part of the API key leaked")
    }

    // MARK: Concurrency

    func testFiftyConcurrentStreamsOnOneLoop() throws {
        server.fallback = { request in
            let prompt = request.json?["messages"]?[0]?["content"]?[0]?["text"]?.stringValue ?? "?"
            var r = FakeReply.text("answer to \(prompt): " + String(repeating: "token ", count: 10), usage: Usage(input: 5, output: 11))
            r.textChunk = 6
            return r
        }
        let c = try client()
        var results: [Int: Result<LLMReply, LLMError>] = [:]
        var streamed: [Int: String] = [:]
        for i in 0..<50 {
            c.stream(request: c.makeRequest(messages: [.user("question \(i)")]), onEvent: { e in
                if case .textDelta(let t) = e { streamed[i, default: ""] += t }
            }, completion: { results[i] = $0 })
        }
        XCTAssertEqual(c.activeCalls, 50)
        try runLoop(loop, until: "50 streams", seconds: 30) { results.count == 50 }
        for i in 0..<50 {
            let expected = "answer to question \(i): " + String(repeating: "token ", count: 10)
            XCTAssertEqual(try results[i]!.get().response.message.text, expected)
            XCTAssertEqual(streamed[i], expected)
        }
        XCTAssertEqual(server.requests.count, 50)
    }
}
