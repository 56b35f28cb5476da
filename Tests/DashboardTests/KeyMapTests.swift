@testable import Dashboard
@testable import TerminalUI
import XCTest

final class KeyMapTests: XCTestCase {
    func testMovingBetweenTiles() {
        var s = DashboardState(agentCount: 6)
        XCTAssertEqual(s.handle(.right, columns: 3).changes, .selection)
        XCTAssertEqual(s.selected, 1)
        _ = s.handle(.char("j"), columns: 3)
        XCTAssertEqual(s.selected, 4)
        _ = s.handle(.char("k"), columns: 3)
        XCTAssertEqual(s.selected, 1)
        _ = s.handle(.char("h"), columns: 3)
        XCTAssertEqual(s.selected, 0)
        XCTAssertEqual(s.handle(.left).changes, [], "already at the first tile: nothing changes")
        _ = s.handle(.char("l"))
        XCTAssertEqual(s.selected, 1)
        _ = s.handle(.char("6"))
        XCTAssertEqual(s.selected, 5)
        _ = s.handle(.tab)
        XCTAssertEqual(s.selected, 0, "Tab wraps")
        _ = s.handle(.backTab)
        XCTAssertEqual(s.selected, 5)
        _ = s.handle(.char("9"))
        XCTAssertEqual(s.selected, 5, "clamped to the last agent")
    }

    func testAgentCommandsActOnTheSelection() {
        var s = DashboardState(agentCount: 3)
        _ = s.handle(.char("2"))
        XCTAssertEqual(s.handle(.char("r")).changes, .prompt, "a restart asks first")
        XCTAssertEqual(s.handle(.char("y")).command, .restart(agent: 1))
        XCTAssertEqual(s.handle(.char("a")).command, .attach(agent: 1))
        XCTAssertEqual(s.handle(.char("c")).command, .cycleContext(agent: 1))
        XCTAssertEqual(s.handle(.char("L")).command, .openLog(agent: 1))
        XCTAssertEqual(s.handle(.char("q")).command, .quit)
        XCTAssertEqual(s.handle(.control("c")).command, .quit)
    }

    func testStopAsksFirst() {
        var s = DashboardState(agentCount: 2)
        XCTAssertEqual(s.handle(.char("x")).changes, .prompt)
        XCTAssertEqual(s.prompt?.label { "agent-\($0)" }, "stop agent-0? (y/n) ")
        XCTAssertNil(s.handle(.char("n")).command)
        XCTAssertNil(s.prompt)
        _ = s.handle(.char("x"))
        XCTAssertEqual(s.handle(.char("y")).command, .stop(agent: 0))
    }

    /// As the README says: a restart ends what the agent is doing, so it asks first too.
    func testRestartAsksFirst() {
        var s = DashboardState(agentCount: 2)
        _ = s.handle(.char("2"))
        XCTAssertEqual(s.handle(.char("r")).changes, .prompt)
        XCTAssertEqual(s.prompt?.label { "agent-\($0)" }, "restart agent-1? (y/n) ")
        XCTAssertNil(s.handle(.char("r")).command, "any key but y cancels")
        XCTAssertNil(s.prompt)
        _ = s.handle(.enter)
        _ = s.handle(.char("r"))
        XCTAssertEqual(s.handle(.char("Y")).command, .restart(agent: 1), "in focus too")
    }

    /// Every key that does something in a view is named in that view's part of the `?` help
    /// (and the global ones in the tiles' part): the help cannot fall behind the key map.
    func testTheHelpNamesEveryKeyOfTheKeyMap() {
        var candidates: [Key] = [.up, .down, .left, .right, .pageUp, .pageDown, .home, .end, .tab, .backTab, .enter,
                                 .escape, .backspace, .control("c")]
        candidates += (0x21...0x7e).map { Key.char(Character(UnicodeScalar(UInt8($0)))) }
        let names: [Key: [String]] = [.up: ["↑", "arrows"], .down: ["↓", "arrows"], .left: ["←", "arrows"], .right: ["→", "arrows"],
                                      .pageUp: ["PgUp"], .pageDown: ["PgDn"], .home: ["Home"], .end: ["End"], .tab: ["Tab"],
                                      .backTab: ["Shift-Tab"], .enter: ["Enter"], .escape: ["Esc"], .control("c"): ["Ctrl-C"]]
        func section(_ title: String) -> Set<String> {
            let lines = HelpText.full.drop { $0 != title }.dropFirst().prefix { !$0.isEmpty }
            var words = Set<String>()
            for line in lines {
                for word in line.split(whereSeparator: { " ,()".contains($0) }) {
                    words.insert(String(word))
                    if word == "1-9" { for d in 1...9 { words.insert(String(d)) } }
                }
            }
            return words
        }
        let modes: [(ViewMode, String)] = [(.tiles, "Tiles"), (.focus, "Focus"), (.timeline, "Timeline")]
        let global = section("Tiles")
        for (mode, title) in modes {
            let words = section(title).union(global)
            for key in candidates {
                var s = DashboardState(agentCount: 3)
                s.mode = mode
                s.selected = 1
                s.scroll = 5
                s.timelineScroll = 5
                s.lastSearch = "x"
                let before = s
                let result = s.handle(key, columns: 1, page: 2, kinds: ["state"])
                guard result.command != nil || !result.changes.isEmpty || s != before else { continue }
                let name: [String]
                if case .char(let c) = key { name = [String(c)] } else { name = names[key] ?? ["\(key)"] }
                XCTAssertTrue(name.contains { words.contains($0) }, "\(title): \(name[0]) does something but the help does not name it")
            }
        }
    }

