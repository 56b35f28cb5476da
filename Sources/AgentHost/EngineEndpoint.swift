/// Which Docker engine a container lives on: the profile's name for it and the docker CLI's
/// global options that reach it (`--host tcp://... --tlsverify --tlscacert FILE ...`,
/// `--context NAME`, or none for the default engine). Argv only, never a shell string; only
/// paths of TLS files, never their contents. Stored in the shim spec with the container, so a
/// restart by the shim reaches the same engine without the profile.
public struct EngineEndpoint: Codable, Equatable, Sendable {
    public var name: String
    public var options: [String]
    /// Agents' workspaces on this engine are named volumes (seeded from the host's cwd at first
    /// start) rather than bind mounts of cwd.
    public var workspaceVolume: Bool

    public init(name: String, options: [String], workspaceVolume: Bool = false) {
        self.name = name; self.options = options; self.workspaceVolume = workspaceVolume
    }

    public static let defaultName = "default"
    /// The engine the CLI reaches with no options (DOCKER_HOST, DOCKER_CONTEXT or the local socket).
    public static let `default` = EngineEndpoint(name: defaultName, options: [])

    /// How long a question to an engine (version, info, ps, inspect) may take before the engine
    /// counts as not answering: a remote engine that is gone must not hang a start, `status` or `down`.
    public static let questionTimeout: Double = 15

    /// "engine 'far' (tcp://10.0.0.2:2376) does not answer: WHY": one wording wherever an
    /// engine that is gone shows (a start, a tool call, `status`).
    public func notAnswering(_ why: String) -> String { "engine '\(name)' (\(address)) does not answer: \(why)" }

    /// The docker CLI's own words when it cannot reach an engine (stopped, unreachable, TLS or
    /// ssh failing): its other errors, and a command's own output, say something else.
    static let unreachableMarkers = ["cannot connect to the docker daemon", "error during connect", "failed to connect to the docker api"]

    /// The docker CLI's message as `notAnswering(THAT LINE)` when it says it cannot reach this
    /// engine, else nil (a container that is not running, a command's own failure).
    public func explain(_ message: String) -> String? {
        for line in message.split(whereSeparator: \.isNewline) {
            let lower = line.lowercased()
            if Self.unreachableMarkers.contains(where: { lower.contains($0) }) {
                return notAnswering(String(line).trimmed)
            }
        }
        return nil
    }

    /// The host or context, for messages (`tcp://10.0.0.2:2376`), never a file path.
    public var address: String {
        if let i = options.firstIndex(of: "--host"), i + 1 < options.count { return options[i + 1] }
        if let i = options.firstIndex(of: "--context"), i + 1 < options.count { return "docker context " + options[i + 1] }
        return "the default engine"
    }
}

extension ContainerSpec {
    /// The engine's CLI options (none on the default engine).
    public var engineOptions: [String] { engine?.options ?? [] }
    /// The engine's name, `default` when none was chosen.
    public var engineName: String { engine?.name ?? EngineEndpoint.defaultName }
    /// `docker [engine options]`: what every command about this container starts with.
    public var dockerCommand: [String] { [dockerExecutable] + engineOptions }
}

extension ContainerSpec {
    /// `sv-<profile>-<agent>-ws`: the agent's workspace volume on an engine with volume workspaces.
    public static func workspaceVolumeName(profile: String, agent: String) -> String { "sv-\(profile)-\(agent)-ws" }

    /// The workspace volume's name when the workspace is a volume (nil: a bind mount).
    public var workspaceVolume: String? { mounts.first.flatMap { $0.volume == true ? $0.host : nil } }
}

extension ContainerInfo {
    public init(id: String, name: String, status: String, exitCode: Int) {
        self.init(id: id, name: name, status: status, exitCode: exitCode, labels: [:])
    }
}
