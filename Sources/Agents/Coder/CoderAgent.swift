import AgentProtocol
import Glibc
import LLM
import LLMClient
import Loop
import Profile

/// What the status bar shows.
public struct CoderStatus: Equatable {
    public var model: String
    public var permission: Permission
    public var usage: Usage
    public var costUSD: Double
    /// thinking | running_tool | waiting | idle
    public var state: String
    public var session: String
}

/// One tool call as the transcript shows it.
public struct ToolCallInfo: Equatable {
    public var id: String
    public var name: String
    public var summary: String
    public var input: JSONValue
}

/// The screen side of the agent: the TUI, the plain line mode, or a test's recorder.
public protocol CoderUI: PermissionAsker {
    func showUserMessage(_ text: String)
    /// Streamed answer text as it arrives.
    func showAssistantDelta(_ text: String)
    func assistantAnswerEnded()
    func showToolStart(_ call: ToolCallInfo)
    func showToolResult(_ call: ToolCallInfo, _ output: ToolOutput)
    /// What a Write or Edit the person was not asked about changed (after its result).
    func showChange(_ call: ToolCallInfo, _ diff: [String])
    func showNotice(_ text: String)
    func showError(_ text: String)
    func statusChanged(_ status: CoderStatus)
    /// The person's next message; nil when they are done (end of input, /exit, quit key).
    func nextMessage(_ deliver: @escaping (String?) -> Void)
}

/// Shell commands run around tool calls (in the box, with TOOL_NAME and TOOL_INPUT set):
/// a pre-tool hook that exits non-zero blocks the call (its output tells the model why); a
/// post-tool hook sees TOOL_OUTPUT and TOOL_IS_ERROR; a stop hook runs after each final answer.
public struct CoderHooks: Equatable {
    public var preTool: String?
    public var postTool: String?
    public var stop: String?
    public init(preTool: String? = nil, postTool: String? = nil, stop: String? = nil) {
        self.preTool = preTool; self.postTool = postTool; self.stop = stop
    }
    public var isEmpty: Bool { preTool == nil && postTool == nil && stop == nil }
}

/// The conversation loop: the model answers, the tools it asks for run (read-only ones
/// together, the others in order, each after its permission check), results go back, until
/// it answers with text only; then the next message of the person (or the end, for a
/// one-shot prompt). The session is saved after every step.
public final class CoderAgent: EngineView {
    public struct Options {
        /// One-shot: this message, then exit 0 on a final text answer, 1 on an error.
        public var prompt: String?
        /// The permission settings now (re-read at every check: `supervisor set` applies live).
        public var policy: () -> PermissionPolicy
        public var systemExtra: String?
        /// After resuming a session: send this message (instead of waiting).
        public var resumePrompt: String?
        public var hooks = CoderHooks()
        /// Characters of one tool result sent to the model.
        public var maxToolResult = 100_000
        /// Called at the end of every turn with the message that started it (`autocommit`).
        public var turnEnded: ((_ intent: String) -> Void)?

        public init(prompt: String? = nil, policy: @escaping () -> PermissionPolicy) {
            self.prompt = prompt
            self.policy = policy
        }
    }

    /// The model side (settings, fitting, retries, accounting, budgets), shared with the other agents.
    public let engine: ModelEngine
    public let context: ToolContext
    public private(set) var tools: [String: CoderToolImplementation]
    private var toolOrder: [String]
    /// Lines about the MCP servers for the system prompt.
    private var mcpSummary = ""
    public weak var ui: CoderUI?
    private let strongUI: CoderUI
    public var asker: PermissionAsker
    public var events: AgentEvents { engine.events }
    public let store: SessionStore?
    public private(set) var session: CoderSession
    public var options: Options
    /// Runs once with the exit status.
    public var onExit: ((Int32) -> Void)?
    public private(set) var systemPrompt = ""
    public private(set) var state = "starting"

    private var interrupted = false
    /// Said to the model before the person's next message (an answer they interrupted).
    private var pendingNote: String?
    /// The person's message that started the current turn (nil between turns).
    private var turnIntent: String?
    private var exited = false
    private var resumed: Bool
    /// Permission questions asked so far (names a question whose call id cannot).
    private var questions = 0

