import Foundation
import Glibc
import Hosting
import LLM
import LLMClient
import Loop
import Profile
import XCTest
import _TestSupport
@testable import Agents

/// Long sessions: what the coder sends is fitted into the context window (`ContextFit`), and a
/// request the provider refuses as too long is sent again, smaller.
final class CoderContextTests: XCTestCase {
    static let big = String(repeating: "0123456789abcdef\n", count: 3615)  // 61455 bytes, ~17.5k tokens

    /// The task, five Read calls with big results, `small` Glob calls with small results, an
    /// answer, and the person's next message (so a resumed agent sends a request at once).
    func longSession(_ h: CoderHarness, small: Int = 2) -> CoderSession {
        var s = CoderSession(id: "s1", started: "2026-01-01T00:00:00Z", model: "claude-test", workspace: h.dir.path)
        s.messages = [.user("Read the five logs")]
        for i in 1...5 {
            s.messages.append(Message(role: .assistant, content: [.toolUse(id: "r\(i)", name: "Read", input: ["file_path": .string("log\(i).txt")])]))
            s.messages.append(Message(role: .user, content: [.toolResult(toolUseId: "r\(i)", content: Self.big, isError: false)]))
        }
        for i in 1...small {
            s.messages.append(Message(role: .assistant, content: [.toolUse(id: "g\(i)", name: "Glob", input: ["pattern": .string("*.\(i)")])]))
            s.messages.append(Message(role: .user, content: [.toolResult(toolUseId: "g\(i)", content: "No files match *.\(i)", isError: false)]))
        }
        s.messages.append(.assistant("I read them all."))
        s.messages.append(.user("Now what do they have in common?"))
        return s
    }

    /// Tool results of request `index` that were elided, and all tool results.
    func elided(_ h: CoderHarness, _ index: Int) -> (elided: Int, results: Int) {
        var e = 0, n = 0
        for m in h.server.requests[index].json?["messages"]?.arrayValue ?? [] {
            for b in m["content"]?.arrayValue ?? [] where b["type"]?.stringValue == "tool_result" {
                n += 1
                if b["content"]?.stringValue?.hasPrefix("[output of an earlier call") == true { e += 1 }
            }
        }
        return (e, n)
    }

    func messageCount(_ h: CoderHarness, _ index: Int) -> Int { h.server.requests[index].json?["messages"]?.arrayValue?.count ?? -1 }

    final class Live { var contextTokens = 16_000 }

