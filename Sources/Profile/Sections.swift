// Reading the [llm], [backend] and [logs] tables. [llm] and [backend] exist at
// profile level and per agent; both are read into "partial" values (only the
// keys that were written) which are overlaid and then resolved with defaults.

import AgentProtocol

/// Paths against which relative paths in a profile are resolved.
struct Bases {
    /// The profile file's directory.
    let directory: String
    /// The resolved workdir.
    let workdir: String
}

struct LLMPartial {
    var provider: LLMProvider?
    var model: String?
    var baseURL: String?
    var apiKeyEnv: String?
    var maxTokens: Int?
    var contextTokens: Int?
    var temperature: Double?
    var endpoint: LLMEndpoint?
    var script: String?
    var connectTimeout: Double?
    var stallTimeout: Double?
    var requestTimeout: Double?
    var maxRetries: Int?
    var debug: Bool?
    var prices: [String: ModelPrice] = [:]
    /// Key -> path of the key that set it (for errors found after merging).
    var origin: [String: [PathComponent]] = [:]

    static let keys = ["provider", "model", "base_url", "api_key_env", "max_tokens", "context_tokens", "temperature", "endpoint", "script",
                       "connect_timeout", "stall_timeout", "request_timeout", "max_retries", "debug", "prices"]

    static func read(_ t: TableReader, _ bases: Bases) -> LLMPartial {
        var p = LLMPartial()
        t.rejectUnknownKeys(allowed: keys)
        p.provider = t.enumeration("provider", LLMProvider.self, noun: "provider")
        p.model = t.string("model", nonEmpty: true)
        if let u = t.string("base_url", nonEmpty: true) {
            let lower = u.lowercased()
            if !(lower.hasPrefix("http://") || lower.hasPrefix("https://")) {
                t.diagnostics.atValue(t.child("base_url"), "must start with http:// or https://, found \(Text.quote(u))")
            } else if u.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f }) {
                t.diagnostics.atValue(t.child("base_url"), "must not contain spaces or control characters")
            } else {
                p.baseURL = u
            }
        }
        if let e = t.string("api_key_env") {
            if e.isEmpty || Text.isValidVariableName(e) { p.apiKeyEnv = e }
            else {
                t.diagnostics.atValue(t.child("api_key_env"),
                    "must be the NAME of an environment variable, like OPENAI_API_KEY ([A-Za-z_][A-Za-z0-9_]*), never the key itself (the value is not shown)")
            }
        }
        p.maxTokens = t.int("max_tokens", .positive)
        p.contextTokens = t.int("context_tokens", .positive)
        p.temperature = t.number("temperature", .between(0, 2))
        p.endpoint = t.enumeration("endpoint", LLMEndpoint.self, noun: "endpoint")
        if let s = t.string("script", nonEmpty: true) { p.script = PathResolver.resolve(s, against: bases.directory) }
        p.connectTimeout = t.number("connect_timeout", .duration)
        p.stallTimeout = t.number("stall_timeout", .duration)
        p.requestTimeout = t.number("request_timeout", .duration)
        p.maxRetries = t.int("max_retries", .count)
        p.debug = t.bool("debug")
        if let prices = t.subtable("prices") {
            for model in prices.keys {
                guard let entry = prices.subtable(model) else { continue }
                entry.rejectUnknownKeys(allowed: ["input", "output", "cache_read", "cache_write"])
                let input = entry.number("input", .nonNegative)
                let output = entry.number("output", .nonNegative)
                if !entry.has("input") { t.diagnostics.missing(entry.child("input"), "missing required key \"input\" (USD per million input tokens)") }
                if !entry.has("output") { t.diagnostics.missing(entry.child("output"), "missing required key \"output\" (USD per million output tokens)") }
                if let i = input, let o = output {
                    p.prices[model] = ModelPrice(input: i, output: o,
                                                 cacheRead: entry.number("cache_read", .nonNegative),
                                                 cacheWrite: entry.number("cache_write", .nonNegative))
                }
            }
        }
        for k in t.keys where keys.contains(k) { p.origin[k] = t.child(k) }
        return p
    }

    /// `self` with every key written in `o` taken from `o` (prices merge by model).
    func overlaid(by o: LLMPartial) -> LLMPartial {
        var r = self
        if let v = o.provider { r.provider = v }
        if let v = o.model { r.model = v }
        if let v = o.baseURL { r.baseURL = v }
        if let v = o.apiKeyEnv { r.apiKeyEnv = v }
        if let v = o.maxTokens { r.maxTokens = v }
        if let v = o.contextTokens { r.contextTokens = v }
        if let v = o.temperature { r.temperature = v }
        if let v = o.endpoint { r.endpoint = v }
        if let v = o.script { r.script = v }
        if let v = o.connectTimeout { r.connectTimeout = v }
        if let v = o.stallTimeout { r.stallTimeout = v }
        if let v = o.requestTimeout { r.requestTimeout = v }
        if let v = o.maxRetries { r.maxRetries = v }
        if let v = o.debug { r.debug = v }
        r.prices.merge(o.prices) { _, new in new }
        r.origin.merge(o.origin) { _, new in new }
        return r
    }

    func resolved() -> LLMSettings {
        var s = LLMSettings()
        s.provider = provider ?? s.provider
        s.model = model
        s.baseURL = baseURL
        if let e = apiKeyEnv { s.apiKeyEnv = e.isEmpty ? nil : e } else { s.apiKeyEnv = s.provider.defaultAPIKeyEnv }
        s.maxTokens = maxTokens ?? s.maxTokens
        s.contextTokens = contextTokens
        s.temperature = temperature
        s.endpoint = endpoint ?? s.endpoint
        s.script = script
        s.connectTimeout = connectTimeout ?? s.connectTimeout
        s.stallTimeout = stallTimeout ?? s.stallTimeout
        s.requestTimeout = requestTimeout ?? s.requestTimeout
        s.maxRetries = maxRetries ?? s.maxRetries
        s.debug = debug ?? s.debug
        s.prices = prices
        return s
    }

    /// Checks that need the merged settings of an agent that calls a model.
    func check(agent: [PathComponent], kind: AgentKind, _ d: Diagnostics) {
        let s = resolved()
        if s.provider == .script {
            if s.script == nil, let o = origin["provider"] {
                d.add(d.position(o, value: false),
                      "\(SourceMap.render(Array(o.dropLast()) + [.key("script")])): missing required key: provider \"script\" needs script = \"<path>\" (relative to the profile file)")
            }
        } else if s.model == nil {
            d.missing(agent + [.key("llm"), .key("model")],
                      "missing required key: kind \"\(kind.rawValue)\" calls a model; set model in [llm] or in this agent's [agents.llm]")
        }
        if s.endpoint == .completions, s.provider != .openaiCompatible, let o = origin["endpoint"] {
            d.atValue(o, "endpoint \"completions\" needs provider \"openai-compatible\" (provider is \"\(s.provider.rawValue)\")")
        }
    }
}