    public init(engine: ModelEngine, tools: [CoderToolImplementation], context: ToolContext, ui: CoderUI,
                store: SessionStore?, session: CoderSession, options: Options) {
        self.engine = engine
        self.context = context
        var byName: [String: CoderToolImplementation] = [:]
        for t in tools { byName[t.name] = t }
        self.tools = byName
        toolOrder = tools.map(\.name)
        self.ui = ui
        strongUI = ui
        asker = ui
        self.store = store
        self.session = session
        self.options = options
        resumed = !session.messages.isEmpty
        engine.contextCap = session.contextCap
        engine.view = self
        engine.onContextCapChange = { [weak self] cap in self?.session.contextCap = cap }
    }

    public func engineNotice(_ text: String) { strongUI.showNotice(text) }

    /// The agent's settings now (`supervisor set` applies live).
    public var spec: AgentSpec { engine.live.spec() }

    public static func standardTools() -> [CoderToolImplementation] {
        [BashTool(), ReadTool(), WriteTool(), EditTool(), GlobTool(), GrepTool(), WebFetchTool()]
    }

    var policy: PermissionPolicy {
        var p = options.policy()
        p.alwaysAllowed.formUnion(session.alwaysAllowed)
        return p
    }

    public var availableTools: [ToolDefinition] {
        let p = policy
        return toolOrder.filter { p.isAvailable($0) }.compactMap { tools[$0]?.definition }
    }

    public var status: CoderStatus {
        CoderStatus(model: currentModel, permission: policy.mode, usage: session.usage, costUSD: session.costUSD,
                    state: state, session: session.id)
    }

    var currentModel: String { engine.currentModel }

    private func setState(_ s: String) {
        state = s
        events.state(s)
        strongUI.statusChanged(status)
    }

    // MARK: Starting

    /// Gathers the environment (through the box) and starts the MCP servers, then resumes,
    /// sends the prompt, or waits.
    public func start() {
        setState("starting")
        var environment: EnvironmentContext?
        var mcpReady = false
        func ready() {
            guard let env = environment, mcpReady, !exited else { return }
            var extra = options.systemExtra ?? ""
            if !mcpSummary.isEmpty {
                extra = "MCP servers (their tools may change things outside the workspace; use them as the person asks):\n"
                    + mcpSummary + (extra.isEmpty ? "" : "\n\n" + extra)
            }
            systemPrompt = CoderPrompt.system(environment: env, tools: toolOrder.filter { policy.isAvailable($0) }, extra: extra)
            begin()
        }
        startMCP { mcpReady = true; ready() }
        EnvironmentContext.gather(context: context) { env in environment = env; ready() }
    }

    /// With a system prompt given directly (tests); MCP servers are started first.
    public func start(systemPrompt: String) {
        self.systemPrompt = systemPrompt
        setState("starting")
        startMCP { [self] in if !exited { begin() } }
    }

    /// Starts the context's MCP servers and adds their tools (a server that fails is reported
    /// and left out).
    private func startMCP(_ then: @escaping () -> Void) {
        guard let mcp = context.mcp, !mcp.clients.isEmpty else { then(); return }
        strongUI.showNotice("starting MCP server\(mcp.clients.count == 1 ? "" : "s") \(mcp.clients.map(\.spec.name).joined(separator: ", "))")
        for client in mcp.clients {
            client.onRestart = { [weak self] text in
                self?.strongUI.showNotice(text)
                self?.events.message(text)
            }
        }
        mcp.start { [self] found, problems in
            for p in problems {
                strongUI.showError(p)
                events.message("error: \(p)")
            }
            for t in found where tools[t.name] == nil {
                tools[t.name] = t
                toolOrder.append(t.name)
            }
            mcpSummary = mcp.summary
            then()
        }
    }

    private func begin() {
        if resumed {
            replayTranscript()
            strongUI.showNotice("resumed session \(session.id) (\(session.turns) message\(session.turns == 1 ? "" : "s"))")
            repairInterruptedTools()
            if session.messages.last?.role == .user {
                // The turn goes on, with what it spent before the restart against its budgets.
                engine.beginScope(session.turnSpend)
                save()
                request()
                return
            }
            if let p = options.resumePrompt { submit(p, source: .task); return }
            idle()
            return
        }
        if let prompt = options.prompt {
            submit(prompt, source: .task)
        } else {
            idle()
        }
    }

