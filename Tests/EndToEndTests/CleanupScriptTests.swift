import Foundation
import Glibc
import XCTest
import _TestSupport

/// `./cleanup.sh` against a profile brought up by the real binary: a dry run changes nothing, a
/// plain run ends the tmux server and the agents and removes the state but keeps the logs,
/// `--logs` removes the logs, and a tmux server and a process that are not ours survive all of it.
final class CleanupScriptTests: XCTestCase {
    private var temp: TemporaryDirectory!
    private var home: String { temp.path + "/h" }
    /// Everything this test started, so teardown can end exactly that (by socket and pid).
    private var ourTmuxSockets: [String] = []
    private var ourPids: [Int32] = []
    private var unrelatedSleep: pid_t?

    private static let profileName = "cleanup"

    private var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    private var script: String { repositoryRoot.appendingPathComponent("cleanup.sh").path }
    /// The binary built next to the test bundle (on Linux the bundle URL may be the build
    /// directory itself or the .xctest inside it).
    private var binary: String {
        let bundle = Bundle(for: CleanupScriptTests.self).bundleURL
        let candidates = [bundle.deletingLastPathComponent().appendingPathComponent("supervisor").path,
                          bundle.appendingPathComponent("supervisor").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }
    private var tmuxPath: String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/tmux"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    override func setUpWithError() throws {
        temp = TemporaryDirectory(prefix: "sv")
    }

