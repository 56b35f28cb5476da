import ArgumentParser
import Foundation
import Hosting
import LLMClient
import Profile

struct LLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm", abstract: "Check the model settings of a profile.", subcommands: [Ping.self])

    struct Ping: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send one tiny request with an agent's resolved settings; print provider, model, base URL, latency and tokens, or the error.")

        @OptionGroup var profile: ProfileArgument
        @Argument(help: "Agent whose settings to use (default: the first agent that talks to a model, else the profile's [llm]).")
        var agent: String?
        @Flag(help: "Also write the request and response, keys redacted, to <logs>/<profile>/<agent>.debug.jsonl.")
        var debug = false

        func run() throws {
            let loaded = try profile.loadProfile()
            let settings: LLMSettings
            var name = "llm"
            if let agent {
                guard let spec = loaded.agent(named: agent) else {
                    throw HostingError("profile \(loaded.name) has no agent \"\(agent)\" (agents: \(loaded.agents.map(\.name).joined(separator: ", ")))")
                }
                settings = spec.llm
                name = spec.name
            } else if let spec = loaded.agents.first(where: { $0.kind.usesLLM }) {
                settings = spec.llm
                name = spec.name
            } else {
                settings = loaded.llm
            }
            // A missing key is bad input: say which variable, before any request.
            do { try LLMClient.checkCredentials(settings: settings, environment: profile.environment) } catch {
                throw CommandFailure(message: "\(error)")
            }
            var debugFile: String?
            if debug || settings.debug {
                let dir = loaded.logs.dir + "/" + loaded.name
                try makeDirectories(dir)
                debugFile = "\(dir)/\(name).debug.jsonl"
            }
            switch LLMPing.run(settings: settings, environment: profile.environment, debugFile: debugFile) {
            case .success(let report): print(report)
            case .failure(let error): throw CommandFailure(message: "\(error)", status: 1)
            }
        }
    }
}
