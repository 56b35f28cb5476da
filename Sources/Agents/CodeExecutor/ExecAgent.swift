import Foundation
import Glibc
import Hosting
import LLM
import LLMClient
import Loop
import Profile

/// Where the exec agent's screen output goes (the pane, or a buffer in tests).
public protocol ExecDisplay: AnyObject {
    func write(_ text: String)
    var color: Bool { get }
}

/// Writes to a file descriptor (the agent's stdout: the shim's pty).
public final class FileDisplay: ExecDisplay {
    public let fd: Int32
    public let color: Bool
    public init(fd: Int32 = 1, color: Bool? = nil) {
        self.fd = fd
        self.color = color ?? (isatty(fd) == 1)
    }
    public func write(_ text: String) {
        Posix.writeAll(fd, text)
    }
}

/// Collects output (tests).
public final class BufferDisplay: ExecDisplay {
    public private(set) var text = ""
    public let color = false
    public init() {}
    public func write(_ t: String) { text += t }
}

extension ExecDisplay {
    func style(_ text: String, _ code: String) -> String { color ? "\u{1b}[\(code)m\(text)\u{1b}[0m" : text }
    func dim(_ t: String) -> String { style(t, "2") }
    func bold(_ t: String) -> String { style(t, "1") }
    func red(_ t: String) -> String { style(t, "31") }
    func green(_ t: String) -> String { style(t, "32") }
    func cyan(_ t: String) -> String { style(t, "36") }
    func yellow(_ t: String) -> String { style(t, "33") }
}

/// How a turn (one person message, or the --prompt) ended.
public enum TurnOutcome: Equatable {
    /// The model answered without code, or called answer(value).
    case answered(String)
    /// A limit (steps, time, tokens, cost) ended it.
    case limit(String)
    /// The model could not be reached (after retries) or a file could not be written.
    case failed(String)
    /// The person interrupted it.
    case cancelled
}

/// The code executor: the model's python blocks run in the runtime, the results go back, until
/// the model answers without code or a budget is used up. The model side (settings, fitting,
/// retries, accounting, budgets) is the shared `ModelEngine`; everything streams to the display
/// and is recorded in the conversation file.
public final class ExecAgent: EngineView {
    public let loop: EventLoop
    public let engine: ModelEngine
    public let runtime: PythonRuntime
    public let store: ConversationStore
    public var events: AgentEvents { engine.events }
    public let display: ExecDisplay
    public private(set) var conversation: Conversation

    private var completion: ((TurnOutcome) -> Void)?
    private var cancelled = false
    /// Set when the runtime's state was lost and the model has not been told yet.
    private var pendingRuntimeNote: String?
    private var lineStart = true

    public init(loop: EventLoop, engine: ModelEngine, runtime: PythonRuntime, store: ConversationStore,
                display: ExecDisplay, conversation: Conversation) {
        self.loop = loop
        self.engine = engine
        self.runtime = runtime
        self.store = store
        self.display = display
        self.conversation = conversation
        engine.contextCap = conversation.contextCap
        engine.view = self
        runtime.onOutput = { [weak self] stream, text in self?.showOutput(stream, text) }
        engine.onContextCapChange = { [weak self] cap in
            guard let self else { return }
            self.conversation.contextCap = cap
            self.save()
        }
    }

    /// The agent's settings now (`supervisor set` applies at the next step).
    public var spec: AgentSpec { engine.live.spec() }

    public var isBusy: Bool { completion != nil }
    /// The person's message that started the turn: the subject of its autocommit.
    private var turnIntent = ""

    /// What the current turn has used (budgets are per turn).
    public var usage: Spend { engine.spendNow }

    /// After loading a stored conversation into a new process: the model must be told its
    /// runtime is fresh before it relies on earlier variables.
    public func noteRuntimeIsFresh(reason: String) {
        guard !conversation.runs.isEmpty else { return }
        pendingRuntimeNote = "[Note: \(reason). The Python runtime is fresh: variables, imports and functions from earlier blocks are gone; files written are still there.]"
    }

    /// Starts a new conversation (the runtime restarts so no state leaks between them).
    public func replaceConversation(_ c: Conversation) {
        conversation = c
        pendingRuntimeNote = nil
        engine.contextCap = c.contextCap
        engine.resetFitReport()
        if runtime.isStarted { runtime.close() }
    }