    /// Tool calls whose results were never recorded (the agent was killed while they ran)
    /// get an "interrupted" result, so the conversation is valid and the model knows.
    private func repairInterruptedTools() {
        guard let last = session.messages.last, last.role == .assistant, !last.toolUses.isEmpty else { return }
        let results = last.toolUses.map { use in
            ContentBlock.toolResult(toolUseId: use.id, content: "The agent was stopped before this tool call finished; it may or may not have taken effect. Check before repeating it.",
                                    isError: true)
        }
        session.messages.append(Message(role: .user, content: results))
        strongUI.showNotice("\(results.count) tool call\(results.count == 1 ? " was" : "s were") interrupted by the restart")
    }

    private func replayTranscript() {
        for m in session.messages {
            for block in m.content {
                switch block {
                case .text(let t):
                    if m.role == .user && AgentNote.isNote(t) { strongUI.showNotice(t) } else if m.role == .user { strongUI.showUserMessage(t) } else { strongUI.showAssistantDelta(t); strongUI.assistantAnswerEnded() }
                case .toolUse(let id, let name, let input):
                    strongUI.showToolStart(ToolCallInfo(id: id, name: name, summary: tools[name]?.summary(input) ?? "", input: input))
                case .toolResult: break
                }
            }
        }
    }

    // MARK: The loop

    private func idle() {
        guard !exited else { return }
        interrupted = false
        if options.prompt != nil {
            session.finished = true
            save()
            finish(0)
            return
        }
        setState("idle")
        strongUI.nextMessage { [weak self] text in
            guard let self, !self.exited else { return }
            guard let text else {
                self.session.finished = true
                self.save()
                self.finish(0)
                return
            }
            self.submit(text)
        }
    }

    /// A message from the person (`.task`: the profile's or the command line's prompt).
    public func submit(_ text: String, source: AgentEvent.UserSource = .pane) {
        guard !exited else { return }
        if text.trimmed == "/help" {
            // Answered here: it is not a message for the model.
            strongUI.showNotice(Self.help)
            idle()
            return
        }
        strongUI.showUserMessage(text)
        engine.userSaid(text, source: source)
        var message = Message.user(text)
        if let note = pendingNote {
            message.content.insert(.text(note), at: 0)
            pendingNote = nil
        }
        append(message)
        engine.beginScope()
        save()
        turnIntent = text
        request()
    }

    private func append(_ m: Message) {
        // Two user messages in a row (an earlier request failed) become one.
        if m.role == .user, let last = session.messages.last, last.role == .user {
            session.messages[session.messages.count - 1].content += m.content
        } else {
            session.messages.append(m)
        }
    }

    /// One model request of the turn (a step against `limit`). What is sent is the session
    /// fitted into the context window by the engine; the session itself stays whole.
    private func request() {
        guard !exited else { return }
        if let end = engine.budgetReached() {
            // A budget (steps, time, tokens, cost; per turn) ends the turn, as in the other agents.
            strongUI.showError("stopped: \(end.sentence); send a message to go on")
            engine.ended(by: end, conclusive: options.prompt != nil)
            if options.prompt != nil { finish(CoderAgent.limitStatus) } else { idle() }
            return
        }
        engine.spend.steps += 1
        setState("thinking")
        let tools = availableTools
        let system = systemPrompt
        let messages = session.messages
        var streamed = false
        engine.ask({ limits in limits.conversation(system: system, messages: messages, tools: tools) }, onText: { [weak self] t in
            streamed = true
            self?.strongUI.showAssistantDelta(t)
        }, onDiscard: { [weak self] in
            if streamed { self?.strongUI.assistantAnswerEnded() }
            streamed = false
        }, completion: { [weak self] result in
            guard let self else { return }
            if streamed { self.strongUI.assistantAnswerEnded() }
            self.answered(result)
        })
    }

    /// Exit status of a one-shot prompt a budget ended (as the code executor's).
    public static let limitStatus: Int32 = 3

