#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hosting
import Profile

/// How `supervisor agent coder` was asked to run: flags, the launch config written by `up`
/// (`--config`), or, outside a profile, environment variables:
///
/// | variable | meaning (default) |
/// | --- | --- |
/// | `SUPERVISOR_CODER_PROVIDER` | `anthropic`, `openai`, `openai-compatible`, `script` (anthropic if `ANTHROPIC_API_KEY` is set, else openai if `OPENAI_API_KEY` is set, else anthropic) |
/// | `SUPERVISOR_CODER_MODEL` | model (`claude-sonnet-4-20250514`; `gpt-4o-mini` for openai) |
/// | `SUPERVISOR_CODER_BASE_URL` | API base URL (the provider's; also `ANTHROPIC_BASE_URL` / `OPENAI_BASE_URL`) |
/// | `SUPERVISOR_CODER_API_KEY_ENV` | NAME of the variable holding the key (`ANTHROPIC_API_KEY` / `OPENAI_API_KEY`) |
/// | `SUPERVISOR_CODER_MAX_TOKENS` | answer length limit (8192) |
/// | `SUPERVISOR_CODER_CONTEXT_TOKENS` | the model's context window (the provider's default, as `llm.context_tokens`) |
/// | `SUPERVISOR_CODER_TEMPERATURE` | sampling temperature (the provider's default) |
/// | `SUPERVISOR_CODER_SCRIPT` | script file for provider `script` (offline demos) |
/// | `SUPERVISOR_CODER_PERMISSION` | `ask`, `allow-edits`, `yolo` (ask) |
/// | `SUPERVISOR_CODER_ALLOW_TOOLS` / `_DENY_TOOLS` | comma-separated tool names (also `mcp__SERVER__TOOL`, `mcp__SERVER__*`) |
/// | `SUPERVISOR_CODER_MCP` | JSON file of MCP servers, `{"mcpServers": {"NAME": {"command": "prog", "args": [...], "env": {...}, "cwd": "..."}}}` (the format other MCP clients use) |
/// | `SUPERVISOR_CODER_WORKSPACE` | directory the tools work in (the current directory) |
/// | `SUPERVISOR_CODER_STATE_DIR` | where `sessions/` are kept (`$SUPERVISOR_HOME/standalone/coder`) |
/// | `SUPERVISOR_CODER_DEBUG` | `1`: requests and responses to `llm-debug.jsonl` in the state dir |
/// | `SUPERVISOR_CODER_PLAIN` | `1`: plain line mode even on a terminal |
/// | `SUPERVISOR_CODER_NO_RIPGREP` | `1`: Grep uses its built-in search even when `rg` is installed |
/// | `SUPERVISOR_CODER_HOOK_PRE_TOOL` / `_POST_TOOL` / `_STOP` | hook commands (also inside profiles, via the agent's `env`) |
/// | `SUPERVISOR_THEME` | Kitty-format colour theme for the TUI; `NO_COLOR` turns colours off |
public struct CoderSetup {
    public var spec: AgentSpec
    public var stateDir: String
    public var logsDir: String?
    public var launch: AgentLaunchConfig?
    /// Where `launch` was read from (`--config`), for the resume command shown at the end.
    public var configPath: String?
    public var prompt: String?
    public var resume: String?
    /// Resume the latest unfinished session when no --resume is given (a restart by the shim).
    public var resumeLatest: Bool
    public var hooks: CoderHooks
    public var plain: Bool
    public var useRipgrep: Bool?
    public var debugFile: String?

    public struct Flags {
        public var prompt: String?
        public var resume: String?
        public var permission: Permission?
        public var model: String?
        public var plain = false
        public var config: AgentLaunchConfig?
        public var configPath: String?
        /// The command line's model and budget flags (they win over the profile and the variables).
        public var adjust: ((inout AgentSpec) throws -> Void)?
        public init() {}
    }