    // MARK: Turns

    /// Sends the person's message and works until the turn ends.
    public func send(_ text: String, source: AgentEvent.UserSource = .pane, completion: @escaping (TurnOutcome) -> Void) {
        engine.userSaid(text, source: source)
        turnIntent = text
        conversation.turns += 1
        takeRuntimeNote()
        conversation.append("user", .prompt, text)
        conversation.status = .working
        begin(completion, spent: Spend())
    }

    /// Continues a turn that was in progress when the agent stopped, or that a failed request
    /// (or a limit since raised) ended (the last entry is the person's, or results the model
    /// has not seen). The turn keeps what it used so far against its limits.
    public func resume(completion: @escaping (TurnOutcome) -> Void) {
        if conversation.messages.last?.role == "assistant" {
            // The agent stopped while running the answer's code: its results are lost.
            conversation.append("user", .note, "[The agent was restarted while your code was running; results of that code are not known.]")
        }
        takeRuntimeNote()
        conversation.status = .working
        begin(completion, spent: conversation.spentThisTurn())
    }

    /// Ctrl-C: stops the request or the block in flight; the turn ends as cancelled.
    public func cancel() {
        guard isBusy, !cancelled else { return }
        cancelled = true
        if engine.isBusy { engine.cancel() }
        else if runtime.isBusy { runtime.interrupt(reason: .person) }
    }

    private func begin(_ completion: @escaping (TurnOutcome) -> Void, spent: Spend) {
        self.completion = completion
        cancelled = false
        engine.beginScope(spent)
        conversation.stop = nil
        save()
        step()
    }

    private func takeRuntimeNote() {
        if let note = pendingRuntimeNote {
            conversation.append("user", .note, note)
            pendingRuntimeNote = nil
        }
    }

    private func finish(_ outcome: TurnOutcome) {
        switch outcome {
        case .answered: conversation.status = .waiting
        case .cancelled: conversation.status = .waiting
        case .limit(let reason):
            conversation.status = .stopped
            conversation.stop = Conversation.Stop(kind: .limit, reason: reason)
        case .failed(let reason):
            conversation.status = .stopped
            conversation.stop = Conversation.Stop(kind: .error, reason: reason)
        }
        save()
        autocommitTurn(spec: spec, intent: turnIntent, events: events) // `autocommit`: the turn's changes, one commit
        let c = completion
        completion = nil
        events.state("waiting")
        c?(outcome)
    }

