// The validated profile model. Every value here has passed validation; all
// paths are absolute; per-agent settings already have the profile-level
// [llm] and [backend] defaults merged under the agent's own overrides.

// `AgentKind` is the event protocol's (the shim and every reader of events share it).
@_exported import AgentProtocol

public enum LLMProvider: String, Codable, CaseIterable, Sendable {
    case anthropic, openai
    case openaiCompatible = "openai-compatible"
    case script

    /// The variable that holds the API key when `api_key_env` is not set.
    public var defaultAPIKeyEnv: String? {
        switch self {
        case .anthropic: return "ANTHROPIC_API_KEY"
        case .openai: return "OPENAI_API_KEY"
        case .openaiCompatible, .script: return nil
        }
    }

    /// The context window assumed when `context_tokens` is not set: the current models of the
    /// hosted providers; for a local server a small one (llama.cpp's default is its model's
    /// training context, often 4-8k when the server was started with defaults).
    public var defaultContextTokens: Int {
        switch self {
        case .anthropic: return 200_000
        case .openai: return 128_000
        case .openaiCompatible: return 8_192
        case .script: return 1_000_000
        }
    }
}

public enum LLMEndpoint: String, Codable, CaseIterable, Sendable { case chat, completions }
public enum BackendType: String, Codable, CaseIterable, Sendable { case local, docker }
public enum RestartMode: String, Codable, CaseIterable, Sendable {
    case never
    case onFailure = "on-failure"
    case always
}
public enum ContextMode: String, Codable, CaseIterable, Sendable { case partial, full }
/// Where an agent works: in the profile's checkout as it is (`none`), or in a git worktree of
/// its own on its own branch (`worktree`), so parallel agents never edit the same files.
public enum Isolation: String, Codable, CaseIterable, Sendable { case none, worktree }
public enum Permission: String, Codable, CaseIterable, Sendable {
    case ask
    case allowEdits = "allow-edits"
    case yolo
}

/// Tools a coder agent may be allowed or denied.
public enum CoderTool: String, Codable, CaseIterable, Sendable {
    case bash = "Bash", read = "Read", write = "Write", edit = "Edit", glob = "Glob", grep = "Grep", webFetch = "WebFetch"
}

/// One MCP (Model Context Protocol) server of a coder agent: started from argv in the agent's
/// box (its container on the Docker backend), spoken to over stdio.
public struct MCPServerSpec: Codable, Equatable, Sendable {
    /// `[a-z0-9][a-z0-9_-]*` without `__`; the model sees its tools as `mcp__NAME__TOOL`.
    public var name: String
    /// Program and arguments (argv; never a shell string).
    public var command: [String]
    /// Extra environment for the server (values are data). On the Docker backend secret names
    /// (`Secrets.isSecretName`: `*_API_KEY`, the words TOKEN or SECRET, PASSWORD) are not passed
    /// into the container.
    public var env: [String: String] = [:]
    /// Working directory of the server as the box sees it; relative to the box's workspace.
    public var cwd: String?
    /// Seconds one request may take (initialize, tools/list, tools/call).
    public var timeout: Double = 60

    public init(name: String, command: [String], env: [String: String] = [:], cwd: String? = nil, timeout: Double = 60) {
        self.name = name; self.command = command; self.env = env; self.cwd = cwd; self.timeout = timeout
    }

    /// `mcp__SERVER__TOOL` (or `mcp__SERVER__*`): the server's name, else nil.
    public static func serverName(ofToolPattern s: String) -> String? {
        guard s.hasPrefix("mcp__") else { return nil }
        let rest = s.dropFirst(5)
        guard let r = rest.range(of: "__"), r.lowerBound != rest.startIndex, r.upperBound != rest.endIndex else { return nil }
        return String(rest[..<r.lowerBound])
    }
}

