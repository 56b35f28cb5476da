import ArgumentParser

/// Placeholder until the `goal` agent lands (its issue replaces this file).
struct GoalAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "goal", abstract: "The built-in goal agent (not available yet).")
    @OptionGroup var config: AgentConfigOption

    func run() throws {
        throw CommandFailure(message: "the goal agent is not available yet in this version of supervisor")
    }
}