    /// tmux and the built binary, which every test but the usage one needs.
    private func requireTmuxAndBinary() throws -> String {
        guard let tmux = tmuxPath else { throw XCTSkip("tmux is not installed") }
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            XCTFail("no supervisor binary at \(binary); build it first (swift build)")
            throw XCTSkip("no binary")
        }
        return tmux
    }

    override func tearDown() {
        // Only what this test started: its tmux servers by socket, its processes by pid.
        if let tmux = tmuxPath {
            for socket in ourTmuxSockets { _ = try? run([tmux, "-S", socket, "kill-server"]) }
        }
        for pid in ourPids where isAlive(pid) {
            if getsid(pid) == pid { kill(-pid, SIGKILL) }
            kill(pid, SIGKILL)
        }
        if let sleep = unrelatedSleep {
            kill(sleep, SIGKILL)
            var status: Int32 = 0
            waitpid(sleep, &status, 0)
        }
        temp = nil
    }

    func testDryRunThenCleanupThenLogs() throws {
        let tmux = try requireTmuxAndBinary()
        let logsRoot = temp.path + "/my logs"
        let profile = temp.write("team.toml", """
            name = "\(Self.profileName)"
            [logs]
            dir = "\(logsRoot)"

            [[agents]]
            name = "one"
            kind = "command"
            command = ["sleep", "1000"]

            [[agents]]
            name = "two"
            kind = "command"
            command = ["sh", "-c", "echo hello from two; exec sleep 1000"]
            """)
        let profileDir = "\(home)/profiles/\(Self.profileName)"
        let ourSocket = "\(profileDir)/tmux.sock"
        ourTmuxSockets.append(ourSocket)
        let logDir = "\(logsRoot)/\(Self.profileName)"

        // Not ours: a tmux server on another socket and a plain process.
        let otherSocket = temp.path + "/other.sock"
        ourTmuxSockets.append(otherSocket)
        let started = try run([tmux, "-S", otherSocket, "-f", "/dev/null", "new-session", "-d", "sleep", "1000"])
        XCTAssertEqual(started.status, 0, started.output)
        let sleep = try spawn(["/bin/sleep", "1000"], output: "/dev/null")
        unrelatedSleep = sleep

        // Up.
        let up = try run([binary, "up", "--detach", profile])
        XCTAssertEqual(up.status, 0, up.output)
        var pids: [(name: String, shim: Int32, agent: Int32)] = []
        for agent in ["one", "two"] {
            let state = try readJSON("\(profileDir)/agents/\(agent)/state.json")
            let shim = try XCTUnwrap(state["shimPid"] as? Int).asPid
            let agentPid = try XCTUnwrap(state["agentPid"] as? Int).asPid
            pids.append((agent, shim, agentPid))
            ourPids += [agentPid, shim]
        }
        try waitFor("the second agent's line in its log") {
            (try? String(contentsOfFile: "\(logDir)/two.log", encoding: .utf8))?.contains("hello from two") ?? false
        }

        // Dry run: lists, touches nothing.
        let dry = try runScript(["--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.output)
        XCTAssertTrue(dry.output.contains("would kill tmux server \(ourSocket)"), dry.output)
        XCTAssertTrue(dry.output.contains("would remove state directory \(profileDir)"), dry.output)
        for p in pids {
            XCTAssertTrue(dry.output.contains("shim \(p.shim) (\(Self.profileName)/\(p.name))"), dry.output)
            XCTAssertTrue(dry.output.contains("agent \(p.agent) (\(Self.profileName)/\(p.name))"), dry.output)
        }
        XCTAssertFalse(dry.output.contains("other.sock"), dry.output)
        XCTAssertTrue(try tmuxAnswers(tmux, ourSocket), "the dry run must leave the tmux server running")
        for p in pids {
            XCTAssertTrue(isAlive(p.shim), "dry run ended shim \(p.shim)")
            XCTAssertTrue(isAlive(p.agent), "dry run ended agent \(p.agent)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(profileDir)/profile.json"))

        // Plain run: servers, shims, agents and state go; logs stay.
        let plain = try runScript([])
        XCTAssertEqual(plain.status, 0, plain.output)
        XCTAssertTrue(plain.output.contains("killed tmux server \(ourSocket)"), plain.output)
        XCTAssertTrue(plain.output.contains("removed state directory \(profileDir)"), plain.output)
        try waitFor("our tmux server to be gone") { !(try tmuxAnswers(tmux, ourSocket)) }
        for p in pids {
            try waitFor("shim \(p.shim) and agent \(p.agent) to end") { !isAlive(p.shim) && !isAlive(p.agent) }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: profileDir), "state directory left behind")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(logDir)/two.log"), "logs must be kept without --logs")
        XCTAssertTrue(try String(contentsOfFile: "\(logDir)/two.log", encoding: .utf8).contains("hello from two"))
        try assertUnrelatedSurvive(tmux, otherSocket, sleep)

        // Second run: nothing left, and it says so.
        let again = try runScript([])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("nothing to clean up"), again.output)

        // --logs: the kept logs go too (found through the list the plain run left).
        let dryLogs = try runScript(["--logs", "--dry-run"])
        XCTAssertTrue(dryLogs.output.contains("would remove log directory \(logDir)"), dryLogs.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: logDir))
        let logs = try runScript(["--logs"])
        XCTAssertEqual(logs.status, 0, logs.output)
        XCTAssertTrue(logs.output.contains("removed log directory \(logDir)"), logs.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: logDir), "--logs left the logs")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home), "the state root should be gone when empty")
        try assertUnrelatedSurvive(tmux, otherSocket, sleep)

        let last = try runScript(["--logs"])
        XCTAssertTrue(last.output.contains("nothing to clean up"), last.output)
    }

    /// `--logs` right away (no plain run first) removes state and logs in one go.
    func testLogsInOneRun() throws {
        _ = try requireTmuxAndBinary()
        let logsRoot = temp.path + "/logs"
        let profile = temp.write("p.toml", """
            name = "\(Self.profileName)"
            [logs]
            dir = "\(logsRoot)"
            [[agents]]
            name = "solo"
            kind = "command"
            command = ["sleep", "1000"]
            """)
        let profileDir = "\(home)/profiles/\(Self.profileName)"
        ourTmuxSockets.append("\(profileDir)/tmux.sock")
        let up = try run([binary, "up", "--detach", profile])
        XCTAssertEqual(up.status, 0, up.output)
        let state = try readJSON("\(profileDir)/agents/solo/state.json")
        let agentPid = try XCTUnwrap(state["agentPid"] as? Int).asPid
        ourPids += [agentPid, try XCTUnwrap(state["shimPid"] as? Int).asPid]

        let result = try runScript(["--logs"])
        XCTAssertEqual(result.status, 0, result.output)
        try waitFor("agent \(agentPid) to end") { !isAlive(agentPid) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(logsRoot)/\(Self.profileName)"), result.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home), result.output)
    }

    func testUsageError() throws {
        let result = try runScript(["--frobnicate"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.output.contains("unknown argument: --frobnicate"), result.output)
        XCTAssertTrue(result.output.contains("usage:"), result.output)
    }

    // MARK: helpers

    private func assertUnrelatedSurvive(_ tmux: String, _ socket: String, _ sleep: pid_t,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertTrue(try tmuxAnswers(tmux, socket), "an unrelated tmux server was killed", file: file, line: line)
        XCTAssertTrue(isAlive(sleep), "an unrelated process was killed", file: file, line: line)
    }

    private func tmuxAnswers(_ tmux: String, _ socket: String) throws -> Bool {
        try run([tmux, "-S", socket, "list-sessions"]).status == 0
    }

    private func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let rest = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces)
        return !rest.hasPrefix("Z") && !rest.hasPrefix("X")
    }

    /// The three built-in agents run by hand keep their state and logs under SUPERVISOR_HOME
    /// (never ~/.local/state), where `sessions`/`conversations` and cleanup.sh find them.
    func testAgentsRunByHandStayUnderTheRootAndCleanupFindsThem() throws {
        _ = try requireTmuxAndBinary()
        let userHome = temp.path + "/user-home"
        let work = temp.path + "/work"
        for dir in [userHome, work] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let byHand = ["HOME": userHome, "XDG_STATE_HOME": "", "SUPERVISOR_CODER_WORKSPACE": work,
                      "SUPERVISOR_CODER_SCRIPT": temp.write("coder.script", "--- turn 1\nHello by hand.\n")]
        let goal = try run([binary, "agent", "goal", "--goal", "say hi", "--provider", "script", "--workdir", work,
                            "--script", temp.write("goal.script", "--- turn 1\necho hi\n--- turn 2\nDONE: said hi\n")], environment: byHand)
        XCTAssertEqual(goal.status, 0, goal.output)
        let coder = try run([binary, "agent", "coder", "--prompt", "hi"], environment: byHand)
        XCTAssertEqual(coder.status, 0, coder.output)
        let exec = try run([binary, "agent", "exec", "--provider", "script", "--prompt", "hi", "--workdir", work,
                            "--script", temp.write("exec.script", "--- turn 1\nNothing to run: hi.\n")], environment: byHand)
        XCTAssertEqual(exec.status, 0, exec.output)

        XCTAssertFalse(FileManager.default.fileExists(atPath: userHome + "/.local"), "an agent wrote under ~/.local")
        let standalone = home + "/standalone"
        for agent in ["goal", "coder", "exec"] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "\(standalone)/\(agent)")) ?? []
            XCTAssertFalse(entries.isEmpty, "nothing in \(standalone)/\(agent)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: standalone + "/logs/goal.terminal.log"))
        let sessions = try run([binary, "sessions", "list", "standalone", "coder"])
        XCTAssertTrue(sessions.output.contains("Hello by hand."), sessions.output)

        // cleanup.sh removes their state and keeps their logs; --logs removes those too.
        let plain = try runScript([])
        XCTAssertEqual(plain.status, 0, plain.output)
        for agent in ["goal", "coder", "exec"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(standalone)/\(agent)"), plain.output)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: standalone + "/logs/goal.terminal.log"), plain.output)
        let logs = try runScript(["--logs"])
        XCTAssertEqual(logs.status, 0, logs.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home), logs.output)
    }

    private func readJSON(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func runScript(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try run(["/bin/bash", script] + arguments)
    }

    /// Runs argv to completion with SUPERVISOR_HOME set to this test's root. Output goes through
    /// a file, since a tmux server started by the command may keep inherited descriptors open.
    private func run(_ argv: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let outputPath = temp.path + "/.out-\(UUID().uuidString.prefix(8))"
        defer { unlink(outputPath) }
        let pid = try spawn(argv, output: outputPath, environment: extra)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, output)
    }

    /// posix_spawn with stdin from /dev/null and stdout+stderr to `output`.
    private func spawn(_ argv: [String], output: String, environment extra: [String: String] = [:]) throws -> pid_t {
        var environment = ProcessInfo.processInfo.environment
        environment["SUPERVISOR_HOME"] = home
        environment.merge(extra) { $1 }
        environment["TMUX"] = nil
        environment["TMUX_PANE"] = nil
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        return pid
    }
}

private extension Int {
    var asPid: Int32 { Int32(truncatingIfNeeded: self) }
}