/// USD per million tokens.
public struct ModelPrice: Codable, Equatable, Sendable {
    public var input: Double
    public var output: Double
    public var cacheRead: Double?
    public var cacheWrite: Double?
    public init(input: Double, output: Double, cacheRead: Double? = nil, cacheWrite: Double? = nil) {
        self.input = input; self.output = output; self.cacheRead = cacheRead; self.cacheWrite = cacheWrite
    }
}

public struct LLMSettings: Codable, Equatable, Sendable {
    public var provider: LLMProvider = .openai
    public var model: String?
    public var baseURL: String?
    /// The NAME of the variable holding the key (never the key). Nil: no key is sent.
    public var apiKeyEnv: String?
    public var maxTokens: Int = 4096
    /// The model's context window in tokens (prompt and reply). Nil: the provider's default.
    public var contextTokens: Int?
    public var effectiveContextTokens: Int { contextTokens ?? provider.defaultContextTokens }
    /// Nil: the provider's default.
    public var temperature: Double?
    public var endpoint: LLMEndpoint = .chat
    /// Absolute path of the script for provider `script`.
    public var script: String?
    public var connectTimeout: Double = 10
    public var stallTimeout: Double = 120
    public var requestTimeout: Double = 600
    public var maxRetries: Int = 3
    public var debug: Bool = false
    /// Model name -> price.
    public var prices: [String: ModelPrice] = [:]
    public init() {}
}

/// One bind mount into the agent's container.
public struct Mount: Codable, Equatable, Sendable {
    /// Absolute host path.
    public var host: String
    /// Absolute path inside the container.
    public var container: String
    public var readOnly: Bool
    public init(host: String, container: String, readOnly: Bool) {
        self.host = host; self.container = container; self.readOnly = readOnly
    }
}

public struct BackendSettings: Codable, Equatable, Sendable {
    public var type: BackendType = .local
    public var image: String?
    public var network: String = "bridge"
    public var memory: String?
    public var cpus: Double?
    public var pidsLimit: Int?
    public var readOnly: Bool = false
    public var mounts: [Mount] = []
    /// Names of host variables passed into the container.
    public var env: [String] = []
    public var user: String?
    public var preserveContainer: Bool = false
    public var workspace: String = "/workspace"
    /// The Docker engine: nil or "default" for the one the docker CLI reaches without options,
    /// a name from `[engines]`, or "auto" (placed by the supervisor).
    public var engine: String?
    public init() {}
}

public struct LogSettings: Codable, Equatable, Sendable {
    /// Absolute root of the logs; an agent's log is `<dir>/<profile>/<agent>.log`.
    public var dir: String
    public var maxBytes: Int = 52_428_800
    public var keep: Int = 3
    public init(dir: String, maxBytes: Int = 52_428_800, keep: Int = 3) {
        self.dir = dir; self.maxBytes = maxBytes; self.keep = keep
    }
}

/// `[notify]`: how a person is told that an agent needs them (profiles/README.md, "Attention").
public struct NotifyConfig: Codable, Equatable, Sendable {
    /// argv run with the attention event as JSON on standard input.
    public var command: [String]?
    public var notifySend: Bool = false
    public var bell: Bool = true
    /// Seconds between two notifications of one agent.
    public var minInterval: Double = 30
    /// The reasons (`AttentionReason` names) that ring and notify; nil: all but `finished` of
    /// command agents.
    public var on: [String]?
    public init(command: [String]? = nil, notifySend: Bool = false, bell: Bool = true, minInterval: Double = 30, on: [String]? = nil) {
        self.command = command; self.notifySend = notifySend; self.bell = bell; self.minInterval = minInterval; self.on = on
    }
}

