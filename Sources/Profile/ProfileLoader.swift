import Foundation
import AgentProtocol
import TOMLKit

/// Reads a profile file, checks it completely and returns the validated model,
/// or throws the first error in file order as a `ProfileError`.
public enum ProfileLoader {
    public static func load(path: String) throws -> Profile {
        let data: Data
        do {
            data = try readFile(path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ProfileError(file: path, line: 0, column: 0, message: "cannot read profile \(path): the file is not valid UTF-8 text")
        }
        return try parse(text: text, path: path)
    }

    /// Validates `text` as the content of the profile at `path` (used for
    /// positions in errors and to resolve relative paths; not read).
    public static func parse(text: String, path: String) throws -> Profile {
        let absolute = PathResolver.resolve(path, against: FileManager.default.currentDirectoryPath)
        // The TOML library reads C strings: a NUL would silently end the document.
        if let nul = Self.firstNUL(text) {
            throw ProfileError(file: path, line: nul.line, column: nul.column, message: "NUL character in profile text")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw ProfileError(file: path, line: e.source.begin.line, column: e.source.begin.column, message: e.description)
        }
        let diagnostics = Diagnostics(map: SourceMap(text: text))
        let profile = Validator(diagnostics: diagnostics, file: path, absolutePath: absolute).profile(table)
        if let first = diagnostics.first {
            throw ProfileError(file: path, line: first.position.line, column: first.position.column, message: first.message)
        }
        guard let p = profile else {
            // Unreachable: a nil profile always comes with a diagnostic.
            throw ProfileError(file: path, line: 1, column: 1, message: "invalid profile")
        }
        return p
    }

    static func firstNUL(_ text: String) -> SourcePosition? {
        var line = 1, column = 1
        for c in text.unicodeScalars {
            if c == "\0" { return SourcePosition(line: line, column: column) }
            if c == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return nil
    }

    /// Reads the whole file, mapping failures to "cannot read profile PATH: REASON".
    static func readFile(_ path: String) throws -> Data {
        func fail(_ reason: String) -> ProfileError {
            ProfileError(file: path, line: 0, column: 0, message: "cannot read profile \(path): \(reason)")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw fail("Is a directory")
        }
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            return try handle.readToEnd() ?? Data()
        } catch {
            throw fail(reason(error))
        }
    }

    /// The operating system's reason for a failed read, without Foundation's wrapping.
    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return posixReason(Int32(underlying.code))
        }
        if ns.domain == NSPOSIXErrorDomain { return posixReason(Int32(ns.code)) }
        switch ns.code {
        case NSFileReadNoSuchFileError, NSFileNoSuchFileError: return posixReason(ENOENT)
        case NSFileReadNoPermissionError: return posixReason(EACCES)
        default: return ns.localizedDescription
        }
    }

    static func posixReason(_ code: Int32) -> String {
        if let s = strerror(code) { return String(cString: s) }
        return "error \(code)"
    }
}

/// Holds what the validation of one document needs; builds the model.
struct Validator {
    let diagnostics: Diagnostics
    let file: String
    let absolutePath: String

    static let topKeys = ["name", "description", "workdir", "llm", "backend", "logs", "notify", "agents", "engines"]

