import XCTest
@testable import LLM

final class RetryPolicyTests: XCTestCase {
    let p = RetryPolicy(maxAttempts: 4, baseDelay: 1, maxDelay: 8, maxTotal: 60)
    let now = 1_700_000_000.0

    func decide(_ status: Int?, _ headers: [(String, String)] = [], attempt: Int = 0, elapsed: Double = 0,
                streamed: Bool = false, random: Double = 0.5) -> RetryDecision {
        p.decide(status: status, headers: headers, attempt: attempt, elapsed: elapsed, streamedAnyByte: streamed,
                 random: { random }, now: now)
    }

    func testRetryableStatuses() {
        for s in [408, 409, 429, 500, 502, 503, 504, 529] {
            XCTAssertEqual(decide(s), .retry(after: 0.5), "status \(s)")
        }
        XCTAssertEqual(decide(nil), .retry(after: 0.5), "connection failure")
    }

    func testNonRetryable4xx() {
        for s in [400, 401, 403, 404, 413, 422] {
            guard case .doNotRetry(let why) = decide(s) else { return XCTFail("retried \(s)") }
            XCTAssertTrue(why.contains("HTTP \(s)"), why)
        }
        guard case .doNotRetry = decide(200) else { return XCTFail() }
    }

    func testNoRetryAfterFirstStreamedByte() {
        XCTAssertEqual(decide(529, streamed: true), .doNotRetry(reason: "part of the response was already streamed"))
        guard case .doNotRetry = decide(nil, streamed: true) else { return XCTFail() }
    }

    func testFullJitterExponentialCapped() {
        XCTAssertEqual(decide(500, attempt: 0, random: 0.999), .retry(after: 0.999))
        XCTAssertEqual(decide(500, attempt: 1, random: 0.5), .retry(after: 1))
        XCTAssertEqual(decide(500, attempt: 2, random: 0.5), .retry(after: 2))
        XCTAssertEqual(decide(500, attempt: 2, random: 0), .retry(after: 0))
        let big = RetryPolicy(maxAttempts: 100, baseDelay: 1, maxDelay: 8, maxTotal: 1e9)
        XCTAssertEqual(big.decide(status: 500, headers: [], attempt: 50, elapsed: 0, streamedAnyByte: false,
                                  random: { 1 }), .retry(after: 8))
    }

    func testMaxAttempts() {
        XCTAssertEqual(decide(500, attempt: 2), .retry(after: 2))
        guard case .doNotRetry(let why) = decide(500, attempt: 3) else { return XCTFail() }
        XCTAssertTrue(why.contains("4 attempt"), why)
    }

    func testMaxTotal() {
        XCTAssertEqual(decide(500, attempt: 1, elapsed: 58, random: 1), .retry(after: 2))
        guard case .doNotRetry(let why) = decide(500, attempt: 1, elapsed: 59.5, random: 1) else { return XCTFail() }
        XCTAssertTrue(why.contains("60 s budget"), why)
    }

    func testRetryAfterSeconds() {
        XCTAssertEqual(decide(429, [("Retry-After", "7")]), .retry(after: 7))
        // Honoured even above maxDelay, but not past the total budget.
        XCTAssertEqual(decide(429, [("retry-after", "20")]), .retry(after: 20))
        guard case .doNotRetry = decide(429, [("retry-after", "120")]) else { return XCTFail() }
    }

    func testRetryAfterMsWins() {
        XCTAssertEqual(decide(529, [("retry-after", "10"), ("retry-after-ms", "1500")]), .retry(after: 1.5))
    }

