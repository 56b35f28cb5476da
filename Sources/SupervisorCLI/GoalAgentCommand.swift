import Agents
import ArgumentParser
import Foundation
import Glibc
import Hosting
import LLMClient
import Loop
import Profile

/// `supervisor agent goal`: runs shell commands in the agent's box until the goal is reached.
/// The shim starts it with `--config`; a person can run it with flags (flags win over the config).
struct GoalAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "goal",
        abstract: "The built-in goal agent: asks the model for one shell command at a time until the goal is reached.",
        discussion: """
        Model: a profile's agent with --config, else --provider/--model/--base-url (default openai, gpt-4o-mini, \
        key in OPENAI_API_KEY), or --url URL for a local OpenAI-compatible server without a key \
        (e.g. --url http://localhost:8000/v1 --model NAME; a URL ending in /v1/completions uses the completions endpoint).

        Exit status: 0 when the goal was reached, 1 when not (limit, budget, model error, gave up, no shell \
        could be started in the box), 2 for bad input.
        """)

    @OptionGroup var config: AgentConfigOption

    @Option(help: "The goal.") var goal: String?
    @Option(help: "partial (last 10 lines of each outcome) or full (whole outputs, summarized when they do not fit).")
    var contextMode: String?
    @Option(help: "Shell check run in the box after each step; exit 0 means the goal is reached (it must also confirm the model's DONE).")
    var doneWhen: String?
    @OptionGroup(title: "Budgets") var budgets: BudgetFlags
    @OptionGroup(title: "Model") var modelFlags: ModelFlags
    @Option(help: "Directory the commands run in (default: the current directory).") var workdir: String?
    @Option(help: "Tokens a request may use (system + history + answer; ~4 characters a token). Default 16000 or $SUPERVISOR_GOAL_CONTEXT_TOKENS.")
    var contextBudget: Int?
    @Option(help: "Seconds before a command that keeps running is moved to the background (default 60 or $SUPERVISOR_GOAL_COMMAND_TIMEOUT).")
    var commandTimeout: Double?
    @Option(help: "Seconds of quiet output after which a command is checked for waiting on input (default 1).")
    var quietCheck: Double?
    @Option(help: "Where the history is kept (default: $SUPERVISOR_HOME/standalone/<name>).") var stateDir: String?
    @Option(help: "Where <name>.terminal.log and <name>.debug.jsonl go (default: the --state-dir given, else $SUPERVISOR_HOME/standalone/logs).") var logsDir: String?
    @Option(help: "Agent name (for log file names).") var name: String?
    @Flag(help: "Write requests and responses to <logs>/<name>.debug.jsonl.") var debug = false
    @Flag(inversion: .prefixedNo,
          help: "Keep the shell and its background jobs (a server it started) after the goal is reached, until the agent is stopped (default: the profile's stay key, else off; also $SUPERVISOR_GOAL_STAY=1).")
    var stay: Bool?
    @Flag(help: "Plain line output even on a terminal.") var plain = false

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        var launch: AgentLaunchConfig
        if let loaded = try config.load() {
            launch = loaded
        } else {
            let cwd = FileManager.default.currentDirectoryPath
            let dir = absolute(workdir ?? cwd, base: cwd)
            let agentName = name ?? "goal"
            var spec = AgentSpec(name: agentName, kind: .goal, cwd: dir)
            spec.llm.provider = .openai
            spec.llm.model = "gpt-4o-mini"
            spec.llm.apiKeyEnv = LLMProvider.openai.defaultAPIKeyEnv
            // Under $SUPERVISOR_HOME like the other agents run by hand (cleanup.sh finds it there).
            // A --state-dir given keeps the logs too, unless --logs-dir says otherwise.
            let paths = SupervisorPaths(environment: environment)
            let state = stateDir.map { absolute($0, base: cwd) }
            launch = AgentLaunchConfig(profile: SupervisorPaths.standaloneProfile, agent: spec,
                                       stateDir: state ?? paths.standaloneAgentDir(agentName),
                                       logsDir: logsDir.map { absolute($0, base: cwd) } ?? state ?? paths.standaloneLogsDir, settingsFile: nil)
        }
        try applyFlags(&launch, environment: environment)
        guard let g = launch.agent.goal, !g.isEmpty else {
            throw CommandFailure(message: "no goal: give --goal TEXT (or goal = \"...\" in the profile)")
        }
        do { try LLMClient.checkCredentials(settings: launch.agent.llm, environment: environment) } catch {
            throw CommandFailure(message: "\(error)")
        }

        var options = GoalRunnerOptions()
        options.environment = environment
        if let v = contextBudget ?? environment["SUPERVISOR_GOAL_CONTEXT_TOKENS"].flatMap(Int.init) { options.contextBudget = max(100, v) }
        if let v = commandTimeout ?? environment["SUPERVISOR_GOAL_COMMAND_TIMEOUT"].flatMap(Double.init) { options.shell.commandTimeout = max(0.1, v) }
        if let v = quietCheck ?? environment["SUPERVISOR_GOAL_QUIET_CHECK"].flatMap(Double.init) { options.shell.quietCheck = max(0.05, v) }
        options.stay = environment["SUPERVISOR_GOAL_STAY"] == "1"

        Glibc.exit(GoalMain.run(launch: launch, options: options, plain: plain, environment: environment))
    }

    private func applyFlags(_ launch: inout AgentLaunchConfig, environment: [String: String]) throws {
        var a = launch.agent
        if let goal { a.goal = goal }
        if let contextMode {
            guard let m = ContextMode(rawValue: contextMode) else { throw CommandFailure(message: "--context-mode: expected partial or full, found \"\(contextMode)\"") }
            a.contextMode = m
        }
        if let doneWhen { a.doneWhen = doneWhen.isEmpty ? nil : doneWhen }
        budgets.apply(to: &a)
        // The defaults of a goal run by hand (openai, gpt-4o-mini) apply before the flags.
        try modelFlags.apply(to: &a.llm, fromProfile: config.config != nil, currentDirectory: FileManager.default.currentDirectoryPath)
        if debug { a.debug = true }
        if let stay { a.stay = stay }
        if let workdir, config.config != nil { a.cwd = absolute(workdir, base: FileManager.default.currentDirectoryPath) }
        if let stateDir, config.config != nil { launch.stateDir = absolute(stateDir, base: FileManager.default.currentDirectoryPath) }
        if let logsDir, config.config != nil { launch.logsDir = absolute(logsDir, base: FileManager.default.currentDirectoryPath) }
        launch.agent = a
        if a.llm.provider == .script && a.llm.script == nil { throw CommandFailure(message: "--provider script needs --script FILE") }
        if a.llm.provider != .script && (a.llm.model ?? "").isEmpty { throw CommandFailure(message: "no model: give --model NAME") }
    }

    private func absolute(_ path: String, base: String) -> String {
        path.hasPrefix("/") ? path : (base as NSString).appendingPathComponent(path)
    }
}