    func profile(_ table: TOMLTable) -> Profile? {
        let d = diagnostics
        let root = TableReader(table: table, path: [], diagnostics: d)
        let directory = PathResolver.directory(of: absolutePath)
        root.rejectUnknownKeys(allowed: Self.topKeys)

        var name = root.string("name", nonEmpty: true)
        if let n = name, !Text.isValidName(n) {
            d.atValue(root.child("name"), "invalid profile name \(Text.quote(n)): \(Self.nameRule)")
            name = nil
        } else if !root.has("name") {
            var derived = PathResolver.lastComponent(of: absolutePath)
            if derived.hasSuffix(".toml") { derived.removeLast(5) }
            if Text.isValidName(derived) { name = derived }
            else {
                d.add(.start, "name: the profile name \(Text.quote(derived)) taken from the file name is invalid (\(Self.nameRule)); set name = \"...\" at the top of the profile")
            }
        }
        let description = root.string("description")
        var workdir = directory
        if let w = root.string("workdir", nonEmpty: true) { workdir = PathResolver.resolve(w, against: directory) }
        let bases = Bases(directory: directory, workdir: workdir)

        let llm = root.subtable("llm").map { LLMPartial.read($0, bases) } ?? LLMPartial()
        let backend = root.subtable("backend").map { BackendPartial.read($0, bases) } ?? BackendPartial()
        let logs = LogsReader.read(root.subtable("logs"), bases)
        let notify = root.subtable("notify").map(NotifyReader.read)
        let engines = root.subtable("engines").map { EnginesReader.read($0, bases) } ?? []

        var agents: [AgentSpec] = []
        var complete = true
        let agentsPath: [PathComponent] = [.key("agents")]
        if let value = table["agents"] {
            if let array = value.array, array.count > 0 {
                var firstLineOfName: [String: Int] = [:]
                for i in 0..<array.count {
                    let path = agentsPath + [.index(i)]
                    guard let t = array[i].table else {
                        d.atValue(path, "expected a table ([[agents]]), found \(TableReader.describe(array[i].type))")
                        complete = false
                        continue
                    }
                    let reader = TableReader(table: t, path: path, diagnostics: d)
                    let agent = AgentReader(reader: reader, bases: bases, llm: llm, backend: backend).read()
                    guard let a = agent else { complete = false; continue }
                    EnginesReader.checkChoice(a.backend.engine, at: Self.engineOrigin(t, path: path, backend: backend), backend: a.backend.type,
                                              engines: engines, d)
                    if let first = firstLineOfName[a.name] {
                        d.atValue(path + [.key("name")], "duplicate agent name \(Text.quote(a.name)) (first used on line \(first))")
                        complete = false
                    } else {
                        firstLineOfName[a.name] = d.position(path + [.key("name")], value: false).line
                    }
                    agents.append(a)
                }
            } else if let array = value.array, array.count == 0 {
                d.atValue(agentsPath, "at least one agent is required (add an [[agents]] table)")
            } else {
                d.atValue(agentsPath, "expected an array of tables ([[agents]]), found \(TableReader.describe(value.type))")
            }
        } else {
            d.add(.start, "agents: at least one agent is required (add an [[agents]] table with name and kind)")
        }

        if let profileName = name { checkBranchesDiffer(agents, profile: profileName) }

        // An agent without its own cwd works in the profile's workdir: point at that.
        if let workdir = d.map.keyPosition(SourceMap.render(root.child("workdir"))) {
            for i in agents.indices where agents[i].keyPositions?["cwd"] == nil { agents[i].keyPositions?["cwd"] = workdir }
        }
        guard let profileName = name, complete, d.items.isEmpty else { return nil }
        var profile = Profile(name: profileName, description: description, sourcePath: absolutePath, directory: directory,
                              workdir: workdir, llm: llm.resolved(), backend: backend.resolved(), logs: logs, agents: agents)
        profile.notify = notify
        profile.engines = engines
        return profile
    }

    /// Two isolated agents on one branch would share a worktree's history: the second is an error.
    func checkBranchesDiffer(_ agents: [AgentSpec], profile: String) {
        var owner: [String: String] = [:]
        for (i, a) in agents.enumerated() where a.isolation == .worktree {
            let branch = a.branch ?? GitNames.defaultBranch(profile: profile, agent: a.name)
            if let first = owner[branch] {
                let path: [PathComponent] = [.key("agents"), .index(i), .key(a.branch == nil ? "isolation" : "branch")]
                diagnostics.atValue(path, "agent \(Text.quote(a.name)) would use branch \(Text.quote(branch)), which agent \(Text.quote(first)) uses already; give each isolated agent its own branch")
            } else {
                owner[branch] = a.name
            }
        }
    }

    /// Where an agent's `engine` was written: its own table, its [agents.backend], or [backend].
    static func engineOrigin(_ agent: TOMLTable, path: [PathComponent], backend: BackendPartial) -> [PathComponent]? {
        if agent["engine"] != nil { return path + [.key("engine")] }
        if agent["backend"]?.table?["engine"] != nil { return path + [.key("backend"), .key("engine")] }
        return backend.origin["engine"]
    }

    static let nameRule = "use 1-32 characters from a-z, 0-9, '_' and '-', starting with a letter or digit"
}

