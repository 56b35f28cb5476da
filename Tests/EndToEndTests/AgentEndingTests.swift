import Foundation
import Hosting
import VTScreen
import XCTest
import _TestSupport

/// The built-in agents' full-screen views live on the terminal's alternate screen, which the
/// terminal discards when they leave it. What they print after leaving it is what the pane,
/// the log and the dashboard keep: the coder's final answer and how to resume it, the goal
/// runner's steps.
final class AgentEndingTests: EndToEndTestCase {
    /// The log's bytes after the agent last left the alternate screen (nil: it never did).
    func afterAlternateScreen(_ profile: String, _ agent: String) -> String? {
        let log = sv.log(profile, agent)
        guard let range = log.range(of: Data("\u{1B}[?1049l".utf8), options: .backwards) else { return nil }
        return String(decoding: log[range.upperBound...], as: UTF8.self)
    }

    /// The dashboard's picture of the pane (a VirtualScreen fed the whole log): the screen's
    /// text and what scrolled off it (PgUp/Home in the focus view).
    func dashboardText(_ profile: String, _ agent: String, rows: Int) -> (screen: String, scrollback: String) {
        let vt = VirtualScreen(rows: rows, cols: 100, scrollback: 1000)
        vt.feed([UInt8](sv.log(profile, agent)))
        return (vt.text().joined(separator: "\n"), vt.scrollbackLines().joined(separator: "\n"))
    }

    func testCoderLeavesItsFinalAnswerAndHowToResume() throws {
        let script = sv.home.write("coder.script", """
            --- turn 1: answer
            Done. I wrote the-final-answer-marker for you.

            """)
        let path = sv.writeProfile("cend", """
            [[agents]]
            name = "coder"
            kind = "coder"
            prompt = "Write a greeting program"
            permission = "yolo"
            restart = "never"
            [agents.llm]
            provider = "script"
            script = \(tomlString(script))

            """)
        try upDetached(path)
        let state = try sv.waitForState("cend", "coder", "exited", seconds: 30) { $0.state == .exited }
        XCTAssertEqual(state.runs.last?.exit, .exited(0))

        // The TUI ran on the alternate screen; the answer and the summary come after it.
        let after = try XCTUnwrap(afterAlternateScreen("cend", "coder"), "the coder never left the alternate screen")
        XCTAssertTrue(after.contains("Done. I wrote the-final-answer-marker for you."), after)
        XCTAssertTrue(after.contains("── coder ended"), after)
        XCTAssertTrue(after.contains("resume: supervisor agent coder --config \(sv.profileDir("cend"))/agents/coder/agent.json --resume "), after)
        // The tile (and `supervisor logs`) show it.
        XCTAssertTrue(dashboardText("cend", "coder", rows: 24).screen.contains("Done. I wrote the-final-answer-marker"))
        let logs = try ok(["logs", "cend", "coder"])
        XCTAssertTrue(logs.stdout.contains("Done. I wrote the-final-answer-marker"), logs.stdout)
    }

    func testGoalRunnerLeavesItsStepsReachableInTheScrollback() throws {
        let script = sv.home.write("goal.script", """
            --- turn 1
            echo step-one-marker
            --- turn 2
            echo step-two-marker
            --- turn 3
            DONE: both printed

            """)
        let path = sv.writeProfile("gend", """
            [[agents]]
            name = "goal"
            kind = "goal"
            goal = "Print two markers\\nfor the test"
            restart = "never"
            [agents.llm]
            provider = "script"
            script = \(tomlString(script))

            """)
        try upDetached(path)
        let state = try sv.waitForState("gend", "goal", "exited", seconds: 30) { $0.state == .exited }
        XCTAssertEqual(state.runs.last?.exit, .exited(0))

        let after = try XCTUnwrap(afterAlternateScreen("gend", "goal"), "the goal runner never left the alternate screen")
        for expected in ["goal: Print two markers for the test", "$ echo step-one-marker", "$ echo step-two-marker", "Goal reached"] {
            XCTAssertTrue(after.contains(expected), "\(expected): \(after)")
        }
        // A focus view of 8 rows: the first step has scrolled off and PgUp/Home reach it.
        let (screen, scrollback) = dashboardText("gend", "goal", rows: 8)
        XCTAssertTrue((scrollback + "\n" + screen).contains("$ echo step-one-marker"), scrollback)
        XCTAssertTrue(scrollback.contains("goal: Print two markers for the test"), scrollback)
    }
}
