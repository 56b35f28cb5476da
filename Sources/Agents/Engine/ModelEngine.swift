import Hosting
import LLM
import LLMClient
import Loop
import Profile

/// What the engine needs of a model client: `LLMClient`, or a deterministic fake in tests.
public protocol ModelBackend: AnyObject {
    var config: LLMConfig { get }
    func startStream(_ request: ChatRequest, onEvent: @escaping (StreamEvent) -> Void,
                     completion: @escaping (Result<LLMReply, LLMError>) -> Void) -> Cancellable
}

public protocol Cancellable: AnyObject { func cancel() }

extension LLMCall: Cancellable {}

extension LLMClient: ModelBackend {
    public func startStream(_ request: ChatRequest, onEvent: @escaping (StreamEvent) -> Void,
                            completion: @escaping (Result<LLMReply, LLMError>) -> Void) -> Cancellable {
        stream(request: request, onEvent: onEvent, completion: completion)
    }
}

/// Time for the engine: the loop's monotonic clock and timers, or a fake clock in tests.
public protocol EngineClock: AnyObject {
    var now: Double { get }
    func after(_ seconds: Double, _ fire: @escaping () -> Void) -> Cancellable
}

public final class LoopClock: EngineClock {
    let loop: EventLoop
    public init(loop: EventLoop) { self.loop = loop }
    public var now: Double { EventLoop.monotonicSeconds() }
    public func after(_ seconds: Double, _ fire: @escaping () -> Void) -> Cancellable {
        let t = LoopTimer(loop: loop)
        let handle = TimerHandle(timer: t)
        // Reason: the delay of a retry (backoff) or a budget's end.
        t.start(seconds: seconds) { handle.close(); fire() }
        return handle
    }

    final class TimerHandle: Cancellable {
        var timer: LoopTimer?
        init(timer: LoopTimer) { self.timer = timer }
        func close() { timer?.close(); timer = nil }
        func cancel() { close() }
    }
}

/// What the person (or a log) should hear from the engine: a retry, a smaller request, a reply
/// cut at max_tokens. Each agent shows it its own way (a notice line, a yellow line, a note).
public protocol EngineView: AnyObject {
    func engineNotice(_ text: String)
}

/// The turn engine every built-in model-driven agent (coder, goal runner, code executor) uses:
/// it owns what is the same for all of them, so that it is the same.
///
/// - live settings: the model, max_tokens, temperature and context_tokens are read at every
///   request (`supervisor set` applies at the next one), with the kind's defaults;
/// - request building and context fitting (`ContextFit`, or the agent's own fitting given the
///   engine's limits);
/// - ONE overflow policy: a request the provider refuses as too long for its context window is
///   sent again with 70% of its messages' tokens, up to `overflowRetries` times in a row; the
///   smaller budget is kept (and saved with the transcript, via `onContextCapChange`) while the
///   model and context_tokens stay the same;
/// - ONE policy for transient faults: a connection reset mid-stream, malformed JSON in a stream,
///   a 200 that is not an event stream, an overload error in the stream: the partial reply is
///   discarded (never used, so no partial action runs) and the request is sent again, within
///   `max_retries` (with the client's backoff); failures before any content are already retried
///   by `LLMClient` within the same `max_retries`;
/// - streaming and cancellation; usage and cost accounting (`spend`, the `tokens` event);
/// - budgets (`limit`, `time_budget`, `token_budget`, `cost_budget`) for every kind;
/// - the events of the model side (reply, tokens, context, context_overflow, incomplete, retry, final).
///
/// Each agent supplies only its own part: what it sends (`ask`'s `prepare`), how a reply
/// becomes actions, how they run, and its view.
public final class ModelEngine {
    public let model: ModelBackend
    public let live: LiveSettings
    public let events: AgentEvents
    public let clock: EngineClock
    public weak var view: EngineView?
    /// Uniform in [0, 1), for the backoff's jitter (tests make it fixed).
    public var random: () -> Double = { Double.random(in: 0..<1) }

    /// What the budgets count: the current turn (coder, exec) or the whole run (goal).
    public var spend = Spend()
    /// `clock.now` when the budgets' scope began (minus what earlier processes spent).
    private var scopeStart: Double

