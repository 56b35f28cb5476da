import Foundation
import LLM
import Loop
import Profile

/// What `supervisor llm ping` shows.
public struct PingReport: Equatable, CustomStringConvertible {
    public var provider: String
    public var model: String
    /// Nil for the script provider.
    public var baseURL: String?
    /// Seconds for the whole request (retries included).
    public var latency: Double
    public var timeToFirstToken: Double?
    public var usage: Usage
    public var cost: Double?
    public var attempts: Int
    public var text: String

    public var description: String {
        var s = "\(provider) \(model)"
        if let baseURL { s += " at \(baseURL)" }
        s += String(format: ": %.0f ms", latency * 1000)
        if let t = timeToFirstToken { s += String(format: " (first token %.0f ms)", t * 1000) }
        s += ", \(usage.totalInput) in / \(usage.output) out tokens"
        if let cost { s += String(format: ", $%.6f", cost) }
        if attempts > 1 { s += ", \(attempts) attempts" }
        return s + ": \"\(text)\""
    }
}

public enum LLMPing {
    /// One tiny request on its own loop; returns when it is done.
    public static func run(settings: LLMSettings,
                           environment: [String: String] = ProcessInfo.processInfo.environment,
                           debugFile: String? = nil) -> Result<PingReport, LLMError> {
        let loop = EventLoop()
        defer { loop.close() }
        let client: LLMClient
        do {
            client = try LLMClient(settings: settings, loop: loop, environment: environment, debugFile: debugFile)
        } catch let e as LLMError {
            return .failure(e)
        } catch {
            return .failure(LLMError(kind: .configuration, provider: settings.provider.rawValue, message: "\(error)"))
        }
        var request = client.makeRequest(messages: [.user("Reply with the single word: pong")])
        request.maxTokens = min(settings.maxTokens, 32)
        var outcome: Result<LLMReply, LLMError>?
        client.stream(request: request, onEvent: { _ in }, completion: { outcome = $0 })
        while outcome == nil { loop.runOnce(wait: true) }
        client.close()
        return outcome!.map {
            PingReport(provider: $0.provider, model: $0.model, baseURL: client.config.baseURL, latency: $0.metrics.duration,
                       timeToFirstToken: $0.metrics.timeToFirstToken, usage: $0.metrics.usage, cost: $0.cost,
                       attempts: $0.metrics.attempts, text: $0.response.message.text)
        }
    }
}
