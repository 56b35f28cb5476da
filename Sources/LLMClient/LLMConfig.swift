import HTTP
import LLM
import Profile

/// What went wrong with an LLM request. The description names the provider and the request
/// (method and URL) and never contains the API key.
public struct LLMError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable {
        /// The variable named by api_key_env is unset or empty.
        case missingAPIKey(variable: String)
        /// Settings that cannot work (no model, no base URL, unreadable script).
        case configuration
        /// The provider answered with an error (HTTP error body or an in-stream error event),
        /// or its answer broke the protocol (malformed JSON, not an event stream, truncated).
        case provider(ProviderError.Kind)
        /// The connection failed, timed out or broke.
        case transport(HTTPError.Kind)
        case cancelled
    }

    public var kind: Kind
    /// "anthropic", "openai", "openai-compatible", "script".
    public var provider: String
    /// "POST http://127.0.0.1:8080/v1/messages"; nil before a request was made.
    public var request: String?
    public var message: String
    public var status: Int?
    /// Attempts made (1 = no retry).
    public var attempts: Int
    /// True when content had already been streamed to `onEvent`: the answer is incomplete and
    /// was not retried (so no tool call runs twice).
    public var partial: Bool

    public init(kind: Kind, provider: String, request: String? = nil, message: String, status: Int? = nil,
                attempts: Int = 0, partial: Bool = false) {
        self.kind = kind
        self.provider = provider
        self.request = request
        self.message = message
        self.status = status
        self.attempts = attempts
        self.partial = partial
    }

    public var description: String {
        var s = provider
        if let request { s += " " + request }
        s += ": "
        if let status { s += "HTTP \(status): " }
        s += message
        var notes: [String] = []
        if attempts > 1 { notes.append("after \(attempts) attempts") }
        if partial { notes.append("the stream broke after content had arrived; the partial answer is not used") }
        if !notes.isEmpty { s += " (" + notes.joined(separator: "; ") + ")" }
        return s
    }

    func redacting(_ secret: String?) -> LLMError {
        guard let secret, secret.count >= 4 else { return self }
        var e = self
        e.message = e.message.replacing(secret, with: "[REDACTED]")
        e.request = e.request?.replacing(secret, with: "[REDACTED]")
        return e
    }
}


/// Resolved settings of one LLM client: defaults applied, base URL chosen, prices merged.
public struct LLMConfig {
    public var provider: LLMProvider
    public var model: String
    /// Nil for the script provider.
    public var baseURL: String?
    /// The variable holding the key; nil: no key is sent.
    public var apiKeyEnv: String?
    public var maxTokens: Int
    public var temperature: Double?
    public var endpoint: LLMEndpoint
    public var scriptPath: String?
    public var connectTimeout: Double
    public var stallTimeout: Double
    public var requestTimeout: Double
    public var retry: RetryPolicy
    public var prices: PriceTable

    /// Provider name in errors and reports.
    public var providerName: String { provider.rawValue }

    /// The wire protocol, nil for the script provider.
    public var wire: WireAPI? {
        switch provider {
        case .anthropic: return .anthropicMessages
        case .openai, .openaiCompatible: return endpoint == .completions ? .openAICompletions : .openAIChat
        case .script: return nil
        }
    }

    public static let defaultAnthropicURL = "https://api.anthropic.com"
    public static let defaultOpenAIURL = "https://api.openai.com"

    public init(settings: LLMSettings, environment: [String: String]) throws {
        provider = settings.provider
        let name = settings.provider.rawValue
        func configError(_ m: String) -> LLMError { LLMError(kind: .configuration, provider: name, message: m) }
        guard let m = settings.model ?? (settings.provider == .script ? "script" : nil), !m.isEmpty else {
            throw configError("no model configured (set llm.model)")
        }
        model = m
        func env(_ k: String) -> String? { environment[k].flatMap { $0.isEmpty ? nil : $0 } }
        switch settings.provider {
        case .anthropic: baseURL = settings.baseURL ?? env("ANTHROPIC_BASE_URL") ?? Self.defaultAnthropicURL
        case .openai: baseURL = settings.baseURL ?? env("OPENAI_BASE_URL") ?? Self.defaultOpenAIURL
        case .openaiCompatible:
            guard let u = settings.baseURL ?? env("OPENAI_BASE_URL") else {
                throw configError("provider openai-compatible needs llm.base_url (or OPENAI_BASE_URL)")
            }
            baseURL = u
        case .script: baseURL = nil
        }
        apiKeyEnv = settings.provider == .script ? nil : (settings.apiKeyEnv ?? settings.provider.defaultAPIKeyEnv)
        maxTokens = settings.maxTokens
        temperature = settings.temperature
        endpoint = settings.endpoint
        scriptPath = settings.script
        if settings.provider == .script && scriptPath == nil { throw configError("provider script needs llm.script (the script file)") }
        connectTimeout = settings.connectTimeout
        stallTimeout = settings.stallTimeout
        requestTimeout = settings.requestTimeout
        retry = RetryPolicy(maxAttempts: max(1, settings.maxRetries + 1), baseDelay: 0.5, maxDelay: 30,
                            maxTotal: settings.requestTimeout)
        var overrides: [String: LLM.ModelPrice] = [:]
        for (model, p) in settings.prices {
            overrides[model] = LLM.ModelPrice(input: p.input, output: p.output, cacheRead: p.cacheRead, cacheWrite: p.cacheWrite)
        }
        prices = PriceTable.builtIn.overriding(overrides)
    }
}

extension LLMError {
    /// The provider refused the request because it does not fit the model's context window:
    /// the caller can send less (see `ContextFit`) and try again.
    public var isContextOverflow: Bool {
        guard case .provider = kind else { return false }
        return ContextFit.isOverflow(status: status, message: message)
    }
}