    func testSendBox() {
        var s = DashboardState(agentCount: 2)
        _ = s.handle(.char("2"))
        _ = s.handle(.char("s"))
        for c in "hi ü!" { XCTAssertEqual(s.handle(.char(c)).changes, .prompt) }
        _ = s.handle(.backspace)
        XCTAssertEqual(s.prompt?.text, "hi ü")
        XCTAssertEqual(s.handle(.char("q")).command, nil, "q is text while typing")
        XCTAssertEqual(s.handle(.enter).command, .send(agent: 1, text: "hi üq"))
        XCTAssertNil(s.prompt)
        _ = s.handle(.char("s"))
        _ = s.handle(.char("z"))
        XCTAssertNil(s.handle(.escape).command)
        XCTAssertNil(s.prompt)
    }

    func testFocusScrollAndSearch() {
        var s = DashboardState(agentCount: 2)
        XCTAssertEqual(s.handle(.enter).changes, .mode)
        XCTAssertEqual(s.mode, .focus)
        _ = s.handle(.pageUp, page: 10)
        XCTAssertEqual(s.scroll, 10)
        _ = s.handle(.pageDown, page: 4)
        XCTAssertEqual(s.scroll, 6)
        _ = s.handle(.end)
        XCTAssertEqual(s.scroll, 0)
        _ = s.handle(.home)
        s.clampScroll(maxScroll: 100)
        XCTAssertEqual(s.scroll, 100)
        XCTAssertNil(s.handle(.char("n")).command, "no search yet")
        _ = s.handle(.char("/"))
        for c in "err" { _ = s.handle(.char(c)) }
        XCTAssertEqual(s.handle(.enter).command, .search(query: "err", forward: false))
        XCTAssertEqual(s.handle(.char("n")).command, .search(query: "err", forward: false))
        XCTAssertEqual(s.handle(.char("N")).command, .search(query: "err", forward: true))
        XCTAssertEqual(s.handle(.char("l")).command, .openLog(agent: 0))
        _ = s.handle(.escape)
        XCTAssertEqual(s.mode, .tiles)
    }

    func testTimelineFilters() {
        var s = DashboardState(agentCount: 2)
        _ = s.handle(.char("t"))
        XCTAssertEqual(s.mode, .timeline)
        XCTAssertEqual(s.handle(.char("f")).changes, .filter)
        XCTAssertEqual(s.timelineAgent, 0)
        _ = s.handle(.char("f")); _ = s.handle(.char("f"))
        XCTAssertNil(s.timelineAgent, "back to all agents")
        let kinds = ["start", "command"]
        _ = s.handle(.char("e"), kinds: kinds)
        XCTAssertEqual(s.timelineKind, "start")
        _ = s.handle(.char("e"), kinds: kinds)
        XCTAssertEqual(s.timelineKind, "command")
        _ = s.handle(.char("e"), kinds: kinds)
        XCTAssertNil(s.timelineKind)
        _ = s.handle(.escape)
        XCTAssertEqual(s.mode, .tiles)
    }

    func testHelpAndMessages() {
        var s = DashboardState(agentCount: 1)
        XCTAssertEqual(s.handle(.char("?")).changes, .mode)
        XCTAssertTrue(s.showHelp)
        XCTAssertNil(s.handle(.char("q")).command, "any key closes help first")
        XCTAssertFalse(s.showHelp)
        s.message = "hello"
        XCTAssertTrue(s.handle(.unknown(0)).changes.contains(.message))
        XCTAssertNil(s.message)
    }

    func testSearch() {
        let lines = ["alpha", "error one", "beta", "ERROR two", "gamma"]
        XCTAssertEqual(TextSearch.find("error", in: lines, from: 5, forward: false), 3)
        XCTAssertEqual(TextSearch.find("error", in: lines, from: 3, forward: false), 1)
        XCTAssertEqual(TextSearch.find("error", in: lines, from: 1, forward: false), 3, "wraps")
        XCTAssertEqual(TextSearch.find("error", in: lines, from: 1, forward: true), 3)
        XCTAssertNil(TextSearch.find("zeta", in: lines, from: 0, forward: true))
    }

    func testKeyDecoding() {
        XCTAssertEqual(Screen.characterKey(13), .enter)
        XCTAssertEqual(Screen.characterKey(3), .control("c"))
        XCTAssertEqual(Screen.characterKey(27), .escape)
        XCTAssertEqual(Screen.characterKey(0x65E5), .char("日"))
        XCTAssertEqual(Screen.characterKey(127), .backspace)
    }
}
