// Run-time setting overrides (`supervisor set P AGENT key=value`, dashboard):
// the text is parsed per key and checked like the profile would be; the
// resulting values are persisted by the caller and applied over the profile.

import AgentProtocol

public enum SettingValue: Codable, Equatable, Sendable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)

    /// Stored as the plain JSON value (`50`, `"full"`, `true`), so settings.json reads and
    /// edits like the profile itself.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let b = try? container.decode(Bool.self) { self = .bool(b) }
        else if let i = try? container.decode(Int.self) { self = .int(i) }
        else if let d = try? container.decode(Double.self) { self = .double(d) }
        else { self = .string(try container.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let s): try container.encode(s)
        case .int(let i): try container.encode(i)
        case .double(let d): try container.encode(d)
        case .bool(let b): try container.encode(b)
        }
    }

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return Text.number(d)
        case .bool(let b): return b ? "true" : "false"
        }
    }
}

public struct SettingError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum AgentSettings {
    enum ValueType {
        case string(nonEmpty: Bool)
        case choice([String])
        case int(min: Int)
        case double(min: Double, max: Double?, exclusiveMin: Bool)
        case bool
    }

    struct Key {
        let name: String
        let type: ValueType
        let kinds: [AgentKind]
        let meaning: String
    }

    static let all: [AgentKind] = AgentKind.allCases
    static let model: [AgentKind] = [.coder, .goal, .exec]

    static let table: [Key] = [
        Key(name: "context_mode", type: .choice(ContextMode.allCases.map { $0.rawValue }), kinds: [.goal], meaning: "what the goal runner keeps in context"),
        Key(name: "limit", type: .int(min: 1), kinds: model, meaning: "maximum steps (coder, exec: model requests per turn; goal: commands)"),
        Key(name: "model", type: .string(nonEmpty: true), kinds: model, meaning: "llm.model"),
        Key(name: "temperature", type: .double(min: 0, max: 2, exclusiveMin: false), kinds: model, meaning: "llm.temperature"),
        Key(name: "max_tokens", type: .int(min: 1), kinds: model, meaning: "llm.max_tokens"),
        Key(name: "context_tokens", type: .int(min: 1), kinds: model, meaning: "llm.context_tokens"),
        Key(name: "permission", type: .choice(Permission.allCases.map { $0.rawValue }), kinds: [.coder], meaning: "what the coder may do unasked"),
        Key(name: "block_timeout", type: .double(min: 0, max: nil, exclusiveMin: true), kinds: [.exec], meaning: "seconds per code block"),
        Key(name: "restart", type: .choice(RestartMode.allCases.map { $0.rawValue }), kinds: all, meaning: "restart policy"),
        Key(name: "debug", type: .bool, kinds: all, meaning: "debug output"),
        Key(name: "time_budget", type: .double(min: 0, max: nil, exclusiveMin: true), kinds: model, meaning: "seconds"),
        Key(name: "token_budget", type: .int(min: 1), kinds: model, meaning: "tokens"),
        Key(name: "cost_budget", type: .double(min: 0, max: nil, exclusiveMin: true), kinds: model, meaning: "USD"),
        Key(name: "done_when", type: .string(nonEmpty: false), kinds: [.goal], meaning: "shell check; empty clears it"),
        Key(name: "stay", type: .bool, kinds: [.goal], meaning: "keep the shell and its jobs once the goal is reached"),
        Key(name: "prompt", type: .string(nonEmpty: false), kinds: [.coder, .exec], meaning: "initial prompt; empty clears it"),
        Key(name: "goal", type: .string(nonEmpty: true), kinds: [.goal], meaning: "the goal"),
    ]

    /// Keys accepted by `validate` and `Profile.applying`.
    public static let settableKeys: [String] = table.map { $0.name }

    /// Kinds a settable key applies to (nil for an unknown key).
    public static func kinds(for key: String) -> [AgentKind]? { table.first { $0.name == key }?.kinds }

    /// Parses `value` for `key` and checks it for `agent`'s kind.
    public static func validate(key: String, value: String, for agent: AgentSpec) throws -> SettingValue {
        guard let k = table.first(where: { $0.name == key }) else {
            let hint = Text.didYouMean(key, settableKeys)
            throw SettingError("unknown setting \(Text.quote(key))\(hint); settable keys: \(settableKeys.joined(separator: ", "))")
        }
        guard k.kinds.contains(agent.kind) else {
            throw SettingError("setting \"\(key)\" does not apply to agent \"\(agent.name)\" of kind \"\(agent.kind.rawValue)\"; it applies to \(AgentKeys.appliesTo(k.kinds))")
        }
        func bad(_ what: String) -> SettingError {
            SettingError("\(key): \(what), found \(Text.quote(value))")
        }
        switch k.type {
        case .string(let nonEmpty):
            if nonEmpty && value.isEmpty { throw SettingError("\(key): must not be empty") }
            return .string(value)
        case .choice(let allowed):
            guard allowed.contains(value) else {
                throw SettingError("\(key): unknown value \(Text.quote(value))\(Text.didYouMean(value, allowed)); expected one of: \(allowed.joined(separator: ", "))")
            }
            return .string(value)
        case .int(let min):
            guard let n = Int(value.trimmingSpaces) else { throw bad("expected an integer") }
            guard n >= min else { throw bad("must be at least \(min)") }
            return .int(n)
        case .double(let min, let max, let exclusiveMin):
            guard let n = Double(value.trimmingSpaces), n.isFinite else { throw bad("expected a number") }
            if exclusiveMin ? !(n > min) : !(n >= min) {
                throw bad(exclusiveMin ? "must be greater than \(Text.number(min))" : "must be at least \(Text.number(min))")
            }
            if let m = max, n > m { throw bad("must be between \(Text.number(min)) and \(Text.number(m))") }
            return .double(n)
        case .bool:
            switch value.trimmingSpaces.lowercased() {
            case "true", "yes", "on", "1": return .bool(true)
            case "false", "no", "off", "0": return .bool(false)
            default: throw bad("expected true or false")
            }
        }
    }