    /// The smaller message budget learned from a refused request.
    public var contextCap: ContextCap? {
        didSet { if contextCap != oldValue { onContextCapChange?(contextCap) } }
    }
    public var onContextCapChange: ((ContextCap?) -> Void)?

    /// Times in a row a too-long request is sent again, smaller.
    public static let overflowRetries = 3

    private var call: Cancellable?
    private var retryTimer: Cancellable?
    private var cancelled = false
    private var lastFit = (elided: 0, dropped: 0)

    public init(model: ModelBackend, live: LiveSettings, events: AgentEvents, clock: EngineClock) {
        self.model = model
        self.live = live
        self.events = events
        self.clock = clock
        scopeStart = clock.now
    }

    // MARK: Settings

    /// The model settings now (`supervisor set` included, the kind's defaults applied).
    public var settings: LLMSettings { live.llm }

    /// The model in use: `supervisor set model=` applies at the next request.
    public var currentModel: String { modelName(settings) }

    private func modelName(_ s: LLMSettings) -> String { s.model.flatMap { $0.isEmpty ? nil : $0 } ?? model.config.model }

    // MARK: Budgets

    /// Budgets count from now, with what an earlier process of the same turn or run spent.
    public func beginScope(_ spent: Spend = Spend()) {
        spend = spent
        scopeStart = clock.now - spent.seconds
    }

    /// Seconds of the scope so far (earlier processes included).
    public var elapsed: Double { clock.now - scopeStart }

    /// `spend` with its time brought up to date (to save with the transcript).
    public var spendNow: Spend {
        var s = spend
        s.seconds = elapsed
        return s
    }

    /// The first budget the scope has used up, if any.
    public func budgetReached() -> BudgetEnd? { Budgets(live.spec()).reached(spendNow) }

    /// A budget ended the task: said once, the same way for every agent; `conclusive`: the run is
    /// over (a one-shot task), so the shim must not start it again (`final`).
    public func ended(by end: BudgetEnd, conclusive: Bool) {
        events.emit(.budget(.init(budget: end.kind.event, spent: end.spent, limit: end.limit)))
        events.message("stopped: \(end.sentence)")
        if conclusive { events.final(reason: end.sentence) }
    }

    // MARK: Requests

    /// The window a request must fit: the engine's limits, for the agent's fitting.
    public struct Limits: Equatable {
        /// The model's context window (context_tokens).
        public var window: Int
        public var maxTokens: Int
        /// A smaller budget for the messages, learned from a refused request.
        public var cap: Int?

        /// A conversation fitted with `ContextFit`: oldest long blocks shortened, then oldest
        /// exchanges left out; the stored transcript stays whole.
        public func conversation(system: String?, messages: [Message], tools: [ToolDefinition] = []) -> Prepared {
            var budget = ContextFit.messageBudget(contextTokens: window, maxTokens: maxTokens, system: system, tools: tools)
            if let cap { budget = min(budget, cap) }
            let f = ContextFit.fit(messages, budget: budget)
            return Prepared(system: system, messages: f.messages, tools: tools, tokens: f.tokens, elided: f.elided,
                            dropped: f.dropped, budget: budget)
        }
    }

    /// The limits of the next request: the live window and max_tokens, and the learned budget
    /// while the model and context_tokens are the ones it was learned with.
    public var limits: Limits { limits(settings) }

    private func limits(_ s: LLMSettings) -> Limits {
        let window = s.effectiveContextTokens
        let model = modelName(s)
        let cap = contextCap.flatMap { $0.model == model && $0.contextTokens == window ? $0.tokens : nil }
        return Limits(window: window, maxTokens: s.maxTokens, cap: cap)
    }

    /// What one request sends.
    public struct Prepared {
        public var system: String?
        public var messages: [Message]
        public var tools: [ToolDefinition]
        /// Estimated tokens of the messages (what a refused request's 70% is taken of).
        public var tokens: Int
        public var elided = 0
        public var dropped = 0
        /// The message budget they were fitted to (nil: the agent fits them its own way).
        public var budget: Int?

        public init(system: String?, messages: [Message], tools: [ToolDefinition] = [], tokens: Int? = nil,
                    elided: Int = 0, dropped: Int = 0, budget: Int? = nil) {
            self.system = system
            self.messages = messages
            self.tools = tools
            self.tokens = tokens ?? ContextFit.tokens(messages)
            self.elided = elided
            self.dropped = dropped
            self.budget = budget
        }
    }