    func testRetryAfterHTTPDate() {
        // now = 2023-11-14T22:13:20Z
        XCTAssertEqual(HTTPDate.parse("Tue, 14 Nov 2023 22:13:20 GMT"), now)
        XCTAssertEqual(decide(503, [("Retry-After", "Tue, 14 Nov 2023 22:13:30 GMT")]), .retry(after: 10))
        XCTAssertEqual(decide(503, [("Retry-After", "Tuesday, 14-Nov-23 22:13:25 GMT")]), .retry(after: 5))
        XCTAssertEqual(decide(503, [("Retry-After", "Tue Nov 14 22:13:23 2023")]), .retry(after: 3))
        // A date in the past means "now".
        XCTAssertEqual(decide(503, [("Retry-After", "Tue, 14 Nov 2023 22:00:00 GMT")]), .retry(after: 0))
        // Garbage falls back to jitter.
        XCTAssertEqual(decide(503, [("Retry-After", "soon")]), .retry(after: 0.5))
        XCTAssertEqual(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777)
        XCTAssertEqual(HTTPDate.parse("Thu, 01 Jan 1970 00:00:00 GMT"), 0)
        XCTAssertEqual(HTTPDate.parse("Thu, 29 Feb 2024 12:00:00 GMT"), 1709208000)
    }

    func testShouldRetryHeader() {
        guard case .doNotRetry = decide(500, [("x-should-retry", "false")]) else { return XCTFail() }
        XCTAssertEqual(decide(400, [("X-Should-Retry", "true")]), .retry(after: 0.5))
    }

