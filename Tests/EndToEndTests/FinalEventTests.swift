import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// An agent that says its end is conclusive (a `final` event on fd 3) is not restarted by the
/// restart policy; one that does not say so is.
final class FinalEventTests: EndToEndTestCase {
    func testAFinalEndIsNotRestartedAndAnOrdinaryFailureIs() throws {
        let final = #"echo '{"type":"final","reason":"the budget is spent"}' >&3; echo final-run; exit 3"#
        let path = sv.writeProfile("finals", agent("done", sh(final), extra: "backoff_initial = 0.1\nmax_restarts = 2")
            + agent("retry", sh("echo retry-run; exit 3"), extra: "backoff_initial = 0.1\nbackoff_max = 0.2\nmax_restarts = 2"))
        try upDetached(path)
        let retry = try sv.waitForState("finals", "retry", "given up after its restarts", seconds: 30) { $0.state == .failed }
        XCTAssertEqual(retry.runs.count, 3)
        let done = try sv.waitForState("finals", "done", "ended for good", seconds: 30) { $0.state == .failed }
        XCTAssertEqual(done.runs.map(\.exit), [.exited(3)])
        XCTAssertEqual(done.restarts, 0)
        XCTAssertEqual(done.lastError, "the budget is spent; not restarted (the agent ended for good)")
        let status = try ok(["status", "finals"]).stdout
        XCTAssertTrue(status.contains("failed"), status)
    }
}