/// Which kinds each kind-specific agent key applies to.
enum AgentKeys {
    static let common = ["name", "kind", "env", "cwd", "restart", "backoff_initial", "backoff_max", "max_restarts",
                         "restart_window", "stop_timeout", "debug", "llm", "backend", "isolation", "branch", "base", "pass_env", "engine"]
    static let specific: [(String, [AgentKind])] = [
        ("command", [.command]),
        ("goal", [.goal]),
        ("context_mode", [.goal]),
        ("limit", [.goal, .exec, .coder]),
        ("done_when", [.goal]),
        ("stay", [.goal]),
        ("time_budget", [.goal, .exec, .coder]),
        ("token_budget", [.goal, .exec, .coder]),
        ("cost_budget", [.goal, .exec, .coder]),
        ("prompt", [.coder, .exec]),
        ("permission", [.coder]),
        ("allow_tools", [.coder]),
        ("deny_tools", [.coder]),
        ("mcp", [.coder]),
        ("block_timeout", [.exec]),
        ("memory_limit", [.exec]),
        ("autocommit", [.coder, .goal, .exec]),
    ]
    static func kinds(of key: String) -> [AgentKind]? { specific.first { $0.0 == key }?.1 }
    static func keys(for kind: AgentKind?) -> [String] {
        common + specific.filter { kind == nil || $0.1.contains(kind!) }.map { $0.0 }
    }
    static func appliesTo(_ kinds: [AgentKind]) -> String {
        kinds.count == 1 ? "kind \"\(kinds[0].rawValue)\"" : "kinds " + kinds.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
    }
}

struct AgentReader {
    let reader: TableReader
    let bases: Bases
    let llm: LLMPartial
    let backend: BackendPartial