    func testErrorBodyExtraction() {
        let anthropic = #"{"type":"error","error":{"type":"invalid_request_error","message":"messages: field required"}}"#
        XCTAssertEqual(ProviderErrorBody.message(Array(anthropic.utf8)), "messages: field required")
        let openai = #"{"error":{"message":"Incorrect API key provided: sk-abc.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#
        XCTAssertEqual(ProviderErrorBody.message(Array(openai.utf8)), "Incorrect API key provided: sk-abc.")
        XCTAssertEqual(ProviderErrorBody.message(Array(#"{"error":"model not found"}"#.utf8)), "model not found")
        XCTAssertEqual(ProviderErrorBody.message(Array(#"{"detail":"Not Found"}"#.utf8)), "Not Found")
        XCTAssertNil(ProviderErrorBody.message(Array("<html>".utf8)))

        let e = ProviderErrorBody.error(provider: "openai", status: 401, body: Array(openai.utf8), apiKey: "sk-abc")
        XCTAssertEqual(e.description, "openai: HTTP 401: invalid_request_error: Incorrect API key provided: [REDACTED].")
        let e2 = ProviderErrorBody.error(provider: "anthropic", status: 502, body: Array("Bad gateway\n".utf8))
        XCTAssertEqual(e2.description, "anthropic: HTTP 502: Bad gateway")
        XCTAssertEqual(e2.kind, .http(status: 502))
    }
}

final class AssemblerTests: XCTestCase {
    func testStreamedAnyByteFlipsOnFirstContentOnly() {
        var a = Assembler(provider: "x")
        a.apply(.messageStart(id: "m", model: "mm"))
        a.apply(.usage(Usage(input: 3)))
        a.apply(.textDelta(""))
        XCTAssertFalse(a.streamedAnyByte)
        a.apply(.textDelta("h"))
        XCTAssertTrue(a.streamedAnyByte)

        var b = Assembler(provider: "x")
        b.apply(.toolCallStart(index: 0, id: "t", name: "n"))
        XCTAssertTrue(b.streamedAnyByte)
    }

    func testInterleavedTextAndTools() throws {
        var a = Assembler(provider: "x")
        a.apply([
            .messageStart(id: "m", model: "mm"),
            .textDelta("A"), .textDelta("B"),
            .toolCallStart(index: 1, id: "t1", name: "f"),
            .toolCallArgumentsDelta(index: 1, "{\"a\":"),
            .toolCallStart(index: 2, id: "t2", name: "g"),
            .toolCallArgumentsDelta(index: 1, "1}"),
            .toolCallEnd(index: 1), .toolCallEnd(index: 2),
            .textDelta("C"),
            .usage(Usage(input: 1, output: 2)),
            .stop(reason: .toolUse),
            .usage(Usage(input: 1, output: 3)),
        ])
        XCTAssertTrue(a.isComplete)
        let r = try a.finish()
        XCTAssertEqual(r.message.content, [
            .text("AB"), .toolUse(id: "t1", name: "f", input: ["a": 1]), .toolUse(id: "t2", name: "g", input: [:]),
            .text("C"),
        ])
        XCTAssertEqual(r.usage.output, 3)
        XCTAssertEqual(a.text, "ABC")
    }

    func testErrors() {
        var a = Assembler(provider: "x")
        a.apply(.toolCallArgumentsDelta(index: 5, "{}"))
        guard case .failure(let e) = a.result() else { return XCTFail() }
        XCTAssertEqual(e.kind, .unexpectedEvent)

        var b = Assembler(provider: "x")
        b.apply(.textDelta("hi"))
        guard case .failure(let e2) = b.result() else { return XCTFail() }
        XCTAssertEqual(e2.kind, .truncated)

        var c = Assembler(provider: "x")
        c.apply([.toolCallStart(index: 0, id: "t", name: "n"), .toolCallArgumentsDelta(index: 0, "[1]"),
                 .toolCallEnd(index: 0), .stop(reason: .toolUse)])
        guard case .failure(let e3) = c.result() else { return XCTFail() }
        XCTAssertEqual(e3.kind, .invalidToolArguments)
        XCTAssertThrowsError(try c.finish())
    }

    /// A reply cut off at max_tokens in the middle of its last tool call keeps its text and its
    /// complete calls and names the cut one; any other invalid arguments stay an error.
    func testToolCallCutOffAtMaxTokens() throws {
        func events(stop: StopReason, firstArgs: String = #"{"file_path": "a.txt"}"#) -> [StreamEvent] {
            [.textDelta("Writing both."),
             .toolCallStart(index: 1, id: "t1", name: "Read"), .toolCallArgumentsDelta(index: 1, firstArgs), .toolCallEnd(index: 1),
             .toolCallStart(index: 2, id: "t2", name: "Write"), .toolCallArgumentsDelta(index: 2, #"{"file_path": "b.txt", "content": "line 1\nli"#),
             .toolCallEnd(index: 2), .stop(reason: stop)]
        }
        var a = Assembler(provider: "x")
        a.apply(events(stop: .maxTokens))
        let r = try a.finish()
        XCTAssertEqual(r.cutToolCall, "Write")
        XCTAssertEqual(r.stopReason, .maxTokens)
        XCTAssertEqual(r.message.content, [.text("Writing both."), .toolUse(id: "t1", name: "Read", input: ["file_path": "a.txt"])])

        var b = Assembler(provider: "x")
        b.apply(events(stop: .toolUse))
        guard case .failure(let e) = b.result() else { return XCTFail("invalid arguments without max_tokens must fail") }
        XCTAssertEqual(e.kind, .invalidToolArguments)

        var c = Assembler(provider: "x")
        c.apply(events(stop: .maxTokens, firstArgs: #"{"file_path": "#))
        guard case .failure(let e2) = c.result() else { return XCTFail("an earlier broken call is not a cut-off one") }
        XCTAssertEqual(e2.kind, .invalidToolArguments)
        XCTAssertTrue(e2.message.contains("'Read' (t1)"), e2.message)

        var d = Assembler(provider: "x")
        d.apply([.textDelta("Hi"), .stop(reason: .maxTokens)])
        XCTAssertNil(try d.finish().cutToolCall)
    }
}

final class PricingTests: XCTestCase {
    func testLookupExactThenLongestPrefix() {
        let t = PriceTable.builtIn
        XCTAssertEqual(t.price(for: "gpt-4o")?.input, 2.5)
        XCTAssertEqual(t.price(for: "gpt-4o-mini-2024-07-18")?.input, 0.15)
        XCTAssertEqual(t.price(for: "gpt-4o-2024-08-06")?.input, 2.5)
        XCTAssertEqual(t.price(for: "gpt-4.1-mini-2025-04-14")?.output, 1.6)
        XCTAssertEqual(t.price(for: "claude-sonnet-4-20250514")?.output, 15)
        XCTAssertEqual(t.price(for: "claude-3-5-haiku-20241022")?.input, 0.8)
        XCTAssertEqual(t.price(for: "claude-haiku-4-5-20251001")?.input, 1)
        XCTAssertEqual(t.price(for: "o4-mini")?.input, 1.1)
        XCTAssertNil(t.price(for: "llama-3-8b"))
        XCTAssertNil(t.cost(Usage(input: 1), model: "llama-3-8b"))
    }

    func testCostMath() {
        let u = Usage(input: 1_000, output: 2_000, cacheRead: 10_000, cacheWrite: 4_000)
        // claude-sonnet-4: 3 in, 15 out, 0.30 read, 3.75 write per million
        let c = PriceTable.builtIn.cost(u, model: "claude-sonnet-4-20250514")!
        let expected: Double = (1_000.0 * 3 + 2_000.0 * 15 + 10_000.0 * 0.3 + 4_000.0 * 3.75) / 1e6
        XCTAssertEqual(c, expected, accuracy: 1e-12)
        XCTAssertEqual(c, 0.051, accuracy: 1e-12)
        // gpt-4o-mini: cached 0.075; no write surcharge
        let c2 = PriceTable.builtIn.cost(Usage(input: 1_000_000, output: 1_000_000, cacheRead: 1_000_000), model: "gpt-4o-mini")!
        let expected2: Double = 0.15 + 0.6 + 0.075
        XCTAssertEqual(c2, expected2, accuracy: 1e-12)
    }

    func testOverrides() throws {
        let local = try ModelPrice(table: ["input": 0.1, "output": 0.2])
        XCTAssertEqual(local.cacheRead, 0.1)
        let t = PriceTable.builtIn.overriding(["gpt-4o": try ModelPrice(table: ["input": 1, "output": 2, "cache_read": 0.5]),
                                               "llama": local])
        XCTAssertEqual(t.price(for: "gpt-4o-2024-08-06")?.input, 1)
        XCTAssertEqual(t.price(for: "gpt-4o-mini")?.input, 0.15, "longer built-in prefix still wins")
        XCTAssertEqual(t.price(for: "llama-3.1-8b")?.output, 0.2)
        XCTAssertThrowsError(try ModelPrice(table: ["input": 1, "output": 2, "cache_reads": 1])) { e in
            XCTAssertTrue("\(e)".contains("unknown price key 'cache_reads'"))
        }
        XCTAssertThrowsError(try ModelPrice(table: ["input": 1]))
        XCTAssertThrowsError(try ModelPrice(table: ["input": -1, "output": 1]))
    }

    func testMetrics() {
        let m = RequestMetrics(start: 100, firstToken: 100.8, end: 102.8, usage: Usage(input: 10, output: 50))
        XCTAssertEqual(m.timeToFirstToken!, 0.8, accuracy: 1e-9)
        XCTAssertEqual(m.outputTokensPerSecond!, 25, accuracy: 1e-9)
        XCTAssertEqual(m.duration, 2.8, accuracy: 1e-9)
        XCTAssertNil(RequestMetrics(start: 0, firstToken: nil, end: 1, usage: Usage(output: 5)).outputTokensPerSecond)
        XCTAssertNil(RequestMetrics(start: 0, firstToken: 1, end: 1, usage: Usage(output: 5)).outputTokensPerSecond)
        let expected: Double = (10.0 * 2.5 + 50.0 * 10) / 1e6
        XCTAssertEqual(m.cost(model: "gpt-4o")!, expected, accuracy: 1e-12)
    }
}
