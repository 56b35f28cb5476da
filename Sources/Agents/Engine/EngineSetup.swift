import Foundation
import Hosting
import LLMClient
import Loop
import Profile

extension ModelEngine {
    /// The ONE place the model side of a built-in agent is made, the same for the coder, the
    /// goal runner and the code executor: the client (provider, URL, key, retries, prices,
    /// debug log), the live settings, the events descriptor and the loop's clock.
    ///
    /// - Parameters:
    ///   - launch: the agent's launch config; `launch.agent` has the command line's flags applied,
    ///     and its settings file (when the agent runs from a profile) is re-read at every request,
    ///     so `supervisor set` applies live. Its `kind` picks the model defaults.
    ///   - debugFile: requests and responses as JSON lines (`debug = true`).
    /// - Throws: `LLMError` for a missing API key or unusable settings, before anything starts.
    public static func make(launch: AgentLaunchConfig, loop: EventLoop, environment: [String: String],
                            debugFile: String? = nil, events: AgentEvents? = nil) throws -> ModelEngine {
        let live = LiveSettings(launch: launch)
        if let d = debugFile {
            try FileManager.default.createDirectory(atPath: (d as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        let client = try LLMClient(settings: live.llm, loop: loop, environment: environment, debugFile: debugFile)
        return ModelEngine(model: client, live: live, events: events ?? AgentEvents(environment: environment), clock: LoopClock(loop: loop))
    }

    /// The one line a person sees when the agent starts: what it is, which model, how to go on.
    public func startHint(_ howToGoOn: String) -> String {
        "\(live.kind.rawValue) agent · \(currentModel) (\(model.config.providerName)) · \(howToGoOn)"
    }

    /// The client, when the model is a real one (the HTTP client is shared with WebFetch).
    public var client: LLMClient? { model as? LLMClient }

    /// Cancels what is in flight and frees the client.
    public func close() {
        cancel()
        client?.close()
    }
}
