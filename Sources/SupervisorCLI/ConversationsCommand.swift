import AgentTranscript
import Agents
import ArgumentParser
import Foundation
import Hosting

/// `supervisor conversations list|show|delete PROFILE AGENT [ID]`: the exec agent's stored
/// conversations (in the agent's state directory, conversations/<id>.json).
struct ConversationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversations",
        abstract: "List, show or delete an exec agent's stored conversations.",
        discussion: """
        Resume one with `supervisor agent exec --conversation ID` (or /resume ID in the agent's pane). \
        Conversations of `supervisor agent exec` run by hand (without --config or --state-dir) are \
        under PROFILE `standalone`, AGENT `exec`.
        """,
        subcommands: [List.self, Show.self, Delete.self])

    struct Target: ParsableArguments {
        @OptionGroup var profile: ProfileArgument
        @OptionGroup var agent: AgentArgument

        func store() throws -> ConversationStore {
            let name = try profile.profileName()
            let paths = profile.paths
            let dir = paths.agentDir(profile: name, agent: agent.agent)
            // `supervisor agent exec` run by hand keeps its conversations outside any profile;
            // a real profile named "standalone" with that agent wins.
            if name == SupervisorPaths.standaloneProfile && !FileManager.default.fileExists(atPath: dir) {
                return ConversationStore(stateDir: paths.standaloneAgentDir(agent.agent))
            }
            return ConversationStore(stateDir: dir)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per conversation: id, status, size, cost, title.")
        @OptionGroup var target: Target
        @Flag(help: "Print JSON lines.") var json = false

        func run() throws {
            let store = try target.store()
            let current = store.currentID()
            let all = store.list()
            if all.isEmpty && !json { print("no conversations in \(store.directory)"); return }
            for c in all {
                let t = c.totalTokens
                if json {
                    var o: [(String, OrderedJSON)] = [("id", .string(c.id)), ("status", .string(c.status.rawValue)),
                                                      ("current", .bool(c.id == current)), ("created", .string(c.created)),
                                                      ("updated", .string(c.updated)), ("messages", .number("\(c.messages.count)")),
                                                      ("runs", .number("\(c.runs.count)")), ("input_tokens", .number("\(t.input)")),
                                                      ("output_tokens", .number("\(t.output)")), ("title", .string(c.title))]
                    if let cost = c.totalCost { o.append(("cost_usd", .number("\(cost)"))) }
                    print(OrderedJSON.object(o).serialized())
                } else {
                    let cost = c.totalCost.map { String(format: "$%.4f", $0) } ?? "-"
                    print("\(c.id == current ? "*" : " ") \(c.id)  \(c.status.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  \(c.messages.count) msgs  \(c.runs.count) runs  \(cost)  \(c.title)")
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a conversation (default: the current one).")
        @OptionGroup var target: Target
        @Argument(help: "Conversation id.") var id: String?
        @Flag(help: "Print the stored JSON.") var json = false

        func run() throws {
            let store = try target.store()
            guard let id = id ?? store.currentID() else { throw HostingError("no current conversation in \(store.directory); give an id") }
            let c = try wrap { try store.load(id) }
            if json {
                print(String(decoding: FileManager.default.contents(atPath: store.path(c.id)) ?? Data(), as: UTF8.self))
                return
            }
            print("conversation \(c.id) · \(c.provider) \(c.model) · \(c.status.rawValue) · created \(c.created) · updated \(c.updated)")
            let entries = c.transcript.entries.filter { if case .tokens = $0.event { return false } else { return true } }
            print(TranscriptRenderer.render(entries, options: .init(colour: stdoutIsTerminal())),
                  terminator: "")
            print("\n── requests ──")
            for r in c.requests {
                var parts = ["turn \(r.turn) step \(r.step)", r.model, String(format: "%.2fs", r.duration)]
                if let t = r.timeToFirstToken { parts.append(String(format: "ttft %.2fs", t)) }
                if let t = r.tokensPerSecond { parts.append(String(format: "%.1f tok/s", t)) }
                parts.append("\(r.inputTokens + r.cacheReadTokens + r.cacheWriteTokens) in / \(r.outputTokens) out")
                if let c = r.costUSD { parts.append(String(format: "$%.4f", c)) }
                if let e = r.error { parts.append("error: \(e)") }
                print(parts.joined(separator: " · "))
            }
            let t = c.totalTokens
            print("total: \(c.requests.count) requests · \(t.input) in / \(t.output) out" + (c.totalCost.map { String(format: " · $%.4f", $0) } ?? ""))
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a stored conversation.")
        @OptionGroup var target: Target
        @Argument(help: "Conversation id.") var id: String

        func run() throws {
            let store = try target.store()
            try wrap { try store.delete(id) }
            print("deleted \(id)")
        }
    }
}

private func wrap<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ConversationError { throw HostingError(e.message) }
}
