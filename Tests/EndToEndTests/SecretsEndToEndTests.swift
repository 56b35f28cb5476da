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

        // The agents got it from their shims, not from the tmux server every window inherits.
        let serverPid = try sv.tmux("secret", ["display-message", "-p", "#{pid}"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        for (place, text) in [("show-environment -g", try sv.tmux("secret", ["show-environment", "-g"]).stdout),
                              ("show-environment -t", try sv.tmux("secret", ["show-environment", "-t", "secret"]).stdout),
                              ("the server's environ", String(decoding: FileManager.default.contents(atPath: "/proc/\(serverPid)/environ") ?? Data(), as: UTF8.self))] {
            if place != "show-environment -t" { XCTAssertTrue(text.contains("PATH="), "\(place): \(text)") } // the session's holds only update-environment's
            XCTAssertFalse(text.contains(key), "the key is in the tmux server's \(place)")
        }

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
        try assertKeysOnlyWhereNeeded(profile: "scrub", canaries: ["vendor-CANARY-1", "token-CANARY-2", "pw-CANARY-3"],
                                      agent: "cli", needs: "SV_VENDOR_API_KEY=vendor-CANARY-1")

        // A restart (from a shell that has no key at all) gives the agent its key again: the
        // shim kept it in memory.
        let firstPid = try XCTUnwrap(sv.state("scrub", "cli")?.agentPid)
        let restart = try sv.run(["restart", "scrub", "cli"])
        XCTAssertEqual(restart.status, 0, "\(restart)")
        try sv.waitForState("scrub", "cli", "running") { $0.agentPid != nil && $0.agentPid != firstPid }
        try assertKeysOnlyWhereNeeded(profile: "scrub", canaries: ["vendor-CANARY-1", "token-CANARY-2", "pw-CANARY-3"],
                                      agent: "cli", needs: "SV_VENDOR_API_KEY=vendor-CANARY-1")

        // A shim that died is replaced by `start`, which hands the new shim the key from its own
        // environment as `up` did.
        let shim = try XCTUnwrap(sv.state("scrub", "cli")?.shimPid)
        kill(shim, SIGKILL)
        // Dead is enough: tmux 3.3a with libutempter can lose the pane's SIGCHLD and leave the
        // shim a zombie until its next child ends (README, Troubleshooting;
        // scripts/tmux-lost-sigchld.sh), and `start` must treat a zombie shim as gone.
        try waitFor("the killed shim to be dead") {
            kill(shim, 0) != 0 || (try? String(contentsOfFile: "/proc/\(shim)/stat", encoding: .utf8))?
                .split(separator: ")").last?.split(separator: " ").first == "Z"
        }
        let start = try sv.run(["start", "scrub", "cli"], environment: secrets)
        XCTAssertEqual(start.status, 0, "\(start)")
        try sv.waitForState("scrub", "cli", "running") { $0.shimPid != shim && $0.agentPid != nil }
        try assertKeysOnlyWhereNeeded(profile: "scrub", canaries: ["vendor-CANARY-1", "token-CANARY-2", "pw-CANARY-3"],
                                      agent: "cli", needs: "SV_VENDOR_API_KEY=vendor-CANARY-1")
    }

    /// A built-in agent given a secret (`pass_env`) keeps it to itself: the shells the coder
    /// and the goal runner run commands in get nothing named like a secret.
    func testTheShellsOfBuiltInAgentsGetNoSecrets() throws {
        let workspace = sv.home.file("shells")
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        let dump = #"tr '\\0' '\\n' < /proc/$$/environ > "#
        let coderScript = sv.home.write("coder.script", """
            --- turn 1
            @tool Bash {"command": "\(dump)coder-shell.env"}
            --- turn 2
            Done.

            """)
        let goalScript = sv.home.write("goal.script", """
            --- turn 1
            \(dump.replacingOccurrences(of: "\\\\", with: "\\"))goal-shell.env
            --- turn 2
            DONE: written

            """)
        let path = sv.writeProfile("shells", """
            [[agents]]
            name = "coder"
            kind = "coder"
            cwd = \(tomlString(workspace))
            prompt = "Dump the environment"
            permission = "yolo"
            restart = "never"
            pass_env = ["SV_AGENT_TOKEN"]
            [agents.llm]
            provider = "script"
            script = \(tomlString(coderScript))

            [[agents]]
            name = "goal"
            kind = "goal"
            cwd = \(tomlString(workspace))
            goal = "Dump the environment"
            restart = "never"
            pass_env = ["SV_AGENT_TOKEN"]
            [agents.llm]
            provider = "script"
            script = \(tomlString(goalScript))

            """)
        let up = try sv.run(["up", path, "--detach"], environment: ["SV_AGENT_TOKEN": "agent-CANARY-5"])
        XCTAssertEqual(up.status, 0, "\(up)")
        for agent in ["coder", "goal"] {
            try sv.waitForState("shells", agent, "exited", seconds: 30) { $0.state == .exited }
            let file = workspace + "/\(agent)-shell.env"
            let env = try String(contentsOfFile: file, encoding: .utf8)
            XCTAssertTrue(env.contains("PATH="), "\(agent): \(env)")
            XCTAssertFalse(env.contains("agent-CANARY-5"), "\(agent)'s shell got the token: \(env)")
        }
    }

    /// The key is in the environment of `agent`'s process and nowhere else we can look: not the
    /// tmux server's environment (global or session), not its process, no shim's process, no
    /// other agent, no command line.
    private func assertKeysOnlyWhereNeeded(profile: String, canaries: [String], agent: String, needs: String,
                                           file: StaticString = #filePath, line: UInt = #line) throws {
        var places: [String: String] = [:]
        places["tmux show-environment -g"] = try sv.tmux(profile, ["show-environment", "-g"]).stdout
        places["tmux show-environment -t"] = try sv.tmux(profile, ["show-environment", "-t", profile]).stdout
        let serverPid = try sv.tmux(profile, ["display-message", "-p", "#{pid}"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotNil(Int32(serverPid), "tmux server pid: \(serverPid)", file: file, line: line)
        places["the tmux server's environ"] = environ(of: serverPid)
        var needing: String?
        let record = try String(contentsOfFile: sv.profileDir(profile) + "/profile.json", encoding: .utf8)
        for name in try sv.windows(profile) {
            guard let state = sv.state(profile, name) else { XCTFail("no state for \(name)", file: file, line: line); continue }
            places["\(name)'s shim's environ"] = environ(of: "\(state.shimPid)")
            places["\(name)'s shim's command line"] = cmdline(of: "\(state.shimPid)")
            guard let pid = state.agentPid else { continue }
            if name == agent { needing = environ(of: "\(pid)") } else { places["\(name)'s environ"] = environ(of: "\(pid)") }
            places["\(name)'s command line"] = cmdline(of: "\(pid)")
        }
        places["profile.json"] = record
        XCTAssertTrue(needing?.contains(needs) ?? false, "\(agent) does not have \(needs)", file: file, line: line)
        for (place, text) in places {
            for canary in canaries { XCTAssertFalse(text.contains(canary), "\(canary) is in \(place)", file: file, line: line) }
        }
    }

    private func environ(of pid: String) -> String {
        String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data(), as: UTF8.self)
    }

    private func cmdline(of pid: String) -> String {
        String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data(), as: UTF8.self)
    }
}
