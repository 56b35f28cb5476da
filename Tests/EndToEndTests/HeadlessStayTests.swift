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
        // The same agent without the staying state: headless up must still be waiting.
        let path = sv.writeProfile("waits", agent("server", sh("echo server-up; exec sleep 600")))
        let up = try sv.start(["up", "--headless", path])
        try sv.waitForLog("waits", "server", containing: "server-up")
        XCTAssertTrue(up.isRunning, "up --headless returned while an agent still runs")
        // Ctrl-C stops the waiting, not the agents.
        let pid = try XCTUnwrap(sv.state("waits", "server")?.agentPid)
        up.signal(SIGINT)
        let result = try up.wait(seconds: 30)
        XCTAssertTrue(result.stdout.contains("stopped waiting; the agents keep running"), "\(result)")
        XCTAssertTrue(isRunningProcess(pid))
        try ok(["down", "waits"])
    }
}
