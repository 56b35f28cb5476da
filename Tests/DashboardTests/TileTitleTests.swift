@testable import Dashboard
import Hosting
import TerminalUI
import XCTest

final class TileTitleTests: XCTestCase {
    func model(name: String = "coder", kind: String = "coder") -> AgentTileModel {
        var activity = AgentActivity()
        activity.inputTokens = 3400; activity.outputTokens = 200; activity.cost = 0.42; activity.step = 3; activity.stepLimit = 30
        let state = AgentState(profile: "p", agent: name, kind: .coder, state: .running, shimPid: 1, agentPid: 42, since: 1000, restarts: 2,
                               runs: [RunRecord(startedAt: 1000, pid: 42)], logPath: "/l", eventsPath: "/e", socketPath: "/s")
        return AgentTileModel(index: 1, name: name, kind: kind, state: state, activity: activity,
                              unreachable: false, waitingHeuristic: false, now: 1065)
    }

    func testWideTitleHasEverythingInOrder() {
        let pieces = TileTitle.compose(model(), width: 200)
        XCTAssertEqual(TileTitle.text(pieces), "2 coder coder  running  step 3/30 3.6k tok $0.42 1m05s ↻2")
        XCTAssertEqual(pieces[2].chip, true)
        XCTAssertEqual(pieces[2].role, .running)
    }

    /// Figures that do not fit whole are left out, most useful kept; nothing is cut mid-word.
    func testNarrowTitlesDropWholeFigures() {
        let full = TileTitle.compose(model(), width: 200)
        for width in 1...70 {
            let pieces = TileTitle.compose(model(), width: width)
            XCTAssertLessThanOrEqual(TileTitle.width(pieces), width, "width \(width)")
            for piece in pieces where !piece.text.hasSuffix("…") {
                XCTAssertTrue(full.contains(piece), "width \(width): \(piece.text) is whole")
            }
        }
        XCTAssertEqual(TileTitle.text(TileTitle.compose(model(), width: 33)), "2 coder coder  running  step 3/30")
        XCTAssertEqual(TileTitle.text(TileTitle.compose(model(), width: 30)), "2 coder coder  running  $0.42", "a smaller figure that fits")
        XCTAssertEqual(TileTitle.text(TileTitle.compose(model(), width: 24)), "2 coder coder  running ")
    }

    func testLongNameIsCutWithAnEllipsisAndTheChipStays() {
        let pieces = TileTitle.compose(model(name: "a-very-long-agent-name-indeed"), width: 24)
        XCTAssertEqual(TileTitle.text(pieces), "2 a-very-long…  running ")
        XCTAssertLessThanOrEqual(TileTitle.width(pieces), 24)
        XCTAssertEqual(TextWidth.columns("日本"), 4)
        XCTAssertEqual(TextWidth.prefix("日本語", columns: 4), "日…")
    }
}
