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

/// The orchestrator: sends the conversation to the model, runs the python blocks of its answer
/// in the runtime, sends the results back, until the model answers without code or a limit is
/// hit. Everything streams to the display and is recorded in the conversation file.
public final class ExecAgent {
    public let loop: EventLoop
    public let client: LLMClient
    public let runtime: PythonRuntime
    public let store: ConversationStore
    public let events: AgentEvents
    public let display: ExecDisplay
    /// The agent's current settings (re-read at each step: `supervisor set` applies while it runs).
    public var spec: () -> AgentSpec
    public private(set) var conversation: Conversation

    /// What the current turn has used (limits are per turn).
    public private(set) var usage = TurnUsage(start: 0)
    private var call: LLMCall?
    private var completion: ((TurnOutcome) -> Void)?
    private var cancelled = false
    /// Set when the runtime's state was lost and the model has not been told yet.
    private var pendingRuntimeNote: String?
    /// Texts shortened and messages left out of the last request (said once when they change).
    private var lastFit = (elided: 0, dropped: 0)
    private var lineStart = true

    public init(loop: EventLoop, client: LLMClient, runtime: PythonRuntime, store: ConversationStore,
                events: AgentEvents, display: ExecDisplay, conversation: Conversation, spec: @escaping () -> AgentSpec) {
        self.loop = loop
        self.client = client
        self.runtime = runtime
        self.store = store
        self.events = events
        self.display = display
        self.conversation = conversation
        self.spec = spec
        runtime.onOutput = { [weak self] stream, text in self?.showOutput(stream, text) }
    }

