import XCTest
@testable import Agents

final class GoalSplitModelTests: XCTestCase {
    /// The split view lives on the alternate screen, which the terminal discards: what it leaves
    /// on the normal screen holds the goal (on one line) and every action, so the pane, the log
    /// and the dashboard's scrollback still have the steps after the run.
    func testAfterwordKeepsTheGoalAndEveryStep() {
        var model = GoalSplitModel()
        model.goal = "Print the time\nfor the log"
        model.action("box: local")
        model.action("[1/5] thinking...")
        model.action("$ date")
        model.action("  -> exited 0 (0.0s)")
        XCTAssertEqual(model.afterword, "goal: Print the time for the log\nbox: local\n[1/5] thinking...\n$ date\n  -> exited 0 (0.0s)\n")
    }

    /// The plain line mode's heading too: the goal on one line, words apart.
    func testLineViewShowsTheGoalOnOneLine() {
        var out = ""
        let view = GoalLineView { out += $0 }
        view.started(goal: "Print the time\nfor the log", box: "local", resumedSteps: 0)
        XCTAssertEqual(out, "goal: Print the time for the log\nbox: local\n")
    }
}
