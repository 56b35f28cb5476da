import Glibc
import Hosting
import LLMClient
import Loop
import Profile

/// Runs the coder agent to its end on its own loop and returns the exit status:
/// 0 (a final answer for a one-shot prompt, or the person quit), 1 (a one-shot prompt failed),
/// 2 (bad settings: nothing started), 128+signal when stopped by a signal.
public enum CoderRunner {
    public static func run(_ setup: CoderSetup, permissionFlag: Permission?, environment: [String: String]) -> Int32 {
        let stderr = { (s: String) in _ = Posix.writeAll(2, s) }
        let spec = setup.spec
        guard Files.isDirectory(spec.cwd) else { stderr("supervisor: coder: working directory \(spec.cwd) does not exist\n"); return 2 }
        // Never run commands on the host when the profile asked for a container: the docker
        // backend needs the launch config `up` wrote (it names the container).
        guard spec.backend.type == .local || setup.launch != nil else {
            stderr("supervisor: coder: agent \"\(spec.name)\": the docker backend needs --config (start it with supervisor up)\n")
            return 2
        }
        let loop = EventLoop()
        defer { loop.close() }
        let engine: ModelEngine
        do {
            engine = try ModelEngine.make(launch: setup.launchConfig, loop: loop, environment: environment, debugFile: setup.debugFile)
        } catch {
            stderr("supervisor: coder: \(error)\n")
            return 2
        }
        let store = SessionStore(stateDir: setup.stateDir)
        var session: CoderSession
        do {
            if let id = setup.resume {
                session = try store.load(id)
                session.finished = false
            } else if setup.resumeLatest, let latest = store.latestUnfinished() {
                session = latest
            } else {
                session = CoderSession(id: SessionStore.newID(), started: SessionStore.timestamp(), model: engine.currentModel, workspace: spec.cwd)
            }
        } catch {
            engine.close()
            stderr("supervisor: coder: \(error)\n")
            return 2
        }
        // Commands must not see API keys or our plumbing.
        var withheld: Set<String> = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]
        if let k = spec.llm.apiKeyEnv ?? spec.llm.provider.defaultAPIKeyEnv { withheld.insert(k) }
        // On the Docker backend Bash, git, ripgrep, hooks and MCP servers run in the container;
        // the file tools work on the host side of the workspace bind mount.
        let box: Box = setup.launch.map { makeBox(config: $0, environment: environment, withheld: withheld) }
            ?? LocalBox(workspace: spec.cwd, environment: environment, withheld: withheld)
        let context = ToolContext(loop: loop, box: box, workspace: Workspace(box: box), http: engine.client?.http)
        context.useRipgrep = setup.useRipgrep
        if !spec.mcp.isEmpty {
            let logPrefix = setup.logsDir.map { $0 + "/" + spec.name } ?? setup.stateDir + "/" + spec.name
            try? makeDirectories(Files.parent(logPrefix))
            context.mcp = MCPServers(specs: spec.mcp, loop: loop, box: box, logPrefix: logPrefix)
        }

        let interactiveTerminal = isatty(0) == 1 && isatty(1) == 1
        let color = isatty(1) == 1 && (environment["NO_COLOR"] ?? "").isEmpty
        var input: LineInput?
        var ui: CoderUI
        var tui: CoderTUIHandle?
        if interactiveTerminal && !setup.plain, let made = CoderTUI(loop: loop, environment: environment, stateDir: setup.stateDir) {
            ui = made
            tui = made
        } else {
            let lines = LineInput(loop: loop)
            input = lines
            ui = LineUI(input: lines, color: color, echoInput: isatty(0) != 1)
        }
        var options = CoderAgent.Options(prompt: setup.prompt, policy: setup.policy(permissionFlag: permissionFlag))
        // `--resume ID --prompt TEXT`: continue that conversation with this message.
        if setup.resume != nil { options.resumePrompt = setup.prompt }
        options.hooks = setup.hooks
        if spec.autocommit && spec.isolation == .worktree {
            options.turnEnded = { intent in autocommitTurn(spec: spec, intent: intent, events: engine.events) }
        }
        let agent = CoderAgent(engine: engine, tools: CoderAgent.standardTools(), context: context, ui: ui,
                               store: store, session: session, options: options)
        tui?.attach(agent)
        ui.showNotice(engine.startHint(setup.prompt == nil || setup.resume != nil
            ? "type a message; /help lists commands; Esc or Ctrl-C interrupts; Ctrl-D or /exit quits"
            : "answering the prompt, then exiting"))
        var status: Int32?
        agent.onExit = { status = $0 }

        let signals = SignalWatcher(loop: loop)
        let hup = SignalWatcher(loop: loop)
        let int = SignalWatcher(loop: loop)
        try? signals.start(SIGTERM) { _ in agent.terminate(status: 143) }
        try? hup.start(SIGHUP) { _ in agent.terminate(status: 129) }
        try? int.start(SIGINT) { _ in
            if agent.state == "idle" { agent.quit() } else { agent.interrupt() }
        }
        signal(SIGPIPE, SIG_IGN)

        agent.start()
        while status == nil { _ = loop.runOnce(wait: true) }
        // On the normal screen, after the full-screen interface is gone: the final answer and
        // how to continue stay in the pane, the log and the tile. Line mode has shown the answer.
        let ending = CoderEnding(status: agent.status, exitStatus: status ?? 1, configPath: setup.configPath)
        if let tui {
            tui.close()
            print(ending.text(transcript: tui.transcript), terminator: "")
        } else if isatty(1) == 1 {
            print("\n" + ending.summary, terminator: "")
        }
        fflush(stdout)
        for h in [signals, hup, int] { h.close() }
        input?.close()
        let mcp = context.mcp
        context.close()
        engine.close()
        // MCP servers got end of input; wait for them to exit (SIGTERM after 1 s, SIGKILL
        // after 3 s: `MCPClient.close` has timers for that, so this wait always ends).
        let deadline = EventLoop.monotonicSeconds() + 4
        while let mcp, mcp.anyAlive, EventLoop.monotonicSeconds() < deadline { _ = loop.runOnce(wait: true) }
        // Let closing handles finish their callbacks.
        var spins = 0
        while loop.runOnce(wait: false) && spins < 100 { spins += 1 }
        return status ?? 1
    }
}

/// The full-screen interface as the runner sees it.
public protocol CoderTUIHandle: AnyObject {
    var ui: CoderUI { get }
    /// What the interface showed, for what is left on the screen at the end.
    var transcript: [TranscriptEntry] { get }
    func attach(_ agent: CoderAgent)
    func close()
}