    public var isBusy: Bool { completion != nil }

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
        lastFit = (0, 0)
        if runtime.isStarted { runtime.close() }
    }

    // MARK: Turns

    /// Sends the person's message and works until the turn ends.
    public func send(_ text: String, completion: @escaping (TurnOutcome) -> Void) {
        conversation.turns += 1
        takeRuntimeNote()
        conversation.append("user", .prompt, text)
        conversation.status = .working
        begin(completion)
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
        begin(completion, usage: TurnUsage.soFar(conversation))
    }

    /// Ctrl-C: stops the request or the block in flight; the turn ends as cancelled.
    public func cancel() {
        guard isBusy, !cancelled else { return }
        cancelled = true
        if let call { call.cancel() }
        else if runtime.isBusy { runtime.interrupt(reason: .person) }
    }

    private func begin(_ completion: @escaping (TurnOutcome) -> Void, usage: TurnUsage = TurnUsage(start: EventLoop.monotonicSeconds())) {
        self.completion = completion
        cancelled = false
        self.usage = usage
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
        call = nil
        let c = completion
        completion = nil
        events.state("waiting")
        c?(outcome)
    }

    private func step() {
        guard !cancelled else { finish(.cancelled); return }
        let s = spec()
        if let reason = usage.limitReached(s) {
            ensureNewline()
            display.write(display.yellow("■ stopped: \(reason)") + "\n")
            events.message("stopped: \(reason)")
            finish(.limit(reason))
            return
        }
        usage.steps += 1
        let stepNumber = usage.steps
        events.step(stepNumber, limit: s.limit)
        events.state("thinking")
        ensureNewline()
        display.write(display.dim("── \(currentModel) · step \(stepNumber) ──") + "\n")
        lineStart = true
        request(step: stepNumber, retry: false)
    }

    /// One model request of a step. `retry`: the previous one did not fit the context window
    /// (it is tried once more, smaller, never twice).
    private func request(step stepNumber: Int, retry: Bool) {
        let s = spec()
        let system = ExecPrompt.system(box: runtime.box, blockTimeout: s.blockTimeout, memoryLimit: s.memoryLimit, extra: nil)
        let model = currentModel
        let fitted = fit(system: system, llm: s.llm, model: model)
        let request = makeRequest(system: system, messages: fitted.messages, llm: s.llm)
        var streamed = ""
        call = client.stream(request: request, onEvent: { [weak self] event in
            guard let self else { return }
            if case .textDelta(let t) = event {
                streamed += t
                self.show(t)
            }
        }, completion: { [weak self] result in
            guard let self else { return }
            self.call = nil
            switch result {
            case .success(let reply): self.answered(reply, step: stepNumber, model: request.model, maxTokens: request.maxTokens)
            case .failure(let error):
                self.recordRequest(step: stepNumber, model: request.model, reply: nil, error: error)
                if error.kind == .cancelled || self.cancelled {
                    if !streamed.isEmpty { self.conversation.append("assistant", .answer, streamed + "\n[interrupted]") }
                    self.ensureNewline()
                    self.display.write(self.display.yellow("■ interrupted") + "\n")
                    self.finish(.cancelled)
                } else if error.isContextOverflow && !retry && streamed.isEmpty {
                    // The estimate was off for this model (or context_tokens is too high): send
                    // 70% of what did not fit, and keep that budget for this conversation.
                    let smaller = max(1, fitted.tokens * 7 / 10)
                    self.conversation.contextCap = Conversation.ContextCap(tokens: smaller, model: model,
                                                                          contextTokens: s.llm.effectiveContextTokens)
                    self.save()
                    self.ensureNewline()
                    self.display.write(self.display.yellow("■ the request (about \(fitted.tokens) tokens of messages) did not fit the model's context window; trying again with about \(smaller), the budget of this conversation from now on") + "\n")
                    self.events.emit("context_overflow", [("sent_tokens", .number("\(fitted.tokens)")), ("budget", .number("\(smaller)")),
                                                          ("conversation", .string(self.conversation.id))])
                    self.request(step: stepNumber, retry: true)
                } else {
                    var why = "\(error)"
                    if error.isContextOverflow {
                        why += " (even shortened, the conversation does not fit the model's context window: start a new one with /new, or check context_tokens)"
                    }
                    self.ensureNewline()
                    self.display.write(self.display.red("■ model request failed: \(why)") + "\n")
                    self.events.message("model request failed: \(why)")
                    self.finish(.failed(why))
                }
            }
        })
    }

    // MARK: Context window

    /// What one request sends: the conversation fitted into the model's context window
    /// (`context_tokens`, read live), oldest first shortened or left out; the stored conversation
    /// stays whole. A budget learned from a context overflow applies while the model and
    /// `context_tokens` stay the same.
    private func fit(system: String, llm: LLMSettings, model: String) -> ContextFit.Fitted {
        var budget = ContextFit.messageBudget(contextTokens: llm.effectiveContextTokens, maxTokens: llm.maxTokens, system: system, tools: [])
        if let cap = conversation.contextCap, cap.model == model, cap.contextTokens == llm.effectiveContextTokens {
            budget = min(budget, cap.tokens)
        }
        let fitted = ContextFit.fit(conversation.chatMessages, budget: budget)
        if fitted.elided != lastFit.elided || fitted.dropped != lastFit.dropped {
            lastFit = (fitted.elided, fitted.dropped)
            events.emit("context", [("elided", .number("\(fitted.elided)")), ("dropped", .number("\(fitted.dropped)")),
                                    ("tokens", .number("\(fitted.tokens)")), ("budget", .number("\(budget)")),
                                    ("context_tokens", .number("\(llm.effectiveContextTokens)")),
                                    ("conversation", .string(conversation.id))])
            ensureNewline()
            if fitted.elided == 0 && fitted.dropped == 0 {
                display.write(display.dim("[context: the whole conversation fits the context window again]") + "\n")
            } else {
                var parts: [String] = []
                if fitted.dropped > 0 { parts.append("\(fitted.dropped) earlier messages left out") }
                if fitted.elided > 0 { parts.append("\(fitted.elided) long old texts shortened") }
                display.write(display.dim("[context: \(parts.joined(separator: ", ")) to fit the context window (about \(fitted.tokens) of \(budget) tokens for messages); the stored conversation is whole]") + "\n")
            }
        }
        return fitted
    }

    /// The model in use: `supervisor set model=` applies at the next request.
    public var currentModel: String { spec().llm.model.flatMap { $0.isEmpty ? nil : $0 } ?? client.config.model }

    /// A request with the agent's current settings: the client was built at start, but
    /// `supervisor set` of model, max_tokens and temperature applies at the next request.
    func makeRequest(system: String, messages: [Message], llm: LLMSettings) -> ChatRequest {
        var request = client.makeRequest(system: system, messages: messages)
        if let m = llm.model, !m.isEmpty { request.model = m }
        request.maxTokens = llm.maxTokens
        request.temperature = llm.temperature
        return request
    }

    private func answered(_ reply: LLMReply, step stepNumber: Int, model: String, maxTokens: Int) {
        recordRequest(step: stepNumber, model: model, reply: reply, error: nil)
        let text = reply.response.message.text
        events.reply(step: stepNumber, text: text)
        conversation.append("assistant", .answer, text)
        let answerIndex = conversation.messages.count - 1
        save()
        let scan = CodeBlocks.scan(text)
        let cut = reply.response.stopReason == .maxTokens
        let note = ExecAgent.incompleteNote(cut: cut, maxTokens: maxTokens, unterminated: scan.unterminated, ranBlocks: !scan.blocks.isEmpty)
        if let note {
            // A reply cut at max_tokens is never the final answer: its complete blocks run, and
            // the model is told it was cut (and what was not run) so it continues.
            var line = cut ? "reply cut off at max_tokens (\(maxTokens))" : "a python block was never closed"
            if scan.unterminated { line += cut ? "; its last python block was not run" : " and was not run" }
            ensureNewline()
            display.write(display.yellow("■ \(line); the model is asked to continue") + "\n")
            events.emit("incomplete", [("cut", .bool(cut)), ("max_tokens", .number("\(maxTokens)")),
                                       ("block_not_run", .bool(scan.unterminated)), ("blocks_run", .number("\(scan.blocks.count)"))])
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
        let s = spec()
        let code = blocks[index]
        let n = index + 1
        events.state("running_tool")
        events.tool("python", phase: "start")
        events.command(code.count > 500 ? String(code.prefix(500)) + "…" : code)
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
            self.events.emit("block", [("n", .number("\(n)")), ("status", .string(r.status.rawValue)),
                                       ("duration", .number(String(format: "%.3f", r.duration)))])
            let report = ExecAgent.report(r, block: n, of: blocks.count, blockTimeout: s.blockTimeout, memoryLimit: s.memoryLimit)
            self.events.blockOutput(n: n, status: r.status.rawValue, output: report)
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
        self.usage.tokens += usage.totalInput + usage.output
        self.usage.cost += reply.cost ?? 0
        events.tokens(input: usage.input, output: usage.output, cacheRead: usage.cacheRead, cacheWrite: usage.cacheWrite, costUSD: reply.cost)
        var perf: [(String, OrderedJSON)] = [("step", .number("\(step)")), ("model", .string(record.model)),
                                             ("duration_s", .number(String(format: "%.3f", record.duration)))]
        if let t = record.timeToFirstToken { perf.append(("ttft_s", .number(String(format: "%.3f", t)))) }
        if let t = record.tokensPerSecond { perf.append(("tokens_per_s", .number(String(format: "%.1f", t)))) }
        if let c = reply.cost { perf.append(("cost_usd", .number("\(c)"))) }
        perf.append(("conversation", .string(conversation.id)))
        events.emit("perf", perf)
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

/// What one turn has used, against the agent's per-turn limits (`limit`, `time_budget`,
/// `token_budget`, `cost_budget`).
public struct TurnUsage: Equatable {
    /// Model requests answered (a step).
    public var steps = 0
    public var tokens = 0
    public var cost = 0.0
    /// `EventLoop.monotonicSeconds()` when the turn began.
    public var start: Double

    public init(start: Double) { self.start = start }

    /// The current turn of a stored conversation as far as it went (answered requests, their
    /// tokens and cost, and the time since the person's message), for a process that continues
    /// it: a turn keeps its limits across restarts of the agent.
    public static func soFar(_ c: Conversation, now: Double = EventLoop.monotonicSeconds(), date: Date = Date()) -> TurnUsage {
        var u = TurnUsage(start: now)
        for r in c.requests where r.turn == c.turns && r.error == nil {
            u.steps += 1
            u.tokens += r.inputTokens + r.cacheReadTokens + r.cacheWriteTokens + r.outputTokens
            u.cost += r.costUSD ?? 0
        }
        if let first = c.messages.first(where: { $0.turn == c.turns }), let began = Conversation.date(first.at) {
            u.start = now - max(0, date.timeIntervalSince(began))
        }
        return u
    }

    /// The first limit reached, if any.
    public func limitReached(_ s: AgentSpec, now: Double = EventLoop.monotonicSeconds()) -> String? {
        if steps >= s.limit { return "step limit reached (limit = \(s.limit))" }
        if let t = s.timeBudget, now - start >= t { return "time budget of \(formatSeconds(t)) used up" }
        if let t = s.tokenBudget, tokens >= t { return "token budget of \(t) used up (\(tokens) tokens)" }
        if let c = s.costBudget, cost >= c { return String(format: "cost budget of $%.4f used up ($%.4f)", c, cost) }
        return nil
    }
}
