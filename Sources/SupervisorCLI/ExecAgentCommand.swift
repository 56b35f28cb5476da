import ArgumentParser

/// Placeholder until the `exec` agent lands (its issue replaces this file).
struct ExecAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "The built-in exec agent (not available yet).")
    @OptionGroup var config: AgentConfigOption

    func run() throws {
        throw CommandFailure(message: "the exec agent is not available yet in this version of supervisor")
    }
}
