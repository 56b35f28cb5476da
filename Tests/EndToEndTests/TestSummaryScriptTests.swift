import Foundation
import XCTest
import _TestSupport

/// `scripts/test-summary.sh` (what `./scripts/test.sh` ends with) on every form of XCTest's
/// closing line: one test, many, skipped tests, failures, several failures in one test, and a
/// run that crashed before any closing line. Skipped tests are counted as skipped, never failed.
final class TestSummaryScriptTests: XCTestCase {
    private var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/test-summary.sh").path
    }

    /// The script's one line for `log` as `swift test` output, run by bash under `set -euo pipefail`
    /// as scripts/test.sh runs it.
    private func summary(_ log: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let harness = SupervisorHarness(executable: "/bin/bash")
        let result = try harness.run(["-c", "set -euo pipefail; source \"$0\"; printf '%s' \"$SV_SAMPLE\" | sv_test_summary", script],
                                     environment: ["SV_SAMPLE": log], timeout: 20)
        XCTAssertEqual(result.status, 0, result.description, file: file, line: line)
        XCTAssertEqual(result.stderr, "", file: file, line: line)
        return result.stdout
    }

    private func passed(_ name: String) -> String { "Test Case '\(name)' started at 2026-12-05 00:00:00.000\nTest Case '\(name)' passed (0.001 seconds)\n" }
    private func failed(_ name: String) -> String { "Test Case '\(name)' started at 2026-12-05 00:00:00.000\nTest Case '\(name)' failed (0.001 seconds)\n" }
    private func skipped(_ name: String) -> String { "Test Case '\(name)' started at 2026-12-05 00:00:00.000\nTest Case '\(name)' skipped (0.001 seconds)\n" }
    private func closing(_ middle: String) -> String {
        "Test Suite 'All tests' passed at 2026-12-05 00:00:01.000\n\t Executed \(middle) (0 unexpected) in 0.010 (0.012) seconds\n"
    }

    func testOneTest() throws {
        XCTAssertEqual(try summary(passed("A.testA") + closing("1 test, with 0 failures")), "1 passed, 0 failed, 0 skipped\n")
    }

    func testManyTests() throws {
        XCTAssertEqual(try summary(passed("A.testA") + passed("A.testB") + closing("562 tests, with 0 failures")),
                       "562 passed, 0 failed, 0 skipped\n")
    }

    func testOneSkippedTestNeverFails() throws {
        let log = passed("A.testA") + skipped("A.testB") + closing("562 tests, with 1 test skipped and 0 failures")
        XCTAssertEqual(try summary(log), "561 passed, 0 failed, 1 skipped\n")
    }

    func testSkippedTestsAndFailures() throws {
        let log = failed("A.testA") + skipped("A.testB") + skipped("A.testC") + closing("9 tests, with 2 tests skipped and 1 failure")
        XCTAssertEqual(try summary(log), "6 passed, 1 failed, 2 skipped\n")
    }

    /// XCTest counts failed assertions: one test that failed three times is one failed test.
    func testSeveralFailuresInOneTest() throws {
        let log = failed("A.testA") + passed("A.testB") + closing("2 tests, with 3 failures")
        XCTAssertEqual(try summary(log), "1 passed, 1 failed, 0 skipped\n")
    }

    /// Nested suites each print a closing line; the last one (the outermost) counts.
    func testTheLastClosingLineCounts() throws {
        let log = passed("A.testA") + closing("1 test, with 0 failures") + passed("B.testB") + closing("2 tests, with 0 failures")
        XCTAssertEqual(try summary(log), "2 passed, 0 failed, 0 skipped\n")
    }

    /// The test process crashed: no closing line, so the test cases' own lines are counted.
    func testNoClosingLine() throws {
        let log = passed("A.testA") + skipped("A.testB") + failed("A.testC") + "Test Case 'A.testD' started at 2026-12-05\nFatal error\n"
        XCTAssertEqual(try summary(log), "1 passed, 1 failed, 1 skipped\n")
        XCTAssertEqual(try summary(""), "0 passed, 0 failed, 0 skipped\n")
    }
}
