import Hosting
import LLM
import Profile

/// What a turn (coder, exec) or a run (goal) has spent, against its budgets; saved with the
/// transcript so that a restarted agent goes on counting instead of starting over.
public struct Spend: Codable, Equatable {
    /// Model requests answered.
    public var requests = 0
    /// Steps as the agent counts them against `limit` (exec, coder: model requests; goal: commands).
    public var steps = 0
    public var inputTokens = 0
    public var outputTokens = 0
    public var cacheReadTokens = 0
    public var cacheWriteTokens = 0
    /// Nil while no answered request had a price.
    public var costUSD: Double?
    /// Seconds of the scope (earlier processes included, as far as saved).
    public var seconds: Double = 0

    public init() {}

    public var tokens: Int { inputTokens + outputTokens + cacheReadTokens + cacheWriteTokens }

    public mutating func add(_ u: Usage, cost: Double?) {
        requests += 1
        inputTokens += u.input
        outputTokens += u.output
        cacheReadTokens += u.cacheRead
        cacheWriteTokens += u.cacheWrite
        if let cost { costUSD = (costUSD ?? 0) + cost }
    }
}

extension Spend {
    /// As the coder's session file keeps it.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "requests": .number(Double(requests)), "steps": .number(Double(steps)),
            "input": .number(Double(inputTokens)), "output": .number(Double(outputTokens)),
            "cache_read": .number(Double(cacheReadTokens)), "cache_write": .number(Double(cacheWriteTokens)),
            "seconds": .number(seconds),
        ]
        if let c = costUSD { o["cost_usd"] = .number(c) }
        return .object(o)
    }

    public init(json j: JSONValue) {
        requests = j["requests"]?.intValue ?? 0
        steps = j["steps"]?.intValue ?? 0
        inputTokens = j["input"]?.intValue ?? 0
        outputTokens = j["output"]?.intValue ?? 0
        cacheReadTokens = j["cache_read"]?.intValue ?? 0
        cacheWriteTokens = j["cache_write"]?.intValue ?? 0
        costUSD = j["cost_usd"]?.doubleValue
        seconds = j["seconds"]?.doubleValue ?? 0
    }
}

/// Which budget ended a task, said the same way by every agent.
public struct BudgetEnd: Equatable {
    public enum Kind: String, Equatable { case steps, time, tokens, cost }
    public var kind: Kind
    /// "step limit reached (limit = 30)", "token budget of 200 used up (230 tokens)", ...
    public var sentence: String
    /// What was spent of it, and the budget (steps, seconds, tokens, USD).
    public var spent: Double
    public var limit: Double
    public init(kind: Kind, sentence: String, spent: Double, limit: Double) {
        self.kind = kind; self.sentence = sentence; self.spent = spent; self.limit = limit
    }
}

/// `limit`, `time_budget`, `token_budget`, `cost_budget` of an agent (any kind).
public struct Budgets: Equatable {
    public var limit: Int
    public var time: Double?
    public var tokens: Int?
    public var cost: Double?

    public init(limit: Int, time: Double? = nil, tokens: Int? = nil, cost: Double? = nil) {
        self.limit = limit; self.time = time; self.tokens = tokens; self.cost = cost
    }

    public init(_ spec: AgentSpec) {
        self.init(limit: spec.limit, time: spec.timeBudget, tokens: spec.tokenBudget, cost: spec.costBudget)
    }

    /// The first budget `spend` has used up, if any.
    public func reached(_ s: Spend) -> BudgetEnd? {
        if s.steps >= limit {
            return BudgetEnd(kind: .steps, sentence: "step limit reached (limit = \(limit))", spent: Double(s.steps), limit: Double(limit))
        }
        if let t = time, s.seconds >= t {
            return BudgetEnd(kind: .time, sentence: "time budget of \(formatSeconds(t)) used up", spent: s.seconds, limit: t)
        }
        if let t = tokens, s.tokens >= t {
            return BudgetEnd(kind: .tokens, sentence: "token budget of \(t) used up (\(s.tokens) tokens)", spent: Double(s.tokens), limit: Double(t))
        }
        if let c = cost, let spent = s.costUSD, spent >= c {
            return BudgetEnd(kind: .cost, sentence: String(format: "cost budget of $%.4f used up ($%.4f)", c, spent), spent: spent, limit: c)
        }
        return nil
    }
}

/// ONE way an agent's settings reach it while it runs: the profile entry with `supervisor set`
/// overrides (re-read from the launch config's settings file), or fixed settings outside a
/// profile; with the kind's model defaults applied.
public struct LiveSettings {
    public let kind: AgentKind
    private let current: () -> AgentSpec

    /// The agent's entry in its launch config (flags applied) with the current `supervisor set`
    /// overrides, re-read at every use (nothing is read when it has no settings file).
    public init(launch: AgentLaunchConfig) {
        kind = launch.agent.kind
        current = { launch.currentAgent() }
    }

    /// Settings from a closure (tests, and flags applied over a profile).
    public init(kind: AgentKind, _ current: @escaping () -> AgentSpec) {
        self.kind = kind
        self.current = current
    }

    /// The agent's settings now.
    public func spec() -> AgentSpec { current() }

    /// The model settings now, with the kind's defaults.
    public var llm: LLMSettings {
        var s = current().llm
        Self.applyModelDefaults(kind: kind, &s)
        return s
    }

    /// The coder answers up to 8192 tokens (room for a whole file in one Write); the goal runner
    /// gets temperature 0 and short answers (200 tokens): unless the profile sets them (a
    /// max_tokens equal to the generic default counts as unset).
    public static func applyModelDefaults(kind: AgentKind, _ s: inout LLMSettings) {
        switch kind {
        case .coder:
            if s.maxTokens == LLMSettings().maxTokens { s.maxTokens = 8192 }
        case .goal:
            if s.temperature == nil { s.temperature = 0 }
            if s.maxTokens == LLMSettings().maxTokens { s.maxTokens = 200 }
        case .exec, .command:
            break
        }
    }
}
