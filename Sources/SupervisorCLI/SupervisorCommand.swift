import ArgumentParser
import Foundation
import Hosting
import LLMClient
import Loop
import Profile

public struct SupervisorCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "supervisor",
        abstract: "Run a team of agents, each in its own tmux window, with lossless logs.",
        subcommands: [
            Up.self, Down.self, Status.self, Validate.self, Attach.self, Logs.self, Send.self,
            Start.self, Stop.self, Restart.self, Set.self, Pull.self, DashboardCommand.self, LLM.self, ImageCommand.self, AgentCommand.self,
            ConversationsCommand.self, SessionsCommand.self, DiffCommand.self, MergeCommand.self, WorktreesCommand.self, ServeCommand.self, ClientCommand.self, ShimCommand.self, PlaceAgain.self,
        ])
    public init() {}

    /// Like ParsableCommand.main, but every failure a person can fix exits with status 2 and
    /// one line naming what to fix.
    public static func runMain(_ arguments: [String]? = nil) -> Never {
        if let word = (arguments ?? Array(CommandLine.arguments.dropFirst())).first, let message = unknownCommand(word) {
            FileHandle.standardError.write(Data("supervisor: \(message)\n".utf8))
            Foundation.exit(2)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("supervisor: \(failure.message)\n".utf8))
            Foundation.exit(failure.status)
        } catch {
            let code = exitCode(for: error)
            if code == .success { self.exit(withError: error) }
            if error is HostingError || error is ProfileError || error is SettingError {
                FileHandle.standardError.write(Data("supervisor: \(error)\n".utf8))
            } else {
                // One line (invariant 6): the message without ArgumentParser's usage block.
                let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                FileHandle.standardError.write(Data("supervisor: \(message) (see `supervisor --help`)\n".utf8))
            }
            Foundation.exit(2)
        }
    }
}

extension SupervisorCommand {
    /// `unknown command "frobnicate"; commands: up, down, ...` when the first word is neither
    /// an option nor a command (ArgumentParser would say only "Unexpected argument").
    static func unknownCommand(_ word: String) -> String? {
        let commands = configuration.subcommands
        guard !word.hasPrefix("-"), word != "help", !commands.contains(where: { $0._commandName == word }) else { return nil }
        let shown = commands.filter { $0.configuration.shouldDisplay }.map { $0._commandName }
        return "unknown command \"\(word)\"; commands: \(shown.joined(separator: ", ")) (see `supervisor --help`)"
    }
}

/// An error a command reports itself, with its exit status.
struct CommandFailure: Error {
    var message: String
    var status: Int32 = 2
}

/// Shared by every command that names a profile: a path to a .toml file, or the name of a
/// profile that was brought up before.
struct ProfileArgument: ParsableArguments {
    @Argument(help: "Profile: a .toml file, or the name of a profile that is (or was) up.")
    var profile: String

    var environment: [String: String] { ProcessInfo.processInfo.environment }
    var paths: SupervisorPaths { SupervisorPaths(environment: environment) }

    var isFile: Bool { profile.hasSuffix(".toml") || profile.contains("/") }

    func loadProfile() throws -> Profile {
        let path = isFile ? profile : try record().sourcePath
        return try ProfileLoader.load(path: path).applying(try Settings.load(paths: paths, profile: profileName()))
    }

    func profileName() throws -> String {
        isFile ? try ProfileLoader.load(path: profile).name : profile
    }

    func record() throws -> ProfileRecord {
        let name = try profileName()
        let path = paths.profileRecord(profile: name)
        guard FileManager.default.fileExists(atPath: path) else {
            throw HostingError("profile \(name) is not up (start it with `supervisor up PROFILE.toml`)")
        }
        return try ProfileRecord.read(path: path)
    }

    /// The record while the profile is up, else what its agents' state files (kept by `down`)
    /// say of it: read-only commands (`status`, `logs`) work on a profile that was up before.
    func recordOrLastKnown() throws -> ProfileRecord {
        if let record = try? record() { return record }
        let name = try profileName()
        guard let last = ProfileRecord.lastKnown(paths: paths, profile: name) else {
            throw HostingError("profile \(name) is not up and has no state from an earlier run in \(paths.root) (give its .toml file, or `supervisor up` it)")
        }
        return last
    }
}

struct AgentArgument: ParsableArguments {
    @Argument(help: "Agent name, as in the profile.")
    var agent: String
}

/// Where the running binary is, so shims are started from the same build.
func currentExecutable() -> String {
    ProcFS.ownExecutable() ?? CommandLine.arguments[0]
}

/// tmux/supervisor.conf: `$SUPERVISOR_TMUX_CONF`, else found next to (or above) the binary,
/// as in a checkout (`.build/debug/supervisor` -> `tmux/supervisor.conf`) or an install
/// (`bin/supervisor` -> `share/supervisor/tmux/supervisor.conf`).
func locateTmuxConfig(environment: [String: String]) throws -> String {
    if let explicit = environment["SUPERVISOR_TMUX_CONF"] {
        guard FileManager.default.isReadableFile(atPath: explicit) else {
            throw HostingError("SUPERVISOR_TMUX_CONF=\(explicit) is not a readable file")
        }
        return explicit
    }
    var dir = URL(fileURLWithPath: currentExecutable()).deletingLastPathComponent()
    for _ in 0..<6 {
        for candidate in ["tmux/supervisor.conf", "share/supervisor/tmux/supervisor.conf"] {
            let path = dir.appendingPathComponent(candidate).path
            if FileManager.default.isReadableFile(atPath: path) { return path }
        }
        dir = dir.deletingLastPathComponent()
    }
    throw HostingError("cannot find tmux/supervisor.conf near \(currentExecutable()); set SUPERVISOR_TMUX_CONF to its path")
}

/// The launcher every lifecycle command uses: shims run this binary, and a built-in agent's
/// missing API key is reported before anything starts.
func makeLauncher(paths: SupervisorPaths, environment: [String: String], shimCommand: [String]? = nil, tmuxConfig: String?) -> Launcher {
    var launcher = Launcher(paths: paths, environment: environment,
                            shimCommand: shimCommand ?? Launcher.shimCommand(supervisor: currentExecutable()),
                            agentCommand: [currentExecutable()], tmuxConfig: tmuxConfig)
    launcher.credentialCheck = { agent in
        do { try LLMClient.checkCredentials(settings: agent.llm, environment: environment) } catch {
            throw HostingError("agent \"\(agent.name)\": \(error)")
        }
    }
    return launcher
}
