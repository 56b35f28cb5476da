import Foundation
import Glibc
import Hosting

/// What one finished `supervisor` (or tmux) invocation did.
public struct RunResult: CustomStringConvertible {
    public let status: Int32
    /// True when the process ended by a signal (`status` is then the signal number).
    public let signaled: Bool
    public let stdoutData: Data
    public let stderrData: Data
    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    public var stderr: String { String(decoding: stderrData, as: UTF8.self) }
    /// Non-empty lines of stderr.
    public var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    public var description: String {
        "exit \(signaled ? "signal " : "")\(status)\n--- stdout ---\n\(stdout)\n--- stderr ---\n\(stderr)"
    }
}

public struct CommandTimedOut: Error, CustomStringConvertible {
    public let command: [String]
    public let seconds: Double
    public init(command: [String], seconds: Double) { self.command = command; self.seconds = seconds }
    public var description: String { "\(command.joined(separator: " ")) did not finish within \(seconds)s" }
}

/// A process started in the background (a viewer, a headless `up`): output goes to files.
/// Spawned with posix_spawn and reaped with waitpid, so no run loop is involved.
public final class BackgroundProcess {
    public let pid: Int32
    public let stdoutPath: String
    public let stderrPath: String
    private var exitStatus: Int32?

    init(pid: Int32, stdoutPath: String, stderrPath: String) {
        self.pid = pid; self.stdoutPath = stdoutPath; self.stderrPath = stderrPath
    }

    public var stdoutData: Data { FileManager.default.contents(atPath: stdoutPath) ?? Data() }
    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    public var stderr: String { String(decoding: FileManager.default.contents(atPath: stderrPath) ?? Data(), as: UTF8.self) }

    /// Reaps the process if it has ended; true while it runs.
    public var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { exitStatus = status; return false }
        if r < 0 && errno == ECHILD { exitStatus = exitStatus ?? 0; return false }
        return true
    }

    public func signal(_ signum: Int32) { if isRunning { kill(pid, signum) } }

    /// Waits for the process to end (deadline `seconds`) and returns what it did.
    @discardableResult
    public func wait(seconds: Double = 60) throws -> RunResult {
        try waitFor("process \(pid) to end", seconds: seconds) { !isRunning }
        let status = exitStatus ?? 0
        let signaled = (status & 0x7f) != 0
        return RunResult(status: signaled ? status & 0x7f : (status >> 8) & 0xff, signaled: signaled,
                             stdoutData: stdoutData,
                             stderrData: FileManager.default.contents(atPath: stderrPath) ?? Data())
    }

    /// Kills and reaps it (clean-up).
    func killAndReap() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        exitStatus = status
    }
}

public struct SpawnFailed: Error, CustomStringConvertible {
    public let command: [String]
    public let code: Int32
    public var description: String { "cannot start \(command.joined(separator: " ")): \(String(cString: strerror(code)))" }
}

/// posix_spawn of argv with stdin from /dev/null and stdout/stderr into files, default signal
/// dispositions and an empty signal mask.
func spawn(_ argv: [String], environment: [String: String], stdout: String, stderr: String) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signum: Int32 in 1..<32 where signum != SIGKILL && signum != SIGSTOP { sigaddset(&defaults, signum) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
    var pid: pid_t = 0
    let code = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
    guard code == 0 else { throw SpawnFailed(command: argv, code: code) }
    return pid
}

/// Runs the real `supervisor` binary with a private `SUPERVISOR_HOME` (a short `/tmp/sv-XXXXXX`
/// directory, so unix socket paths stay under 108 bytes), and cleans up everything it started.
public final class SupervisorHarness {
    public let executable: String
    public let home: TemporaryDirectory
    public var root: String { home.path }
    /// The environment every command gets (`SUPERVISOR_HOME` set, tmux nesting variables removed).
    public var environment: [String: String]
    private var outputCounter = 0
    private var background: [BackgroundProcess] = []
    private var profiles: Set<String> = []
    private var extraTmuxSockets: [String] = []

