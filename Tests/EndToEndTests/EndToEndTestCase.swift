import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// Base of the end-to-end tests: each test gets its own `SupervisorHarness` (private
/// SUPERVISOR_HOME, logs under it) that is torn down even when the test fails.
class EndToEndTestCase: XCTestCase {
    var sv: SupervisorHarness!

    /// The binary sits next to the test bundle (on Linux `Bundle(for:)` may already be that directory).
    static var supervisorExecutable: String {
        let bundle = Bundle(for: EndToEndTestCase.self).bundleURL
        let candidates = [bundle.deletingLastPathComponent().appendingPathComponent("supervisor").path,
                          bundle.appendingPathComponent("supervisor").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        let executable = EndToEndTestCase.supervisorExecutable
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            XCTFail("no supervisor binary at \(executable) (build with `swift build --build-tests`)")
            throw CommandTimedOut(command: [executable], seconds: 0)
        }
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: SupervisorHarness.tmuxExecutable), "tmux is not installed")
        let harness = SupervisorHarness(executable: executable)
        sv = harness
        addTeardownBlock { harness.cleanUp() }
    }

    /// `[[agents]]` of kind command.
    func agent(_ name: String, _ command: [String], extra: String = "") -> String {
        "[[agents]]\nname = \(tomlString(name))\nkind = \"command\"\ncommand = \(tomlArray(command))\n\(extra)\n"
    }

    /// `sh -c SCRIPT` as an argv.
    func sh(_ script: String) -> [String] { ["sh", "-c", script] }

    /// Runs `supervisor ARGS` and asserts exit 0.
    @discardableResult
    func ok(_ arguments: [String], timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
        let result = try sv.run(arguments, timeout: timeout)
        XCTAssertEqual(result.status, 0, "supervisor \(arguments.joined(separator: " ")): \(result)", file: file, line: line)
        return result
    }

    /// Asserts a failure: exit status 2, exactly one line on stderr containing every `fragments`.
    func assertOneLineError(_ result: RunResult, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 2, "\(result)", file: file, line: line)
        XCTAssertFalse(result.signaled, file: file, line: line)
        XCTAssertEqual(result.stderrLines.count, 1, "expected one line: \(result)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(result.stderr.contains(fragment), "stderr lacks \(fragment.debugDescription): \(result.stderr)", file: file, line: line)
        }
    }

    /// Brings a profile up detached, asserting success.
    func upDetached(_ profilePath: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try sv.run(["up", profilePath, "--detach"], timeout: 60)
        XCTAssertEqual(result.status, 0, "up --detach: \(result)", file: file, line: line)
        if result.status != 0 { throw CommandFailed(result: result) }
    }

    func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}