    private func answered(_ result: Result<ModelEngine.Answer, ModelEngine.Failure>) {
        guard !exited else { return }
        session.turnSpend = engine.spendNow
        switch result {
        case .failure(.cancelled):
            if session.messages.last?.role == .user { pendingNote = Self.interruptedAnswer }
            strongUI.showNotice("interrupted")
            idleOrExit(failed: true)
        case .failure(let failure):
            if interrupted {
                if session.messages.last?.role == .user { pendingNote = Self.interruptedAnswer }
                strongUI.showNotice("interrupted")
                idleOrExit(failed: true)
                return
            }
            // An interactive coder never exits because the model failed: it says so and waits.
            strongUI.showError("model request failed: \(failure.text)")
            save()
            idleOrExit(failed: true)
        case .success(let answer):
            let reply = answer.reply
            let u = reply.response.usage
            session.usage += u
            session.costUSD += reply.cost ?? 0
            var message = reply.response.message
            message.content = message.content.filter { if case .text(let t) = $0 { return !t.isEmpty } else { return true } }
            let cut = reply.response.cutToolCall
            if message.content.isEmpty { message.content = [.text(cut == nil ? "(no answer)" : "(cut off at max_tokens)")] }
            session.messages.append(message)
            engine.replied(step: engine.spend.steps, text: message.text)
            save()
            let uses = message.toolUses
            // A tool call cut off at max_tokens cannot run; without a word the model repeats it
            // as it was. It is told, after the results of the calls that did run, and the turn
            // goes on (each such round is a step of the turn's limit).
            var cutNote: String?
            if let cut {
                cutNote = AgentNote.make("your call to \(cut) was cut off at max_tokens (\(answer.maxTokens)) and was not run. "
                    + "Make the change in smaller pieces: for example write the first part of the file and add the rest with Edit, "
                    + "or make several smaller Edit calls")
                let text = "the call to \(cut) was cut off at max_tokens (\(answer.maxTokens)) and was not run; the model is asked for smaller pieces"
                strongUI.showNotice(text)
                events.message(text)
                if uses.isEmpty {
                    append(Message(role: .user, content: [.text(cutNote!)]))
                    save()
                    request()
                    return
                }
            }
            if uses.isEmpty && answer.cut {
                // A reply cut at max_tokens is never the final answer (as in the other agents):
                // the model is told and goes on; each such round is a step of the turn's limit.
                strongUI.showNotice("the answer was cut off at max_tokens (\(answer.maxTokens)); the model is asked to continue")
                append(Message(role: .user, content: [.text(AgentNote.make("your answer was cut off at max_tokens (\(answer.maxTokens)), "
                    + "so it is not taken as your final answer. Continue from where you were cut off, or give a shorter answer"))]))
                save()
                request()
                return
            }
            if uses.isEmpty {
                let text = message.text
                if !text.isEmpty { events.message(String(text.prefix(4000))) }
                runStopHook { [self] in idleOrExit(failed: false) }
                return
            }
            runTools(uses.map { ToolCallInfo(id: $0.id, name: $0.name, summary: tools[$0.name]?.summary($0.input) ?? "", input: $0.input) },
                     note: cutNote)
        }
    }

    private func idleOrExit(failed: Bool) {
        if let intent = turnIntent {
            turnIntent = nil
            options.turnEnded?(intent)
        }
        if options.prompt != nil {
            if failed { finish(1) } else { idle() }
        } else {
            idle()
        }
    }

    // MARK: Tools

    /// Consecutive read-only calls form one group that runs concurrently; any other call is a
    /// group of its own. Groups run in order; results go back in the order of the calls.
    static func groups(_ calls: [ToolCallInfo], readOnly: (String) -> Bool) -> [[Int]] {
        var out: [[Int]] = []
        for (i, c) in calls.enumerated() {
            if readOnly(c.name), let last = out.last, let j = last.first, readOnly(calls[j].name) {
                out[out.count - 1].append(i)
            } else {
                out.append([i])
            }
        }
        return out
    }