    public init(executable: String) {
        _ = ignoreBrokenPipes
        self.executable = executable
        home = TemporaryDirectory(prefix: "sv")
        var env = ProcessInfo.processInfo.environment
        env["TMUX"] = nil
        env["TMUX_PANE"] = nil
        env["SUPERVISOR_HOME"] = home.path
        if env["TERM"] == nil || env["TERM"] == "dumb" { env["TERM"] = "xterm-256color" }
        environment = env
    }

    // MARK: paths

    public var logsDir: String { root + "/logs" }
    public func profileDir(_ profile: String) -> String { "\(root)/profiles/\(profile)" }
    public func tmuxSocket(_ profile: String) -> String { profileDir(profile) + "/tmux.sock" }
    public func statePath(_ profile: String, _ agent: String) -> String { "\(profileDir(profile))/agents/\(agent)/state.json" }
    public func shimSocket(_ profile: String, _ agent: String) -> String { "\(profileDir(profile))/agents/\(agent)/shim.sock" }
    public func logPath(_ profile: String, _ agent: String) -> String { "\(logsDir)/\(profile)/\(agent).log" }
    public func eventsPath(_ profile: String, _ agent: String) -> String { "\(logsDir)/\(profile)/\(agent).events.jsonl" }
    public func settingsPath(_ profile: String) -> String { profileDir(profile) + "/settings.json" }

    public func log(_ profile: String, _ agent: String) -> Data { FileManager.default.contents(atPath: logPath(profile, agent)) ?? Data() }
    public func state(_ profile: String, _ agent: String) -> AgentState? { try? StateFile.read(path: statePath(profile, agent)) }

    /// Writes `<home>/<profile>.toml`: `name`, `[logs] dir` under home, then `body` (the agents).
    @discardableResult
    public func writeProfile(_ name: String, _ body: String, file: String? = nil) -> String {
        profiles.insert(name)
        let text = "name = \(tomlString(name))\n\n[logs]\ndir = \(tomlString(logsDir))\n\n" + body
        return home.write(file ?? "\(name).toml", text)
    }

    /// Registers a profile name for clean-up (for profiles whose file the test writes itself).
    public func track(profile: String) { profiles.insert(profile) }
    /// Registers another tmux server socket (started by the test) to kill at clean-up.
    public func track(tmuxSocket: String) { extraTmuxSockets.append(tmuxSocket) }

    // MARK: running

    /// Runs `supervisor ARGS` (or `executable ARGS`) to completion; output is captured in files so
    /// grandchildren that keep a descriptor open (a tmux server) cannot make it hang.
    @discardableResult
    public func run(_ arguments: [String], executable: String? = nil, environment extra: [String: String]? = nil,
                    replaceEnvironment: [String: String]? = nil, timeout: Double = 60) throws -> RunResult {
        let started = try start(arguments, executable: executable, environment: extra, replaceEnvironment: replaceEnvironment)
        do { return try started.wait(seconds: timeout) } catch {
            started.killAndReap()
            throw CommandTimedOut(command: [executable ?? "supervisor"] + arguments, seconds: timeout)
        }
    }

    /// Starts `supervisor ARGS` in the background; it is killed at clean-up if still running.
    public func start(_ arguments: [String], executable: String? = nil, environment extra: [String: String]? = nil,
                      replaceEnvironment: [String: String]? = nil) throws -> BackgroundProcess {
        outputCounter += 1
        let out = home.file(".out-\(outputCounter)"), err = home.file(".err-\(outputCounter)")
        var env = replaceEnvironment ?? environment
        for (key, value) in extra ?? [:] { env[key] = value }
        let pid = try spawn([executable ?? self.executable] + arguments, environment: env, stdout: out, stderr: err)
        let started = BackgroundProcess(pid: pid, stdoutPath: out, stderrPath: err)
        background.append(started)
        return started
    }

