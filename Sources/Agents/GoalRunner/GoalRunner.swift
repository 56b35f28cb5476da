import Foundation
import Glibc
import Hosting
import LLM
import LLMClient
import Loop
import Profile

/// What a goal run needs beyond the agent's profile entry.
public struct GoalRunnerOptions {
    /// Tokens a request may take (system + history + answer); ~4 characters a token.
    public var contextBudget = 16_000
    /// How deep chunk summaries may nest (summaries of summaries).
    public var summaryDepth = 3
    public var shell = ShellSessionOptions()
    /// Seconds the done_when check may take.
    public var checkTimeout: Double = 120
    /// Keep the shell (and its background jobs) after the goal is reached, until the agent is
    /// stopped (`--stay`, `SUPERVISOR_GOAL_STAY=1`); the profile's `stay` key does the same.
    public var stay = false
    /// Attempts in a row to start a shell before the run ends (the box is gone).
    public var shellStartAttempts = 2
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    public init() {}

    /// The goal runner's model defaults (temperature 0, 200-token answers; see `LiveSettings`).
    public static func applyModelDefaults(_ s: inout LLMSettings) { LiveSettings.applyModelDefaults(kind: .goal, &s) }
}

/// How a goal run ended.
public struct GoalResult: Equatable {
    public var reached: Bool
    /// "reached", "limit", "time budget", "token budget", "cost budget", "gave up", "model error", ...
    public var reason: String
    public var detail: String
    public var exitStatus: Int32 { reached ? 0 : 1 }
    /// Running the goal again would only repeat this end (a limit, a budget, the model gave up),
    /// unlike a model error or a box that died, which a restart may get past (and resumes: the
    /// history of such a run stays unfinished).
    public var isConclusive: Bool { ["limit", "time budget", "token budget", "cost budget", "gave up", "no command"].contains(reason) }
}

/// What a person sees: the line mode or the split view.
public protocol GoalView: AnyObject {
    func started(goal: String, box: String, resumedSteps: Int)
    func thinking(step: Int, limit: Int)
    func command(step: Int, limit: Int, command: String, rules: [String])
    /// Terminal text (sentinels removed) as it arrives.
    func terminal(_ text: String)
    /// What the model will see of this step.
    func outcome(_ step: GoalStep, shown: String)
    func usage(history: GoalHistory, limit: Int)
    func note(_ text: String)
    func finished(_ result: GoalResult, summary: String)
    func close()
}

/// The goal loop: goal + history to the model, one command back, sanitized, run in the shell
/// session, output cleaned, pair recorded; until DONE (confirmed by done_when when set), the
/// done_when check passes, or a limit or budget ends it.
public final class GoalRunner: EngineView {
    public let config: AgentLaunchConfig
    public let options: GoalRunnerOptions
    public let loop: EventLoop
    public let box: Box
    public let events: AgentEvents
    public var view: GoalView?
    public private(set) var history: GoalHistory
    public private(set) var result: GoalResult?
    /// The goal was reached and the shell stays (with its background jobs) until the agent is
    /// stopped (`stay`).
    public private(set) var staying = false
    /// While staying: the shell ended by itself (killed, or its box died); the reason.
    public var onStayEnded: ((String) -> Void)?

    /// The model side (settings, fitting, retries, accounting, budgets), shared with the other agents.
    public let engine: ModelEngine
    private let session: ShellSession
    private let historyPath: String
    private let terminalLogPath: String
    private var terminalLog: FileHandle?
    private var isRoot = false
    private let budgetTimer: LoopTimer
    private var completion: ((GoalResult) -> Void)?
    private var emptyAnswers = 0
    private var stopping = false
    /// Failed shell starts in a row.
    private var shellStartFailures = 0
    /// A command runs in the shell (the time budget interrupts it).
    private var commandRunning = false
    /// The time budget ran out while a command ran: the run ends with this once it stopped.
    private var budgetEnd: GoalResult?

