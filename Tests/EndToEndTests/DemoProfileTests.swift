import Foundation
import XCTest
import _TestSupport

/// The shipped demo (profiles/demo.toml with its recorded model turns) run headless as
/// scripts/demo.sh runs it (`down demo`, then `up`), twice in a row in the same directory: the
/// second run finds the first one's files in the workspace and must end the same way.
final class DemoProfileTests: EndToEndTestCase {
    private var repositoryProfiles: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("profiles")
    }

    /// A copy of profiles/demo.toml, its scripts and its workspace under the test's home; its
    /// `../logs` is then the harness's logs directory. The goal's port is replaced by a free
    /// one, so a demo running on this machine does not collide with the test.
    private func copyDemo() throws -> String {
        let fm = FileManager.default
        let profiles = sv.root + "/profiles"
        try fm.createDirectory(atPath: profiles + "/demo-workspace", withIntermediateDirectories: true)
        try fm.copyItem(atPath: repositoryProfiles.appendingPathComponent("scripts").path, toPath: profiles + "/scripts")
        let port = String(freeLoopbackPort())
        for file in ["demo.toml", "scripts/goal-demo.script"] {
            let source = file == "demo.toml" ? repositoryProfiles.appendingPathComponent(file).path : profiles + "/" + file
            let text = try String(contentsOfFile: source, encoding: .utf8)
            XCTAssertTrue(text.contains("8765"), "\(file) no longer serves on 8765: update this test")
            try text.replacingOccurrences(of: "8765", with: port).write(toFile: profiles + "/" + file, atomically: true, encoding: .utf8)
        }
        sv.track(profile: "demo")
        return profiles + "/demo.toml"
    }

    func testTheDemoRunsHeadlessTwiceInARow() throws {
        let profile = try copyDemo()
        for run in 1...2 {
            _ = try sv.run(["down", "demo"])
            let up = try sv.start(["up", profile, "--headless"])
            // The echo agent waits for input (60 s at most): end it once this run's echo asks.
            try waitFor("run \(run)'s echo agent to ask for a line", seconds: 60) {
                String(decoding: sv.log("demo", "echo"), as: UTF8.self).components(separatedBy: "type a line").count - 1 >= run
            }
            try ok(["send", "demo", "echo", "quit"])
            let result = try up.wait(seconds: 120)
            XCTAssertEqual(result.status, 0, "demo run \(run): \(result)\ncoder log:\n\(String(decoding: sv.log("demo", "coder"), as: UTF8.self))")
            for agent in ["goal", "coder", "exec", "counter", "echo"] {
                let row = result.stdout.split(separator: "\n").first { $0.hasPrefix(agent + " ") }.map(String.init) ?? ""
                XCTAssertTrue(row.contains("exit code 0"), "demo run \(run), \(agent): \(row)\n\(result.stdout)")
            }
        }
    }
}
