import Agents
import ArgumentParser
import Foundation
import Profile

/// The model flags of the built-in agents run by hand (`supervisor agent coder|goal|exec`):
/// defined once, so that they have the same names and meanings in all three. Flags win over
/// the profile (`--config`) and, for the coder, over the SUPERVISOR_CODER_* variables.
struct ModelFlags: ParsableArguments {
    @Option(help: "anthropic | openai | openai-compatible | script.") var provider: String?
    @Option(help: "Model name.") var model: String?
    @Option(help: "Base URL of the API (a local model server, a proxy).") var baseURL: String?
    @Option(help: ArgumentHelp(
        "A local OpenAI-compatible server without a key (llama.cpp, vLLM, Ollama, ...).",
        discussion: "Means --provider openai-compatible --base-url URL with no API key (unless --provider or --api-key-env say otherwise). A URL ending in /v1/completions or /v1/chat/completions also picks the endpoint (--endpoint wins); otherwise the endpoint is chat. Without a profile and without --model the model is \"local-model\" (llama.cpp ignores the name; vLLM and Ollama need the served one). Example: --url http://localhost:8000/v1",
        valueName: "url"))
    var url: String?
    @Option(help: "chat | completions (for openai-compatible servers).") var endpoint: String?
    @Option(help: "The NAME of the variable holding the API key (empty: send no key).") var apiKeyEnv: String?
    @Option(help: "Script file for provider script (implies --provider script unless --provider says otherwise).") var script: String?
    @Option(help: "max_tokens per answer.") var maxTokens: Int?
    @Option(help: "Sampling temperature (0-2).") var temperature: Double?
    @Option(help: "The model's context window in tokens (context_tokens).") var contextTokens: Int?
    @Option(help: "Retries of a failed or broken model request (max_retries).") var maxRetries: Int?

    func validate() throws {
        if let provider, LLMProvider(rawValue: provider) == nil {
            throw ValidationError("--provider must be one of \(LLMProvider.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let endpoint, LLMEndpoint(rawValue: endpoint) == nil { throw ValidationError("--endpoint must be chat or completions") }
        if let url { _ = try ModelFlags.splitServerURL(url) }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if let temperature, !(0...2).contains(temperature) { throw ValidationError("--temperature must be between 0 and 2") }
        if let contextTokens, contextTokens < 1 { throw ValidationError("--context-tokens must be at least 1") }
        if let maxRetries, maxRetries < 0 { throw ValidationError("--max-retries must be 0 or more") }
    }

    /// Whether any flag was given.
    var isEmpty: Bool {
        provider == nil && model == nil && baseURL == nil && url == nil && endpoint == nil && apiKeyEnv == nil && script == nil
            && maxTokens == nil && temperature == nil && contextTokens == nil && maxRetries == nil
    }

    /// Applies the flags to `llm`. `fromProfile`: the settings came from a profile (then `--url`
    /// keeps the profile's model name unless `--model` is given).
    func apply(to llm: inout LLMSettings, fromProfile: Bool, currentDirectory: String) throws {
        if let provider {
            let p = LLMProvider(rawValue: provider)!
            llm.provider = p
            if apiKeyEnv == nil { llm.apiKeyEnv = p.defaultAPIKeyEnv }
        }
        if let url {
            let (base, urlEndpoint) = try ModelFlags.splitServerURL(url)
            if provider == nil {
                llm.provider = .openaiCompatible
                if apiKeyEnv == nil { llm.apiKeyEnv = nil }
            }
            llm.baseURL = base
            if let urlEndpoint { llm.endpoint = urlEndpoint }
            if model == nil && !fromProfile { llm.model = "local-model" }
        }
        if let script {
            llm.script = script.hasPrefix("/") ? script : (currentDirectory as NSString).appendingPathComponent(script)
            if provider == nil { llm.provider = .script; if model == nil { llm.model = nil } }
        }
        if let model { llm.model = model }
        if let baseURL { llm.baseURL = baseURL }
        if let endpoint { llm.endpoint = LLMEndpoint(rawValue: endpoint)! }
        if let apiKeyEnv { llm.apiKeyEnv = apiKeyEnv.isEmpty ? nil : apiKeyEnv }
        if let maxTokens { llm.maxTokens = maxTokens }
        if let temperature { llm.temperature = temperature }
        if let contextTokens { llm.contextTokens = contextTokens }
        if let maxRetries { llm.maxRetries = maxRetries }
        if llm.provider == .script && llm.script == nil { throw CommandFailure(message: "--provider script needs --script FILE") }
    }

    /// `--url`: the base URL to use and the endpoint its path names (`.../v1/completions`,
    /// `.../v1/chat/completions`), if any. Only http(s) URLs without spaces are accepted.
    static func splitServerURL(_ url: String) throws -> (base: String, endpoint: LLMEndpoint?) {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"),
              !url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f }) else {
            throw CommandFailure(message: "--url: expected an http:// or https:// URL like http://localhost:8000/v1, found \"\(url)\"")
        }
        var u = url
        while u.hasSuffix("/") { u.removeLast() }
        for (suffix, endpoint) in [("/chat/completions", LLMEndpoint.chat), ("/completions", .completions)] where u.lowercased().hasSuffix(suffix) {
            return (String(u.dropLast(suffix.count)), endpoint)
        }
        return (u, nil)
    }
}

/// The budget flags, the same for the three agents (profile keys `limit`, `time_budget`,
/// `token_budget`, `cost_budget`; per turn for the coder and exec, per run for the goal runner).
struct BudgetFlags: ParsableArguments {
    @Option(help: "Steps (coder, exec: model requests per turn; goal: commands; profile key limit).") var limit: Int?
    @Option(help: "Seconds (per turn for coder and exec; profile key time_budget).") var timeBudget: Double?
    @Option(help: "Tokens (per turn for coder and exec; profile key token_budget).") var tokenBudget: Int?
    @Option(help: "USD, for models with a price (per turn for coder and exec; profile key cost_budget).") var costBudget: Double?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let timeBudget, timeBudget <= 0 { throw ValidationError("--time-budget must be more than 0") }
        if let tokenBudget, tokenBudget < 1 { throw ValidationError("--token-budget must be at least 1") }
        if let costBudget, costBudget <= 0 { throw ValidationError("--cost-budget must be more than 0") }
    }

    func apply(to spec: inout AgentSpec) {
        if let limit { spec.limit = limit }
        if let timeBudget { spec.timeBudget = timeBudget }
        if let tokenBudget { spec.tokenBudget = tokenBudget }
        if let costBudget { spec.costBudget = costBudget }
    }
}
