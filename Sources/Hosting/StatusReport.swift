import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// One agent's status as seen from outside its shim: the state file plus liveness checks, so
/// it works whether or not anything else is running. Its JSON (`status --json`, inside a
/// `StatusDocument`) is a documented interface (README, "status --json"): `since` is an RFC 3339
/// time, `lastExit` is `{"code":N}` or `{"signal":N}`, absent values are absent keys.
public struct AgentStatus: Codable, Equatable {
    public var profile: String
    public var agent: String
    public var kind: String
    /// The state the shim last recorded, or `lost` when its shim is gone while the state says
    /// it was active, or `down` when it was never started.
    public var state: String
    public var pid: Int32?
    public var shimPid: Int32?
    public var shimAlive: Bool
    public var restarts: Int
    /// Unix seconds the current state began (RFC 3339 in JSON).
    public var since: Double?
    public var lastExit: ExitStatus?
    public var lastError: String?
    public var logBytes: UInt64
    public var logPath: String
    /// Docker backend: the agent's container and what the engine says of it ("running",
    /// "exited (137)", "missing", "unknown" when no engine answers); nil on the local backend.
    public var container: String?
    public var containerState: String?
    public var containerID: String?
    /// The Docker engine the container runs on (`default`, or a name from the profile's [engines]).
    public var engine: String?

    private enum CodingKeys: String, CodingKey {
        case profile, agent, kind, state, pid, shimPid, shimAlive, restarts, since, lastExit, lastError, logBytes, logPath
        case container, containerState, containerID, engine
    }

    public init(profile: String, agent: String, kind: String, state: String, pid: Int32?, shimPid: Int32?, shimAlive: Bool,
                restarts: Int, since: Double?, lastExit: ExitStatus?, lastError: String?, logBytes: UInt64, logPath: String,
                container: String? = nil, containerState: String? = nil, containerID: String? = nil, engine: String? = nil) {
        self.profile = profile; self.agent = agent; self.kind = kind; self.state = state; self.pid = pid
        self.shimPid = shimPid; self.shimAlive = shimAlive; self.restarts = restarts; self.since = since
        self.lastExit = lastExit; self.lastError = lastError; self.logBytes = logBytes; self.logPath = logPath
        self.container = container; self.containerState = containerState; self.containerID = containerID
        self.engine = engine
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        profile = try c.decode(String.self, forKey: .profile)
        agent = try c.decode(String.self, forKey: .agent)
        kind = try c.decode(String.self, forKey: .kind)
        state = try c.decode(String.self, forKey: .state)
        pid = try c.decodeIfPresent(Int32.self, forKey: .pid)
        shimPid = try c.decodeIfPresent(Int32.self, forKey: .shimPid)
        shimAlive = try c.decode(Bool.self, forKey: .shimAlive)
        restarts = try c.decode(Int.self, forKey: .restarts)
        if let text = try c.decodeIfPresent(String.self, forKey: .since) {
            guard let seconds = parseISO8601(text) else {
                throw DecodingError.dataCorruptedError(forKey: .since, in: c, debugDescription: "not an RFC 3339 time: \(text)")
            }
            since = seconds
        }
        lastExit = try c.decodeIfPresent(ExitStatus.self, forKey: .lastExit)
        lastError = try c.decodeIfPresent(String.self, forKey: .lastError)
        logBytes = try c.decode(UInt64.self, forKey: .logBytes)
        logPath = try c.decode(String.self, forKey: .logPath)
        container = try c.decodeIfPresent(String.self, forKey: .container)
        containerState = try c.decodeIfPresent(String.self, forKey: .containerState)
        containerID = try c.decodeIfPresent(String.self, forKey: .containerID)
        engine = try c.decodeIfPresent(String.self, forKey: .engine)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(profile, forKey: .profile)
        try c.encode(agent, forKey: .agent)
        try c.encode(kind, forKey: .kind)
        try c.encode(state, forKey: .state)
        try c.encodeIfPresent(pid, forKey: .pid)
        try c.encodeIfPresent(shimPid, forKey: .shimPid)
        try c.encode(shimAlive, forKey: .shimAlive)
        try c.encode(restarts, forKey: .restarts)
        try c.encodeIfPresent(since.map(EventLine.iso8601), forKey: .since)
        try c.encodeIfPresent(lastExit, forKey: .lastExit)
        try c.encodeIfPresent(lastError, forKey: .lastError)
        try c.encode(logBytes, forKey: .logBytes)
        try c.encode(logPath, forKey: .logPath)
        try c.encodeIfPresent(container, forKey: .container)
        try c.encodeIfPresent(containerState, forKey: .containerState)
        try c.encodeIfPresent(containerID, forKey: .containerID)
        try c.encodeIfPresent(engine, forKey: .engine)
    }
}

