@testable import Dashboard
import Hosting
import TerminalUI
import VTScreen
import XCTest

final class AgentViewTests: XCTestCase {
    func testBuiltInAgentsShowTheirConversationUnlessFullScreen() {
        XCTAssertEqual(AgentView.preferred(builtIn: true, fullScreen: true, ended: false), .terminal)
        XCTAssertEqual(AgentView.preferred(builtIn: true, fullScreen: false, ended: false), .transcript)
        XCTAssertEqual(AgentView.preferred(builtIn: true, fullScreen: true, ended: true), .transcript, "always after it ends")
        XCTAssertEqual(AgentView.shown(builtIn: true, fullScreen: true, ended: false, switched: true), .transcript)
        XCTAssertEqual(AgentView.shown(builtIn: false, fullScreen: false, ended: true, switched: true), .terminal, "a command has only its terminal")
        var state = DashboardState(agentCount: 2)
        state.selected = 1
        XCTAssertEqual(state.handle(.char("v")).changes, .mode)
        XCTAssertEqual(state.switchedViews, [1])
        _ = state.handle(.char("v"))
        XCTAssertEqual(state.switchedViews, [])
    }

    func testTranscriptIsRenderedFromEventsAndRewrapsToTheViewWidth() throws {
        let view = TranscriptView(cols: 40, rows: 10)
        let lines = [
            #"{"type":"user","text":"list the files","source":"task"}"#,
            #"{"type":"reply","step":1,"text":"I will run ls and then tell you what is there in some detail."}"#,
            #"{"type":"command","text":"ls -la"}"#,
            #"{"type":"command_output","output":"README.md\nPackage.swift","exit_code":0}"#,
            #"{"type":"final","reason":"done: two files"}"#,
        ]
        for line in lines { view.add(try XCTUnwrap(EventRecord(line: line))) }
        func all() -> String { (view.screen.scrollbackLines() + view.screen.text()).joined(separator: "\n") }
        let narrow = all()
        XCTAssertTrue(narrow.contains("user (task):") && narrow.contains("list the files"), narrow)
        XCTAssertTrue(narrow.contains("$ ls -la") && narrow.contains("Package.swift") && narrow.contains("final: done: two files"), narrow)
        XCTAssertFalse(narrow.contains("\u{1B}"), "colour is drawn, not shown as escapes")
        XCTAssertTrue(view.screen.text().allSatisfy { $0.count <= 40 })
        view.resize(cols: 120, rows: 10)
        XCTAssertTrue(all().contains("I will run ls and then tell you what is there in some detail."), "one line at 120 columns")
    }

    /// A program that leaves its full screen before it exits (top, vim, the coder's interface):
    /// its last full screen is kept.
    func testTheLastFullScreenIsKept() {
        let feed = AgentFeed(rows: 5, cols: 30) { _, _ in [] }
        feed.streamStarts(at: 0)
        let bytes = Array("\u{1B}[?1049h\u{1B}[H\u{1B}[2Jtop - 10:00 up 1 day\r\nTasks: 99\u{1B}[?1049lbye\r\n".utf8)
        feed.output(offset: 0, bytes: bytes)
        feed.feed(budget: Int.max)
        XCTAssertFalse(feed.screen.isAltScreen)
        let rows = feed.lastFullScreen?.map { $0.map(\.text).joined() }
        XCTAssertEqual(rows?.first?.hasPrefix("top - 10:00"), true, "\(String(describing: rows))")
        XCTAssertEqual(rows?[1].hasPrefix("Tasks: 99"), true)
    }

    func testPromptsNameTheAgentAndCountsArePlural() {
        let names = ["goal", "coder"]
        XCTAssertEqual(Prompt(purpose: .confirm(.stop(agent: 1))).label { names[$0] }, "stop coder? (y/n) ")
        XCTAssertTrue(Prompt(purpose: .send(agent: 0)).label { names[$0] }.hasPrefix("send to goal"))
        XCTAssertEqual(plural(1, "character"), "1 character")
        XCTAssertEqual(plural(2, "line"), "2 lines")
    }

    func testSearchMatchColumns() {
        XCTAssertEqual(TextSearch.columns(of: "Count", in: "日本 count-12"), 5..<10)
        XCTAssertNil(TextSearch.columns(of: "x", in: "abc"))
    }
}
