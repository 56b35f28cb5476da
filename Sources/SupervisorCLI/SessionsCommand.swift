import AgentTranscript
import Agents
import ArgumentParser
import Foundation
import Hosting
import LLM

/// `supervisor sessions list|show|delete PROFILE AGENT`: the coder agent's saved conversations.
struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions", abstract: "Saved conversations of a coder agent.",
        discussion: """
        A coder run by hand (`supervisor agent coder` without --config) keeps its sessions outside \
        any profile: use PROFILE `standalone`, AGENT `coder`.
        """,
        subcommands: [List.self, Show.self, Delete.self])

    struct Target: ParsableArguments {
        @OptionGroup var profile: ProfileArgument
        @OptionGroup var agent: AgentArgument

        func store() throws -> SessionStore {
            let name = try profile.profileName()
            let dir = profile.paths.agentDir(profile: name, agent: agent.agent)
            // A coder run by hand keeps its sessions where CoderSetup puts them; a real profile
            // named "standalone" with that agent wins.
            if name == SupervisorPaths.standaloneProfile && !FileManager.default.fileExists(atPath: dir) {
                return SessionStore(stateDir: profile.environment["SUPERVISOR_CODER_STATE_DIR"] ?? profile.paths.standaloneAgentDir(agent.agent))
            }
            return SessionStore(stateDir: dir)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List an agent's sessions: id, started, turns, state and the last message (resume one with `supervisor agent coder --resume ID`).")
        @OptionGroup var target: Target

        func run() throws {
            let store = try target.store()
            let sessions = store.list()
            if sessions.isEmpty {
                print("no sessions for \(try target.profile.profileName())/\(target.agent.agent) (in \(store.directory))")
                return
            }
            let rows = [["ID", "STARTED", "TURNS", "STATE", "LAST MESSAGE"]]
                + sessions.map { [$0.id, $0.started, "\($0.turns)", $0.finished ? "finished" : "open", $0.lastMessagePreview] }
            print(formatTable(rows))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one session: its messages, tool calls and results (long results cut).")
        @OptionGroup var target: Target
        @Argument(help: "Session id (from `supervisor sessions list`).") var id: String

        func run() throws {
            let session = try wrap { try target.store().load(id) }
            print("session \(session.id) · \(session.model) · \(session.workspace) · started \(session.started) · \(session.turns) turns"
                + String(format: " · $%.4f", session.costUSD))
            print(TranscriptRenderer.render(session.transcript.entries, options: .init(colour: stdoutIsTerminal()))
                    .trimmingPrefix("\n"), terminator: "")
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete one session.")
        @OptionGroup var target: Target
        @Argument(help: "Session id (from `supervisor sessions list`).") var id: String

        func run() throws {
            try wrap { try target.store().delete(id) }
            print("deleted session \(id)")
        }
    }

}

/// The store's refusals (a bad or unknown id) are one-line errors that exit 2.
private func wrap<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ToolError { throw HostingError(e.message) }
}