/// What `supervisor status --json` prints: `{"schema": 1, "agents": [AgentStatus...]}`. `schema`
/// changes only when a field changes meaning or goes away (new fields may appear in the same one).
public struct StatusDocument: Codable, Equatable {
    public static let currentSchema = 1
    public var schema: Int
    public var agents: [AgentStatus]

    public init(agents: [AgentStatus]) { schema = Self.currentSchema; self.agents = agents }

    /// Pretty, keys sorted, slashes as they are, through the one JSON implementation.
    public func encoded() throws -> Data {
        Data(try JSONCoding.encodeBytes(self, pretty: true, sortedKeys: true)) // pretty output ends in a line break
    }
}

public enum StatusReport {
    public static func collect(_ record: ProfileRecord) -> [AgentStatus] {
        record.agents.map { agent in
            guard let state = try? StateFile.read(path: agent.statePath) else {
                return AgentStatus(profile: record.name, agent: agent.name, kind: agent.kind.rawValue, state: "down", pid: nil,
                                   shimPid: nil, shimAlive: false, restarts: 0, since: nil, lastExit: nil,
                                   lastError: nil, logBytes: 0, logPath: agent.logPath, container: agent.container,
                                   engine: agent.engine ?? agent.container.map { _ in EngineEndpoint.defaultName })
            }
            let shimAlive = state.shimPid > 0 && processIsAlive(state.shimPid) && isShim(pid: state.shimPid)
            var phase = state.state.rawValue
            if !shimAlive && state.state.isActive { phase = "lost" }
            let agentPid = state.agentPid.flatMap { processIsAlive($0) ? $0 : nil }
            return AgentStatus(profile: record.name, agent: agent.name, kind: agent.kind.rawValue, state: phase, pid: agentPid,
                               shimPid: shimAlive ? state.shimPid : nil, shimAlive: shimAlive, restarts: state.restarts,
                               since: state.since, lastExit: state.runs.last?.exit, lastError: state.lastError,
                               logBytes: state.logBytes, logPath: agent.logPath, container: agent.container,
                               engine: agent.engine ?? agent.container.map { _ in EngineEndpoint.defaultName })
        }
    }

    /// Adds what each Docker engine says of each agent's container (one `docker ps` per engine
    /// of each profile, all at once, each with a timeout). `engines`: each profile's engines
    /// (from its record); a profile not in it has the default engine only. A container on an
    /// engine that does not answer is "unknown (engine 'NAME' (ADDRESS) does not answer: WHY)".
    public static func withContainers(_ statuses: [AgentStatus], home: String, environment: [String: String],
                                      engines: [String: [EngineEndpoint]] = [:]) -> [AgentStatus] {
        let profiles = Set(statuses.filter { $0.container != nil }.map(\.profile))
        guard !profiles.isEmpty, let docker = try? DockerEngine.locate(environment: environment) else {
            return statuses.map { status in
                var status = status
                if status.container != nil { status.containerState = "unknown" }
                return status
            }
        }
        // (profile, engine) -> containers, nil when the engine did not answer.
        var found: [String: [ContainerInfo]?] = [:]
        // (profile, engine) -> "engine 'NAME' (ADDRESS) does not answer: WHY" for those that did not.
        var silent: [String: String] = [:]
        for profile in profiles.sorted() {
            let list = engines[profile] ?? [.default]
            let used = Set(statuses.filter { $0.profile == profile }.compactMap(\.engine))
            let asked = list.filter { used.contains($0.name) }
            let ids = docker.runOnEach(asked, timeout: DockerEngine.questionTimeout) { _ in
                ["ps", "--all", "--no-trunc", "--format", "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Status}}",
                 "--filter", "label=\(ContainerSpec.labelProfile)=\(profile)", "--filter", "label=\(ContainerSpec.labelHome)=\(home)"]
            }
            for engine in asked {
                let result = ids[engine.name]!
                let containers: [ContainerInfo]? = result.succeeded ? parsePS(result.output) : nil
                found.updateValue(containers, forKey: profile + "\u{0}" + engine.name)
                if containers == nil {
                    silent[profile + "\u{0}" + engine.name] = engine.notAnswering(firstLine(result.errorOutput, or: "docker ps failed"))
                }
            }
        }
        return statuses.map { status in
            guard let name = status.container else { return status }
            var status = status
            let engine = status.engine ?? EngineEndpoint.defaultName
            if case .some(.some(let list)) = found[status.profile + "\u{0}" + engine] {
                let info = list.first { $0.name == name }
                status.containerState = info?.summary ?? "missing"
                status.containerID = info.map { String($0.id.prefix(12)) }
            } else {
                status.containerState = "unknown (" + (silent[status.profile + "\u{0}" + engine] ?? "engine '\(engine)' does not answer") + ")"
            }
            return status
        }
    }

