import XCTest
@testable import Hosting

final class PathsTests: XCTestCase {
    func testRootPrecedence() {
        XCTAssertEqual(SupervisorPaths.root(environment: ["SUPERVISOR_HOME": "/sv/", "XDG_STATE_HOME": "/x", "HOME": "/h"]), "/sv")
        XCTAssertEqual(SupervisorPaths.root(environment: ["SUPERVISOR_HOME": "", "XDG_STATE_HOME": "/x", "HOME": "/h"]), "/x/supervisor")
        XCTAssertEqual(SupervisorPaths.root(environment: ["XDG_STATE_HOME": "relative", "HOME": "/h"]), "/h/.local/state/supervisor")
        XCTAssertEqual(SupervisorPaths.root(environment: ["HOME": "/h"]), "/h/.local/state/supervisor")
        XCTAssertTrue(SupervisorPaths.root(environment: [:]).hasPrefix("/tmp/supervisor-"))
    }

    func testLayout() {
        let p = SupervisorPaths(environment: ["SUPERVISOR_HOME": "/sv"])
        XCTAssertEqual(p.profileDir("demo"), "/sv/profiles/demo")
        XCTAssertEqual(p.tmuxSocket(profile: "demo"), "/sv/profiles/demo/tmux.sock")
        XCTAssertEqual(p.settingsFile(profile: "demo"), "/sv/profiles/demo/settings.json")
        XCTAssertEqual(p.lockFile(profile: "demo"), "/sv/profiles/demo/up.lock")
        XCTAssertEqual(p.profileRecord(profile: "demo"), "/sv/profiles/demo/profile.json")
        XCTAssertEqual(p.agentDir(profile: "demo", agent: "goal"), "/sv/profiles/demo/agents/goal")
        XCTAssertEqual(p.specFile(profile: "demo", agent: "goal"), "/sv/profiles/demo/agents/goal/spec.json")
        XCTAssertEqual(p.stateFile(profile: "demo", agent: "goal"), "/sv/profiles/demo/agents/goal/state.json")
        XCTAssertEqual(p.shimSocket(profile: "demo", agent: "goal"), "/sv/profiles/demo/agents/goal/shim.sock")
        XCTAssertEqual(SupervisorPaths.logFile(logsDir: "/w/logs/", profile: "demo", agent: "goal"), "/w/logs/demo/goal.log")
        XCTAssertEqual(SupervisorPaths.eventsFile(logsDir: "/w/logs", profile: "demo", agent: "goal"), "/w/logs/demo/goal.events.jsonl")
    }

    func testSocketPathLimit() {
        XCTAssertNoThrow(try SupervisorPaths.checkSocketPath("/" + String(repeating: "a", count: 106)))
        let long = "/" + String(repeating: "a", count: 107)
        XCTAssertThrowsError(try SupervisorPaths.checkSocketPath(long)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("SUPERVISOR_HOME"), text)
            XCTAssertTrue(text.contains("108"), text)
            XCTAssertTrue(text.contains(long), text)
        }
        let deep = SupervisorPaths(root: "/" + String(repeating: "d", count: 80))
        XCTAssertThrowsError(try deep.checkSocketPaths(profile: "demo", agents: ["goal"]))
        XCTAssertNoThrow(try SupervisorPaths(root: "/sv").checkSocketPaths(profile: "demo", agents: ["goal", "coder"]))
    }
}