    public static func resolve(flags: Flags, environment env: [String: String], currentDirectory: String) throws -> CoderSetup {
        func e(_ k: String) -> String? { env["SUPERVISOR_CODER_" + k].flatMap { $0.isEmpty ? nil : $0 } }
        func list(_ k: String) throws -> [String]? {
            guard let v = e(k) else { return nil }
            return try v.split(separator: ",").map { name in
                let n = name.trimmingCharacters(in: .whitespaces)
                guard CoderTool(rawValue: n) != nil || MCPServerSpec.serverName(ofToolPattern: n) != nil else {
                    throw ToolError("SUPERVISOR_CODER_\(k): unknown tool \"\(n)\" (tools: \(CoderTool.allCases.map(\.rawValue).joined(separator: ", ")), mcp__SERVER__TOOL, mcp__SERVER__*)")
                }
                return n
            }
        }
        var spec: AgentSpec
        var stateDir: String
        var logsDir: String?
        var debugFile: String?
        if let config = flags.config {
            spec = config.currentAgent()
            Self.applyModelDefaults(&spec.llm)
            stateDir = config.stateDir
            logsDir = config.logsDir
            if spec.debug || spec.llm.debug { debugFile = config.logPrefix + ".debug.jsonl" }
        } else {
            let cwd = e("WORKSPACE") ?? currentDirectory
            var llm = LLMSettings()
            if let p = e("PROVIDER") {
                guard let provider = LLMProvider(rawValue: p) else {
                    throw ToolError("SUPERVISOR_CODER_PROVIDER=\(p): use anthropic, openai, openai-compatible or script")
                }
                llm.provider = provider
            } else if !(env["ANTHROPIC_API_KEY"] ?? "").isEmpty {
                llm.provider = .anthropic
            } else if !(env["OPENAI_API_KEY"] ?? "").isEmpty {
                llm.provider = .openai
            } else {
                llm.provider = .anthropic
            }
            llm.model = e("MODEL") ?? (llm.provider == .openai ? "gpt-4o-mini" : llm.provider == .anthropic ? "claude-sonnet-4-20250514" : nil)
            llm.baseURL = e("BASE_URL")
            llm.apiKeyEnv = e("API_KEY_ENV")
            llm.maxTokens = Self.defaultMaxTokens
            if let m = e("MAX_TOKENS") {
                guard let n = Int(m), n > 0 else { throw ToolError("SUPERVISOR_CODER_MAX_TOKENS=\(m): a positive integer") }
                llm.maxTokens = n
            }
            if let c = e("CONTEXT_TOKENS") {
                guard let n = Int(c), n > 0 else { throw ToolError("SUPERVISOR_CODER_CONTEXT_TOKENS=\(c): a positive integer") }
                llm.contextTokens = n
            }
            if let t = e("TEMPERATURE") {
                guard let v = Double(t), v >= 0, v <= 2 else { throw ToolError("SUPERVISOR_CODER_TEMPERATURE=\(t): a number 0...2") }
                llm.temperature = v
            }
            if let s = e("SCRIPT") {
                llm.script = s.hasPrefix("/") ? s : currentDirectory + "/" + s
                if e("PROVIDER") == nil { llm.provider = .script; llm.model = e("MODEL") }
            }
            spec = AgentSpec(name: "coder", kind: .coder, cwd: cwd, llm: llm)
            spec.limit = AgentSpec.coderDefaultLimit
            if let p = e("PERMISSION") {
                guard let perm = Permission(rawValue: p) else { throw ToolError("SUPERVISOR_CODER_PERMISSION=\(p): use ask, allow-edits or yolo") }
                spec.permission = perm
            }
            spec.allowTools = try list("ALLOW_TOOLS")
            spec.denyTools = try list("DENY_TOOLS")
            if let file = e("MCP") {
                spec.mcp = try MCPConfigFile.read(path: file.hasPrefix("/") ? file : currentDirectory + "/" + file)
            }
            stateDir = e("STATE_DIR") ?? SupervisorPaths(environment: env).standaloneAgentDir(spec.name)
            if ["1", "true", "yes"].contains(e("DEBUG") ?? "") {
                spec.llm.debug = true
                debugFile = stateDir + "/llm-debug.jsonl"
            }
        }
        if let p = flags.permission { spec.permission = p }
        if let m = flags.model { spec.llm.model = m }
        try flags.adjust?(&spec)
        let prompt = flags.prompt ?? spec.prompt
        let plainEnv = ["1", "true", "yes"].contains(e("PLAIN") ?? "")
        let noRipgrep = ["1", "true", "yes"].contains(e("NO_RIPGREP") ?? "")
        return CoderSetup(spec: spec, stateDir: stateDir, logsDir: logsDir, launch: flags.config, configPath: flags.configPath, prompt: prompt,
                          resume: flags.resume, resumeLatest: flags.config != nil && flags.resume == nil,
                          hooks: CoderHooks(preTool: e("HOOK_PRE_TOOL"), postTool: e("HOOK_POST_TOOL"), stop: e("HOOK_STOP")),
                          plain: flags.plain || plainEnv, useRipgrep: noRipgrep ? false : nil, debugFile: debugFile)
    }

    /// The coder's model defaults (8192-token answers; see `LiveSettings`).
    public static let defaultMaxTokens = 8192
    public static func applyModelDefaults(_ s: inout LLMSettings) { LiveSettings.applyModelDefaults(kind: .coder, &s) }

    /// The launch config the engine reads live: `up`'s (its settings file has the `supervisor
    /// set` overrides) with the flags applied, or, outside a profile, one without a settings file.
    public var launchConfig: AgentLaunchConfig {
        var l = launch ?? AgentLaunchConfig(profile: SupervisorPaths.standaloneProfile, agent: spec, stateDir: stateDir,
                                            logsDir: logsDir ?? stateDir, settingsFile: nil)
        l.agent = spec
        return l
    }

    /// Model settings now (the profile entry with `supervisor set` overrides, the flags, the
    /// coder's defaults).
    public var live: LiveSettings { LiveSettings(launch: launchConfig) }

    /// The live permission policy (profile entry with `supervisor set` overrides, then flags).
    func policy(permissionFlag: Permission?) -> () -> PermissionPolicy {
        let launch = self.launch
        let base = spec
        return {
            var s = launch?.currentAgent() ?? base
            if let p = permissionFlag { s.permission = p }
            return PermissionPolicy(mode: s.permission, allowTools: s.allowTools, denyTools: s.denyTools ?? [])
        }
    }
}