    func read() -> AgentSpec? {
        let t = reader
        let d = t.diagnostics
        let path = t.path

        // name and kind first: the rest depends on the kind.
        var name: String?
        if let n = t.string("name") {
            if Text.isValidName(n) { name = n }
            else { d.atValue(t.child("name"), "invalid agent name \(Text.quote(n)): \(Validator.nameRule)") }
        } else if !t.has("name") {
            d.missing(t.child("name"), "missing required key \"name\"")
        }
        var kind: AgentKind?
        if t.has("kind") {
            kind = t.enumeration("kind", AgentKind.self, noun: "kind")
        } else {
            d.missing(t.child("kind"), "missing required key \"kind\" (one of: \(AgentKind.allCases.map { $0.rawValue }.joined(separator: ", ")))")
        }

        // Keys: unknown, or not for this kind.
        for key in t.keys where !AgentKeys.common.contains(key) {
            if let kinds = AgentKeys.kinds(of: key) {
                if let k = kind, !kinds.contains(k) {
                    d.atKey(t.child(key), "key \"\(key)\" does not apply to kind \"\(k.rawValue)\"; it applies to \(AgentKeys.appliesTo(kinds))")
                }
                continue
            }
            var hint: String?
            if LLMPartial.keys.contains(key) { hint = "model settings go in [agents.llm] (or [llm] for all agents)" }
            else if BackendPartial.keys.contains(key) { hint = "backend settings go in [agents.backend] (or [backend] for all agents)" }
            let candidates = AgentKeys.keys(for: kind)
            d.atKey(t.child(key), TableReader.unknownKeyMessage(key, allowed: candidates, hint: hint))
        }

        var spec = AgentSpec(name: name ?? "", kind: kind ?? .command, cwd: bases.workdir)
        spec.line = d.position(path, value: false).line
        spec.keyPositions = Dictionary(uniqueKeysWithValues: t.keys.compactMap { key in
            d.map.keyPosition(SourceMap.render(t.child(key))).map { (key, $0) }
        })

        if let env = t.subtable("env") {
            for key in env.keys {
                if !Text.isValidVariableName(key) {
                    d.atKey(env.child(key), "\(Text.quote(key)) is not a variable name ([A-Za-z_][A-Za-z0-9_]*)")
                    continue
                }
                if let v = env.string(key) { spec.env[key] = v }
            }
        }
        if let names = t.stringArray("pass_env", check: { Text.isValidVariableName($0) ? nil : "\(Text.quote($0)) is not a variable name ([A-Za-z_][A-Za-z0-9_]*)" }) {
            spec.passEnv = names
        }
        if let c = t.string("cwd", nonEmpty: true) { spec.cwd = PathResolver.resolve(c, against: bases.workdir) }
        if let r = t.enumeration("restart", RestartMode.self, noun: "restart policy") { spec.restart = r }
        if let v = t.number("backoff_initial", .duration) { spec.backoffInitial = v }
        if let v = t.number("backoff_max", .duration) {
            if v < spec.backoffInitial {
                d.atValue(t.child("backoff_max"), "must be at least backoff_initial (\(Text.number(spec.backoffInitial))), found \(Text.number(v))")
            } else { spec.backoffMax = v }
        }
        if let v = t.int("max_restarts", .count) { spec.maxRestarts = v }
        if let v = t.number("restart_window", .duration) { spec.restartWindow = v }
        if let v = t.number("stop_timeout", .duration) { spec.stopTimeout = v }
        if let v = t.bool("debug") { spec.debug = v }
        readIsolation(&spec, kind: kind)

        let agentLLM = t.subtable("llm").map { LLMPartial.read($0, bases) } ?? LLMPartial()
        let agentBackend = t.subtable("backend").map { BackendPartial.read($0, bases) } ?? BackendPartial()
        let mergedLLM = llm.overlaid(by: agentLLM)
        let mergedBackend = backend.overlaid(by: agentBackend)
        spec.llm = mergedLLM.resolved()
        spec.backend = mergedBackend.resolved()
        if let engine = t.string("engine", nonEmpty: true) { spec.backend.engine = engine } // the agent's own key wins
        mergedBackend.check(agent: path, d)

        guard let k = kind else { return nil }
        if k.usesLLM { mergedLLM.check(agent: path, kind: k, d) }
        func applies(_ key: String) -> Bool { AgentKeys.kinds(of: key)?.contains(k) ?? true }

        switch k {
        case .command:
            if t.has("command") {
                spec.command = t.stringArray("command", nonEmpty: true)
                if let first = spec.command?.first, first.isEmpty {
                    d.atValue(t.child("command") + [.index(0)], "the program name must not be empty")
                }
            } else {
                d.missing(t.child("command"), "missing required key \"command\" (an array of strings: program and arguments)")
            }
        case .goal:
            if t.has("goal") { spec.goal = t.string("goal", nonEmpty: true) }
            else { d.missing(t.child("goal"), "missing required key \"goal\" (what the agent must achieve)") }
            if let v = t.enumeration("context_mode", ContextMode.self, noun: "context mode") { spec.contextMode = v }
            spec.doneWhen = t.string("done_when", nonEmpty: true)
            if let v = t.bool("stay") { spec.stay = v }
        case .coder:
            if let v = t.enumeration("permission", Permission.self, noun: "permission") { spec.permission = v }
            spec.mcp = MCPReader.read(t)
            let servers = Set(spec.mcp.map(\.name))
            spec.allowTools = tools("allow_tools", servers: servers)
            spec.denyTools = tools("deny_tools", servers: servers)
        case .exec:
            if let v = t.number("block_timeout", .duration) { spec.blockTimeout = v }
            if let s = t.string("memory_limit", nonEmpty: true) {
                if Text.isSize(s) { spec.memoryLimit = s }
                else { d.atValue(t.child("memory_limit"), "\(Text.quote(s)) is not a size (a number with an optional unit b, k, m or g, like \"1g\")") }
            }
        }
        if spec.kind == .coder { spec.limit = AgentSpec.coderDefaultLimit }
        if applies("limit"), let v = t.int("limit", .between(1, TableReader.Bound.maxCount)) { spec.limit = v }
        if applies("time_budget") { spec.timeBudget = t.number("time_budget", .duration) }
        if applies("token_budget") { spec.tokenBudget = t.int("token_budget", .positive) }
        if applies("cost_budget") { spec.costBudget = t.number("cost_budget", .positive) }
        if applies("prompt") { spec.prompt = t.string("prompt") }

        guard name != nil else { return nil }
        return spec
    }

    /// `isolation`, `branch`, `base` and `autocommit`: the last three only mean something in a
    /// worktree, so without `isolation = "worktree"` they are errors rather than silently ignored.
    func readIsolation(_ spec: inout AgentSpec, kind: AgentKind?) {
        let t = reader
        let d = t.diagnostics
        if let v = t.enumeration("isolation", Isolation.self, noun: "isolation") { spec.isolation = v }
        if let b = t.string("branch") {
            if let problem = GitNames.branchProblem(b) { d.atValue(t.child("branch"), "invalid branch name \(Text.quote(b)): \(problem)") }
            else { spec.branch = b }
        }
        if let b = t.string("base") {
            if let problem = GitNames.revisionProblem(b) { d.atValue(t.child("base"), "invalid base \(Text.quote(b)): \(problem)") }
            else { spec.base = b }
        }
        if kind?.usesLLM ?? true, let v = t.bool("autocommit") { spec.autocommit = v }
        if spec.isolation != .worktree {
            for key in ["branch", "base", "autocommit"] where t.has(key) {
                d.atKey(t.child(key), "key \"\(key)\" needs isolation = \"worktree\" in this agent (it applies to the agent's own worktree)")
            }
        }
    }