struct BackendPartial {
    var type: BackendType?
    var image: String?
    var network: String?
    var memory: String?
    var cpus: Double?
    var pidsLimit: Int?
    var readOnly: Bool?
    var mounts: [Mount]?
    var env: [String]?
    var user: String?
    var preserveContainer: Bool?
    var workspace: String?
    var engine: String?
    var origin: [String: [PathComponent]] = [:]

    static let keys = ["type", "image", "network", "memory", "cpus", "pids_limit", "read_only", "mounts", "env", "user",
                       "preserve_container", "workspace", "engine"]

    static func read(_ t: TableReader, _ bases: Bases) -> BackendPartial {
        var p = BackendPartial()
        let d = t.diagnostics
        t.rejectUnknownKeys(allowed: keys)
        p.type = t.enumeration("type", BackendType.self, noun: "backend type")
        if let s = t.string("image", nonEmpty: true) {
            if Text.isToken(s, extra: "_.:/@-") { p.image = s }
            else { d.atValue(t.child("image"), "\(Text.quote(s)) is not an image reference (letters, digits and _ . : / @ -, starting with a letter or digit)") }
        }
        if let s = t.string("network", nonEmpty: true) {
            if Text.isToken(s, extra: "_.-") { p.network = s }
            else { d.atValue(t.child("network"), "\(Text.quote(s)) is not a network name (none, host, bridge, or a name of letters, digits and _ . -)") }
        }
        if let s = t.string("memory", nonEmpty: true) {
            if Text.isSize(s) { p.memory = s }
            else { d.atValue(t.child("memory"), "\(Text.quote(s)) is not a size (a number with an optional unit b, k, m or g, like \"2g\")") }
        }
        p.cpus = t.number("cpus", .positive)
        p.pidsLimit = t.int("pids_limit", .positive)
        p.readOnly = t.bool("read_only")
        if let raw = t.stringArray("mounts", check: { Self.mountProblem($0) }) {
            p.mounts = raw.compactMap { Self.mount($0, workdir: bases.workdir) }
        }
        p.env = t.stringArray("env") { Text.isValidVariableName($0) ? nil : "\(Text.quote($0)) is not a variable name ([A-Za-z_][A-Za-z0-9_]*)" }
        if let s = t.string("user", nonEmpty: true) {
            if Text.isToken(s, extra: "_.:-") { p.user = s }
            else { d.atValue(t.child("user"), "\(Text.quote(s)) is not a user (name or uid, optionally :group or :gid)") }
        }
        p.preserveContainer = t.bool("preserve_container")
        if let s = t.string("workspace", nonEmpty: true) {
            if s.hasPrefix("/") { p.workspace = PathResolver.normalize(s) }
            else { d.atValue(t.child("workspace"), "must be an absolute path inside the container, found \(Text.quote(s))") }
        }
        p.engine = t.string("engine", nonEmpty: true)
        for k in t.keys where keys.contains(k) { p.origin[k] = t.child(k) }
        return p
    }