    /// A complete reply.
    public struct Answer {
        public var reply: LLMReply
        /// The model and max_tokens it was asked with.
        public var model: String
        public var maxTokens: Int
        public var response: ChatResponse { reply.response }
        public var text: String { reply.response.message.text }
        /// The reply stopped at max_tokens: an action in it may be cut (the agent decides).
        public var cut: Bool { reply.response.stopReason == .maxTokens }
    }

    public enum Failure: Error {
        /// `cancel()`; `partial`: the text streamed before (shown, never used as a reply).
        case cancelled(partial: String)
        /// Retries used up, or not retryable. `hint`: what the person can do about it.
        case failed(LLMError, hint: String?)

        public var error: LLMError? { if case .failed(let e, _) = self { return e } else { return nil } }
        /// "model request failed: ..." with the hint.
        public var text: String {
            switch self {
            case .cancelled: return "interrupted"
            case .failed(let e, let hint): return "\(e)" + (hint.map { " (\($0))" } ?? "")
            }
        }
    }

    public var isBusy: Bool { call != nil || retryTimer != nil }

    /// One model request of the agent: built from the live settings, fitted by `prepare`, sent
    /// again smaller after a context overflow and again after a transient fault (`onDiscard`
    /// is called first when text of the broken reply had been streamed: it is not used).
    /// `completion` runs once (never from inside this call). `onFailedAttempt` sees each
    /// request that failed (the agent may record it), retried or not.
    public func ask(_ prepare: @escaping (Limits) -> Prepared,
                    onText: @escaping (String) -> Void = { _ in },
                    onDiscard: @escaping () -> Void = {},
                    onFailedAttempt: @escaping (_ model: String, LLMError) -> Void = { _, _ in },
                    completion: @escaping (Result<Answer, Failure>) -> Void) {
        cancelled = false
        attempt(prepare, faults: 0, overflows: 0, onText: onText, onDiscard: onDiscard, onFailedAttempt: onFailedAttempt,
                completion: completion)
    }

    /// Stops the request in flight (or the wait before a retry): its completion gets `.cancelled`.
    public func cancel() {
        cancelled = true
        if let t = retryTimer {
            t.cancel()
            retryTimer = nil
            let c = pendingCompletion
            pendingCompletion = nil
            c?(.failure(.cancelled(partial: "")))
        }
        call?.cancel()
    }

    private var pendingCompletion: ((Result<Answer, Failure>) -> Void)?

    private func attempt(_ prepare: @escaping (Limits) -> Prepared, faults: Int, overflows: Int,
                         onText: @escaping (String) -> Void, onDiscard: @escaping () -> Void,
                         onFailedAttempt: @escaping (String, LLMError) -> Void,
                         completion: @escaping (Result<Answer, Failure>) -> Void) {
        // The settings file is read once per request.
        let s = settings
        let modelName = modelName(s)
        let window = s.effectiveContextTokens
        let p = prepare(limits(s))
        reportFit(p, window: window)
        let request = ChatRequest(model: modelName, system: p.system, messages: p.messages, tools: p.tools,
                                  maxTokens: s.maxTokens, temperature: s.temperature)
        var streamed = ""
        call = model.startStream(request, onEvent: { event in
            if case .textDelta(let t) = event {
                streamed += t
                onText(t)
            }
        }, completion: { [weak self] result in
            guard let self else { return }
            self.call = nil
            switch result {
            case .success(let reply):
                self.account(reply)
                let answer = Answer(reply: reply, model: modelName, maxTokens: s.maxTokens)
                if answer.cut {
                    self.events.emit(.incomplete(cut: true, maxTokens: s.maxTokens, blockNotRun: nil, blocksRun: nil))
                }
                completion(.success(answer))
            case .failure(let error):
                onFailedAttempt(modelName, error)
                if self.cancelled || error.kind == .cancelled {
                    completion(.failure(.cancelled(partial: streamed)))
                    return
                }
                let again = { [weak self] (faults: Int, overflows: Int) in
                    self?.attempt(prepare, faults: faults, overflows: overflows, onText: onText, onDiscard: onDiscard,
                                  onFailedAttempt: onFailedAttempt, completion: completion)
                }
                if error.isContextOverflow && streamed.isEmpty && overflows < Self.overflowRetries {
                    let smaller = max(1, p.tokens * 7 / 10)
                    self.contextCap = ContextCap(tokens: smaller, model: modelName, contextTokens: window)
                    self.view?.engineNotice("the request (about \(p.tokens) tokens of messages) did not fit the model's context window; "
                        + "trying again with about \(smaller), the budget from now on (the provider said: \(error.message))")
                    self.events.emit(.contextOverflow(sentTokens: p.tokens, budget: smaller, conversation: nil))
                    again(faults, overflows + 1)
                    return
                }
                if Self.isTransientFault(error), case .retry(let delay) = self.model.config.retry.decide(
                    status: nil, headers: [], attempt: faults, elapsed: 0, streamedAnyByte: false, random: self.random) {
                    if !streamed.isEmpty { onDiscard() }
                    let what = streamed.isEmpty ? "" : " after \(streamed.count) characters of the reply (discarded, not used)"
                    let text = "the model's reply broke off\(what): \(error.message); asking again (retry \(faults + 1) of \(self.model.config.retry.maxAttempts - 1))"
                    self.view?.engineNotice(text)
                    self.failed(text)
                    self.pendingCompletion = completion
                    self.retryTimer = self.clock.after(delay) { [weak self] in
                        guard let self else { return }
                        self.retryTimer = nil
                        self.pendingCompletion = nil
                        again(faults + 1, overflows)
                    }
                    return
                }
                var hint: String?
                if error.isContextOverflow {
                    hint = "even shortened, the conversation does not fit the model's context window: start a new one, or check context_tokens"
                }
                let failure = Failure.failed(error, hint: hint)
                self.failed("model request failed: \(failure.text)")
                completion(.failure(failure))
            }
        })
    }

