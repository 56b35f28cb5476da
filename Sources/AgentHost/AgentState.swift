import AgentProtocol

/// Lifecycle phase of an agent as the shim sees it.
public enum AgentPhase: String, Codable, CaseIterable, Sendable {
    case starting, running, exited, restarting, stopping, stopped, failed

    /// True while an agent process exists or is about to.
    public var isActive: Bool {
        switch self {
        case .starting, .running, .restarting, .stopping: return true
        case .exited, .stopped, .failed: return false
        }
    }
}

/// One run of the agent process.
public struct RunRecord: Codable, Equatable, Sendable {
    public var startedAt: Double
    public var pid: Int32
    public var endedAt: Double?
    public var exit: ExitStatus?

    public init(startedAt: Double, pid: Int32, endedAt: Double? = nil, exit: ExitStatus? = nil) {
        self.startedAt = startedAt
        self.pid = pid
        self.endedAt = endedAt
        self.exit = exit
    }
}

/// What the shim knows about its agent, persisted as
/// `<state dir>/agents/<agent>/state.json` so a dashboard or `supervisor
/// status` started later (or after a crash) sees the same agents.
public struct AgentState: Codable, Equatable, Sendable {
    public var profile: String
    public var agent: String
    public var kind: AgentKind
    public var state: AgentPhase
    public var shimPid: Int32
    public var agentPid: Int32?
    /// Unix seconds when `state` last changed.
    public var since: Double
    public var restarts: Int
    /// Most recent runs, oldest first, at most `maxRuns`.
    public var runs: [RunRecord]
    public var lastError: String?
    public var logPath: String
    public var eventsPath: String
    public var socketPath: String
    public var bracketedPaste: Bool
    /// Global log offset written so far (the next byte's offset).
    public var logBytes: UInt64

    /// Runs kept in the file, so it stays small however often an agent restarts.
    public static let maxRuns = 20

    public init(profile: String, agent: String, kind: AgentKind, state: AgentPhase = .starting,
                shimPid: Int32, agentPid: Int32? = nil, since: Double, restarts: Int = 0,
                runs: [RunRecord] = [], lastError: String? = nil, logPath: String,
                eventsPath: String, socketPath: String, bracketedPaste: Bool = false, logBytes: UInt64 = 0) {
        self.profile = profile
        self.agent = agent
        self.kind = kind
        self.state = state
        self.shimPid = shimPid
        self.agentPid = agentPid
        self.since = since
        self.restarts = restarts
        self.runs = runs
        self.lastError = lastError
        self.logPath = logPath
        self.eventsPath = eventsPath
        self.socketPath = socketPath
        self.bracketedPaste = bracketedPaste
        self.logBytes = logBytes
    }

    /// Changes phase and stamps `since` (only when the phase really changes).
    public mutating func transition(to phase: AgentPhase, at now: Double) {
        if state != phase {
            state = phase
            since = now
        }
    }

    /// Records a new run (agent process started), trimming old runs.
    public mutating func recordRunStart(pid: Int32, at now: Double) {
        runs.append(RunRecord(startedAt: now, pid: pid))
        if runs.count > AgentState.maxRuns { runs.removeFirst(runs.count - AgentState.maxRuns) }
        agentPid = pid
    }

    /// Closes the latest open run with its exit status.
    public mutating func recordRunEnd(exit: ExitStatus, at now: Double) {
        if let i = runs.lastIndex(where: { $0.endedAt == nil }) {
            runs[i].endedAt = now
            runs[i].exit = exit
        }
        agentPid = nil
    }
}

public enum StateFileError: Error, Equatable, CustomStringConvertible {
    case notFound(path: String)
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let p): return "no agent state file at \(p)"
        case .invalid(let p, let why): return "agent state file \(p) is not valid: \(why)"
        }
    }
}

/// Reads and writes `state.json`. Writes are atomic (temp file in the same
/// directory, fsync, rename) so a reader never sees a half-written state,
/// even if the shim is killed mid-write.
public enum StateFile {
    public static func write(_ state: AgentState, to path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try JSONCoding.encodeBytes(state, pretty: true, sortedKeys: true)
        } catch {
            throw StateFileError.invalid(path: path, reason: "cannot encode: \(error)")
        }
        try FileIO.writeAtomically(path, bytes)
    }

    public static func read(path: String) throws -> AgentState {
        guard FileIO.exists(path) else { throw StateFileError.notFound(path: path) }
        let bytes = try FileIO.readAll(path)
        do {
            return try JSONCoding.decode(AgentState.self, from: bytes)
        } catch {
            throw StateFileError.invalid(path: path, reason: "\(error)")
        }
    }
}