    public init(config: AgentLaunchConfig, loop: EventLoop, box: Box, options: GoalRunnerOptions = GoalRunnerOptions(),
                events: AgentEvents) throws {
        self.config = config
        self.options = options
        self.loop = loop
        self.box = box
        self.events = events
        let agent = config.currentAgent()
        guard let goal = agent.goal, !goal.isEmpty else { throw HostingError("agent \"\(agent.name)\": no goal given") }
        try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: config.logsDir, withIntermediateDirectories: true)
        let debugFile = (agent.debug || agent.llm.debug) ? config.logPrefix + ".debug.jsonl" : nil
        var launch = config
        launch.agent.kind = .goal
        engine = try ModelEngine.make(launch: launch, loop: loop, environment: options.environment, debugFile: debugFile, events: events)
        historyPath = config.stateDir + "/goal-history.json"
        terminalLogPath = config.logPrefix + ".terminal.log"
        session = ShellSession(loop: loop, box: box, options: options.shell)
        budgetTimer = LoopTimer(loop: loop)

        // Resume the recorded run of the same goal, unless it had finished.
        if var previous = GoalHistory.load(path: historyPath), previous.goal == goal, previous.finished == nil {
            previous.restarts += 1
            let note = "the agent was restarted here: a new shell started in \(previous.cwd ?? box.boxWorkspace); background jobs started before are no longer running"
            // A command the agent was stopped in: it ran (or began), its output is not known.
            if let running = previous.running {
                previous.steps.append(GoalStep(n: running.n, answer: running.answer, command: running.command, rules: running.rules,
                                               status: .interrupted("the agent was stopped while it ran; whether it finished and what it printed is not known"),
                                               output: "", duration: 0, cwd: previous.cwd))
                previous.running = nil
            }
            if previous.steps.isEmpty { previous.notes.append(note) } else { previous.steps[previous.steps.count - 1].notes.append(note) }
            history = previous
        } else {
            if FileManager.default.fileExists(atPath: historyPath) {
                try? FileManager.default.removeItem(atPath: config.stateDir + "/goal-history.previous.json")
                try? FileManager.default.moveItem(atPath: historyPath, toPath: config.stateDir + "/goal-history.previous.json")
            }
            history = GoalHistory(goal: goal)
            history.started = SessionStore.timestamp()
        }
    }

    private var agent: AgentSpec { config.currentAgent() }

    private var prompt: GoalPrompt { prompt(engine.limits) }

    /// The prompt within the engine's limits: the goal's own budget (small requests are cheap
    /// and keep the model on the recent steps), never more than the model's window, nor more
    /// than a refused request taught (`limits.cap`, tokens of the message).
    private func prompt(_ limits: ModelEngine.Limits) -> GoalPrompt {
        let a = agent
        var p = GoalPrompt(goal: history.goal, boxDescription: box.description, mode: a.contextMode, limit: a.limit,
                           contextBudget: min(options.contextBudget, limits.window), answerTokens: limits.maxTokens, doneWhen: a.doneWhen)
        if let cap = limits.cap {
            p.contextBudget = min(p.contextBudget, cap + GoalPrompt.estimateTokens(p.system) + limits.maxTokens + 20)
        }
        return p
    }

    /// What one request sends: `message` made for the prompt within the limits.
    private func prepared(_ limits: ModelEngine.Limits, summary: Bool = false, message: (GoalPrompt) -> String) -> ModelEngine.Prepared {
        let p = prompt(limits)
        let m = message(p)
        return ModelEngine.Prepared(system: summary ? p.summarySystem : p.system, messages: [.user(m)], tokens: GoalPrompt.estimateTokens(m))
    }

    /// What the engine says (a retry, a smaller request) is a note in the view; its events came
    /// from the engine, the same in every agent.
    public func engineNotice(_ text: String) { view?.note(text) }

    // MARK: Running

    /// The one line a person sees at start (`supervisor agent goal` by hand).
    public var startHint: String { engine.startHint("one shell command at a time until the goal is reached; Ctrl-C stops") }

    /// Starts the run; `completion` gets the result once (the shell is closed by then unless
    /// `stay`).
    public func start(completion: @escaping (GoalResult) -> Void) {
        self.completion = completion
        engine.view = self
        engine.contextCap = history.contextCap
        engine.onContextCapChange = { [weak self] cap in
            self?.history.contextCap = cap
            self?.persist()
        }
        // The run's budgets count what earlier processes of it spent.
        engine.beginScope(history.spend)
        if history.steps.isEmpty && history.restarts == 0 { engine.userSaid(history.goal, source: .task) }
        terminalLog = openAppending(terminalLogPath)
        let resumed = history.steps.count
        view?.started(goal: history.goal, box: box.description, resumedSteps: resumed)
        if resumed > 0 || history.restarts > 0 { logTerminal("=== resumed after a restart with \(resumed) recorded steps\n") }
        events.state("waiting")
        session.onDisplay = { [weak self] text in self?.view?.terminal(text) }
        if let t = agent.timeBudget {
            let remaining = t - history.elapsedBefore
            if remaining <= 0 { finish(GoalResult(reached: false, reason: "time budget", detail: "the time budget of \(GoalRunner.seconds(t))s is used up")); return }
            budgetTimer.start(seconds: remaining) { [weak self] in self?.timeBudgetExpired() } // the time budget ends the run
        }
        // Root or not decides the sudo rule; asked in the box itself. A box with its own processes
        // (this agent's container) first loses shells an earlier, killed run of the agent left.
        let ask = session.usesInBoxProcesses ? ShellSession.inBoxReapScript + "\nid -u" : "id -u"
        BoxCommand(loop: loop, box: box, shellCommand: ask, timeout: 20) { [weak self] r in
            guard let self else { return }
            self.isRoot = r.output.split(whereSeparator: \.isNewline).last.map { $0.trimmingCharacters(in: .whitespaces) } == "0"
            self.ensureShell { [weak self] in self?.nextStep() }
        }
    }

    /// Starts a shell when none runs (at the start, and after the shell ended): in the recorded
    /// directory, then (it may be gone) in the workspace. When `shellStartAttempts` starts in a row
    /// fail, the box is gone (a container that died): the run ends with "no shell" and a non-zero
    /// status, unfinished, so that the agent's restart (whose start makes the container again)
    /// resumes it. `restarted` is told a new shell replaced one that ended.
    private func ensureShell(restarted: ((String) -> Void)? = nil, then: @escaping () -> Void) {
        guard result == nil else { return }
        if session.isRunning { then(); return }
        session.endLeftovers() // the jobs of a shell that ended go with it
        let directory = shellStartFailures == 0 ? history.cwd : nil
        session.start(directory: directory) { [weak self] error in
            guard let self, self.result == nil else { return }
            if let error {
                self.shellStartFailures += 1
                let text = "\(error)"
                if self.shellStartFailures >= max(1, self.options.shellStartAttempts) {
                    self.finish(GoalResult(reached: false, reason: "no shell",
                                           detail: "no shell could be started in \(self.box.description) (\(self.shellStartFailures) attempts in a row; last: \(text)); the box seems to be gone"),
                                recordFinished: false)
                    return
                }
                self.view?.note("cannot start a shell (\(text)); trying again in \(self.box.boxWorkspace)")
                self.ensureShell(restarted: restarted, then: then)
                return
            }
            let startedIn = directory ?? self.box.boxWorkspace
            if directory == nil && self.history.cwd != nil { self.history.cwd = nil }
            self.shellStartFailures = 0
            restarted?(startedIn)
            then()
        }
    }

    /// Stops the run (a signal): the result is "stopped", the history stays for a resume.
    public func stop(reason: String) {
        guard result == nil else { return }
        engine.cancel()
        finish(GoalResult(reached: false, reason: "stopped", detail: reason), recordFinished: false)
    }

    /// "3", "1.5" (seconds in messages).
    static func seconds(_ t: Double) -> String { t == t.rounded() && abs(t) < 1e15 ? "\(Int(t))" : String(format: "%g", t) }

    private var elapsed: Double { engine.elapsed }

    /// The engine's budget check (steps are commands here), as a goal result.
    private func budgetExceeded() -> GoalResult? {
        engine.spend.steps = history.steps.count
        guard let end = engine.budgetReached() else { return nil }
        let a = agent
        switch end.kind {
        case .steps: return GoalResult(reached: false, reason: "limit", detail: "the limit of \(a.limit) commands was reached")
        case .time: return GoalResult(reached: false, reason: "time budget", detail: "the time budget of \(GoalRunner.seconds(a.timeBudget ?? 0))s is used up")
        case .tokens: return GoalResult(reached: false, reason: "token budget", detail: "\(history.totalTokens) tokens used, budget \(a.tokenBudget ?? 0)")
        case .cost: return GoalResult(reached: false, reason: "cost budget", detail: String(format: "$%.4f spent, budget $%.4f", history.costUSD ?? 0, a.costBudget ?? 0))
        }
    }

    /// The time budget ran out: a running command is interrupted (as one that cannot be moved
    /// to the background) and the run ends once it stopped; anything else ends at once.
    private func timeBudgetExpired() {
        guard result == nil, budgetEnd == nil else { return }
        let t = agent.timeBudget ?? 0
        let end = GoalResult(reached: false, reason: "time budget", detail: "the time budget of \(GoalRunner.seconds(t))s is used up")
        if commandRunning && session.isBusy {
            budgetEnd = end
            view?.note("the time budget of \(GoalRunner.seconds(t))s is used up: interrupting the command")
            // False: it is already being interrupted or moved to the background, and reports soon.
            session.interruptCommand(reason: "the time budget of \(GoalRunner.seconds(t))s ran out")
            return
        }
        engine.cancel()
        finish(end)
    }

    private func nextStep() {
        guard result == nil else { return }
        if let over = budgetExceeded() { finish(over); return }
        let a = agent
        let p = prompt
        let n = history.steps.count + 1
        events.state("thinking")
        events.step(n, limit: a.limit)
        view?.thinking(step: n, limit: a.limit)
        // Full mode: summarize outputs that do not fit, oldest first.
        let summarize = p.stepsToSummarize(history: history, summaryTokens: 120)
        if let i = summarize.first {
            summarizeStep(i, prompt: p) { [weak self] in self?.nextStep() }
            return
        }
        ask(prompt: p, step: n)
    }

    private func ask(prompt p: GoalPrompt, step n: Int) {
        let history = self.history
        engine.ask({ [weak self] limits in
            self?.prepared(limits) { $0.fittedMessage(history: history) } ?? ModelEngine.Prepared(system: nil, messages: [])
        }, completion: { [weak self] result in
            guard let self, self.result == nil else { return }
            switch result {
            case .failure(let failure):
                // Not conclusive: the history stays unfinished, so a restart resumes the run.
                self.finish(GoalResult(reached: false, reason: "model error", detail: failure.text), recordFinished: false)
            case .success(let answer):
                self.account(answer.reply)
                self.engine.replied(step: n, text: answer.text)
                self.answered(answer.text, step: n, cutOff: answer.cut)
            }
        })
    }

    /// The history's totals (what `summaryText` and the view show); the engine counted the
    /// same reply against the budgets.
    private func account(_ reply: LLMReply) {
        let u = reply.metrics.usage
        history.inputTokens += u.input
        history.outputTokens += u.output
        history.cacheReadTokens += u.cacheRead
        history.cacheWriteTokens += u.cacheWrite
        history.requests += 1
        if let c = reply.cost { history.costUSD = (history.costUSD ?? 0) + c }
        view?.usage(history: history, limit: agent.limit)
    }

    /// `cutOff`: the answer stopped at max_tokens (a command in it may be half-written).
    private func answered(_ answer: String, step n: Int, cutOff: Bool = false) {
        switch CommandSanitizer.sanitize(answer, isRoot: isRoot) {
        case .done(let reason):
            confirmDone(reason: reason)
        case .giveUp(let reason):
            finish(GoalResult(reached: false, reason: "gave up", detail: reason))
        case .empty:
            emptyAnswers += 1
            let note = "your previous answer had no command in it: \(answer.prefix(200))"
            view?.note(note)
            if emptyAnswers >= 3 { finish(GoalResult(reached: false, reason: "no command", detail: "the model answered without a command 3 times")); return }
            addNote(note)
            nextStep()
        case .command(let command, let rules):
            emptyAnswers = 0
            // A command from a closed code block is whole even when prose after it was cut.
            if cutOff && !CommandSanitizer.hasClosedFencedBlock(answer) {
                recordCutOff(command, rules: rules, answer: answer, step: n)
                return
            }
            runCommand(command, rules: rules, answer: answer, step: n)
        }
    }

    /// An answer that stopped at max_tokens is not run (half a heredoc would write half a
    /// file): the step is recorded as cut off, and its status tells the model to be shorter.
    private func recordCutOff(_ command: String, rules: [String], answer: String, step n: Int) {
        var s = agent.llm
        GoalRunnerOptions.applyModelDefaults(&s)
        let step = GoalStep(n: n, answer: answer, command: command, rules: rules, status: .cutOff(maxTokens: s.maxTokens),
                            output: "", duration: 0, cwd: history.cwd)
        history.steps.append(step)
        persist()
        view?.note("the answer was cut off at max_tokens (\(s.maxTokens) tokens); its command was not run")
        let shown = prompt.outcome(step, outputShown: .natural)
        logTerminal("=== step \(n)/\(agent.limit)\n" + shown + "\n")
        view?.outcome(step, shown: shown)
        nextStep()
    }

    private func addNote(_ note: String) {
        if history.steps.isEmpty { history.notes.append(note) } else { history.steps[history.steps.count - 1].notes.append(note) }
        persist()
    }

    private func runCommand(_ command: String, rules: [String], answer: String, step n: Int) {
        let limit = agent.limit
        // Recorded before it runs: a restart then knows it ran (and was interrupted).
        history.running = GoalHistory.Running(n: n, answer: answer, command: command, rules: rules)
        persist()
        engine.commandRuns(command)
        events.state("running_tool")
        view?.command(step: n, limit: limit, command: command, rules: rules)
        commandRunning = true
        ensureShell(restarted: { [weak self] dir in self?.shellRestarted(in: dir) }) { [weak self] in
            self?.runInShell(command, rules: rules, answer: answer, step: n)
        }
    }

    /// Tells the model (a note on the last step) that its shell is new.
    private func shellRestarted(in directory: String) {
        let note = "the shell had ended, so a new shell was started in \(directory): variables, functions and background jobs of the old shell are gone"
        view?.note(note)
        addNote(note)
    }

    private func runInShell(_ command: String, rules: [String], answer: String, step n: Int) {
        let limit = agent.limit
        session.run(command) { [weak self] outcome in
            guard let self else { return }
            self.commandRunning = false
            guard self.result == nil || self.stopping else { return }
            let step = GoalStep(n: n, answer: answer, command: command, rules: rules, status: outcome.status,
                                output: outcome.output, duration: outcome.duration, cwd: outcome.cwd)
            self.history.steps.append(step)
            self.history.running = nil
            var exitCode: Int?
            if case .exited(let code) = outcome.status { exitCode = code }
            self.engine.commandPrinted(outcome.output, exitCode: exitCode)
            if let cwd = outcome.cwd { self.history.cwd = cwd }
            self.persist()
            let shown = self.prompt.outcome(step, outputShown: .natural)
            self.logTerminal("=== step \(n)/\(limit)\n" + shown + "\n")
            self.view?.outcome(step, shown: shown)
            guard self.result == nil else { return }
            if let end = self.budgetEnd { self.finish(end); return }
            self.checkDoneWhen { [weak self] passed, _ in
                guard let self else { return }
                if passed {
                    self.finish(GoalResult(reached: true, reason: "reached", detail: "the done_when check passed after step \(n)"))
                } else {
                    // The shell ended (killed, or its box died): a new one before the model is asked.
                    self.ensureShell(restarted: { [weak self] dir in self?.shellRestarted(in: dir) }) { [weak self] in self?.nextStep() }
                }
            }
        }
    }

    /// Runs done_when in the box (when set); `passed` is false without a check.
    private func checkDoneWhen(_ completion: @escaping (Bool, CommandResult?) -> Void) {
        guard let check = agent.doneWhen, !check.isEmpty else { completion(false, nil); return }
        events.state("running_tool")
        BoxCommand(loop: loop, box: box, shellCommand: check, timeout: options.checkTimeout, outputLimit: 4000) { r in
            completion(r.exit == .exited(0) && !r.timedOut, r)
        }
    }

    private func confirmDone(reason: String) {
        guard agent.doneWhen != nil else {
            finish(GoalResult(reached: true, reason: "reached", detail: reason.isEmpty ? "the model says the goal is reached" : reason))
            return
        }
        checkDoneWhen { [weak self] passed, r in
            guard let self else { return }
            if passed {
                self.finish(GoalResult(reached: true, reason: "reached", detail: (reason.isEmpty ? "" : reason + "; ") + "the done_when check passed"))
            } else {
                let output = OutputCleaner.lastLines(OutputCleaner.clean(r?.output ?? ""), 10)
                let note = "you answered DONE, but the check `\(self.agent.doneWhen ?? "")` failed (\(r?.statusText ?? "not run"))" + (output.isEmpty ? "" : ":\n" + output)
                self.view?.note(note)
                self.addNote(note)
                self.nextStep()
            }
        }
    }

    // MARK: Summaries (full context mode)

    private func summarizeStep(_ index: Int, prompt p: GoalPrompt, then: @escaping () -> Void) {
        let step = history.steps[index]
        view?.note("summarizing the output of step \(step.n) (\(step.output.utf8.count) characters) to fit the context")
        summarize(step.output, command: step.command, prompt: p, depth: 1) { [weak self] summary in
            guard let self, self.result == nil else { return }
            self.history.steps[index].summary = summary
            self.persist()
            then()
        }
    }

    /// Summarizes `text`: one request when it fits a chunk, else each chunk and then (up to
    /// `summaryDepth` levels) the joined chunk summaries; what is still too long is cut.
    private func summarize(_ text: String, command: String, prompt p: GoalPrompt, depth: Int, completion: @escaping (String) -> Void) {
        let size = p.chunkCharacters
        let chunks = GoalPrompt.chunks(text, size: size)
        var summaries: [String] = []
        func next() {
            guard result == nil else { return }
            if summaries.count == chunks.count {
                let joined = summaries.joined(separator: "\n")
                if joined.count > size && depth < options.summaryDepth && chunks.count > 1 {
                    summarize(joined, command: command, prompt: p, depth: depth + 1, completion: completion)
                } else if joined.count > size {
                    completion(String(joined.prefix(size / 2)) + "\n[...]\n" + String(joined.suffix(size / 2)))
                } else {
                    completion(joined)
                }
                return
            }
            let i = summaries.count
            let message = p.summaryMessage(command: command, part: i + 1, of: chunks.count, text: chunks[i])
            events.state("thinking")
            engine.ask({ [weak self] limits in
                self?.prepared(limits, summary: true) { _ in message } ?? ModelEngine.Prepared(system: nil, messages: [])
            }, completion: { [weak self] r in
                guard let self, self.result == nil else { return }
                switch r {
                case .failure(let failure):
                    self.finish(GoalResult(reached: false, reason: "model error", detail: "summarizing: \(failure.text)"), recordFinished: false)
                case .success(let answer):
                    self.account(answer.reply)
                    summaries.append(answer.text.trimmingCharacters(in: .whitespacesAndNewlines))
                    if let over = self.budgetExceeded(), over.reason != "limit" { self.finish(over); return }
                    next()
                }
            })
        }
        next()
    }

    // MARK: Ending

    private func finish(_ r: GoalResult, recordFinished: Bool = true) {
        guard result == nil else { return }
        result = r
        budgetTimer.stop()
        engine.cancel()
        history.elapsedBefore = elapsed
        if recordFinished {
            history.finished = r.reason
            history.reached = r.reached
        }
        persist()
        autocommitTurn(spec: agent, intent: agent.goal ?? "", events: events) // `autocommit`: the run's changes, one commit
        staying = r.reached && (options.stay || agent.stay) && session.isRunning
        var summary = summaryText(r)
        if staying {
            summary += "Staying: the goal was reached; the shell and its background jobs keep running until the agent is stopped.\n"
        }
        logTerminal("=== " + summary + "\n")
        events.message(summary)
        if recordFinished && !r.reached && r.isConclusive { events.final(reason: "\(r.reason): \(r.detail)") }
        events.state(staying ? "staying" : "idle")
        view?.finished(r, summary: summary)
        if staying {
            session.onEnded = { [weak self] why in
                guard let self, self.staying else { return }
                self.staying = false
                self.session.endLeftovers()
                let text = "The shell ended while staying (\(why)); its background jobs are gone."
                self.logTerminal("=== " + text + "\n")
                self.events.message(text)
                self.events.state("idle")
                self.view?.note(text)
                self.onStayEnded?(why)
            }
        } else {
            session.close()
        }
        let c = completion
        completion = nil
        c?(r)
    }

    public func summaryText(_ r: GoalResult) -> String {
        var s = r.reached ? "Goal reached" : "Goal not reached (\(r.reason))"
        s += ": \(r.detail)\n"
        s += "\(history.steps.count) commands, \(history.requests) model requests, \(history.inputTokens + history.cacheReadTokens + history.cacheWriteTokens) input + \(history.outputTokens) output tokens"
        if let c = history.costUSD { s += String(format: ", $%.4f", c) }
        s += String(format: ", %.1fs", history.elapsedBefore)
        if history.restarts > 0 { s += ", \(history.restarts) restart(s)" }
        s += "\n"
        for step in history.steps {
            let firstLine = step.command.split(separator: "\n").first.map(String.init) ?? ""
            s += "  \(step.n). \(firstLine)\(step.command.contains("\n") ? " ..." : "") -> \(shortStatus(step.status))\n"
        }
        return s
    }

    private func shortStatus(_ s: ShellStatus) -> String {
        switch s {
        case .exited(let c): return "exit \(c)"
        case .stillRunning(_, _, let interrupted): return interrupted ? "still running, interrupted" : "still running (background)"
        case .waitingForInput: return "waited for input, interrupted"
        case .shellExited: return "shell ended"
        case .interrupted: return "interrupted"
        case .cutOff: return "cut off at max_tokens, not run"
        }
    }

    /// Frees everything (after the completion ran, or to abandon the run).
    public func close() {
        budgetTimer.close()
        session.close()
        engine.close()
        try? terminalLog?.close()
        terminalLog = nil
        view?.close()
    }

    private func persist() {
        // The time spent so far is saved with every step: a kill loses none of the time budget.
        if completion != nil || result != nil { history.elapsedBefore = elapsed }
        history.model = engine.currentModel
        do { try history.save(path: historyPath) } catch { view?.note("cannot save the history: \(error)") }
    }

    private func logTerminal(_ text: String) {
        terminalLog?.write(Data(text.utf8))
    }

    private func openAppending(_ path: String) -> FileHandle? {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let h = FileHandle(forWritingAtPath: path)
        h?.seekToEndOfFile()
        return h
    }
}