    /// `docker ps --format "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Status}}"` lines.
    static func parsePS(_ output: String) -> [ContainerInfo] {
        var list: [ContainerInfo] = []
        for line in output.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 4 else { continue }
            // "Exited (137) 2 minutes ago"
            let code = f[3].split(separator: "(").dropFirst().first.map { String($0.prefix { $0.isNumber }) }
            list.append(ContainerInfo(id: f[0], name: f[1], status: f[2], exitCode: code.flatMap { Int($0) } ?? 0))
        }
        return list
    }

    /// A fixed-width table (agent, kind, state, pid, restarts, uptime, last exit).
    public static func table(_ statuses: [AgentStatus], now: Double) -> String {
        let docker = statuses.contains { $0.container != nil }
        let several = Set(statuses.compactMap(\.engine)).count > 1 || statuses.contains { ($0.engine ?? EngineEndpoint.defaultName) != EngineEndpoint.defaultName }
        var rows = [["AGENT", "KIND", "STATE", "PID", "RESTARTS", "FOR", "LAST EXIT"] + (several ? ["ENGINE"] : []) + (docker ? ["CONTAINER"] : [])]
        for s in statuses {
            var row = [s.agent, s.kind, s.state, s.pid.map(String.init) ?? "-", "\(s.restarts)",
                       s.since.map { formatDuration(now - $0) } ?? "-", s.lastExit?.description ?? "-"]
            if several { row.append(s.engine ?? "-") }
            if docker {
                row.append(s.container.map { name in
                    name + (s.containerID.map { " \($0)" } ?? "") + (s.containerState.map { " (\($0))" } ?? "")
                } ?? "-")
            }
            rows.append(row)
        }
        return formatTable(rows)
    }
}

public func formatTable(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    var widths = Array(repeating: 0, count: first.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

/// 5s, 3m12s, 2h05m, 3d04h.
public func formatDuration(_ seconds: Double) -> String {
    let s = max(0, Int(seconds))
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m\(twoDigits(s % 60))s" }
    if s < 86400 { return "\(s / 3600)h\(twoDigits((s % 3600) / 60))m" }
    return "\(s / 86400)d\(twoDigits((s % 86400) / 3600))h"
}

extension ProfileRecord {
    /// What is left of a profile that is down (`down` removes its record but keeps the agents'
    /// state files): a record of those agents, sorted by name, for `status`. Nil when none is known.
    public static func lastKnown(paths: SupervisorPaths, profile: String) -> ProfileRecord? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: paths.agentsDir(profile: profile))) ?? []
        var agents: [Agent] = []
        for name in names.sorted() {
            let statePath = paths.stateFile(profile: profile, agent: name)
            guard let state = try? StateFile.read(path: statePath) else { continue }
            agents.append(Agent(name: name, kind: state.kind, specPath: paths.specFile(profile: profile, agent: name),
                                statePath: statePath, socketPath: state.socketPath, logPath: state.logPath,
                                eventsPath: state.eventsPath, pane: nil))
        }
        guard !agents.isEmpty else { return nil }
        return ProfileRecord(name: profile, sourcePath: "", logsDir: "", tmuxSocket: paths.tmuxSocket(profile: profile),
                             tmuxConfig: nil, shimCommand: [], agents: agents, upAt: 0)
    }
}