    /// Runs the calls; `note` goes to the model after their results.
    private func runTools(_ calls: [ToolCallInfo], note: String? = nil) {
        var results = [ToolOutput?](repeating: nil, count: calls.count)
        /// Calls the person was asked about: they saw the change then.
        var asked = Set<Int>()
        let groups = Self.groups(calls) { [tools] in tools[$0]?.isReadOnly ?? false }
        var groupIndex = 0

        func nextGroup() {
            guard !exited else { return }
            if interrupted {
                for i in results.indices where results[i] == nil { results[i] = .error(Self.interruptedBeforeRun) }
            }
            guard groupIndex < groups.count, !interrupted else { allDone(); return }
            let group = groups[groupIndex]
            groupIndex += 1
            permitted(group) { allowed in
                var pending = allowed.count
                if pending == 0 { nextGroup(); return }
                self.setState("running_tool")
                for i in allowed {
                    self.execute(calls[i], showChange: !asked.contains(i)) { output in
                        results[i] = output
                        pending -= 1
                        if pending == 0 { nextGroup() }
                    }
                }
            }
        }

        /// Decides each call of a group in turn (asking the person when needed); calls refused
        /// get their result now.
        func permitted(_ group: [Int], _ done: @escaping ([Int]) -> Void) {
            var allowed: [Int] = []
            var rest = group[...]
            func step() {
                guard !exited else { return }
                guard let i = rest.popFirst() else { done(allowed); return }
                let c = calls[i]
                guard tools[c.name] != nil else {
                    results[i] = .error("unknown tool \(c.name); the tools are \(toolOrder.joined(separator: ", "))")
                    step(); return
                }
                switch policy.decide(c.name) {
                case .allow: allowed.append(i); step()
                case .deny(let why):
                    results[i] = .error(why)
                    events.tool(c.name, phase: "denied")
                    step()
                case .ask:
                    setState("waiting")
                    asked.insert(i)
                    let diff = tools[c.name]?.preview(c.input, context: context) ?? []
                    questions += 1
                    // The provider's call id names the question when it can travel in a reply line.
                    let question = PermissionReply.isID(c.id) ? c.id : "ask-\(questions)"
                    events.emit(.permission(id: question, tool: c.name, summary: c.summary,
                                            diff: diff.isEmpty ? nil : diff.joined(separator: "\n"), choices: PermissionChoice.all, truncated: false))
                    asker.askPermission(id: question, tool: c.name, summary: c.summary, diff: diff) { [self] answer in
                        events.emit(.permissionAnswer(id: question, tool: c.name, answer: answer.choice))
                        switch answer {
                        case .yes: allowed.append(i)
                        case .always:
                            if !session.alwaysAllowed.contains(c.name) { session.alwaysAllowed.append(c.name) }
                            allowed.append(i)
                        case .no:
                            results[i] = .error("The person did not allow this \(c.name) call. Do not try it again; ask them or do something else.")
                            events.tool(c.name, phase: "denied")
                            strongUI.showToolResult(c, results[i]!)
                        }
                        step()
                    }
                }
            }
            step()
        }

        func allDone() {
            var blocks = calls.indices.map { i -> ContentBlock in
                let o = results[i] ?? .error("not run")
                let content = clip(o.content)
                engine.toolReturned(id: calls[i].id, name: calls[i].name, output: content, isError: o.isError)
                return .toolResult(toolUseId: calls[i].id, content: content, isError: o.isError)
            }
            if let note { blocks.append(.text(note)) }
            session.messages.append(Message(role: .user, content: blocks))
            save()
            if interrupted {
                strongUI.showNotice("interrupted")
                idleOrExit(failed: true)
            } else {
                request()
            }
        }

        nextGroup()
    }

    private func clip(_ s: String) -> String {
        guard s.count > options.maxToolResult else { return s }
        let half = options.maxToolResult / 2
        return String(s.prefix(half)) + "\n[... \(s.count - 2 * half) characters left out ...]\n" + String(s.suffix(half))
    }