    private func step() {
        guard !cancelled else { finish(.cancelled); return }
        if let end = engine.budgetReached() {
            ensureNewline()
            display.write(display.yellow("■ stopped: \(end.sentence)") + "\n")
            engine.ended(by: end, conclusive: false)
            finish(.limit(end.sentence))
            return
        }
        engine.spend.steps += 1
        let stepNumber = engine.spend.steps
        let s = spec
        events.step(stepNumber, limit: s.limit)
        events.state("thinking")
        ensureNewline()
        display.write(display.dim("── \(currentModel) · step \(stepNumber) ──") + "\n")
        lineStart = true
        let system = ExecPrompt.system(box: runtime.box, blockTimeout: s.blockTimeout, memoryLimit: s.memoryLimit, extra: nil)
        let messages = conversation.chatMessages
        var streamed = ""
        engine.ask({ limits in limits.conversation(system: system, messages: messages) }, onText: { [weak self] t in
            streamed += t
            self?.show(t)
        }, onDiscard: { [weak self] in
            streamed = ""
            self?.ensureNewline()
        }, onFailedAttempt: { [weak self] model, error in
            self?.recordRequest(step: stepNumber, model: model, reply: nil, error: error)
        }, completion: { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let answer):
                self.recordRequest(step: stepNumber, model: answer.model, reply: answer.reply, error: nil)
                self.answered(answer, step: stepNumber)
            case .failure(.cancelled):
                if !streamed.isEmpty { self.conversation.append("assistant", .answer, streamed + "\n[interrupted]") }
                self.ensureNewline()
                self.display.write(self.display.yellow("■ interrupted") + "\n")
                self.finish(.cancelled)
            case .failure(let failure):
                self.ensureNewline()
                self.display.write(self.display.red("■ model request failed: \(failure.text)") + "\n")
                self.finish(.failed(failure.text))
            }
        })
    }

    public func engineNotice(_ text: String) {
        ensureNewline()
        if text.hasPrefix("context: ") {
            display.write(display.dim("[\(text)]") + "\n")
        } else {
            display.write(display.yellow("■ \(text)") + "\n")
        }
    }

    /// The model in use: `supervisor set model=` applies at the next request.
    public var currentModel: String { engine.currentModel }

    private func answered(_ answer: ModelEngine.Answer, step stepNumber: Int) {
        let text = answer.text
        let maxTokens = answer.maxTokens
        engine.replied(step: stepNumber, text: text)
        conversation.append("assistant", .answer, text)
        let answerIndex = conversation.messages.count - 1
        save()
        let scan = CodeBlocks.scan(text)
        let cut = answer.cut
        let note = ExecAgent.incompleteNote(cut: cut, maxTokens: maxTokens, unterminated: scan.unterminated, ranBlocks: !scan.blocks.isEmpty)
        if let note {
            // A reply cut at max_tokens is never the final answer: its complete blocks run, and
            // the model is told it was cut (and what was not run) so it continues.
            var line = cut ? "reply cut off at max_tokens (\(maxTokens))" : "a python block was never closed"
            if scan.unterminated { line += cut ? "; its last python block was not run" : " and was not run" }
            ensureNewline()
            display.write(display.yellow("■ \(line); the model is asked to continue") + "\n")
            if !cut {
                // (A cut reply's `incomplete` event comes from the engine, the same for every agent.)
                events.emit(.incomplete(cut: false, maxTokens: maxTokens, blockNotRun: scan.unterminated, blocksRun: scan.blocks.count))
            }
        }
        if scan.blocks.isEmpty {
            if let note {
                conversation.append("user", .note, note)
                save()
                step()
                return
            }
            events.message(text)
            finish(.answered(text))
            return
        }
        runBlocks(scan.blocks, index: 0, answerIndex: answerIndex, step: stepNumber, reports: [], note: note)
    }

    /// What the model is told after a reply that was cut at max_tokens or left a python block
    /// open; nil for a complete reply.
    static func incompleteNote(cut: Bool, maxTokens: Int, unterminated: Bool, ranBlocks: Bool) -> String? {
        guard cut || unterminated else { return nil }
        var s: String
        if cut {
            s = "[Your reply was cut off at max_tokens (\(maxTokens) tokens)"
            if unterminated {
                s += " inside a python block: that block was incomplete and was not run"
                if ranBlocks { s += " (the complete blocks before it were run, results above)" }
                s += ". Continue from where you were cut off, and keep each reply shorter: smaller blocks, less text.]"
            } else if ranBlocks {
                s += "; the complete blocks in it were run (results above). Continue from where you were cut off, and keep each reply shorter.]"
            } else {
                s += ", so it is not taken as your final answer. Continue from where you were cut off, or give a shorter answer.]"
            }
        } else {
            s = "[Your answer ended inside a python block that was never closed, so that block was not run"
            if ranBlocks { s += " (the complete blocks before it were run, results above)" }
            s += ". Close every block.]"
        }
        return s
    }

    private func runBlocks(_ blocks: [String], index: Int, answerIndex: Int, step stepNumber: Int, reports: [String], note: String?) {
        guard index < blocks.count else {
            conversation.append("user", .results, reports.joined(separator: "\n\n"))
            if let note { conversation.append("user", .note, note) }
            save()
            step()
            return
        }
        let s = spec
        let code = blocks[index]
        let n = index + 1
        events.state("running_tool")
        events.tool("python", phase: "start")
        engine.codeRuns(n: n, language: "python", code: code)
        ensureNewline()
        display.write(display.cyan("▶ running block \(n)\(blocks.count > 1 ? " of \(blocks.count)" : "")") + "\n")
        lineStart = true
        runtime.execute(code: code, name: "block \(conversation.runs.count + 1)", timeout: s.blockTimeout) { [weak self] result in
            guard let self else { return }
            var r = result
            if r.lostState, self.cancelled == false, r.status == .killed {
                r.error = "the block ran longer than block_timeout (\(formatSeconds(s.blockTimeout))) and did not stop when interrupted; the runtime was killed"
            }
            let generation = self.runtime.generation
            self.conversation.runs.append(Conversation.CodeRun(
                turn: self.conversation.turns, step: stepNumber, message: answerIndex, block: n, code: code, result: r,
                at: Conversation.timestamp(), runtime: generation))
            self.showResult(r, blockTimeout: s.blockTimeout)
            self.events.tool("python", phase: "end")
            self.events.emit(.block(n: n, status: r.status.rawValue, duration: (r.duration * 1000).rounded() / 1000))
            let report = ExecAgent.report(r, block: n, of: blocks.count, blockTimeout: s.blockTimeout, memoryLimit: s.memoryLimit)
            self.engine.codePrinted(n: n, status: r.status.rawValue, output: report)
            var reports = reports + [report]
            if r.status == .answer {
                let value = r.answer ?? ""
                self.conversation.append("user", .results, reports.joined(separator: "\n\n"))
                self.ensureNewline()
                self.display.write(self.display.green("✔ answer: ") + value + "\n")
                self.events.message(value)
                self.finish(.answered(value))
                return
            }
            if self.cancelled {
                self.conversation.append("user", .results, reports.joined(separator: "\n\n") + "\n[The person interrupted the work.]")
                self.finish(.cancelled)
                return
            }
            if r.status != .ok {
                let skipped = blocks.count - n
                if skipped > 0 {
                    reports.append("[block\(skipped > 1 ? "s" : "") \(n + 1)\(skipped > 1 ? "-\(blocks.count)" : "") not run because block \(n) did not finish normally]")
                }
                self.runBlocks(blocks, index: blocks.count, answerIndex: answerIndex, step: stepNumber, reports: reports, note: note)
                return
            }
            self.save()
            self.runBlocks(blocks, index: index + 1, answerIndex: answerIndex, step: stepNumber, reports: reports, note: note)
        }
    }

    /// What the model receives for one block.
    public static func report(_ r: BlockResult, block n: Int, of count: Int, blockTimeout: Double, memoryLimit: String?) -> String {
        var s = "[block \(n)\(count > 1 ? " of \(count)" : ""): \(r.status.rawValue), \(String(format: "%.2f", r.duration))s]\n"
        var any = false
        if !r.stdout.isEmpty { s += "stdout:\n" + r.stdout + (r.stdout.hasSuffix("\n") ? "" : "\n"); any = true }
        if !r.stderr.isEmpty { s += "stderr:\n" + r.stderr + (r.stderr.hasSuffix("\n") ? "" : "\n"); any = true }
        if !r.strayOutput.isEmpty { s += "output written directly to the process's file descriptors:\n" + r.strayOutput + (r.strayOutput.hasSuffix("\n") ? "" : "\n"); any = true }
        if let v = r.value { s += v.contains("\n") ? "value:\n" + v + "\n" : "value: " + v + "\n"; any = true }
        switch r.status {
        case .ok, .answer: break
        case .error:
            s += "error:\n" + (r.error ?? "")
            if r.errorType == "MemoryError", let memoryLimit { s += "(the runtime's memory is limited to \(memoryLimit))\n" }
            any = true
        case .interrupted:
            s += "interrupted: the block ran longer than block_timeout (\(formatSeconds(blockTimeout))) or was stopped by the person, and was stopped with KeyboardInterrupt; the runtime and its variables are intact.\n"
            s += r.error ?? ""
            any = true
        case .killed, .crashed:
            s += "\(r.status.rawValue): \(r.error ?? "the runtime was lost"). A fresh runtime will run the next block: variables, imports and functions from earlier blocks are gone (files are not).\n"
            any = true
        }
        if r.status == .answer { s += "answer() was called; the turn ended with: " + (r.answer ?? "") + "\n"; any = true }
        if !any { s += "(no output)\n" }
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }

    // MARK: Accounting

    /// Records one request in the conversation (the engine counted its usage against the budgets).
    private func recordRequest(step: Int, model: String, reply: LLMReply?, error: LLMError?) {
        let usage = reply?.response.usage ?? Usage()
        let m = reply?.metrics
        let record = Conversation.Request(
            turn: conversation.turns, step: step, at: Conversation.timestamp(), model: reply?.model ?? model,
            inputTokens: usage.input, outputTokens: usage.output, cacheReadTokens: usage.cacheRead, cacheWriteTokens: usage.cacheWrite,
            costUSD: reply?.cost, duration: m?.duration ?? 0, timeToFirstToken: m?.timeToFirstToken,
            tokensPerSecond: m?.outputTokensPerSecond, attempts: m?.attempts ?? error?.attempts ?? 0,
            stopReason: reply?.response.stopReason.wireName, error: error.map { "\($0)" })
        conversation.requests.append(record)
        guard let reply else { return }
        func rounded(_ x: Double, _ scale: Double) -> Double { (x * scale).rounded() / scale }
        events.emit(.perf(AgentEvent.Perf(step: step, model: record.model, durationS: rounded(record.duration, 1000),
                                          ttftS: record.timeToFirstToken.map { rounded($0, 1000) },
                                          tokensPerS: record.tokensPerSecond.map { rounded($0, 10) }, costUSD: reply.cost,
                                          conversation: conversation.id)))
        ensureNewline()
        display.write(display.dim(ExecAgent.perfLine(record, totalCost: conversation.totalCost)) + "\n")
        lineStart = true
    }

    /// "[1.20s · ttft 0.31s · 48.2 tok/s · 1234 in / 56 out · $0.0012 (total $0.0040)]"
    static func perfLine(_ r: Conversation.Request, totalCost: Double?) -> String {
        var parts = [String(format: "%.2fs", r.duration)]
        if let t = r.timeToFirstToken { parts.append(String(format: "ttft %.2fs", t)) }
        if let t = r.tokensPerSecond { parts.append(String(format: "%.1f tok/s", t)) }
        parts.append("\(r.inputTokens + r.cacheReadTokens + r.cacheWriteTokens) in / \(r.outputTokens) out")
        if let c = r.costUSD {
            parts.append(String(format: "$%.4f", c) + (totalCost.map { String(format: " (total $%.4f)", $0) } ?? ""))
        }
        return "[" + parts.joined(separator: " · ") + "]"
    }

    // MARK: Screen

    private func show(_ text: String) {
        guard !text.isEmpty else { return }
        display.write(text)
        lineStart = text.hasSuffix("\n")
    }

    private func ensureNewline() {
        if !lineStart { display.write("\n"); lineStart = true }
    }

    private func showOutput(_ stream: String, _ text: String) {
        switch stream {
        case "stderr": show(display.red(text))
        case "stray": show(display.dim(text))
        default: show(text)
        }
        lineStart = text.hasSuffix("\n")
    }

    private func showResult(_ r: BlockResult, blockTimeout: Double) {
        ensureNewline()
        if let v = r.value { display.write(display.green("→ ") + v + "\n") }
        switch r.status {
        case .ok, .answer: break
        case .error: display.write(display.red(r.error ?? "error") + (r.error?.hasSuffix("\n") == false ? "\n" : ""))
        case .interrupted: display.write(display.yellow("■ interrupted (KeyboardInterrupt) after \(String(format: "%.1f", r.duration))s") + "\n")
        case .killed, .crashed:
            display.write(display.red("■ \(r.error ?? "runtime lost"); the next block starts a fresh runtime") + "\n")
        }
        display.write(display.dim("[block \(r.status.rawValue) in \(String(format: "%.2f", r.duration))s]") + "\n")
        lineStart = true
    }

    private func save() {
        do {
            try store.save(conversation)
        } catch {
            ensureNewline()
            display.write(display.red("cannot save the conversation: \(error)") + "\n")
        }
    }
}

extension Conversation {
    /// What the current turn has spent as far as it went (answered requests, their tokens and
    /// cost, and the time since the person's message), for a process that continues it: a turn
    /// keeps its budgets across restarts of the agent.
    public func spentThisTurn(date: Date = Date()) -> Spend {
        var s = Spend()
        for r in requests where r.turn == turns && r.error == nil {
            s.steps += 1
            s.add(Usage(input: r.inputTokens, output: r.outputTokens, cacheRead: r.cacheReadTokens, cacheWrite: r.cacheWriteTokens),
                  cost: r.costUSD)
        }
        if let first = messages.first(where: { $0.turn == turns }), let began = Conversation.date(first.at) {
            s.seconds = max(0, date.timeIntervalSince(began))
        }
        return s
    }
}
