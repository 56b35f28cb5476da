import Agents
import ArgumentParser
import Foundation
import Hosting

/// `supervisor sessions list PROFILE AGENT`: the coder agent's saved conversations.
struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions", abstract: "Saved conversations of a coder agent.", subcommands: [List.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List an agent's sessions: id, started, turns, state and the last message (resume one with `supervisor agent coder --resume ID`).")
        @Argument(help: "Profile name (or its .toml file).") var profile: String
        @OptionGroup var agent: AgentArgument

        func run() throws {
            let environment = ProcessInfo.processInfo.environment
            let paths = SupervisorPaths(environment: environment)
            let name = profile.hasSuffix(".toml") || profile.contains("/")
                ? try ProfileArgument.parse([profile]).profileName() : profile
            let dir = paths.agentDir(profile: name, agent: agent.agent)
            let store = SessionStore(stateDir: dir)
            let sessions = store.list()
            if sessions.isEmpty {
                print("no sessions for \(name)/\(agent.agent) (in \(store.directory))")
                return
            }
            let rows = sessions.map { s in
                [s.id, s.started, "\(s.turns)", s.finished ? "finished" : "open", s.lastMessagePreview]
            }
            let header = ["ID", "STARTED", "TURNS", "STATE", "LAST MESSAGE"]
            var widths = header.map(\.count)
            for r in rows { for (i, c) in r.enumerated() where i < 4 { widths[i] = max(widths[i], c.count) } }
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { i, c in i < 4 ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0) : c }
                    .joined(separator: "  ")
            }
            print(line(header))
            for r in rows { print(line(r)) }
        }
    }
}