    static func splitMount(_ s: String) -> (String, String, String?)? {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 2: return (parts[0], parts[1], nil)
        case 3: return (parts[0], parts[1], parts[2])
        default: return nil
        }
    }

    static func mountProblem(_ s: String) -> String? {
        guard let (host, container, mode) = splitMount(s), !host.isEmpty else {
            return "\(Text.quote(s)) is not a mount (expected \"host:container\" or \"host:container:ro\")"
        }
        if !container.hasPrefix("/") { return "container path in \(Text.quote(s)) must be absolute" }
        if let m = mode, m != "ro", m != "rw" { return "mount mode in \(Text.quote(s)) must be ro or rw" }
        return nil
    }

    static func mount(_ s: String, workdir: String) -> Mount? {
        guard let (host, container, mode) = splitMount(s) else { return nil }
        return Mount(host: PathResolver.resolve(host, against: workdir), container: PathResolver.normalize(container),
                     readOnly: mode == "ro")
    }

    func overlaid(by o: BackendPartial) -> BackendPartial {
        var r = self
        if let v = o.type { r.type = v }
        if let v = o.image { r.image = v }
        if let v = o.network { r.network = v }
        if let v = o.memory { r.memory = v }
        if let v = o.cpus { r.cpus = v }
        if let v = o.pidsLimit { r.pidsLimit = v }
        if let v = o.readOnly { r.readOnly = v }
        if let v = o.mounts { r.mounts = v }
        if let v = o.env { r.env = v }
        if let v = o.user { r.user = v }
        if let v = o.preserveContainer { r.preserveContainer = v }
        if let v = o.workspace { r.workspace = v }
        if let v = o.engine { r.engine = v }
        r.origin.merge(o.origin) { _, new in new }
        return r
    }

    func resolved() -> BackendSettings {
        var s = BackendSettings()
        s.type = type ?? s.type
        s.image = image
        s.network = network ?? s.network
        s.memory = memory
        s.cpus = cpus
        s.pidsLimit = pidsLimit
        s.readOnly = readOnly ?? s.readOnly
        s.mounts = mounts ?? []
        s.env = env ?? []
        s.user = user
        s.preserveContainer = preserveContainer ?? s.preserveContainer
        s.workspace = workspace ?? s.workspace
        s.engine = engine
        return s
    }

    func check(agent: [PathComponent], _ d: Diagnostics) {
        let s = resolved()
        if s.type == .docker, s.image == nil {
            let table = origin["type"].map { Array($0.dropLast()) } ?? agent + [.key("backend")]
            d.add(d.position(origin["type"] ?? agent, value: false),
                  "\(SourceMap.render(table + [.key("image")])): missing required key: backend type \"docker\" needs an image")
        }
    }
}

enum LogsReader {
    static let keys = ["dir", "max_bytes", "keep"]

    static func read(_ t: TableReader?, _ bases: Bases) -> LogSettings {
        var s = LogSettings(dir: PathResolver.resolve("logs", against: bases.directory))
        guard let t = t else { return s }
        t.rejectUnknownKeys(allowed: keys)
        if let d = t.string("dir", nonEmpty: true) { s.dir = PathResolver.resolve(d, against: bases.directory) }
        if let m = t.int("max_bytes", .atLeast(4096)) { s.maxBytes = m }
        if let k = t.int("keep", .nonNegative) { s.keep = k }
        return s
    }
}

enum NotifyReader {
    static let keys = ["command", "notify_send", "bell", "min_interval", "on"]

    static func read(_ t: TableReader) -> NotifyConfig {
        var n = NotifyConfig()
        t.rejectUnknownKeys(allowed: keys)
        n.command = t.stringArray("command", nonEmpty: true)
        if let b = t.bool("notify_send") { n.notifySend = b }
        if let b = t.bool("bell") { n.bell = b }
        if let s = t.number("min_interval", .atLeast(0)) { n.minInterval = s }
        let reasons = AttentionReason.named.map(\.0)
        n.on = t.stringArray("on", check: { name in
            reasons.contains(name) ? nil
                : "unknown reason \(Text.quote(name))\(Text.didYouMean(name, reasons)); expected some of: \(reasons.joined(separator: ", "))"
        })
        return n
    }
}
