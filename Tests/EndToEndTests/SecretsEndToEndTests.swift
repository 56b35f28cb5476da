import Foundation
import Glibc
import XCTest
import _TestSupport

/// Invariant 5 across the whole stack: the three built-in agents run under `up` against a
/// loopback model with a recognisable key and debug dumps on; the key must reach the model (so
/// the test can fail) and nothing else: no log, event, state, spec, settings or debug file, and
/// no process's command line.
final class SecretsEndToEndTests: EndToEndTestCase {
    func testTheAPIKeyReachesTheModelAndNothingElse() throws {
        let key = "sk-CANARY-\(UInt32.random(in: 100_000...999_999))-do-not-leak"
        let model = try ThreadedFakeModel()
        defer { model.stop() }
        // Every request gets the same answer: the goal agent is done, the others got text.
        model.afterScript = "DONE: nothing to do"
        let workspace = sv.home.file("ws")
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        let path = sv.writeProfile("secret", """
            [llm]
            provider = "openai-compatible"
            base_url = \(tomlString(model.baseURL))
            api_key_env = "SV_TEST_CANARY_KEY"
            model = "fake-model"
            debug = true

            [[agents]]
            name = "goal"
            kind = "goal"
            cwd = \(tomlString(workspace))
            goal = "Nothing."
            restart = "never"

            [[agents]]
            name = "coder"
            kind = "coder"
            cwd = \(tomlString(workspace))
            prompt = "Say hello."
            permission = "yolo"
            restart = "never"

            [[agents]]
            name = "exec"
            kind = "exec"
            cwd = \(tomlString(workspace))
            prompt = "Say hello."
            restart = "never"

            """)
        // Headless `up` (stdout is a file here) waits until every agent has finished.
        let up = try sv.run(["up", path], environment: ["SV_TEST_CANARY_KEY": key], timeout: 120)
        XCTAssertEqual(up.status, 0, "\(up) \(up.stderr)")

        // The key was used: every request carried it.
        let headers = model.credentialHeaders
        XCTAssertGreaterThanOrEqual(headers.count, 3)
        XCTAssertTrue(headers.allSatisfy { $0.contains(key) }, "\(headers)")

        // Nothing written by supervisor holds it: state, specs, launch configs, settings, logs,
        // events, debug dumps.
        var scanned = 0
        var debugDumps = 0
        for root in [sv.root] { // the logs live under it too
            let enumerator = FileManager.default.enumerator(atPath: root)
            while let relative = enumerator?.nextObject() as? String {
                let file = root + "/" + relative
                guard !relative.hasPrefix(".out-"), !relative.hasPrefix(".err-"), !relative.hasSuffix(".toml"),
                      let data = FileManager.default.contents(atPath: file) else { continue }
                scanned += 1
                if relative.hasSuffix(".debug.jsonl") {
                    debugDumps += 1
                    XCTAssertNotNil(data.range(of: Data("[REDACTED]".utf8)), "\(relative) does not show the redaction")
                }
                XCTAssertNil(data.range(of: Data(key.utf8)), "the key is in \(relative)")
            }
        }
        XCTAssertGreaterThan(scanned, 10)
        XCTAssertGreaterThanOrEqual(debugDumps, 3, "debug = true wrote no dumps")

        // No command line carries it (the shims are still up; the agents have exited).
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            XCTAssertNil(cmdline.range(of: Data(key.utf8)), "pid \(entry)'s command line holds the key")
        }
    }

    /// A command agent gets no variable named like a secret from `up`'s environment unless its
    /// `pass_env` lists it, and the private tmux server keeps only what some agent is given.
    func testCommandAgentsGetOnlyTheSecretsTheirProfileLists() throws {
        let path = sv.writeProfile("scrub",
            agent("plain", sh("env; echo plain-done; exec sleep 600")) +
            agent("cli", sh("env; echo cli-done; exec sleep 600"), extra: "pass_env = [\"SV_VENDOR_API_KEY\"]"))
        let secrets = ["SV_VENDOR_API_KEY": "vendor-CANARY-1", "SV_GITHUB_TOKEN": "token-CANARY-2", "PGPASSWORD": "pw-CANARY-3",
                       "SV_PLAIN_SETTING": "visible-4"]
        let up = try sv.run(["up", path, "--detach"], environment: secrets)
        XCTAssertEqual(up.status, 0, "\(up)")
        try sv.waitForLog("scrub", "plain", containing: "plain-done")
        try sv.waitForLog("scrub", "cli", containing: "cli-done")
        let plain = String(decoding: sv.log("scrub", "plain"), as: UTF8.self)
        let cli = String(decoding: sv.log("scrub", "cli"), as: UTF8.self)
        for canary in ["vendor-CANARY-1", "token-CANARY-2", "pw-CANARY-3"] {
            XCTAssertFalse(plain.contains(canary), "plain got \(canary)")
        }
        XCTAssertTrue(plain.contains("SV_PLAIN_SETTING=visible-4"))
        XCTAssertTrue(cli.contains("SV_VENDOR_API_KEY=vendor-CANARY-1"), "pass_env did not pass the key")
        XCTAssertFalse(cli.contains("token-CANARY-2"))
        let server = try sv.tmux("scrub", ["show-environment", "-g"]).stdout
        XCTAssertFalse(server.contains("token-CANARY-2"), "the tmux server holds a token no agent needs")
        XCTAssertFalse(server.contains("pw-CANARY-3"))
    }
}
