import XCTest
@testable import Hosting

final class AgentStateTests: XCTestCase {
    var tmp: TempDir!
    override func setUp() { tmp = TempDir() }
    override func tearDown() { tmp.remove() }

    func sample() -> AgentState {
        var s = AgentState(profile: "demo", agent: "goal", kind: .goal, shimPid: 100, since: 1_700_000_000.25,
                           logPath: "/l/demo/goal.log", eventsPath: "/l/demo/goal.events.jsonl",
                           socketPath: "/s/shim.sock")
        s.recordRunStart(pid: 200, at: 1_700_000_001)
        s.transition(to: .running, at: 1_700_000_001)
        s.recordRunEnd(exit: .signaled(9), at: 1_700_000_005)
        s.lastError = "killed"
        s.bracketedPaste = true
        s.logBytes = 12345
        s.restarts = 1
        return s
    }

    func testWriteReadRoundTrip() throws {
        let path = tmp.file("agents/goal/state.json")
        let s = sample()
        try StateFile.write(s, to: path)
        XCTAssertEqual(try StateFile.read(path: path), s)
        // No temp files left behind.
        XCTAssertFalse(fileExists(path + ".tmp.\(getpid())"))
        let text = readFileString(path) ?? ""
        XCTAssertTrue(text.contains("\"state\": \"running\""), text)
        XCTAssertTrue(text.contains("\"signal\": 9"), text)
    }

    func testOverwriteReplacesWhole() throws {
        let path = tmp.file("state.json")
        var s = sample()
        s.lastError = String(repeating: "x", count: 5000)
        try StateFile.write(s, to: path)
        s.lastError = nil
        s.transition(to: .stopped, at: 2_000_000_000)
        try StateFile.write(s, to: path)
        let back = try StateFile.read(path: path)
        XCTAssertNil(back.lastError)
        XCTAssertEqual(back.state, .stopped)
        XCTAssertEqual(back.since, 2_000_000_000)
    }

    func testReadErrors() {
        XCTAssertThrowsError(try StateFile.read(path: tmp.file("missing.json"))) { e in
            XCTAssertEqual(e as? StateFileError, .notFound(path: tmp.file("missing.json")))
        }
        writeFile(tmp.file("bad.json"), "{not json")
        XCTAssertThrowsError(try StateFile.read(path: tmp.file("bad.json"))) { e in
            guard case .invalid? = e as? StateFileError else { return XCTFail("\(e)") }
        }
    }

    func testRunsAreCapped() {
        var s = sample()
        for i in 0..<30 {
            s.recordRunStart(pid: Int32(1000 + i), at: Double(i))
            s.recordRunEnd(exit: .exited(Int32(i % 2)), at: Double(i) + 0.5)
        }
        XCTAssertEqual(s.runs.count, AgentState.maxRuns)
        XCTAssertEqual(s.runs.last?.pid, 1029)
        XCTAssertEqual(s.runs.first?.pid, 1010)
        XCTAssertEqual(s.runs.last?.exit, .exited(1))
        XCTAssertNil(s.agentPid)
    }

    func testTransitionStampsOnlyOnChange() {
        var s = sample()
        s.transition(to: .running, at: 5)
        XCTAssertEqual(s.since, 1_700_000_001)
        s.transition(to: .failed, at: 5)
        XCTAssertEqual(s.since, 5)
        XCTAssertFalse(s.state.isActive)
    }
}