    /// Applies one already-validated value; values of the wrong shape are ignored.
    static func apply(_ key: String, _ value: SettingValue, to a: inout AgentSpec) {
        func string() -> String? { if case .string(let s) = value { return s }; return nil }
        func int() -> Int? { if case .int(let i) = value { return i }; return nil }
        func double() -> Double? {
            switch value {
            case .double(let d): return d
            case .int(let i): return Double(i)
            default: return nil
            }
        }
        func bool() -> Bool? { if case .bool(let b) = value { return b }; return nil }
        switch key {
        case "context_mode": if let v = string().flatMap(ContextMode.init(rawValue:)) { a.contextMode = v }
        case "limit": if let v = int(), v > 0 { a.limit = v }
        case "model": if let v = string(), !v.isEmpty { a.llm.model = v }
        case "temperature": if let v = double() { a.llm.temperature = v }
        case "max_tokens": if let v = int(), v > 0 { a.llm.maxTokens = v }
        case "context_tokens": if let v = int(), v > 0 { a.llm.contextTokens = v }
        case "permission": if let v = string().flatMap(Permission.init(rawValue:)) { a.permission = v }
        case "block_timeout": if let v = double(), v > 0 { a.blockTimeout = v }
        case "restart": if let v = string().flatMap(RestartMode.init(rawValue:)) { a.restart = v }
        case "debug": if let v = bool() { a.debug = v }
        case "time_budget": if let v = double(), v > 0 { a.timeBudget = v }
        case "token_budget": if let v = int(), v > 0 { a.tokenBudget = v }
        case "cost_budget": if let v = double(), v > 0 { a.costBudget = v }
        case "done_when": if let v = string() { a.doneWhen = v.isEmpty ? nil : v }
        case "stay": if let v = bool() { a.stay = v }
        case "prompt": if let v = string() { a.prompt = v.isEmpty ? nil : v }
        case "goal": if let v = string(), !v.isEmpty { a.goal = v }
        default: break
        }
    }
}

extension Profile {
    /// The profile with run-time overrides applied (agent name -> key -> value).
    /// Unknown agents, unknown keys and keys that do not apply to an agent's kind are ignored.
    public func applying(_ overrides: [String: [String: SettingValue]]) -> Profile {
        var p = self
        for i in p.agents.indices {
            if let settings = overrides[p.agents[i].name] { p.agents[i] = p.agents[i].applying(settings) }
        }
        return p
    }
}

extension AgentSpec {
    /// This agent with run-time overrides (key -> value) applied; keys that are unknown or do
    /// not apply to its kind are ignored. Built-in agents re-apply these at every step.
    public func applying(_ settings: [String: SettingValue]) -> AgentSpec {
        var agent = self
        for key in settings.keys.sorted() {
            guard let kinds = AgentSettings.kinds(for: key), kinds.contains(agent.kind), let v = settings[key] else { continue }
            AgentSettings.apply(key, v, to: &agent)
        }
        return agent
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}

extension AgentSettings {
    /// The dashboard's `c` key: an agent's context mode partial -> full -> partial, as new
    /// overrides. Coming back to the profile's own mode removes the override (and the agent's
    /// entry when nothing else is overridden), so no override is left behind in settings.json.
    public static func cyclingContextMode(of agent: String, profile: Profile, overrides: [String: [String: SettingValue]])
        throws -> (overrides: [String: [String: SettingValue]], mode: String, isProfileOwn: Bool) {
        guard let base = profile.agents.first(where: { $0.name == agent }),
              let spec = profile.applying(overrides).agents.first(where: { $0.name == agent }) else {
            throw SettingError("no agent \(Text.quote(agent))")
        }
        let next = spec.contextMode == .partial ? "full" : "partial"
        let value = try validate(key: "context_mode", value: next, for: spec)
        let isProfileOwn = base.contextMode.rawValue == next
        var result = overrides
        result[agent, default: [:]]["context_mode"] = isProfileOwn ? nil : value
        if result[agent]?.isEmpty ?? false { result[agent] = nil }
        return (result, next, isProfileOwn)
    }
}