    /// A failure worth sending the request again for: the stream broke (a reset connection,
    /// malformed or missing event stream, a server error event) — not a refusal of the request
    /// (bad key, bad request), and not one `LLMClient` already retried (failures before content).
    public static func isTransientFault(_ e: LLMError) -> Bool {
        switch e.kind {
        case .transport(let k):
            // Before any content the client retried these already, within max_retries.
            return e.partial && [.connectionLost, .stallTimeout, .connectFailed, .connectTimeout].contains(k)
        case .provider(let k):
            switch k {
            case .malformedJSON, .notEventStream, .truncated, .unexpectedEvent: return true
            case .api(let type): return e.partial && ["overloaded_error", "api_error", "rate_limit_error"].contains(type)
            default: return false
            }
        default: return false
        }
    }

    private func account(_ reply: LLMReply) {
        let u = reply.response.usage
        spend.add(u, cost: reply.cost)
        events.tokens(input: u.input, output: u.output, cacheRead: u.cacheRead, cacheWrite: u.cacheWrite, costUSD: reply.cost)
    }

    /// Tells the view and the event log what was left out of the requests, when that changes.
    private func reportFit(_ p: Prepared, window: Int) {
        guard let budget = p.budget, p.elided != lastFit.elided || p.dropped != lastFit.dropped else { return }
        let wasShort = lastFit.elided > 0 || lastFit.dropped > 0
        lastFit = (p.elided, p.dropped)
        events.emit(.context(.init(elided: p.elided, dropped: p.dropped, tokens: p.tokens, budget: budget, contextTokens: window)))
        if p.elided == 0 && p.dropped == 0 {
            if wasShort { view?.engineNotice("context: the whole conversation fits the context window again") }
            return
        }
        var what: [String] = []
        if p.dropped > 0 { what.append("\(p.dropped) earlier messages left out") }
        if p.elided > 0 { what.append("\(p.elided) long old texts shortened") }
        view?.engineNotice("context: \(what.joined(separator: ", ")) to fit the context window (context_tokens = \(window); about \(p.tokens) of \(budget) tokens for messages); the stored transcript is whole")
    }

    /// Forgets what was reported about fitting (a new conversation).
    public func resetFitReport() { lastFit = (0, 0) }
}

/// A smaller message budget learned from a refused request; applies while the model and
/// context_tokens stay the same.
public struct ContextCap: Codable, Equatable {
    public var tokens: Int
    public var model: String
    public var contextTokens: Int
    public init(tokens: Int, model: String, contextTokens: Int) {
        self.tokens = tokens; self.model = model; self.contextTokens = contextTokens
    }
}
