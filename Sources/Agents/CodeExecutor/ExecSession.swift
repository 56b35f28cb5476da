import Foundation
import Glibc
import Hosting
import LLM
import LLMClient
import Loop
import Profile

/// Runs the exec agent as a program: picks (or resumes) the conversation, then either works on
/// one prompt and exits, or talks with the person in its pane.
///
/// Exit status: 0 the model answered (or input ended), 1 the model could not be reached or the
/// runtime could not start, 2 bad settings, 3 a limit (steps, time, tokens, cost) ended the
/// turn, 130 interrupted.
///
/// Restarted by the same shim with the same prompt, it continues the current conversation's
/// turn when it was in progress or a failed request stopped it, and exits 3 at once, saying
/// why, when a limit already ended it (unless the limit was raised since): a one-shot prompt is
/// never started over by the restart policy.
public final class ExecSession {
    public struct Options {
        public var launch: AgentLaunchConfig
        public var prompt: String?
        /// Resume this conversation.
        public var conversationID: String?
        /// Started by the shim (`--config`): a restart by the same shim resumes the current conversation.
        public var underShim: Bool
        public var environment: [String: String]
        public init(launch: AgentLaunchConfig, prompt: String?, conversationID: String?, underShim: Bool,
                    environment: [String: String]) {
            self.launch = launch; self.prompt = prompt; self.conversationID = conversationID
            self.underShim = underShim; self.environment = environment
        }
    }

    public enum ExitStatus {
        public static let answered: Int32 = 0
        public static let failed: Int32 = 1
        public static let usage: Int32 = 2
        public static let limit: Int32 = 3
        public static let interrupted: Int32 = 130
    }

    private let options: Options
    private let loop = EventLoop()
    private let display: ExecDisplay
    private let events: AgentEvents
    private var agent: ExecAgent!
    private var editor: LineEditor?
    private var exitStatus: Int32?
    private var signals: [SignalWatcher] = []

    public init(options: Options, display: ExecDisplay = FileDisplay()) {
        self.options = options
        self.display = display
        events = AgentEvents(environment: options.environment)
    }

    /// Runs until done; returns the exit status.
    public func run() -> Int32 {
        let launch = options.launch
        let spec = launch.currentAgent()
        let store = ConversationStore(stateDir: launch.stateDir)
        do {
            try FileManager.default.createDirectory(atPath: launch.stateDir, withIntermediateDirectories: true)
            // For reading: the exact program the runtime runs (it is passed with -c).
            try writeFileAtomically(path: launch.stateDir + "/exec-runtime.py", data: Array(PythonRuntimeScript.source.utf8))
        } catch {
            return fail("cannot prepare the state directory \(launch.stateDir): \(error)", status: ExitStatus.usage)
        }
        let engine: ModelEngine
        do {
            let debugFile = spec.debug || spec.llm.debug ? launch.logPrefix + ".debug.jsonl" : nil
            engine = try ModelEngine.make(launch: launch, loop: loop, environment: options.environment, debugFile: debugFile, events: events)
        } catch {
            return fail("\(error)", status: ExitStatus.usage)
        }
        defer { engine.close() }
        let client = engine.model

        var memoryLimit: Int?
        if let text = spec.memoryLimit {
            guard let bytes = parseMemorySize(text) else { return fail("memory_limit \"\(text)\" is not a size like 512m or 2g", status: ExitStatus.usage) }
            memoryLimit = bytes
        }
        var environment = options.environment
        for (k, v) in spec.env { environment[k] = v }
        // The model's code never sees a credential: the agent's key and every variable named
        // like a secret (`Secrets.isSecretName`: *_API_KEY, the words TOKEN or SECRET, PASSWORD).
        let withheld = Swift.Set([spec.llm.apiKeyEnv, spec.llm.provider.defaultAPIKeyEnv, "ANTHROPIC_API_KEY", "OPENAI_API_KEY"].compactMap { $0 })
            .union(environment.keys.filter(Secrets.isSecretName))
        // The agent's container on the Docker backend (the runtime then runs there), else its cwd.
        var boxConfig = launch
        boxConfig.agent = spec
        let box = makeBox(config: boxConfig, environment: environment, withheld: withheld)
        var runtimeOptions = PythonRuntime.Options()
        runtimeOptions.memoryLimit = memoryLimit
        if let python = options.environment["SUPERVISOR_EXEC_PYTHON"], !python.isEmpty { runtimeOptions.python = python }
        let runtime = PythonRuntime(loop: loop, box: box, options: runtimeOptions)
        defer { runtime.close() }

        // Which conversation.
        var conversation: Conversation
        var resumed = false
        var continueTurn = false
        var resumeReason = ""
        do {
            if let id = options.conversationID {
                conversation = try store.load(id)
                resumed = true
                continueTurn = conversation.status == .working
                resumeReason = "the conversation was resumed by a new agent process"
            } else if options.underShim, let current = store.currentBelongsToParent(), let c = try? store.load(current.id),
                      let after = Self.afterRestart(c, prompt: options.prompt, spec: spec) {
                if case .finished(let reason) = after {
                    return finished(c, reason: reason, launch: launch, store: store)
                }
                conversation = c
                resumed = true
                continueTurn = after == .continueTurn
                resumeReason = "the agent was restarted"
            } else {
                conversation = Conversation(id: ConversationStore.newID(), provider: client.config.providerName, model: client.config.model)
                try store.save(conversation)
            }
            try store.setCurrent(conversation.id)
        } catch {
            return fail("\(error)", status: ExitStatus.usage)
        }

        agent = ExecAgent(loop: loop, engine: engine, runtime: runtime, store: store, display: display, conversation: conversation)
        if resumed { agent.noteRuntimeIsFresh(reason: resumeReason) }
        events.emit(.conversation(id: conversation.id, resumed: resumed, path: store.path(conversation.id), finished: nil))
        banner(conversation, resumed: resumed, continuing: continueTurn, model: client.config.model, box: box)
        watchSignals(runtime: runtime)

        if let prompt = options.prompt {
            let finishTurn: (TurnOutcome) -> Void = { [weak self] outcome in
                // A one-shot task that ran into its limit is over: a restart would do it again.
                if case .limit(let why) = outcome { self?.events.final(reason: why) }
                self?.exitStatus = Self.status(for: outcome)
            }
            if continueTurn { agent.resume(completion: finishTurn) }
            else { agent.send(prompt, source: .task, completion: finishTurn) }
        } else {
            do {
                editor = try LineEditor(loop: loop)
            } catch {
                return fail("cannot read the terminal: \(error)", status: ExitStatus.failed)
            }
            if continueTurn {
                agent.resume { [weak self] _ in self?.prompt() }
            } else {
                prompt()
            }
        }
        while exitStatus == nil { loop.runOnce() }
        // Nothing of the runtime outlives the agent: in a container it is killed through
        // `docker exec` (bounded by the box command's timeout); wait for that.
        runtime.close()
        while runtime.cleanupPending { loop.runOnce() }
        editor?.close()
        signals.forEach { $0.close() }
        return exitStatus!
    }

