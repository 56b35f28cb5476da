import XCTest
@testable import LLM

final class ContextFitTests: XCTestCase {
    let big = String(repeating: "0123456789", count: 400) // 4000 bytes, ~1143 tokens

    /// task, then `rounds` of (assistant tool call, user tool result), then a final question.
    func conversation(rounds: Int) -> [Message] {
        var m: [Message] = [.user("the task")]
        for r in 0..<rounds {
            m.append(Message(role: .assistant, content: [.text("step \(r)"), .toolUse(id: "t\(r)", name: "Write", input: ["file_path": .string("f\(r)"), "content": .string(big)])]))
            m.append(Message(role: .user, content: [.toolResult(toolUseId: "t\(r)", content: big, isError: false)]))
        }
        m[m.count - 1].content.append(.text("and now?")) // as the agents merge a prompt into the results
        return m
    }

    func testUnderTheBudgetNothingChanges() {
        let m = conversation(rounds: 3)
        let fitted = ContextFit.fit(m, budget: ContextFit.tokens(m))
        XCTAssertEqual(fitted.messages, m)
        XCTAssertEqual(fitted.elided, 0)
        XCTAssertEqual(fitted.dropped, 0)
    }

    func testOldestToolOutputIsElidedFirstAndTheRecentStaysWhole() {
        let m = conversation(rounds: 10)
        let full = ContextFit.tokens(m)
        let fitted = ContextFit.fit(m, budget: full - 3000, keepRecent: 4)
        XCTAssertLessThanOrEqual(fitted.tokens, full - 3000)
        XCTAssertEqual(fitted.tokens, ContextFit.tokens(fitted.messages))
        XCTAssertEqual(fitted.dropped, 0)
        XCTAssertEqual(fitted.messages.count, m.count)
        XCTAssertGreaterThan(fitted.elided, 0)
        // The first exchange was shortened, and says so; the task and the last 4 messages are whole.
        guard case .toolResult(let id, let content, false) = fitted.messages[2].content[0] else { return XCTFail("\(fitted.messages[2])") }
        XCTAssertEqual(id, "t0")
        XCTAssertTrue(content.hasPrefix("[output of an earlier call, 4000 bytes, elided"), content)
        guard case .toolUse(_, "Write", let input) = fitted.messages[1].content[1] else { return XCTFail() }
        XCTAssertEqual(input["file_path"], "f0")
        XCTAssertTrue(input["content"]?.stringValue?.contains("elided") ?? false)
        XCTAssertEqual(fitted.messages[0], m[0])
        XCTAssertEqual(Array(fitted.messages.suffix(4)), Array(m.suffix(4)))
        // Only as much as needed: the newest elidable exchanges are untouched.
        XCTAssertEqual(fitted.messages[m.count - 6], m[m.count - 6])
    }

    func testWhenNotesAreNotEnoughTheOldestExchangesAreLeftOutInPairs() {
        let m = conversation(rounds: 10)
        let fitted = ContextFit.fit(m, budget: 1500, keepRecent: 4)
        XCTAssertGreaterThan(fitted.dropped, 0)
        XCTAssertEqual(fitted.dropped % 2, 0)
        XCTAssertEqual(fitted.messages.count, m.count - fitted.dropped)
        XCTAssertEqual(fitted.messages.first?.role, .user)
        XCTAssertTrue(fitted.messages[0].text.hasPrefix("the task[supervisor: \(fitted.dropped) earlier messages were left out"), fitted.messages[0].text)
        // Roles still alternate and every tool result follows its call.
        for (a, b) in zip(fitted.messages, fitted.messages.dropFirst()) { XCTAssertNotEqual(a.role, b.role) }
        for (i, message) in fitted.messages.enumerated() {
            for case .toolResult(let id, _, _) in message.content {
                XCTAssertTrue(fitted.messages[i - 1].toolUses.contains { $0.id == id }, "result \(id) without its call")
            }
        }
        XCTAssertEqual(Array(fitted.messages.suffix(4)), Array(m.suffix(4)))
    }

    func testBudgetLeavesRoomForReplySystemAndTools() {
        let tools = [ToolDefinition(name: "Read", description: String(repeating: "d", count: 700), inputSchema: ["type": "object"])]
        let budget = ContextFit.messageBudget(contextTokens: 10_000, maxTokens: 2_000, system: String(repeating: "s", count: 3500), tools: tools)
        XCTAssertEqual(budget, 10_000 - 500 - 2_000 - 1_000 - ContextFit.overhead(system: nil, tools: tools))
        XCTAssertEqual(ContextFit.messageBudget(contextTokens: 2_000, maxTokens: 4_000, system: nil, tools: []), 1_000)
    }

    func testOverflowErrorsOfTheProviders() {
        XCTAssertTrue(ContextFit.isOverflow(status: 400, message: "invalid_request_error: prompt is too long: 210000 tokens > 200000 maximum"))
        XCTAssertTrue(ContextFit.isOverflow(status: 400, message: "context_length_exceeded: This model's maximum context length is 128000 tokens"))
        XCTAssertTrue(ContextFit.isOverflow(status: 400, message: "the request exceeds the available context size, try increasing it"))
        XCTAssertTrue(ContextFit.isOverflow(status: nil, message: "exceed_context_size_error: context size exceeded"))
        XCTAssertFalse(ContextFit.isOverflow(status: 400, message: "invalid_request_error: max_tokens: must be positive"))
        XCTAssertFalse(ContextFit.isOverflow(status: 429, message: "too many tokens per minute"))
        XCTAssertFalse(ContextFit.isOverflow(status: 401, message: "context length"))
    }
}
