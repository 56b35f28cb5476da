import ArgumentParser
import Hosting

/// `supervisor agent KIND`: the built-in agents. The shim starts them with `--config` (written
/// by `up`); a person can run them directly with flags.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Run a built-in agent (started by the shim for kind = goal | coder | exec).",
        subcommands: [GoalAgentCommand.self, CoderAgentCommand.self, ExecAgentCommand.self])
}

/// Shared by the built-in agents: the launch config written by `up`, when given.
struct AgentConfigOption: ParsableArguments {
    @Option(help: "The agent's launch config (written by `supervisor up`).")
    var config: String?

    func load() throws -> AgentLaunchConfig? {
        try config.map { try AgentLaunchConfig.read(path: $0) }
    }
}