    /// What a restart by the same shim does with the current conversation.
    enum AfterRestart: Equatable {
        /// Keep the conversation (interactive: wait for the person).
        case keep
        /// Keep it and continue its turn: one in progress, one a failed request stopped, or one
        /// a limit stopped whose limit was raised since (`supervisor set`).
        case continueTurn
        /// The one-shot prompt's turn already ended at a limit: do not start it over.
        case finished(String)
    }

    /// Nil: start a new conversation.
    static func afterRestart(_ c: Conversation, prompt: String?, spec: AgentSpec) -> AfterRestart? {
        guard let prompt else { return c.status == .working ? .continueTurn : .keep }
        // A changed prompt (`supervisor set prompt=`) is new work.
        guard c.lastPrompt == prompt else { return nil }
        switch c.status {
        case .working: return .continueTurn
        // Answered before (restart = "always"): run it again, as asked.
        case .waiting: return nil
        case .stopped:
            switch c.stopKind {
            case .error?, nil: return .continueTurn
            case .limit?:
                // Counted from what the turn used, so a raised limit lets it go on.
                if let reason = Budgets(spec).reached(c.spentThisTurn())?.sentence {
                    return .finished(c.stop?.reason ?? reason)
                }
                return .continueTurn
            }
        }
    }

    /// Says why a one-shot agent restarted by the shim does not run its prompt again, and exits
    /// with the status the turn ended with.
    private func finished(_ c: Conversation, reason: String, launch: AgentLaunchConfig, store: ConversationStore) -> Int32 {
        let who = "\(launch.profile) \(launch.agent.name)"
        display.write(display.yellow("■ this prompt's conversation \(c.id) already ended: \(reason).") + "\n"
            + "Not starting it over, which would spend the budget again; exiting with status \(ExitStatus.limit) again"
            + " (and the shim does not restart it).\n"
            + "To go on with it: raise the limit (supervisor set \(who) limit=N, or the budget) and restart the agent;"
            + " to start afresh: supervisor conversations delete \(who) \(c.id), then restart.\n")
        events.emit(.conversation(id: c.id, resumed: false, path: store.path(c.id), finished: reason))
        events.message("not started again: the conversation for this prompt already ended: \(reason)")
        events.final(reason: reason)
        return ExitStatus.limit
    }

    static func status(for outcome: TurnOutcome) -> Int32 {
        switch outcome {
        case .answered: return ExitStatus.answered
        case .limit: return ExitStatus.limit
        case .failed: return ExitStatus.failed
        case .cancelled: return ExitStatus.interrupted
        }
    }

