import Agents
import ArgumentParser
import Foundation
import Hosting
import Profile

/// `supervisor agent coder`: the interactive coding agent (see Agents/Coder/CoderSetup.swift
/// for the environment variables it reads outside a profile).
struct CoderAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coder",
        abstract: "The built-in coder agent: a conversation with file, shell and web tools.",
        discussion: """
            Without --config (outside a profile) it is configured with SUPERVISOR_CODER_PROVIDER, _MODEL, _BASE_URL, \
            _API_KEY_ENV, _MAX_TOKENS, _CONTEXT_TOKENS, _TEMPERATURE, _SCRIPT, _PERMISSION, _ALLOW_TOOLS, _DENY_TOOLS, _WORKSPACE, \
            _STATE_DIR, _DEBUG, _PLAIN, _NO_RIPGREP, _HOOK_PRE_TOOL, _HOOK_POST_TOOL, _HOOK_STOP; SUPERVISOR_THEME \
            names a Kitty-format colour theme, NO_COLOR turns colours off. The model and budget flags, the same \
            for the three built-in agents, win over the profile and these variables.
            """)
    @OptionGroup var config: AgentConfigOption
    @Argument(help: ArgumentHelp("Answer this message and exit, as with --prompt.", valueName: "prompt"))
    var message: String?
    @Option(help: "Send this message, answer it (using tools), and exit: 0 on a final answer, 1 on an error.")
    var prompt: String?
    @Option(help: "Continue a saved session (see `supervisor sessions list PROFILE AGENT`).")
    var resume: String?
    @Option(help: "ask | allow-edits | yolo (overrides the profile and SUPERVISOR_CODER_PERMISSION).")
    var permission: String?
    @OptionGroup(title: "Model (override the profile and the SUPERVISOR_CODER_* variables)") var modelFlags: ModelFlags
    @OptionGroup(title: "Budgets (per turn)") var budgets: BudgetFlags
    @Flag(help: "Plain line mode even on a terminal.")
    var plain = false

    func validate() throws {
        if message != nil && prompt != nil {
            throw ValidationError("give the prompt either as an argument or with --prompt, not both")
        }
        if let permission, Permission(rawValue: permission) == nil {
            throw ValidationError("--permission must be ask, allow-edits or yolo")
        }
    }

    func run() throws {
        var flags = CoderSetup.Flags()
        flags.prompt = prompt ?? message
        flags.resume = resume
        flags.permission = permission.flatMap(Permission.init(rawValue:))
        let cwd = FileManager.default.currentDirectoryPath
        let fromProfile = config.config != nil
        flags.adjust = { [modelFlags, budgets] spec in
            try modelFlags.apply(to: &spec.llm, fromProfile: fromProfile, currentDirectory: cwd)
            budgets.apply(to: &spec)
        }
        flags.plain = plain
        flags.config = try config.load()
        flags.configPath = config.config
        let environment = ProcessInfo.processInfo.environment
        let setup: CoderSetup
        do {
            setup = try CoderSetup.resolve(flags: flags, environment: environment,
                                           currentDirectory: FileManager.default.currentDirectoryPath)
        } catch {
            throw CommandFailure(message: "coder: \(error)")
        }
        let status = CoderRunner.run(setup, permissionFlag: flags.permission, environment: environment)
        if status != 0 { throw ExitCode(status) }
    }
}
