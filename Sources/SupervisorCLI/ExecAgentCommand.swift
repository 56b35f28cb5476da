import Agents
import ArgumentParser
import Foundation
import Hosting
import Profile

/// `supervisor agent exec`: the model writes Python, a persistent runtime runs it, the results
/// go back to the model until it answers without code.
struct ExecAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "The built-in exec agent: the model writes Python, a persistent runtime runs it, results go back.",
        discussion: """
        The model's python blocks (```python fences or <python>...</python>) run in one persistent \
        python3 process per conversation, with helpers bash(cmd, timeout=60), read_file(path), \
        write_file(path, content) and answer(value). Results (stdout, stderr, the last expression's \
        value, or the traceback) are sent back until the model answers without code or a limit \
        (limit = steps, time_budget, token_budget, cost_budget; per turn) is hit.

        With --prompt (profile key `prompt`) it works on that one message and exits: 0 when the model \
        answered, 3 when a limit ended it, 1 when the model could not be reached, 130 when interrupted. \
        Without it, it is interactive: type a message, /help lists commands.

        Every conversation is stored in STATE/conversations/<id>.json after every step; \
        `--conversation ID` resumes one, and a restart by the shim resumes the current one (the \
        runtime is fresh and the model is told so): a one-shot turn stopped by a failed request is \
        continued, one a limit ended is not run again (exit 3 at once, saying why). See \
        `supervisor conversations`.

        Follow an agent live from another terminal: `supervisor logs --follow PROFILE AGENT` (the \
        pane's text), `supervisor attach PROFILE AGENT` (type into it), or `supervisor send PROFILE \
        AGENT TEXT`. Structured events (perf with ttft/tokens per second, tokens with cost_usd, \
        block, conversation) are in the logs directory's AGENT.events.jsonl.

        Run by hand: supervisor agent exec --provider anthropic --model claude-sonnet-4-5 \
        --prompt "How many lines are in README.md?"
        """)

    @OptionGroup var config: AgentConfigOption
    @Option(help: "Work on this message and exit (default: the profile's `prompt`; none: interactive).") var prompt: String?
    @Option(help: "Resume this stored conversation.") var conversation: String?

    @OptionGroup(title: "Model (without --config the provider is openai)") var modelFlags: ModelFlags
    @Option(help: "Working directory of the runtime (default: the current directory).") var workdir: String?
    @Option(help: "Where conversations are kept (default: $SUPERVISOR_HOME/standalone/exec, which `supervisor conversations list standalone exec` reads).") var stateDir: String?
    @Option(help: "Seconds a block may run before it is interrupted (profile key block_timeout; default 60).") var blockTimeout: Double?
    @Option(help: "Memory limit of the runtime, like 512m or 2g (profile key memory_limit).") var memoryLimit: String?
    @OptionGroup(title: "Budgets") var budgets: BudgetFlags
    @Flag(help: "Log requests and responses to LOGS/AGENT.debug.jsonl.") var debug = false

    func validate() throws {
        if let memoryLimit, parseMemorySize(memoryLimit) == nil { throw ValidationError("--memory-limit \"\(memoryLimit)\" is not a size like 512m or 2g") }
        if let blockTimeout, blockTimeout <= 0 { throw ValidationError("--block-timeout must be more than 0") }
        if let conversation, !ConversationStore.isValidID(conversation) { throw ValidationError("\"\(conversation)\" is not a conversation id") }
        if let prompt, prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("--prompt is empty") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        var launch: AgentLaunchConfig
        let underShim: Bool
        if let loaded = try config.load() {
            launch = loaded
            underShim = true
        } else {
            let cwd = workdir.map { ($0 as NSString).standardizingPath } ?? FileManager.default.currentDirectoryPath
            let absolute = cwd.hasPrefix("/") ? cwd : FileManager.default.currentDirectoryPath + "/" + cwd
            var llm = LLMSettings()
            llm.provider = .openai
            var spec = AgentSpec(name: "exec", kind: .exec, cwd: absolute, llm: llm)
            spec.prompt = nil
            // `supervisor conversations list standalone exec` finds these (same paths).
            let paths = SupervisorPaths(environment: environment)
            launch = AgentLaunchConfig(profile: SupervisorPaths.standaloneProfile, agent: spec,
                                       stateDir: stateDir ?? paths.standaloneAgentDir(spec.name),
                                       logsDir: paths.standaloneLogsDir, settingsFile: nil)
            underShim = false
        }
        // Flags win over the config.
        var spec = launch.agent
        try modelFlags.apply(to: &spec.llm, fromProfile: underShim, currentDirectory: FileManager.default.currentDirectoryPath)
        if let workdir, underShim { spec.cwd = workdir }
        if let blockTimeout { spec.blockTimeout = blockTimeout }
        if let memoryLimit { spec.memoryLimit = memoryLimit }
        budgets.apply(to: &spec)
        if debug { spec.debug = true }
        if spec.llm.model == nil && spec.llm.provider != .script {
            throw CommandFailure(message: "no model: give --model (or run the agent from a profile)")
        }
        if let stateDir, underShim { launch.stateDir = stateDir }
        launch.agent = spec
        let options = ExecSession.Options(launch: launch, prompt: prompt ?? spec.prompt, conversationID: conversation,
                                          underShim: underShim, environment: environment)
        let status = ExecSession(options: options).run()
        if status != 0 { throw ExitCode(status) }
    }
}