    private func fail(_ message: String, status: Int32) -> Int32 {
        FileHandle.standardError.write(Data("supervisor agent exec: \(message)\n".utf8))
        events.message("error: \(message)")
        return status
    }

    private func banner(_ c: Conversation, resumed: Bool, continuing: Bool, model: String, box: Box) {
        let how = options.prompt == nil ? "type a message; /help lists commands; Ctrl-C stops the work; Ctrl-D quits"
            : "working on the prompt, then exiting"
        var s = display.bold(agent.engine.startHint(how)) + display.dim(" · \(box.description)") + "\n"
        if resumed {
            s += display.dim("conversation \(c.id) resumed (\(c.messages.count) messages, \(c.runs.count) code runs); the Python runtime is fresh") + "\n"
            if continuing, c.status == .stopped, let stop = c.stop {
                s += display.dim("continuing the turn that stopped: \(stop.reason)") + "\n"
            }
            if let last = c.messages.last(where: { $0.kind == .prompt }) {
                s += display.dim("last message: " + oneLine(last.text, width: 200)) + "\n"
            }
        } else {
            s += display.dim("conversation \(c.id)") + "\n"
        }
        display.write(s)
    }

    private func watchSignals(runtime: PythonRuntime) {
        let interrupt = SignalWatcher(loop: loop)
        try? interrupt.start(SIGINT) { [weak self] _ in
            guard let self else { return }
            if self.agent.isBusy { self.agent.cancel() }
            else if self.options.prompt != nil { self.exitStatus = ExitStatus.interrupted }
        }
        signals.append(interrupt)
        for sig in [SIGTERM, SIGHUP] {
            let w = SignalWatcher(loop: loop)
            try? w.start(sig) { [weak self] _ in
                // The conversation is saved after every step; stop the runtime and go.
                runtime.close()
                self?.exitStatus = 128 + sig
            }
            signals.append(w)
        }
    }

    // MARK: Interactive

    private func prompt() {
        events.state("waiting")
        editor?.readLine(prompt: display.bold("you> ")) { [weak self] line in
            guard let self else { return }
            guard let line else { self.exitStatus = ExitStatus.answered; return }
            let text = line.trimmed
            if text.isEmpty { self.prompt(); return }
            if text.hasPrefix("/") { self.command(text); return }
            // Who asked what is part of the conversation's event stream: a client following the
            // agent over the network sees the message next to the answer.
            self.events.emit(.user(text: line, source: .pane, truncated: false))
            self.agent.send(line) { [weak self] _ in self?.prompt() }
        }
    }

    private func command(_ text: String) {
        let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
        let store = agent.store
        switch parts[0] {
        case "/help":
            display.write("""
            /new            start a new conversation (fresh runtime)
            /list           list this agent's conversations
            /resume ID      switch to a stored conversation (fresh runtime)
            /show           this conversation's id, file and totals
            /restart        restart the Python runtime (its variables are lost)
            /quit           leave (also Ctrl-D)

            """)
        case "/new":
            let c = Conversation(id: ConversationStore.newID(), provider: agent.engine.model.config.providerName, model: agent.currentModel)
            try? store.save(c)
            try? store.setCurrent(c.id)
            agent.replaceConversation(c)
            events.emit(.conversation(id: c.id, resumed: false, path: store.path(c.id), finished: nil))
            display.write(display.dim("new conversation \(c.id)") + "\n")
        case "/list":
            for c in store.list() {
                display.write("\(c.id == agent.conversation.id ? "*" : " ") \(c.id)  \(c.status.rawValue)  \(c.messages.count) msgs  \(c.title)\n")
            }
        case "/resume":
            guard parts.count == 2 else { display.write("usage: /resume ID\n"); break }
            do {
                let c = try store.load(parts[1].trimmed)
                try store.setCurrent(c.id)
                agent.replaceConversation(c)
                agent.noteRuntimeIsFresh(reason: "the conversation was resumed")
                events.emit(.conversation(id: c.id, resumed: true, path: store.path(c.id), finished: nil))
                display.write(display.dim("resumed \(c.id) (\(c.messages.count) messages); the runtime is fresh") + "\n")
            } catch {
                display.write(display.red("\(error)") + "\n")
            }
        case "/show":
            let c = agent.conversation
            let t = c.totalTokens
            display.write("conversation \(c.id) · \(store.path(c.id))\n\(c.messages.count) messages · \(c.runs.count) code runs · \(c.requests.count) requests · \(t.input) in / \(t.output) out"
                          + (c.totalCost.map { String(format: " · $%.4f", $0) } ?? "") + "\n")
        case "/restart":
            agent.runtime.close()
            agent.noteRuntimeIsFresh(reason: "the person restarted the runtime")
            display.write(display.dim("the runtime will restart at the next block") + "\n")
        case "/quit", "/exit":
            exitStatus = ExitStatus.answered
            return
        default:
            display.write("unknown command \(parts[0]) (/help lists them)\n")
        }
        prompt()
    }
}
