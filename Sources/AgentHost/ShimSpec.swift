import AgentProtocol

/// Everything a shim needs to run one agent, written by `up` into the agent's state directory
/// and passed to `supervisor shim` by path, so no profile value ever travels through a tmux or
/// shell command line.
public struct ShimSpec: Codable, Equatable {
    public var profile: String
    public var agent: String
    public var kind: AgentKind
    /// Resolved executable path and the full argv (argv[0] included).
    public var executable: String
    public var arguments: [String]
    /// Variables set on top of the shim's own environment (which it inherits from the tmux
    /// server, hence from `up`: API keys reach the agent without touching any file).
    public var environment: [String: String]
    public var directory: String
    public var logPath: String
    public var eventsPath: String
    public var logMaxBytes: Int
    public var logKeep: Int
    public var socketPath: String
    public var statePath: String
    public var tmuxSocket: String?
    public var restart: String
    public var backoffInitial: Double
    public var backoffMax: Double
    public var maxRestarts: Int
    public var restartWindow: Double
    public var stopTimeout: Double
    /// `up` listens here to learn when each agent has started (sd_notify style).
    public var notifySocket: String?
    /// Variables named like secrets that this agent may still get from the shim's environment
    /// (its `pass_env`, a built-in agent's own API key variable); all others are withheld.
    public var passEnvironment: [String]?
    /// More names withheld from the agent (every agent's API key variable in the profile).
    public var withheldEnvironment: [String]?
    /// The agent's container (Docker backend): the shim makes sure it runs before each start
    /// of the agent, recreating it when it died. Nil on the local backend.
    public var container: ContainerSpec?
    /// An `engine = "auto"` Docker agent: the command (argv) that places it again when its
    /// engine does not answer at a start (`supervisor place-again`; it prints a
    /// `PlacementReport`). Nil: the agent stays on its engine.
    public var placeAgain: [String]?
    /// The profile's `[notify]` section (nil: the defaults, a bell and the status line).
    public var notify: NotifySettings?

    public init(profile: String, agent: String, kind: AgentKind, executable: String, arguments: [String],
                environment: [String: String], directory: String, logPath: String, eventsPath: String,
                logMaxBytes: Int, logKeep: Int, socketPath: String, statePath: String, tmuxSocket: String?,
                restart: String, backoffInitial: Double, backoffMax: Double, maxRestarts: Int,
                restartWindow: Double, stopTimeout: Double, notifySocket: String?, container: ContainerSpec? = nil,
                passEnvironment: [String]? = nil, withheldEnvironment: [String]? = nil) {
        self.passEnvironment = passEnvironment; self.withheldEnvironment = withheldEnvironment
        self.profile = profile; self.agent = agent; self.kind = kind; self.executable = executable
        self.arguments = arguments; self.environment = environment; self.directory = directory
        self.logPath = logPath; self.eventsPath = eventsPath; self.logMaxBytes = logMaxBytes
        self.logKeep = logKeep; self.socketPath = socketPath; self.statePath = statePath
        self.tmuxSocket = tmuxSocket; self.restart = restart; self.backoffInitial = backoffInitial
        self.backoffMax = backoffMax; self.maxRestarts = maxRestarts; self.restartWindow = restartWindow
        self.stopTimeout = stopTimeout; self.notifySocket = notifySocket
        self.container = container
    }

    /// The restart fields as the policy the shim applies.
    public var restartPolicy: RestartPolicy {
        RestartPolicy(mode: RestartPolicy.Mode(rawValue: restart) ?? .onFailure, backoffInitial: backoffInitial,
                      backoffMax: backoffMax, maxRestarts: maxRestarts, window: restartWindow)
    }

    public static func read(path: String) throws -> ShimSpec {
        // The shim runs what the spec says: only a spec no one else could have written.
        if let problem = FileIO.untrustedFileProblem(path) {
            throw HostingError("refusing shim spec \(path): \(problem)")
        }
        guard let bytes = try? FileIO.readAll(path) else {
            throw HostingError("cannot read shim spec \(path)")
        }
        return try JSONCoding.decode(ShimSpec.self, from: bytes)
    }

    public func write(to path: String) throws {
        try writeFileAtomically(path: path, data: try JSONCoding.encodeBytes(self, pretty: true, sortedKeys: true))
    }
}

/// What `supervisor place-again` reports to the shim on its standard output: where the agent
/// runs now and, when it moved (or its workspace was seeded), the note for its `placement`
/// event. One JSON object with a version (`v`), like the notify protocol: the command is the
/// one recorded at `up`, and a report of another build is named, never misread.
public struct PlacementReport: Codable, Equatable, Sendable {
    public static let version = 1
    public var v: Int?
    public var engine: String
    public var note: String?
    public init(engine: String, note: String?) { self.v = PlacementReport.version; self.engine = engine; self.note = note }

    public func encode() -> [UInt8] { (try? JSONCoding.encodeBytes(self)) ?? [] }

    /// The report in `output`, or why it is not one (no version: a build before this one).
    public static func decode(_ output: [UInt8]) -> Result<PlacementReport, HostingError> {
        guard let report = try? JSONCoding.decode(PlacementReport.self, from: output) else {
            return .failure(HostingError("place-again printed no placement report"))
        }
        guard report.v == version else {
            return .failure(HostingError("place-again speaks placement report version \(report.v ?? 0), this shim speaks \(version): run `supervisor down` and `up` again with one build"))
        }
        return .success(report)
    }
}

/// A hosting failure with one clear sentence for the user.
public struct HostingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
