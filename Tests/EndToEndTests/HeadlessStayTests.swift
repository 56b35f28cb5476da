import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// `up --headless` waits for agents to come to rest; an agent that reached its goal and stays
/// to keep what it started (a goal agent with `stay`, saying state "staying") is at rest.
final class HeadlessStayTests: EndToEndTestCase {
    func testHeadlessUpReturnsWhenTheOnlyRunningAgentStays() throws {
        let stay = #"echo stay-up; echo '{"type":"state","state":"staying"}' >&3; exec sleep 600"#
        let path = sv.writeProfile("stays", agent("server", sh(stay)) + agent("once", sh("echo once-done"), extra: "restart = \"never\""))
        let up = try sv.run(["up", "--headless", path], timeout: 60)
        XCTAssertEqual(up.status, 0, "\(up)")
        let row = up.stdout.split(separator: "\n").first { $0.hasPrefix("server") }.map(String.init) ?? ""
        XCTAssertTrue(row.contains("running (goal reached, staying)"), up.stdout)
        let server = try XCTUnwrap(sv.state("stays", "server"))
        XCTAssertEqual(server.state, .running)
        XCTAssertTrue(isRunningProcess(try XCTUnwrap(server.agentPid)), "a staying agent keeps running after up returns")
        try ok(["down", "stays"])
    }

    func testAnAgentThatDoesNotStayIsWaitedFor() throws {
        // The same agent without the staying state: headless up waits for it to end. Its
        // summary, printed when `down` has stopped the agent, proves it waited: had it returned
        // while the agent ran, the row would say running.
        let path = sv.writeProfile("waits", agent("server", sh("echo server-up; exec sleep 600")))
        let up = try sv.start(["up", "--headless", path])
        try sv.waitForLog("waits", "server", containing: "server-up")
        // `up` holds the profile's lock until every agent has reported its start.
        try waitFor("down to take the profile's lock after up") { try sv.run(["down", "waits"]).status == 0 }
        let result = try up.wait(seconds: 30)
        let row = result.stdout.split(separator: "\n").first { $0.hasPrefix("server") }.map(String.init) ?? ""
        XCTAssertTrue(row.contains("stopped"), "\(result)")
        XCTAssertFalse(row.contains("running"), "\(result)")
    }
}