public struct AgentSpec: Codable, Equatable, Sendable {
    public var name: String
    public var kind: AgentKind
    /// Extra environment for the agent process (values are data, never expanded).
    public var env: [String: String] = [:]
    /// Variables of `up`'s environment named like secrets (`*_API_KEY`, TOKEN, SECRET,
    /// PASSWORD) that this agent may have: a third-party agent CLI's key. Everything else
    /// named so is withheld from agents (a built-in agent gets its own `api_key_env`).
    public var passEnv: [String] = []
    /// Absolute working directory.
    public var cwd: String
    public var restart: RestartMode = .onFailure
    public var backoffInitial: Double = 1
    public var backoffMax: Double = 60
    public var maxRestarts: Int = 5
    public var restartWindow: Double = 600
    public var stopTimeout: Double = 10
    public var debug: Bool = false
    public var llm: LLMSettings
    public var backend: BackendSettings
    /// `worktree`: the agent works in its own git worktree (`cwd` is rewritten to it at `up`).
    public var isolation: Isolation = .none
    /// The worktree's branch (nil: `sv/<profile>/<agent>`).
    public var branch: String?
    /// The ref the branch starts from (nil: the current branch's HEAD).
    public var base: String?
    /// Built-in agents: commit the worktree's changes at the end of each turn.
    public var autocommit: Bool = false

    // command
    public var command: [String]?
    // goal
    public var goal: String?
    public var contextMode: ContextMode = .partial
    /// Steps: commands (goal), model requests per turn (exec, coder).
    public var limit: Int = 30
    /// The coder's `limit` when the profile does not set one (model requests in one turn).
    public static let coderDefaultLimit = 200
    public var doneWhen: String?
    /// Once the goal is reached, keep the agent's shell and its background jobs (a server it
    /// started) running until the agent is stopped.
    public var stay: Bool = false
    public var timeBudget: Double?
    public var tokenBudget: Int?
    public var costBudget: Double?
    // coder, exec
    public var prompt: String?
    // coder
    public var permission: Permission = .ask
    /// Tool names: the built-in ones (`CoderTool`), `mcp__SERVER__TOOL` and `mcp__SERVER__*`.
    public var allowTools: [String]?
    public var denyTools: [String]?
    /// MCP servers whose tools the coder offers (`[[agents.mcp]]`).
    public var mcp: [MCPServerSpec] = []
    // exec
    public var blockTimeout: Double = 60
    public var memoryLimit: String?

    /// Line of the agent's `[[agents]]` header in the profile (0 if unknown).
    public var line: Int = 0
    /// Where each key of the agent's table is written in the profile, so checks made after
    /// loading (a program not found, a missing working directory) point at it; "cwd" falls back
    /// to the profile's `workdir`. Optional: launch configs written before it decode.
    public var keyPositions: [String: SourcePosition]?

    public init(name: String, kind: AgentKind, cwd: String, llm: LLMSettings = LLMSettings(), backend: BackendSettings = BackendSettings()) {
        self.name = name; self.kind = kind; self.cwd = cwd; self.llm = llm; self.backend = backend
    }
}

public struct Profile: Codable, Equatable, Sendable {
    public var name: String
    public var description: String?
    /// Absolute path of the profile file.
    public var sourcePath: String
    /// Absolute directory holding the profile file.
    public var directory: String
    /// Absolute working directory (default: the profile's directory).
    public var workdir: String
    /// Profile-level defaults (already merged into each agent).
    public var llm: LLMSettings
    public var backend: BackendSettings
    public var logs: LogSettings
    public var agents: [AgentSpec]
    /// `[notify]`; nil when the profile has none (the defaults apply).
    public var notify: NotifyConfig?
    /// `[engines.NAME]` tables, in file order (the `default` engine is implied, never listed).
    public var engines: [EngineSpec] = []

    public init(name: String, description: String? = nil, sourcePath: String, directory: String, workdir: String,
                llm: LLMSettings, backend: BackendSettings, logs: LogSettings, agents: [AgentSpec]) {
        self.name = name; self.description = description; self.sourcePath = sourcePath; self.directory = directory
        self.workdir = workdir; self.llm = llm; self.backend = backend; self.logs = logs; self.agents = agents
    }

    public func agent(named name: String) -> AgentSpec? { agents.first { $0.name == name } }
}
