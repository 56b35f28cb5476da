import ArgumentParser

/// Placeholder until the `coder` agent lands (its issue replaces this file).
struct CoderAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "coder", abstract: "The built-in coder agent (not available yet).")
    @OptionGroup var config: AgentConfigOption

    func run() throws {
        throw CommandFailure(message: "the coder agent is not available yet in this version of supervisor")
    }
}
