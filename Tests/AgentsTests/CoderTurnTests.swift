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
        // The command writes the marker, then prints (which wakes the loop), then waits.
        h.server.enqueue(FakeReply(items: [toolCall("b1", "Bash", ["command": "echo started > started.txt; echo started; exec sleep 30"]),
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
}