    /// Built-in tool names, `mcp__SERVER__TOOL` and `mcp__SERVER__*` of this agent's servers.
    func tools(_ key: String, servers: Set<String>) -> [String]? {
        let names = CoderTool.allCases.map { $0.rawValue }
        return reader.stringArray(key) { s in
            if CoderTool(rawValue: s) != nil { return nil }
            if s.hasPrefix("mcp__") {
                guard let server = MCPServerSpec.serverName(ofToolPattern: s) else {
                    return "\(Text.quote(s)) is not an MCP tool name (expected \"mcp__SERVER__TOOL\" or \"mcp__SERVER__*\")"
                }
                guard servers.contains(server) else {
                    let known = servers.sorted().map { Text.quote($0) }.joined(separator: ", ")
                    return "\(Text.quote(s)) names the MCP server \(Text.quote(server)), which this agent does not have"
                        + (known.isEmpty ? " (add an [[agents.mcp]] table)" : " (its servers: \(known))")
                }
                return nil
            }
            return TableReader.enumMessage(s, allowed: names, noun: "tool") + " (or an MCP tool: \"mcp__SERVER__TOOL\", \"mcp__SERVER__*\")"
        }
    }
}

/// `[[agents.mcp]]`: one table per MCP server of a coder agent.
enum MCPReader {
    static let keys = ["name", "command", "env", "cwd", "timeout"]

    static func read(_ agent: TableReader) -> [MCPServerSpec] {
        let d = agent.diagnostics
        guard let value = agent.table["mcp"] else { return [] }
        guard let array = value.array else {
            agent.wrongType(agent.child("mcp"), expected: "an array of tables ([[agents.mcp]])", found: value)
            return []
        }
        var out: [MCPServerSpec] = []
        var firstLine: [String: Int] = [:]
        for i in 0..<array.count {
            let path = agent.child("mcp") + [.index(i)]
            guard let table = array[i].table else {
                d.atValue(path, "expected a table ([[agents.mcp]] with name and command), found \(TableReader.describe(array[i].type))")
                continue
            }
            let t = TableReader(table: table, path: path, diagnostics: d)
            t.rejectUnknownKeys(allowed: keys)
            var name: String?
            if let n = t.string("name") {
                if Text.isValidName(n) && !n.contains("__") {
                    if let first = firstLine[n] {
                        d.atValue(t.child("name"), "duplicate MCP server name \(Text.quote(n)) (first used on line \(first))")
                    } else {
                        firstLine[n] = d.position(t.child("name"), value: false).line
                        name = n
                    }
                } else {
                    d.atValue(t.child("name"), "invalid MCP server name \(Text.quote(n)): use 1-32 characters from a-z, 0-9, '_' and '-', starting with a letter or digit, without \"__\"")
                }
            } else if !t.has("name") {
                d.missing(t.child("name"), "missing required key \"name\" (the model sees the server's tools as mcp__NAME__TOOL)")
            }
            var command: [String]?
            if t.has("command") {
                if let v = table["command"], v.string != nil {
                    d.atValue(t.child("command"), "expected an array of strings (program and arguments, no shell), found a string; write command = [\"prog\", \"arg\"]")
                } else {
                    command = t.stringArray("command", nonEmpty: true)
                    if let first = command?.first, first.isEmpty {
                        d.atValue(t.child("command") + [.index(0)], "the program name must not be empty")
                        command = nil
                    }
                }
            } else {
                d.missing(t.child("command"), "missing required key \"command\" (an array of strings: program and arguments)")
            }
            var env: [String: String] = [:]
            if let e = t.subtable("env") {
                for key in e.keys {
                    if !Text.isValidVariableName(key) {
                        d.atKey(e.child(key), "\(Text.quote(key)) is not a variable name ([A-Za-z_][A-Za-z0-9_]*)")
                        continue
                    }
                    if let v = e.string(key) { env[key] = v }
                }
            }
            let cwd = t.string("cwd", nonEmpty: true)
            let timeout = t.number("timeout", .duration)
            if let name, let command {
                out.append(MCPServerSpec(name: name, command: command, env: env, cwd: cwd, timeout: timeout ?? 60))
            }
        }
        return out
    }
}
