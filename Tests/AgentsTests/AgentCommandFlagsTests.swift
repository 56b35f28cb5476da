import Foundation
import Hosting
import XCTest
import _TestSupport

/// The three built-in agents run by hand take the same model and budget flags, defined once
/// (SupervisorCLI/ModelFlags.swift), and say in one line at start what they are and how to go on.
final class AgentCommandFlagsTests: XCTestCase {
    static let sharedFlags = ["--provider", "--model", "--base-url", "--url", "--endpoint", "--api-key-env", "--script",
                              "--max-tokens", "--temperature", "--context-tokens", "--max-retries",
                              "--limit", "--time-budget", "--token-budget", "--cost-budget"]

    func testTheThreeAgentsTakeTheSameModelFlags() throws {
        let binary = GoalRunnerEndToEndTests.supervisorExecutable
        guard FileManager.default.isExecutableFile(atPath: binary) else { return XCTFail("no supervisor binary at \(binary)") }
        for kind in ["coder", "goal", "exec"] {
            let r = try runSubprocess([binary, "agent", kind, "--help"], environment: GoalRunnerEndToEndTests.environment)
            XCTAssertTrue(r.succeeded, r.errorOutput)
            for flag in Self.sharedFlags {
                XCTAssertTrue(r.output.contains(flag + " "), "\(kind) has no \(flag):\n\(r.output)")
            }
        }
    }

    /// `--script` means the script provider for every agent; each prints its one-line hint.
    func testEachAgentStartsWithItsHint() throws {
        let binary = GoalRunnerEndToEndTests.supervisorExecutable
        guard FileManager.default.isExecutableFile(atPath: binary) else { return XCTFail("no supervisor binary at \(binary)") }
        let dir = TemporaryDirectory(prefix: "hint")
        let script = dir.write("answer.script", "--- turn 1\nDONE: nothing to do\n")
        var env = GoalRunnerEndToEndTests.environment
        env["SUPERVISOR_HOME"] = dir.file("home")
        env["SUPERVISOR_CODER_WORKSPACE"] = dir.path
        env["XDG_STATE_HOME"] = dir.file("state")
        let runs: [(String, [String], String)] = [
            ("coder", ["--prompt", "hi", "--plain"], "coder agent · script (script) · answering the prompt"),
            ("goal", ["--goal", "nothing", "--plain", "--workdir", dir.path], "goal agent · script (script) · one shell command at a time"),
            ("exec", ["--prompt", "hi", "--workdir", dir.path], "exec agent · script (script) · working on the prompt"),
        ]
        for (kind, args, hint) in runs {
            let r = try runSubprocess([binary, "agent", kind, "--script", script] + args, environment: env)
            XCTAssertTrue(r.output.contains(hint), "\(kind): \(r.exit)\n\(r.output)\n\(r.errorOutput)")
        }
    }
}
