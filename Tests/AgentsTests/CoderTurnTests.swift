import Foundation
import Glibc
import LLM
import LLMClient
import Loop
import Profile
import XCTest
import _TestSupport
@testable import Agents

/// How a turn goes on after something went wrong in it: the person interrupted, a tool call
/// was cut off at max_tokens.
final class CoderTurnTests: XCTestCase {
    /// The texts of the last message of request `index`.
    func lastTexts(_ h: CoderHarness, _ index: Int) -> [String] {
        let last = h.server.requests[index].json?["messages"]?.arrayValue?.last
        return (last?["content"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }
    }

    // MARK: Interrupts

    /// Esc while a command runs: the model learns that the person stopped it (not just
    /// "[signal 9 (Killed)]"), and that the next call was not run.
    func testInterruptedToolCallIsExplainedToTheModel() throws {
        let h = try CoderHarness()
        // The command prints, writes the marker, then prints again (which wakes the loop), then
        // waits: once the marker is seen, "started" is in the pipe whatever woke the loop first
        // (the box command's stderr closing at `exec 2>&1`, say, read late under load).
        h.server.enqueue(FakeReply(items: [toolCall("b1", "Bash", ["command": "echo started; : > started.txt; echo marked; exec sleep 30"]),
                                           toolCall("b2", "Bash", ["command": "touch never.txt"])]))
        h.server.enqueue(.text("You stopped the job; tell me when to go on."))
        try h.makeAgent(prompt: nil)
        h.ui.messages = ["start the job", "why did it stop?", nil]
        h.agent.start(systemPrompt: "test system prompt")
        try runLoop(h.loop, until: "the command to start", seconds: 20) {
            FileManager.default.fileExists(atPath: h.dir.file("started.txt")) || h.exitStatus != nil
        }
        h.agent.interrupt()
        try runLoop(h.loop, until: "the agent to exit", seconds: 20) { h.exitStatus != nil }
        XCTAssertEqual(h.exitStatus, 0)
        XCTAssertEqual(h.server.requests.count, 2)
        let r = h.toolResults(1)
        let b1 = try XCTUnwrap(r["b1"])
        XCTAssertTrue(b1.isError)
        XCTAssertTrue(b1.content.contains("started\n"), b1.content)
        XCTAssertTrue(b1.content.contains("[signal"), b1.content)
        XCTAssertTrue(b1.content.hasSuffix(CoderAgent.interruptedWhileRunning), b1.content)
        XCTAssertTrue(b1.content.contains("The person interrupted the agent (Esc or Ctrl-C) while this call was running"), b1.content)
        XCTAssertEqual(r["b2"]?.content, CoderAgent.interruptedBeforeRun)
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.dir.file("never.txt")))
        XCTAssertEqual(lastTexts(h, 1), ["why did it stop?"])
        XCTAssertTrue(h.ui.transcript.contains("notice: interrupted"), "\(h.ui.transcript)")
    }

    /// Esc while the model answers: the next message tells it its answer was discarded.
    func testInterruptedAnswerIsExplainedInTheNextMessage() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [.text("Let me think about this for a long while.")], fault: .stall(afterEvents: 4, seconds: 30)))
        h.server.enqueue(.text("Going on."))
        try h.makeAgent(prompt: nil)
        h.ui.messages = ["go", "continue", nil]
        var streamed = false
        h.ui.onDelta = { _ in streamed = true }
        h.agent.start(systemPrompt: "test system prompt")
        try runLoop(h.loop, until: "the answer to start", seconds: 20) { streamed || h.exitStatus != nil }
        h.agent.interrupt()
        try runLoop(h.loop, until: "the agent to exit", seconds: 20) { h.exitStatus != nil }
        XCTAssertEqual(h.exitStatus, 0)
        XCTAssertEqual(h.server.requests.count, 2)
        XCTAssertEqual(lastTexts(h, 1), ["go", CoderAgent.interruptedAnswer, "continue"])
        XCTAssertTrue(CoderAgent.interruptedAnswer.contains("the person interrupted your previous answer"))
        // The note is not a turn of the person's, and a resumed session shows it as a notice.
        let saved = try SessionStore(stateDir: h.state.path).load("s1")
        XCTAssertEqual(saved.turns, 1)
        XCTAssertEqual(saved.lastMessagePreview, "Going on.")
        let again = try CoderHarness()
        try again.makeAgent(prompt: nil, session: saved)
        again.ui.messages = [nil]
        XCTAssertEqual(try again.run(), 0)
        XCTAssertEqual(Array(again.ui.transcript.prefix(3)), ["user: go", "notice: \(CoderAgent.interruptedAnswer)", "user: continue"])
    }

    // MARK: A tool call cut off at max_tokens

    func liveMaxTokens(_ h: CoderHarness, _ n: Int) { h.setLive { $0.llm.maxTokens = n } }

    /// The reply stops at max_tokens inside a Write's arguments: its text is kept, the model is
    /// told the call was cut off and not run, and the turn goes on by itself.
    func testCutOffToolCallIsReportedAndTheTurnGoesOn() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [.text("I'll write the file."),
                                           .tool(id: "w1", name: "Write", arguments: #"{"file_path": "big.txt", "content": "line 1\nline 2\nli"#)],
                                   stopReason: "max_tokens"))
        h.server.enqueue(FakeReply(items: [toolCall("w2", "Write", ["file_path": "big.txt", "content": "line 1\n"])]))
        h.server.enqueue(.text("Written in pieces."))
        try h.makeAgent(prompt: "write big.txt")
        liveMaxTokens(h, 300)
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.server.requests.count, 3)
        XCTAssertEqual(h.server.requests[0].json?["max_tokens"]?.intValue, 300)
        let messages = try XCTUnwrap(h.server.requests[1].json?["messages"]?.arrayValue)
        XCTAssertEqual(messages.count, 3)
        // The answer without the cut call, then the note.
        XCTAssertEqual(messages[1]["content"]?.arrayValue?.count, 1)
        XCTAssertEqual(messages[1]["content"]?[0]?["text"]?.stringValue, "I'll write the file.")
        let note = try XCTUnwrap(lastTexts(h, 1).first)
        XCTAssertEqual(lastTexts(h, 1).count, 1)
        XCTAssertTrue(note.contains("your call to Write was cut off at max_tokens (300) and was not run"), note)
        XCTAssertTrue(note.contains("smaller pieces"), note)
        XCTAssertEqual(try String(contentsOfFile: h.dir.file("big.txt"), encoding: .utf8), "line 1\n")
        XCTAssertTrue(h.ui.transcript.contains { $0.hasPrefix("notice: the call to Write was cut off at max_tokens (300)") }, "\(h.ui.transcript)")
        XCTAssertFalse(h.ui.transcript.contains { $0.hasPrefix("error:") }, "\(h.ui.transcript)")
    }

    /// Complete calls before the cut one run; the note follows their results.
    func testCompleteCallsBeforeTheCutOneRun() throws {
        let h = try CoderHarness()
        _ = h.dir.write("a.txt", "alpha\n")
        h.server.enqueue(FakeReply(items: [toolCall("r1", "Read", ["file_path": "a.txt"]),
                                           .tool(id: "e1", name: "Edit", arguments: #"{"file_path": "a.txt", "old_string": "alpha", "new_st"#)],
                                   stopReason: "max_tokens"))
        h.server.enqueue(.text("ok"))
        try h.makeAgent(prompt: "edit a.txt")
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.server.requests.count, 2)
        let last = try XCTUnwrap(h.server.requests[1].json?["messages"]?.arrayValue?.last?["content"]?.arrayValue)
        XCTAssertEqual(last.map { $0["type"]?.stringValue ?? "" }, ["tool_result", "text"])
        XCTAssertTrue(h.toolResults(1)["r1"]!.content.contains("alpha"))
        XCTAssertTrue(last[1]["text"]?.stringValue?.contains("your call to Edit was cut off at max_tokens (8192)") == true, "\(last)")
        XCTAssertEqual(try String(contentsOfFile: h.dir.file("a.txt"), encoding: .utf8), "alpha\n")
    }

    /// Each round counts toward the per-turn request limit.
    func testCutOffRoundsCountTowardTheRequestLimit() throws {
        let h = try CoderHarness()
        for _ in 0..<3 {
            h.server.enqueue(FakeReply(items: [.tool(id: "w1", name: "Write", arguments: #"{"file_path": "x", "content": "aaa"#)],
                                       stopReason: "max_tokens"))
        }
        try h.makeAgent(prompt: "write x")
        h.setLive { $0.limit = 2 }
        XCTAssertEqual(try h.run(), CoderAgent.limitStatus)
        XCTAssertEqual(h.server.requests.count, 2)
        XCTAssertTrue(h.ui.transcript.contains { $0.hasPrefix("error: stopped: step limit reached (limit = 2)") }, "\(h.ui.transcript)")
        // A reply with only the cut call is kept with a placeholder (the conversation stays valid).
        XCTAssertEqual(h.server.requests[1].json?["messages"]?[1]?["content"]?[0]?["text"]?.stringValue, "(cut off at max_tokens)")
    }
}

extension CoderTurnTests {
    // MARK: Faults (the engine's, the same in every agent)

    /// A connection reset mid-stream: the partial reply is discarded (its tool call never runs),
    /// the request is sent again, and the one-shot prompt still ends with the final answer.
    func testAResetMidStreamIsRetriedAndThePartialCallNeverRuns() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [.text("Writing it."), .tool(id: "w0", name: "Write", arguments: #"{"file_path": "x.txt", "content": "half"}"#)],
                                   fault: .resetAfter(events: 4)))
        h.server.enqueue(FakeReply(items: [.tool(id: "w1", name: "Write", arguments: #"{"file_path": "x.txt", "content": "whole"}"#)]))
        h.server.enqueue(.text("Done."))
        try h.makeAgent(prompt: "write x.txt", maxRetries: 2)
        XCTAssertEqual(try h.run(), 0)
        guard h.server.requests.count == 3 else { return XCTFail("\(h.server.requests.count) requests, \(h.ui.transcript)") }
        XCTAssertEqual(try String(contentsOfFile: h.dir.file("x.txt"), encoding: .utf8), "whole")
        XCTAssertEqual(h.toolResults(2).keys.sorted(), ["w1"])
        XCTAssertTrue(h.ui.transcript.contains { $0.hasPrefix("notice: the model's reply broke off") }, "\(h.ui.transcript)")
        XCTAssertFalse(h.ui.transcript.contains { $0.hasPrefix("error:") }, "\(h.ui.transcript)")
    }

    /// The coder stops at its token budget (per turn) like the other agents: a one-shot prompt
    /// ends with a `final` event and exit status 3.
    func testTheCoderStopsAtItsTokenBudget() throws {
        let h = try CoderHarness()
        let events = h.state.file("events.jsonl")
        let fd = open(events, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        for i in 0..<5 { h.server.enqueue(FakeReply(items: [toolCall("g\(i)", "Glob", ["pattern": "*"])], usage: Usage(input: 100, output: 20))) }
        try h.makeAgent(prompt: "look around", events: AgentEvents(environment: ["SUPERVISOR_EVENTS_FD": "\(fd)"]))
        h.setLive { $0.tokenBudget = 250 }
        XCTAssertEqual(try h.run(), CoderAgent.limitStatus)
        XCTAssertEqual(h.server.requests.count, 3, "120 + 120 < 250, then 360")
        XCTAssertTrue(h.ui.transcript.contains { $0.hasPrefix("error: stopped: token budget of 250 used up (360 tokens)") }, "\(h.ui.transcript)")
        let lines = try String(contentsOfFile: events, encoding: .utf8)
        XCTAssertTrue(lines.contains(#""type":"final","reason":"token budget of 250 used up (360 tokens)""#), lines)
        // The turn's spending is saved with the session: a restart goes on counting.
        XCTAssertEqual(try SessionStore(stateDir: h.state.path).load("s1").turnSpend.tokens, 360)
    }
}

extension CoderTurnTests {
    /// An interactive coder never exits because the model failed: it says so and waits for the
    /// next message, which is answered.
    func testAModelFailureInAnInteractiveSessionIsReportedAndTheAgentWaits() throws {
        let h = try CoderHarness()
        h.server.enqueue(.status(401, type: "authentication_error", message: "invalid x-api-key"))
        h.server.enqueue(.text("Hello again."))
        try h.makeAgent(prompt: nil)
        h.ui.messages = ["hello", "are you there?", nil]
        XCTAssertEqual(try h.run(), 0, "Ctrl-D ends it, not the failure: \(h.ui.transcript)")
        XCTAssertEqual(h.server.requests.count, 2, "\(h.ui.transcript)")
        let error = h.ui.transcript.firstIndex { $0.hasPrefix("error:") && $0.contains("invalid x-api-key") }
        let answer = h.ui.transcript.firstIndex { $0.contains("Hello again.") }
        XCTAssertNotNil(error, "\(h.ui.transcript)")
        XCTAssertNotNil(answer, "\(h.ui.transcript)")
        if let error, let answer { XCTAssertLessThan(error, answer) }
    }

    /// `/help` is answered by the agent itself: nothing is sent to the model.
    func testHelpIsAnsweredLocally() throws {
        let h = try CoderHarness()
        try h.makeAgent(prompt: nil)
        h.ui.messages = ["/help", nil]
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.server.requests.count, 0)
        XCTAssertTrue(h.ui.transcript.contains { $0.hasPrefix("notice: Type a message") && $0.contains("/exit") }, "\(h.ui.transcript)")
    }
}

extension CoderTurnTests {
    func modelSideEvents(_ path: String) throws -> [String] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        return SameFault.modelSide(lines.compactMap { (try? JSONValue.parse(Array($0.utf8)))?["type"]?.stringValue })
    }

    func runWithEvents(_ setUp: (CoderHarness) -> Void) throws -> (CoderHarness, Int32, [String]) {
        let h = try CoderHarness()
        let path = h.state.file("events.jsonl")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        setUp(h)
        try h.makeAgent(prompt: "go", events: AgentEvents(environment: ["SUPERVISOR_EVENTS_FD": "\(fd)"]))
        let status = try h.run()
        return (h, status, try modelSideEvents(path))
    }

    func testTheSameFaultsGiveTheSameEventsAsInTheOtherAgents() throws {
        var (h, status, events) = try runWithEvents { h in
            h.server.enqueue(.status(400, type: "invalid_request_error", message: "prompt is too long: 212345 tokens > 200000 maximum"))
            h.server.enqueue(.text("Done."))
        }
        XCTAssertEqual(status, 0)
        XCTAssertEqual(events, SameFault.tooLongThenAnswer)

        (h, status, events) = try runWithEvents { h in
            h.server.enqueue(FakeReply(items: [.text("The answer is")], stopReason: "max_tokens"))
            h.server.enqueue(.text("42."))
        }
        XCTAssertEqual(status, 0)
        XCTAssertEqual(events, SameFault.cutThenAnswer)
        XCTAssertEqual(h.server.requests.count, 2, "a cut answer is not the final one")

        (_, status, events) = try runWithEvents { h in h.server.enqueue(.status(429, type: "rate_limit_error", message: "slow down")) }
        XCTAssertEqual(status, 1)
        XCTAssertEqual(events, SameFault.rateLimited)
    }
}