    public static let tmuxExecutable: String = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/tmux"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return "/usr/bin/tmux"
    }()

    /// `tmux -S <socket> ARGS` against a server this test started (never any other).
    @discardableResult
    public func tmux(socket: String, _ arguments: [String], timeout: Double = 20) throws -> RunResult {
        try run(["-S", socket] + arguments, executable: SupervisorHarness.tmuxExecutable, timeout: timeout)
    }

    /// `tmux -S <profile socket> ARGS`.
    @discardableResult
    public func tmux(_ profile: String, _ arguments: [String]) throws -> RunResult {
        try tmux(socket: tmuxSocket(profile), arguments)
    }

    /// Window names of a profile's tmux session, in order.
    public func windows(_ profile: String) throws -> [String] {
        let result = try tmux(profile, ["list-windows", "-t", "=\(profile)", "-F", "#{window_name}"])
        return result.status == 0 ? result.stdout.split(separator: "\n").map(String.init) : []
    }

    /// `#{pane_dead}` of an agent's window: "1" or "0".
    public func paneDead(_ profile: String, _ agent: String) throws -> String {
        try tmux(profile, ["display-message", "-p", "-t", "=\(profile):=\(agent)", "#{pane_dead}"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `supervisor status NAME --json`, decoded.
    public func status(_ profile: String) throws -> [AgentStatus] {
        let result = try run(["status", profile, "--json"])
        guard result.status == 0 else { throw CommandFailed(result: result) }
        return try JSONDecoder().decode(StatusDocument.self, from: result.stdoutData).agents
    }

    /// Waits until the agent's state file satisfies `condition`; returns that state.
    @discardableResult
    public func waitForState(_ profile: String, _ agent: String, _ what: String, seconds: Double = 20,
                             _ condition: (AgentState) -> Bool) throws -> AgentState {
        var last: AgentState?
        do {
            try waitFor("\(agent): \(what)", seconds: seconds) {
                last = state(profile, agent)
                return last.map(condition) ?? false
            }
        } catch {
            throw DeadlineExceeded(what: "\(agent): \(what) (last state: \(last.map { "\($0.state) runs=\($0.runs.count) restarts=\($0.restarts)" } ?? "none"))")
        }
        return last!
    }

    /// Waits until the agent's log contains `text`.
    public func waitForLog(_ profile: String, _ agent: String, containing text: String, seconds: Double = 20) throws {
        let needle = Data(text.utf8)
        try waitFor("\(agent)'s log to contain \(text.debugDescription)", seconds: seconds) {
            log(profile, agent).range(of: needle) != nil
        }
    }

    // MARK: clean-up

    /// Ends everything the test started: `down` of each profile, its tmux server, any process
    /// recorded in its state files that is still alive, background processes, the directory.
    public func cleanUp() {
        for process in background { process.killAndReap() }
        for profile in profiles.sorted() {
            if FileManager.default.fileExists(atPath: profileDir(profile) + "/profile.json") {
                _ = try? run(["down", profile], timeout: 30)
            }
            if FileManager.default.fileExists(atPath: tmuxSocket(profile)) {
                _ = try? tmux(profile, ["kill-server"])
            }
            let agentsDir = profileDir(profile) + "/agents"
            for agent in (try? FileManager.default.contentsOfDirectory(atPath: agentsDir)) ?? [] {
                guard let state = state(profile, agent) else { continue }
                if let pid = state.agentPid, isRunningProcess(pid) {
                    if getsid(pid) == pid { kill(-pid, SIGKILL) }
                    kill(pid, SIGKILL)
                }
                if state.shimPid > 0, isRunningProcess(state.shimPid), isShim(pid: state.shimPid) { kill(state.shimPid, SIGKILL) }
            }
        }
        for socket in extraTmuxSockets where FileManager.default.fileExists(atPath: socket) {
            _ = try? tmux(socket: socket, ["kill-server"])
        }
        background = []
        try? FileManager.default.removeItem(atPath: home.path)
    }
}

public struct CommandFailed: Error, CustomStringConvertible {
    public let result: RunResult
    public init(result: RunResult) { self.result = result }
    public var description: String { "command failed: \(result)" }
}

/// True when `pid` exists and is not a zombie (an orphan whose reaper has not reaped it yet is dead).
public func isRunningProcess(_ pid: Int32) -> Bool {
    guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let rest = stat[stat.index(after: close)...].drop { $0 == " " }
    return rest.first != "Z" && rest.first != "X"
}

/// A TOML basic string holding exactly `value`.
public func tomlString(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f { out += String(format: "\\u%04X", scalar.value) }
            else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}

/// A TOML array of strings.
public func tomlArray(_ values: [String]) -> String { "[" + values.map(tomlString).joined(separator: ", ") + "]" }