    /// A small context_tokens (set live): old tool outputs are elided in what is sent, the
    /// session keeps them whole, and the pane and the event log hear of it once per change.
    func testLongSessionIsFittedIntoASmallContextWindow() throws {
        let h = try CoderHarness()
        let eventsFile = h.state.file("events.jsonl")
        let fd = open(eventsFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let live = Live()
        h.server.enqueue(FakeReply(items: [toolCall("g9", "Glob", ["pattern": "*.log"])]))
        h.server.enqueue(.text("They all time out."))
        h.server.enqueue(.text("Still the timeouts."))
        let session = longSession(h, small: 30)
        try h.makeAgent(prompt: nil, session: session, events: AgentEvents(environment: ["SUPERVISOR_EVENTS_FD": "\(fd)"]))
        h.setLive { s in
            s.llm.maxTokens = 1000
            s.llm.contextTokens = live.contextTokens
        }
        // The second turn: the person has lowered context_tokens (`supervisor set`).
        var turns = 0
        h.ui.beforeNextMessage = { turns += 1; if turns == 1 { live.contextTokens = 1_000 } }
        h.ui.messages = ["And now?", nil]
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.server.requests.count, 3)

        // Turn 1, two requests: every big output elided (each alone is larger than the window),
        // nothing left out; the notice and the event come once.
        for i in 0...1 {
            XCTAssertEqual(elided(h, i).elided, 5, "request \(i)")
            XCTAssertEqual(messageCount(h, i), session.messages.count + 2 * i)
            let body = String(decoding: h.server.requests[i].body, as: UTF8.self)
            XCTAssertFalse(body.contains(String(Self.big.prefix(1000))), "request \(i) has a whole big output")
            XCTAssertLessThan(h.server.requests[i].body.count, 40_000)
        }
        XCTAssertTrue(String(decoding: h.server.requests[0].body, as: UTF8.self).contains("61455 bytes, elided to fit the context window"))
        // Turn 2, a window of 1000: the oldest exchanges are left out too, and the model is told.
        XCTAssertLessThan(messageCount(h, 2), session.messages.count + 4)
        let first = h.server.requests[2].json?["messages"]?[0]?["content"]?.arrayValue?.compactMap { $0["text"]?.stringValue } ?? []
        XCTAssertEqual(first.first, "Read the five logs")
        XCTAssertTrue(first.last?.contains("earlier messages were left out of this request") == true, "\(first)")

        let notices = h.ui.transcript.filter { $0.hasPrefix("notice: context: ") }
        XCTAssertEqual(notices.count, 2, "\(h.ui.transcript)")
        XCTAssertTrue(notices[0].hasPrefix("notice: context: 5 long old texts shortened to fit the context window (context_tokens = 16000; about "), notices[0])
        XCTAssertTrue(notices[0].hasSuffix(" tokens for messages); the stored transcript is whole"), notices[0])
        XCTAssertTrue(notices[1].contains("earlier messages left out"), notices[1])
        XCTAssertTrue(notices[1].contains("context_tokens = 1000"), notices[1])
        let events = try String(contentsOfFile: eventsFile, encoding: .utf8).split(separator: "\n").filter { $0.contains(#""type":"context""#) }
        XCTAssertEqual(events.count, 2, "\(events)")
        XCTAssertTrue(events.first?.contains(#""elided":5,"dropped":0"#) == true, "\(events)")

        // The saved session is whole.
        let saved = try SessionStore(stateDir: h.state.path).load("s1")
        XCTAssertEqual(saved.messages.count, session.messages.count + 5)
        guard case .toolResult(_, let content, _)? = saved.messages[2].content.first else { return XCTFail("\(saved.messages[2])") }
        XCTAssertEqual(content, Self.big)
    }

    /// The provider refuses a request as too long (HTTP 400, Anthropic's "prompt is too long"):
    /// a smaller retry instead of a failed turn, and the smaller budget is kept (in the session too).
    func testContextOverflowIsRetriedSmaller() throws {
        let h = try CoderHarness()
        h.server.enqueue(.status(400, type: "invalid_request_error", message: "prompt is too long: 212345 tokens > 200000 maximum"))
        h.server.enqueue(FakeReply(items: [toolCall("g9", "Glob", ["pattern": "*.log"])]))
        h.server.enqueue(.text("They all time out."))
        let session = longSession(h)
        try h.makeAgent(prompt: nil, session: session)
        h.ui.messages = [nil]
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.server.requests.count, 3)
        // The default window (200000 for anthropic) holds the whole session by our estimate.
        XCTAssertEqual(elided(h, 0).elided, 0)
        XCTAssertEqual(messageCount(h, 0), session.messages.count)
        // The retry sends about 70% of that: some big outputs elided, nothing left out.
        let retried = elided(h, 1).elided
        XCTAssertGreaterThan(retried, 0)
        XCTAssertLessThan(retried, 5)
        XCTAssertEqual(messageCount(h, 1), session.messages.count)
        XCTAssertLessThanOrEqual(h.server.requests[1].body.count * 10, h.server.requests[0].body.count * 8)
        // The next request keeps to the smaller budget (no second refusal needed).
        XCTAssertGreaterThanOrEqual(elided(h, 2).elided, retried)
        XCTAssertTrue(h.ui.transcript.contains { $0.hasPrefix("notice: the request (about ") && $0.contains("did not fit the model's context window") && $0.contains("prompt is too long") },
                      "\(h.ui.transcript)")
        XCTAssertFalse(h.ui.transcript.contains { $0.hasPrefix("error:") }, "\(h.ui.transcript)")
        XCTAssertEqual(try SessionStore(stateDir: h.state.path).load("s1").messages.count, session.messages.count + 3)
    }

    /// Up to 3 times smaller (the engine's one policy): a request refused a fourth time fails the turn.
    func testAnOverflowThatDoesNotGoAwayFailsTheTurn() throws {
        let h = try CoderHarness()
        for _ in 0..<4 {
            h.server.enqueue(.status(400, type: "invalid_request_error", message: "prompt is too long: 212345 tokens > 200000 maximum"))
        }
        try h.makeAgent(prompt: "go", session: longSession(h))
        XCTAssertEqual(try h.run(), 1)
        XCTAssertEqual(h.server.requests.count, 4)
        XCTAssertTrue(h.ui.transcript.contains { $0.hasPrefix("error: model request failed") && $0.contains("prompt is too long") },
                      "\(h.ui.transcript)")
    }
}
