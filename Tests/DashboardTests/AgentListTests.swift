@testable import Dashboard
import Hosting
import TerminalUI
import XCTest

final class AgentListTests: XCTestCase {
    func model(_ i: Int, _ phase: AgentPhase, waiting: Bool = false) -> AgentTileModel {
        var s = AgentState(profile: "p", agent: "agent-\(i)", kind: .command, state: phase, shimPid: 1, agentPid: 42, since: 1000,
                           logPath: "/l", eventsPath: "/e", socketPath: "/s")
        s.runs = [RunRecord(startedAt: 1000, pid: 42)]
        var a = AgentActivity(); a.step = 4; a.stepLimit = 30; a.inputTokens = 12_000; a.cost = 0.5
        return AgentTileModel(index: i, name: "agent-\(i)", kind: "goal", state: s, activity: a, unreachable: false,
                              waitingHeuristic: waiting, now: 1065)
    }

    func testAgentsThatNeedAPersonComeFirst() {
        let models = [model(0, .running), model(1, .failed), model(2, .running, waiting: true), model(3, .running)]
        XCTAssertEqual(AgentList.order(models), [1, 2, 0, 3])
    }

    /// 50 agents on an 80x24 terminal: every row fits its half of the screen, has the state,
    /// and the selection stays visible while it moves through the list.
    func testFiftyAgentsOnEightyByTwentyFour() {
        let models = (0..<50).map { model($0, $0 % 7 == 3 ? .failed : .running) }
        let layout = ScreenLayout(width: 80, height: 24)
        let (list, preview) = AgentList.split(layout.content)
        XCTAssertEqual(list.width, 40)
        XCTAssertGreaterThanOrEqual(preview.width, 30)
        XCTAssertLessThanOrEqual(preview.maxX, 80)
        let heading = AgentList.heading(width: list.width, nameWidth: 8)
        XCTAssertEqual(TextWidth.columns(heading), 40)
        XCTAssertTrue(heading.contains("STATE") && heading.contains("KIND") && heading.contains("STEP"), heading)
        for m in models {
            let line = AgentList.line(AgentList.Row(model: m, lastActivity: "$ make test"), width: 40, nameWidth: 8)
            XCTAssertEqual(TextWidth.columns(line), 40, line)
            XCTAssertTrue(line.contains(m.name) && line.contains(m.state.label), line)
        }
        let wide = AgentList.line(AgentList.Row(model: models[0], lastActivity: "$ make test"), width: 100, nameWidth: 8)
        for piece in ["4/30", "12k", "$0.50", "1m05s", "$ make test"] { XCTAssertTrue(wide.contains(piece), wide) }

        var state = DashboardState(agentCount: 50)
        state.mode = .list
        state.listOrder = AgentList.order(models)
        state.selected = state.listOrder[0]
        let height = list.height - 1
        var first = 0
        for _ in 0..<49 {
            XCTAssertEqual(state.handle(.down).changes, .selection)
            let row = state.listOrder.firstIndex(of: state.selected)!
            first = AgentList.firstVisible(selectedRow: row, count: 50, height: height, current: first)
            XCTAssertTrue((first..<(first + height)).contains(row))
        }
        XCTAssertEqual(state.selected, state.listOrder.last)
        XCTAssertEqual(state.handle(.enter).changes, .mode)
        XCTAssertEqual(state.mode, .focus)
        _ = state.handle(.escape)
        XCTAssertEqual(state.mode, .list, "Esc goes back to the list")
        _ = state.handle(.char("o"))
        XCTAssertEqual(state.mode, .tiles)
    }
}
