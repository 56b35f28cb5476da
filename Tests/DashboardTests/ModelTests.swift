import AgentTranscript
import Foundation
@testable import Dashboard
@testable import TerminalUI
import Hosting
import VTScreen
import XCTest

final class ModelTests: XCTestCase {
    func state(_ phase: AgentPhase, since: Double = 1000, exit: ExitStatus? = nil) -> AgentState {
        var s = AgentState(profile: "p", agent: "a", kind: .command, state: phase, shimPid: 1, agentPid: 42, since: since,
                           logPath: "/l", eventsPath: "/e", socketPath: "/s")
        s.runs = [RunRecord(startedAt: since, pid: 42, endedAt: exit == nil ? nil : since + 5, exit: exit)]
        return s
    }

    func event(_ json: String) -> TimelineEvent { TimelineEvent.parse(json, agent: "a")! }

    /// A message or command with line breaks reads as one line: words stay apart.
    func testSummariesAndTileKeepWordsApart() {
        XCTAssertEqual(event(#"{"type":"message","text":"reached: the check passed after step 6\n6 commands"}"#).summary,
                       "reached: the check passed after step 6 6 commands")
        let line = Timeline.format(event(#"{"ts":"2026-01-02T03:04:05Z","agent":"g","type":"command","text":"date\necho time\nfor x"}"#),
                                   utcOffset: 0, agentWidth: 4)
        XCTAssertEqual(line, "03:04:05 g    command  $ date echo time for x")
        var activity = AgentActivity()
        activity.apply(event(#"{"type":"command","text":"echo the time\nfor now"}"#))
        XCTAssertEqual(activity.lastAction, "$ echo the time for now")
    }

    func testEventsAccumulate() {
        var activity = AgentActivity()
        activity.apply(event(#"{"ts":"2026-01-02T03:04:05.250Z","agent":"a","type":"tokens","input":1200,"output":300,"cost_usd":0.012}"#))
        activity.apply(event(#"{"type":"tokens","input":800,"output":700,"cost_usd":0.5}"#))
        activity.apply(event(#"{"type":"step","n":3,"limit":30}"#))
        activity.apply(event(#"{"type":"command","text":"ls -la"}"#))
        activity.apply(event(#"{"type":"state","state":"thinking"}"#))
        XCTAssertEqual(activity.tokens, 3000)
        XCTAssertEqual(activity.cost, 0.512, accuracy: 1e-9)
        XCTAssertEqual(activity.step, 3)
        XCTAssertEqual(activity.lastAction, "$ ls -la")
        let tile = AgentTileModel(index: 0, name: "a", kind: "goal", state: state(.running), activity: activity,
                                  unreachable: false, waitingHeuristic: false, now: 1065)
        XCTAssertEqual(tile.state, .thinking)
        XCTAssertEqual(tile.uptime, "1m05s")
        XCTAssertTrue(tile.uptimeShowsSeconds)
        XCTAssertEqual(tile.tokens, "3k tok")
        XCTAssertEqual(tile.cost, "$0.51")
        XCTAssertEqual(tile.step, "step 3/30")
        XCTAssertEqual(TileTitle.text(TileTitle.compose(tile, width: 80)), "1 a goal  thinking  step 3/30 3k tok $0.51 1m05s")
    }

    func testTimestamps() {
        XCTAssertEqual(parseISO8601("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(parseISO8601("2026-01-02T03:04:05.250Z")!, 1767323045.25, accuracy: 1e-6)
        XCTAssertEqual(parseISO8601(EventLine.iso8601(1795310287.5))!, 1795310287.5, accuracy: 1e-3)
        XCTAssertNil(parseISO8601("yesterday"))
    }

    func testDisplayStates() {
        let none = AgentActivity()
        func resolve(_ s: AgentState?, _ a: AgentActivity = AgentActivity(), unreachable: Bool = false, waiting: Bool = false) -> DisplayState {
            DisplayState.resolve(state: s, activity: a, unreachable: unreachable, waitingHeuristic: waiting)
        }
        XCTAssertEqual(resolve(state(.running)), .running)
        XCTAssertEqual(resolve(state(.running), waiting: true), .waiting)
        XCTAssertEqual(resolve(state(.running), unreachable: true), .unreachable)
        XCTAssertEqual(resolve(state(.exited, exit: .exited(3))), .exited(3))
        XCTAssertEqual(resolve(state(.restarting)), .restarting)
        XCTAssertEqual(resolve(state(.failed)), .failed)
        XCTAssertEqual(resolve(nil), .unknown)
        var a = none
        a.apply(event(#"{"type":"state","state":"waiting"}"#))
        XCTAssertEqual(resolve(state(.running), a), .waiting)
        a.apply(event(#"{"type":"tool","name":"bash","phase":"start"}"#))
        XCTAssertEqual(resolve(state(.running), a), .tool("bash"))
        a.apply(event(#"{"type":"tool","name":"bash","phase":"end"}"#))
        a.apply(event(#"{"type":"state","state":"idle"}"#))
        XCTAssertEqual(resolve(state(.running), a), .idle)
        XCTAssertEqual(DisplayState.exited(3).label, "exited (3)")
        // A goal agent that reached its goal and stays: shown as such, even when the pane is quiet.
        var staying = AgentActivity()
        staying.apply(event(#"{"type":"state","state":"staying"}"#))
        XCTAssertEqual(resolve(state(.running), staying, waiting: true), .staying)
        XCTAssertEqual(DisplayState.staying.label, "reached, staying")
        XCTAssertTrue(DisplayState.staying.isActive)
    }

    func testTotals() {
        var a = AgentActivity(); a.inputTokens = 1500; a.cost = 0.25
        let tiles = [
            AgentTileModel(index: 0, name: "a", kind: "command", state: state(.running), activity: a, unreachable: false, waitingHeuristic: true, now: 1001),
            AgentTileModel(index: 1, name: "b", kind: "command", state: state(.running), activity: AgentActivity(), unreachable: false, waitingHeuristic: false, now: 1001),
            AgentTileModel(index: 2, name: "c", kind: "command", state: state(.failed), activity: AgentActivity(), unreachable: false, waitingHeuristic: false, now: 1001),
        ]
        let totals = Totals(tiles: tiles, activities: [a, AgentActivity(), AgentActivity()])
        XCTAssertEqual(totals.waiting, 1)
        XCTAssertEqual(totals.tokens, 1500)
        XCTAssertTrue(totals.text.contains("1 waiting") && totals.text.contains("1 running") && totals.text.contains("1 failed"), totals.text)
        XCTAssertTrue(totals.text.contains("1.5k tok") && totals.text.contains("$0.25"), totals.text)
    }

    func testTimelineMergesInTimeOrderAndFilters() {
        var t = Timeline()
        t.add(contentsOf: [event(#"{"ts":"2026-01-01T00:00:02Z","agent":"a","type":"start"}"#),
                           event(#"{"ts":"2026-01-01T00:00:05Z","agent":"a","type":"command","text":"x"}"#)])
        t.add(contentsOf: [TimelineEvent.parse(#"{"ts":"2026-01-01T00:00:03Z","agent":"b","type":"start"}"#, agent: "b")!])
        t.add(TimelineEvent.parse(#"{"ts":"2026-01-01T00:00:01Z","agent":"b","type":"state","state":"idle"}"#, agent: "b")!)
        XCTAssertEqual(t.events.map(\.time), t.events.map(\.time).sorted())
        XCTAssertEqual(t.events.map(\.agent), ["b", "a", "b", "a"])
        XCTAssertEqual(t.filtered(agent: "a", kind: nil).count, 2)
        XCTAssertEqual(t.filtered(agent: nil, kind: "start").count, 2)
        XCTAssertEqual(t.kinds, ["start", "command", "state"])
        XCTAssertTrue(Timeline.format(t.events[1], utcOffset: 0, agentWidth: 4).hasPrefix("00:00:02 a    start"))
    }

    /// What `L` opens for a built-in agent: its conversation, rendered from its events file.
    func testTheTranscriptOfAnAgentsEventsFile() throws {
        let path = NSTemporaryDirectory() + "/dashboard-transcript-\(getpid()).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try (#"{"type":"reply","step":1,"text":"Hello \u001b[1mthere\u001b[0m"}"# + "\n" + #"{"type":"final","reason":"done"}"# + "\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(Dashboard.transcript(eventsPath: path, colour: false), "\nmodel (step 1):\n  Hello there\nfinal: done\n")
        XCTAssertTrue(Dashboard.transcript(eventsPath: path + ".none", colour: false).hasPrefix("no events yet"))
    }

    func testAgentFeedJoinsLogAndStreamWithoutGapOrOverlap() {
        var log = Array("line one\r\nline two\r\n".utf8)
        let feed = AgentFeed(rows: 5, cols: 20) { from, to in Array(log[Int(from)..<Int(min(to, UInt64(log.count)))]) }
        feed.replay(logEnd: UInt64(log.count))
        // The agent writes more before the stream starts: the hello says where the log stands.
        log += Array("line three\r\n".utf8)
        feed.streamStarts(at: UInt64(log.count))
        // A frame that overlaps what was read, then a gap filled from the log.
        let four = Array("line four\r\n".utf8)
        log += four
        feed.output(offset: UInt64(log.count - four.count - 5), bytes: Array(log[(log.count - four.count - 5)...]))
        let five = Array("five\r\n".utf8), six = Array("six\r\n".utf8)
        log += five + six
        feed.output(offset: UInt64(log.count - six.count), bytes: six)
        feed.feed(budget: .max)
        // Five rows: the cursor sits on the blank last one, so the first line scrolled off.
        XCTAssertEqual(feed.screen.text().filter { !$0.isEmpty }, ["line three", "line four", "five", "six"])
        XCTAssertEqual(feed.screen.scrollbackLines(), ["line one", "line two"])
        XCTAssertEqual(feed.acceptedUpTo, UInt64(log.count))
    }

    func testAgentFeedOverBudgetKeepsTheNewestLines() {
        let feed = AgentFeed(rows: 3, cols: 10) { _, _ in [] }
        feed.replay(logEnd: 0)
        var bytes: [UInt8] = []
        for i in 0..<5000 { bytes += Array("n\(i)\r\n".utf8) }
        feed.output(offset: 0, bytes: bytes)
        let fed = feed.feed(budget: 1000)
        XCTAssertLessThanOrEqual(fed, 1000)
        XCTAssertGreaterThan(feed.skippedBytes, 0)
        XCTAssertEqual(feed.screen.text().filter { !$0.isEmpty }.last, "n4999")
    }
}
