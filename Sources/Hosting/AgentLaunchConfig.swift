import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

import Profile

/// Everything a built-in agent (`supervisor agent KIND --config PATH`) runs with: the agent's
/// merged profile entry and where its state and logs live. `up` writes it next to the shim
/// spec; a person running an agent by hand builds one from flags instead.
public struct AgentLaunchConfig: Codable, Equatable {
    public var profile: String
    public var agent: AgentSpec
    /// `<state>/profiles/<profile>/agents/<agent>`: history, sessions, conversations.
    public var stateDir: String
    /// `<logs>/<profile>`: the agent writes `<agent>.terminal.log`, `<agent>.debug.jsonl` here.
    public var logsDir: String
    /// `supervisor set` overrides, re-read at each step so a change applies while it runs.
    public var settingsFile: String?
    /// The agent's container on the Docker backend (nil: local). `makeBox` turns it into a
    /// `DockerBox`; the shim has made sure it runs before the agent starts.
    public var container: ContainerSpec?

    public init(profile: String, agent: AgentSpec, stateDir: String, logsDir: String, settingsFile: String?,
                container: ContainerSpec? = nil) {
        self.profile = profile; self.agent = agent; self.stateDir = stateDir
        self.logsDir = logsDir; self.settingsFile = settingsFile; self.container = container
    }

    public static func read(path: String) throws -> AgentLaunchConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HostingError("cannot read agent config \(path)")
        }
        do {
            return try JSONCoding.decode(AgentLaunchConfig.self, from: Array(data))
        } catch DecodingError.keyNotFound(let key, let context) {
            // Written by an older supervisor (a profile left up across an upgrade): the agent's
            // fields added since take today's defaults instead of failing its next start.
            if let upgraded = try? fillingMissingAgentFields(Array(data)) { return upgraded }
            throw DecodingError.keyNotFound(key, context)
        }
    }

    static func fillingMissingAgentFields(_ bytes: [UInt8]) throws -> AgentLaunchConfig {
        struct NotAConfig: Error {}
        guard case .object(var top) = try OrderedJSON.parse(bytes), let index = top.firstIndex(where: { $0.0 == "agent" }),
              case .string(let name)? = top[index].1["name"], case .string(let kind)? = top[index].1["kind"],
              let agentKind = AgentKind(rawValue: kind), case .string(let cwd)? = top[index].1["cwd"] else { throw NotAConfig() }
        let defaults = try JSONCoding.encode(AgentSpec(name: name, kind: agentKind, cwd: cwd))
        top[index].1 = filled(top[index].1, from: defaults)
        return try JSONCoding.decode(AgentLaunchConfig.self, from: .object(top))
    }

    /// `value` with every key of `defaults` it lacks added, object by object.
    static func filled(_ value: OrderedJSON, from defaults: OrderedJSON) -> OrderedJSON {
        guard case .object(var fields) = value, case .object(let base) = defaults else { return value }
        for (key, fallback) in base {
            if let i = fields.firstIndex(where: { $0.0 == key }) { fields[i].1 = filled(fields[i].1, from: fallback) }
            else { fields.append((key, fallback)) }
        }
        return .object(fields)
    }

    public func write(to path: String) throws {
        try writeFileAtomically(path: path, data: try JSONCoding.encodeBytes(self, pretty: true, sortedKeys: true))
    }

    /// The agent's entry with the current `supervisor set` overrides applied.
    public func currentAgent() -> AgentSpec {
        guard let settingsFile, let data = FileManager.default.contents(atPath: settingsFile),
              let all = try? JSONCoding.decode([String: [String: SettingValue]].self, from: Array(data)),
              let overrides = all[agent.name] else { return agent }
        return agent.applying(overrides)
    }

    public var logPrefix: String { logsDir + "/" + agent.name }
}
