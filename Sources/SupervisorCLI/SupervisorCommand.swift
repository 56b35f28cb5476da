import ArgumentParser

public struct SupervisorCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "supervisor", abstract: "Run a team of agents under tmux.")
    public init() {}
}
