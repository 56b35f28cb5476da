import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

final class BadInputTests: EndToEndTestCase {
    /// `up` must fail with exit 2, one line containing `fragments`, and start nothing.
    func assertUpRejected(_ profile: String, _ path: String, _ fragments: [String], environment: [String: String]? = nil,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try sv.run(["up", path, "--detach"], environment: environment, timeout: 30)
        assertOneLineError(result, fragments, file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
        XCTAssertFalse(fileExists(sv.tmuxSocket(profile)), "a tmux socket was left", file: file, line: line)
        XCTAssertFalse(fileExists(sv.profileDir(profile) + "/profile.json"), "a profile record was left", file: file, line: line)
        XCTAssertFalse(fileExists(sv.logsDir + "/" + profile + "/a.log"), "an agent ran", file: file, line: line)
    }

    /// 11. Each kind of bad input: exit 2, one line naming the problem, nothing started.
    func testSyntaxError() throws {
        sv.track(profile: "syn")
        let path = sv.home.write("syn.toml", "name = \"syn\"\n[[agents]\nname = \"a\"\n")
        try assertUpRejected("syn", path, ["\(path):2:"])
        let result = try sv.run(["up", path, "--detach"])
        XCTAssertNotNil(result.stderr.range(of: "^supervisor: " + NSRegularExpression.escapedPattern(for: path) + #":2:\d+: "#,
                                            options: .regularExpression), result.stderr)
        let validate = try sv.run(["validate", path])
        assertOneLineError(validate, ["\(path):2:"])
    }

    func testUnknownKeyWithSuggestion() throws {
        let path = sv.writeProfile("typo", agent("a", ["sleep", "5"], extra: "restrat = \"never\""))
        // name, blank, [logs], dir, blank, [[agents]], name, kind, command, restrat: line 10, column 1.
        try assertUpRejected("typo", path, ["\(path):10:1: agents[0].restrat: unknown key \"restrat\" (did you mean \"restart\"?)"])
    }

    func testDuplicateAgentName() throws {
        let path = sv.writeProfile("dup", agent("a", ["sleep", "5"]) + agent("a", ["sleep", "5"]))
        // The second [[agents]] starts on line 11; its name value is on line 12, column 8.
        try assertUpRejected("dup", path, ["\(path):12:8: agents[1].name: duplicate agent name \"a\" (first used on line 7)"])
    }

    func testUnreadableProfile() throws {
        sv.track(profile: "missing")
        let path = sv.home.file("missing.toml")
        try assertUpRejected("missing", path, ["\(path):0:0: cannot read profile", "No such file or directory"])
        // A directory is not a readable profile either.
        let dir = sv.home.file("dir.toml")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        sv.track(profile: "dir")
        try assertUpRejected("dir", dir, ["\(dir):0:0: cannot read profile"])
    }

    func testTmuxMissing() throws {
        let bin = sv.home.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for tool in ["sh", "bash", "sleep", "cat", "env", "stty", "seq"] {
            for dir in ["/usr/bin", "/bin"] where access("\(dir)/\(tool)", X_OK) == 0 {
                try? FileManager.default.createSymbolicLink(atPath: "\(bin)/\(tool)", withDestinationPath: "\(dir)/\(tool)")
            }
        }
        let path = sv.writeProfile("notmux", agent("a", ["sleep", "5"]))
        try assertUpRejected("notmux", path, ["tmux is not installed"], environment: ["PATH": bin])
    }

    func testStateDirectoryNotWritable() throws {
        // Root may write anywhere: a state directory whose parent is a regular file cannot be made by anyone.
        let blocker = sv.home.write("blocker", "not a directory\n")
        let path = sv.writeProfile("nostate", agent("a", ["sleep", "5"]))
        let result = try sv.run(["up", path, "--detach"], environment: ["SUPERVISOR_HOME": blocker + "/home"], timeout: 30)
        assertOneLineError(result, ["state directory", blocker + "/home/profiles/nostate"])
        XCTAssertFalse(fileExists(sv.logsDir + "/nostate/a.log"))
    }

    /// A built-in agent whose API key variable is unset: named before anything starts.
    func testMissingAPIKeyIsNamedBeforeAnythingStarts() throws {
        let path = sv.writeProfile("keys", """
            [[agents]]
            name = "a"
            kind = "coder"
            [agents.llm]
            model = "gpt-4o-mini"
            api_key_env = "SV_TEST_UNSET_KEY"

            """)
        sv.environment["SV_TEST_UNSET_KEY"] = nil
        try assertUpRejected("keys", path, ["agent \"a\"", "SV_TEST_UNSET_KEY is not set"])
    }

    func testTwoUpsRacing() throws {
        let path = sv.writeProfile("race", agent("a", ["sleep", "600"]) + agent("b", ["sleep", "600"]))
        // Neither is --detach: the loser must fail whether it overlaps the winner or comes after it.
        let first = try sv.start(["up", path])
        let second = try sv.start(["up", path])
        let results: [RunResult]
        // The winner waits for its agents (headless); the loser ends on its own.
        var loser: RunResult?
        var loserIndex = -1
        try waitFor("one of the racing ups to end", seconds: 60) {
            !first.isRunning || !second.isRunning
        }
        if !first.isRunning { loser = try first.wait(); loserIndex = 0 }
        else { loser = try second.wait(); loserIndex = 1 }
        let winner = loserIndex == 0 ? second : first
        let failure = try XCTUnwrap(loser)
        XCTAssertEqual(failure.status, 2, "\(failure)")
        XCTAssertEqual(failure.stderrLines.count, 1, "\(failure)")
        XCTAssertTrue(failure.stderr.contains("already up") || failure.stderr.contains("another supervisor command is starting"),
                      failure.stderr)
        try sv.waitForState("race", "a", "running") { $0.state == .running }
        try sv.waitForState("race", "b", "running") { $0.state == .running }
        XCTAssertTrue(winner.isRunning, "the winner gave up: \(winner.stdout) \(winner.stderr)")
        XCTAssertEqual(try sv.windows("race"), ["a", "b"])
        XCTAssertEqual(try sv.status("race").map(\.state), ["running", "running"])
        winner.signal(SIGINT)
        results = [try winner.wait(seconds: 20)]
        XCTAssertEqual(results[0].status, 0, "\(results[0])")
        XCTAssertEqual(try sv.status("race").map(\.state), ["running", "running"], "interrupting the viewer stopped agents")
    }

    /// Bad flags and arguments: exit 2, one line, no usage dump.
    func testBadFlagsGiveOneLine() throws {
        let path = sv.writeProfile("flags", agent("a", ["sleep", "5"]))
        for (arguments, fragment) in [(["up", path, "--detach", "--headless"], "--detach and --headless exclude each other"),
                                      (["logs", "flags", "a", "--lines", "x"], "--lines"),
                                      (["frobnicate"], "unknown command \"frobnicate\"; commands: up, down, status,"),
                                      (["frobnicate", "--detach"], "unknown command \"frobnicate\""),
                                      (["up"], "<profile>"),
                                      (["set", path, "a"], "give key=value, or --reset")] {
            let result = try sv.run(arguments)
            assertOneLineError(result, ["supervisor: ", fragment])
            XCTAssertEqual(result.stdout, "")
        }
        XCTAssertFalse(fileExists(sv.tmuxSocket("flags")))
        XCTAssertEqual(try ok(["--help"]).stdout.contains("USAGE: supervisor <subcommand>"), true)
        XCTAssertEqual(try ok(["help", "up"]).stdout.contains("USAGE: supervisor up"), true)
    }

    /// A program or working directory that is not there: one line naming the profile's
    /// file:line:column of the key. A path is looked for where the agent starts, not in PATH.
    /// Nothing is left behind: no state or log directory.
    func testMissingProgramAndDirectoryPointAtTheirKeys() throws {
        // name, blank, [logs], dir, blank, [[agents]] (6), name, kind, command (9).
        let inPath = sv.writeProfile("noprog", agent("a", ["no-such-program-e2e"]))
        try assertUpRejected("noprog", inPath, ["\(inPath):9:1: agent \"a\": program \"no-such-program-e2e\" not found in PATH"])
        let relative = sv.writeProfile("norel", agent("a", ["./nothere.sh"]))
        try assertUpRejected("norel", relative, ["\(relative):9:1: agent \"a\": program \"./nothere.sh\" not found: \(sv.root)/nothere.sh does not exist"])
        XCTAssertFalse(try sv.run(["up", relative, "--detach"]).stderr.contains("PATH"))
        let noCwd = sv.writeProfile("nocwd", agent("a", ["true"], extra: "cwd = \"gone\""))
        try assertUpRejected("nocwd", noCwd, ["\(noCwd):10:1: agent \"a\": working directory \(sv.root)/gone does not exist"])
        // The profile's workdir, when the agent has no cwd of its own (line 2).
        sv.track(profile: "nowork")
        let noWorkdir = sv.home.write("nowork.toml", "name = \"nowork\"\nworkdir = \"gone\"\n[logs]\ndir = \(tomlString(sv.logsDir))\n"
                                      + agent("a", ["true"]))
        try assertUpRejected("nowork", noWorkdir, ["\(noWorkdir):2:1: agent \"a\": working directory \(sv.root)/gone does not exist"])
        for profile in ["noprog", "norel", "nocwd", "nowork"] {
            XCTAssertFalse(fileExists(sv.profileDir(profile)), "a failed up left \(sv.profileDir(profile))")
            XCTAssertFalse(fileExists(sv.logsDir + "/" + profile), "a failed up left \(sv.logsDir)/\(profile)")
        }
        let validate = try sv.run(["validate", inPath])
        assertOneLineError(validate, ["\(inPath):9:1:"])
    }

    /// 12. Hostile arguments reach the agent verbatim; hostile names are rejected.
    func testHostileArgumentsAreData() throws {
        let marker = "/tmp/pwned-e2e-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(marker); unlink(marker + "b"); unlink(marker + "c") }
        let out = sv.home.file("argv.out")
        let hostile = [
            "it's \"quoted\"", "$(touch \(marker))", "`touch \(marker)b`", "a; touch \(marker)c", "line1\nline2",
            "ünïcödé ✓ 日本", "back\\slash", "  spaced  ", "", "-n", "#{session_name}", "'; exit 1; '",
        ]
        let script = "for a in \"$@\"; do printf '[%s]' \"$a\"; done > \(out); echo argv-written"
        let path = sv.writeProfile("hostile", agent("echoargs", ["sh", "-c", script, "sh"] + hostile, extra: "restart = \"never\""))
        try upDetached(path)
        let state = try sv.waitForState("hostile", "echoargs", "exited") { $0.state == .exited }
        XCTAssertEqual(state.runs.map(\.exit), [.exited(0)])
        let received = String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self)
        XCTAssertEqual(received, hostile.map { "[\($0)]" }.joined())
        XCTAssertFalse(fileExists(marker), "command substitution ran")
        XCTAssertFalse(fileExists(marker + "b"), "backquotes ran")
        XCTAssertFalse(fileExists(marker + "c"), "a ; split the command")
        try ok(["down", "hostile"])

        for (index, name) in ["evil;name", "x$(touch \(marker))", "a b", "Upper", "tab\there", "../up"].enumerated() {
            // A hostile profile name.
            let profileFile = sv.home.write("hp\(index).toml",
                "name = \(tomlString(name))\n[logs]\ndir = \(tomlString(sv.logsDir))\n" + agent("a", ["sleep", "5"]))
            let badProfile = try sv.run(["up", profileFile, "--detach"])
            assertOneLineError(badProfile, ["\(profileFile):1:8: name:"])
            // A hostile agent name.
            let agentFile = sv.home.write("ha\(index).toml",
                "name = \"ha\(index)\"\n[logs]\ndir = \(tomlString(sv.logsDir))\n" + agent(name, ["sleep", "5"]))
            sv.track(profile: "ha\(index)")
            let badAgent = try sv.run(["up", agentFile, "--detach"])
            assertOneLineError(badAgent, ["\(agentFile):5:8: agents[0].name:"])
            XCTAssertFalse(fileExists(sv.tmuxSocket("ha\(index)")))
        }
        XCTAssertFalse(fileExists(marker))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sv.root + "/profiles").sorted(), ["hostile"])
    }
}