    /// One permitted call: pre-hook, the tool, post-hook. `showChange`: show what it changed
    /// (its preview, taken just before it runs) after its result.
    private func execute(_ c: ToolCallInfo, showChange: Bool, completion: @escaping (ToolOutput) -> Void) {
        guard let tool = tools[c.name] else { completion(.error("unknown tool \(c.name)")); return }
        strongUI.showToolStart(c)
        engine.toolCalled(id: c.id, name: c.name, input: c.input)
        events.tool(c.name, phase: "start")
        if c.name == "Bash", let cmd = c.input["command"]?.stringValue { events.command(cmd) }
        let hookEnv = ["TOOL_NAME": c.name, "TOOL_INPUT": c.input.serialized()]
        runHook(options.hooks.preTool, environment: hookEnv) { [self] blocked in
            if let blocked {
                let o = ToolOutput.error("blocked by the pre-tool hook: \(blocked)")
                events.tool(c.name, phase: "error")
                strongUI.showToolResult(c, o)
                completion(o)
                return
            }
            if interrupted {
                // Esc while the pre-hook ran: the call does not start.
                let o = ToolOutput.error(Self.interruptedBeforeRun)
                events.tool(c.name, phase: "error")
                strongUI.showToolResult(c, o)
                completion(o)
                return
            }
            let change = showChange ? tool.preview(c.input, context: context) : nil
            tool.run(c.input, context: context) { [self] output in
                guard !exited else { return }
                var output = output
                if interrupted {
                    // Otherwise the model sees only e.g. "[signal 9 (Killed)]" and takes it for a crash.
                    output = ToolOutput(output.content + (output.content.isEmpty || output.content.hasSuffix("\n") ? "" : "\n")
                                        + Self.interruptedWhileRunning, isError: true)
                }
                events.tool(c.name, phase: output.isError ? "error" : "end")
                strongUI.showToolResult(c, output)
                if let change, !output.isError { strongUI.showChange(c, change) }
                var env = hookEnv
                env["TOOL_OUTPUT"] = String(output.content.prefix(100_000))
                env["TOOL_IS_ERROR"] = output.isError ? "1" : "0"
                runHook(options.hooks.postTool, environment: env) { _ in completion(output) }
            }
        }
    }

    /// What `/help` shows.
    public static let help = """
        Type a message and press Enter; the model answers and uses its tools (Bash, Read, Write, Edit, Glob, Grep, WebFetch).
        /help      this help
        /exit      quit (also /quit, Ctrl-D)
        Esc or Ctrl-C interrupts the answer or the running tool; the session is saved after every step
        (resume it with `supervisor agent coder --resume ID`, see `supervisor sessions list`).
        """

    static let interruptedBeforeRun = "The person interrupted the agent (Esc or Ctrl-C) before this call ran; it was not run. "
        + "Do not run it again unless they ask; wait for what they say next."
    static let interruptedWhileRunning = "[The person interrupted the agent (Esc or Ctrl-C) while this call was running: it was "
        + "stopped, so it may not have finished and its output may be incomplete. Do not run it again unless they ask; wait "
        + "for what they say next.]"
    static let interruptedAnswer = AgentNote.make("the person interrupted your previous answer (Esc or Ctrl-C) before it "
        + "was complete; it was discarded")

    /// Runs a hook; calls back with nil when it passed (or there is none), else its output.
    private func runHook(_ command: String?, environment: [String: String], _ done: @escaping (String?) -> Void) {
        guard let command, !command.isEmpty else { done(nil); return }
        let env = environment
        var finished = false
        BoxCommand(loop: context.loop, box: context.box, shellCommand: command, timeout: 60, outputLimit: 8000, environment: env) { r in
            guard !finished else { return }
            finished = true
            done(r.exit == .exited(0) ? nil : (r.output.isEmpty ? r.statusText : r.output))
        }
    }

    private func runStopHook(_ then: @escaping () -> Void) {
        runHook(options.hooks.stop, environment: ["LAST_MESSAGE": String((session.messages.last?.text ?? "").prefix(100_000))]) { _ in then() }
    }

    // MARK: Ending

    /// Ctrl-C: stops the model request or the running commands; the person gets the input back.
    public func interrupt() {
        guard !exited else { return }
        interrupted = true
        engine.cancel()
        context.stopAll()
    }

    /// The person is done (quit key, /exit): the session is finished and not resumed.
    public func quit() {
        guard !exited else { return }
        engine.cancel()
        context.stopAll()
        session.finished = true
        save()
        finish(0)
    }

    /// SIGTERM/SIGHUP: kill commands, keep the session (not finished: a restart resumes it).
    public func terminate(status: Int32 = 143) {
        guard !exited else { return }
        engine.cancel()
        context.stopAll()
        save()
        finish(status)
    }

    private func finish(_ code: Int32) {
        guard !exited else { return }
        exited = true
        setState(code == 0 ? "idle" : "error")
        onExit?(code)
    }

    private func save() {
        session.updated = SessionStore.timestamp()
        session.turnSpend = engine.spendNow
        session.model = currentModel
        guard let store else { return }
        do { try store.save(session) } catch { strongUI.showError("cannot save the session: \(error)") }
    }
}
