// Prices, cost and per-request metrics.

/// USD per million tokens.
public struct ModelPrice: Equatable, Hashable, Sendable {
    public var input: Double
    public var output: Double
    public var cacheRead: Double
    public var cacheWrite: Double

    public init(input: Double, output: Double, cacheRead: Double? = nil, cacheWrite: Double? = nil) {
        self.input = input
        self.output = output
        self.cacheRead = cacheRead ?? input
        self.cacheWrite = cacheWrite ?? input
    }

    /// Keys accepted in a profile's price override table.
    public static let keys = ["input", "output", "cache_read", "cache_write"]

    /// From a profile table such as `{ input = 3.0, output = 15.0, cache_read = 0.3 }`.
    /// `input` and `output` are required; unknown keys and negative prices are errors.
    public init(table: [String: Double]) throws {
        for k in table.keys.sorted() where !Self.keys.contains(k) {
            throw PriceError(message: "unknown price key '\(k)' (expected one of \(Self.keys.joined(separator: ", ")))")
        }
        for (k, v) in table where !(v >= 0 && v.isFinite) {
            throw PriceError(message: "price '\(k)' must be a non-negative number, got \(v)")
        }
        guard let i = table["input"], let o = table["output"] else {
            throw PriceError(message: "a price needs both 'input' and 'output' (USD per million tokens)")
        }
        self.init(input: i, output: o, cacheRead: table["cache_read"], cacheWrite: table["cache_write"])
    }

    /// Cost in USD of `usage` at this price.
    public func cost(_ u: Usage) -> Double {
        (Double(u.input) * input + Double(u.output) * output + Double(u.cacheRead) * cacheRead
            + Double(u.cacheWrite) * cacheWrite) / 1_000_000
    }
}

public struct PriceError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Model name -> price; lookup by exact name, then by the longest entry that
/// is a prefix of the name ("gpt-4o-mini-2024-07-18" -> "gpt-4o-mini").
public struct PriceTable: Equatable, Sendable {
    public var entries: [String: ModelPrice]

    public init(entries: [String: ModelPrice]) {
        self.entries = entries
    }

    public func price(for model: String) -> ModelPrice? {
        if let p = entries[model] { return p }
        let m = model.lowercased()
        if let p = entries[m] { return p }
        var best: (String, ModelPrice)?
        for (k, p) in entries where m.hasPrefix(k.lowercased()) {
            if best == nil || k.count > best!.0.count { best = (k, p) }
        }
        return best?.1
    }

    /// Cost in USD, or nil for a model without a price.
    public func cost(_ usage: Usage, model: String) -> Double? {
        price(for: model)?.cost(usage)
    }

    /// This table with `overrides` (e.g. from the profile) replacing or adding entries.
    public func overriding(_ overrides: [String: ModelPrice]) -> PriceTable {
        PriceTable(entries: entries.merging(overrides) { _, new in new })
    }

    /// Built-in list prices (USD per million tokens, standard tier, as published
    /// by the providers in 2025; override in the profile when they change).
    /// Anthropic: cache write = 1.25x input (5-minute cache), cache read = 0.1x input.
    /// OpenAI: cached input at the published discount; no cache-write surcharge.
    public static let builtIn = PriceTable(entries: [
        // Anthropic
        "claude-opus-4": ModelPrice(input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75),
        "claude-opus-4-5": ModelPrice(input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25),
        "claude-sonnet-4": ModelPrice(input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75),
        "claude-sonnet-4-5": ModelPrice(input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75),
        "claude-haiku-4-5": ModelPrice(input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25),
        "claude-3-7-sonnet": ModelPrice(input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75),
        "claude-3-5-sonnet": ModelPrice(input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75),
        "claude-3-5-haiku": ModelPrice(input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1),
        "claude-3-opus": ModelPrice(input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75),
        "claude-3-haiku": ModelPrice(input: 0.25, output: 1.25, cacheRead: 0.03, cacheWrite: 0.3),
        // OpenAI
        "gpt-4o": ModelPrice(input: 2.5, output: 10, cacheRead: 1.25),
        "gpt-4o-mini": ModelPrice(input: 0.15, output: 0.6, cacheRead: 0.075),
        "gpt-4.1": ModelPrice(input: 2, output: 8, cacheRead: 0.5),
        "gpt-4.1-mini": ModelPrice(input: 0.4, output: 1.6, cacheRead: 0.1),
        "gpt-4.1-nano": ModelPrice(input: 0.1, output: 0.4, cacheRead: 0.025),
        "gpt-5": ModelPrice(input: 1.25, output: 10, cacheRead: 0.125),
        "gpt-5-mini": ModelPrice(input: 0.25, output: 2, cacheRead: 0.025),
        "gpt-5-nano": ModelPrice(input: 0.05, output: 0.4, cacheRead: 0.005),
        "o3": ModelPrice(input: 2, output: 8, cacheRead: 0.5),
        "o3-mini": ModelPrice(input: 1.1, output: 4.4, cacheRead: 0.55),
        "o4-mini": ModelPrice(input: 1.1, output: 4.4, cacheRead: 0.275),
        // Offline
        "script": ModelPrice(input: 0, output: 0),
    ])
}

/// Timing of one request, from timestamps (seconds, any common origin) the transport records.
public struct RequestMetrics: Equatable, Sendable {
    public var start: Double
    /// When the first content (text or tool call) arrived; nil if none did.
    public var firstToken: Double?
    public var end: Double
    public var usage: Usage
    public var attempts: Int

    public init(start: Double, firstToken: Double?, end: Double, usage: Usage, attempts: Int = 1) {
        self.start = start
        self.firstToken = firstToken
        self.end = end
        self.usage = usage
        self.attempts = attempts
    }

    public var duration: Double { max(0, end - start) }

    public var timeToFirstToken: Double? { firstToken.map { max(0, $0 - start) } }

    /// Output tokens per second over the generation phase (first token to end);
    /// nil without a first token, output tokens, or a positive interval.
    public var outputTokensPerSecond: Double? {
        guard let f = firstToken, usage.output > 0 else { return nil }
        let dt = end - f
        return dt > 0 ? Double(usage.output) / dt : nil
    }

    public func cost(model: String, prices: PriceTable = .builtIn) -> Double? {
        prices.cost(usage, model: model)
    }
}
