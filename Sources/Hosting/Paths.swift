import AgentHost
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The on-disk layout, in one place, so no module invents a path of its own.
///
/// ```
/// <root>/profiles/<profile>/tmux.sock        private tmux server socket
///                          /settings.json     run-time overrides (`supervisor set`)
///                          /up.lock           held by `supervisor up`
///                          /profile.json      the resolved profile
///                          /agents/<agent>/spec.json    what the shim runs
///                                         /state.json   AgentState
///                                         /shim.sock    the shim's socket
///                          /worktrees/<agent>/          an isolated agent's git worktree
///                                    /<agent>.json      what it is (WorktreeRecord)
/// <root>/standalone/<agent>/                 an agent run by hand, without a profile
///                                            (`supervisor agent goal|coder|exec`: history,
///                                            sessions/, conversations/)
/// <root>/standalone/logs/                     their logs
/// <logsDir>/<profile>/<agent>.log            every terminal byte
///                    /<agent>.events.jsonl    structured events
/// ```
public struct SupervisorPaths: Equatable, Sendable {
    public let root: String

    public init(root: String) {
        self.root = SupervisorPaths.trimSlashes(root)
    }

    /// Uses `root(environment:)`.
    public init(environment: [String: String]) {
        self.init(root: SupervisorPaths.root(environment: environment))
    }

    /// `$SUPERVISOR_HOME` if set, else `$XDG_STATE_HOME/supervisor`, else
    /// `$HOME/.local/state/supervisor`. Empty values count as unset, and a
    /// relative `XDG_STATE_HOME` is ignored as the XDG spec requires.
    public static func root(environment: [String: String]) -> String {
        if let home = environment["SUPERVISOR_HOME"], !home.isEmpty {
            return trimSlashes(home)
        }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
            return trimSlashes(xdg) + "/supervisor"
        }
        if let home = environment["HOME"], !home.isEmpty {
            return trimSlashes(home) + "/.local/state/supervisor"
        }
        return "/tmp/supervisor-\(getuid())"
    }

    public func profileDir(_ profile: String) -> String { "\(root)/profiles/\(profile)" }
    public func tmuxSocket(profile: String) -> String { "\(profileDir(profile))/tmux.sock" }
    public func settingsFile(profile: String) -> String { "\(profileDir(profile))/settings.json" }
    public func lockFile(profile: String) -> String { "\(profileDir(profile))/up.lock" }
    public func profileRecord(profile: String) -> String { "\(profileDir(profile))/profile.json" }
    public func agentsDir(profile: String) -> String { "\(profileDir(profile))/agents" }
    public func agentDir(profile: String, agent: String) -> String { "\(agentsDir(profile: profile))/\(agent)" }
    /// A built-in agent's `AgentLaunchConfig` (`supervisor agent KIND --config PATH`).
    public func agentConfigFile(profile: String, agent: String) -> String { "\(agentDir(profile: profile, agent: agent))/agent.json" }
    public func specFile(profile: String, agent: String) -> String { "\(agentDir(profile: profile, agent: agent))/spec.json" }
    public func stateFile(profile: String, agent: String) -> String { "\(agentDir(profile: profile, agent: agent))/state.json" }
    public func shimSocket(profile: String, agent: String) -> String { "\(agentDir(profile: profile, agent: agent))/shim.sock" }
    /// Isolated agents' git worktrees and their records; kept by `down`.
    public func worktreesDir(profile: String) -> String { "\(profileDir(profile))/worktrees" }
    public func worktreeDir(profile: String, agent: String) -> String { "\(worktreesDir(profile: profile))/\(agent)" }
    public func worktreeRecordFile(profile: String, agent: String) -> String { "\(worktreesDir(profile: profile))/\(agent).json" }

    /// The profile name under which agents run by hand are found (`supervisor conversations
    /// standalone exec`); their files are under `<root>/standalone`, not `<root>/profiles`.
    public static let standaloneProfile = "standalone"
    /// State of an agent run by hand without `--config` (`supervisor agent exec`).
    public func standaloneAgentDir(_ agent: String) -> String { "\(root)/standalone/\(agent)" }
    public var standaloneLogsDir: String { "\(root)/standalone/logs" }

    /// `<logsDir>/<profile>/<agent>.log`
    public static func logFile(logsDir: String, profile: String, agent: String) -> String {
        "\(trimSlashes(logsDir))/\(profile)/\(agent).log"
    }

    /// `<logsDir>/<profile>/<agent>.events.jsonl`
    public static func eventsFile(logsDir: String, profile: String, agent: String) -> String {
        "\(trimSlashes(logsDir))/\(profile)/\(agent).events.jsonl"
    }

    /// `sun_path` holds 108 bytes including the terminating NUL.
    public static let maxSocketPathBytes = 107

    /// Throws `SocketPathError` if `path` cannot be bound as a unix socket.
    /// Checked up front so `supervisor up` fails with one clear message
    /// instead of a bind error deep inside a shim.
    public static func checkSocketPath(_ path: String) throws {
        let n = path.utf8.count
        if n > maxSocketPathBytes {
            throw SocketPathError(path: path, length: n)
        }
    }

    /// Checks every socket path of a profile's agents (and its tmux socket).
    public func checkSocketPaths(profile: String, agents: [String]) throws {
        try SupervisorPaths.checkSocketPath(tmuxSocket(profile: profile))
        for a in agents { try SupervisorPaths.checkSocketPath(shimSocket(profile: profile, agent: a)) }
    }

    static func trimSlashes(_ p: String) -> String {
        var s = p
        while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
        return s
    }
}

/// A unix socket path longer than `sun_path` allows.
public struct SocketPathError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let length: Int

    public var description: String {
        "unix socket path is \(length) bytes, over the \(SupervisorPaths.maxSocketPathBytes)-byte limit: \(path)\n"
            + "Set SUPERVISOR_HOME to a shorter directory (for example SUPERVISOR_HOME=/tmp/sv) or use shorter profile/agent names."
    }
}
