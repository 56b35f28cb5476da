import Agents
import Foundation
import Glibc
import HTTP
import LLM
import LLMClient
import Profile
import XCTest

/// A deterministic model: each request takes the next scripted outcome, completed when the
/// test says (`respond`), never from inside the call.
final class ScriptedModel: ModelBackend {
    enum Outcome {
        case reply(String, stop: StopReason = .endTurn, usage: Usage = Usage(input: 10, output: 5), cost: Double? = 0.001)
        /// Streams `partial` first, then fails.
        case fail(LLMError, partial: String = "")
    }

    final class Call: Cancellable {
        var cancelled = false
        func cancel() { cancelled = true }
    }

    let config: LLMConfig
    var outcomes: [Outcome] = []
    var requests: [ChatRequest] = []
    private var pending: (call: Call, onEvent: (StreamEvent) -> Void, completion: (Result<LLMReply, LLMError>) -> Void)?

    init(maxRetries: Int = 3) throws {
        var s = LLMSettings()
        s.provider = .openaiCompatible
        s.baseURL = "http://model.invalid"
        s.model = "fake-model"
        s.maxRetries = maxRetries
        config = try LLMConfig(settings: s, environment: [:])
    }

    var isWaiting: Bool { pending != nil }

    func startStream(_ request: ChatRequest, onEvent: @escaping (StreamEvent) -> Void,
                     completion: @escaping (Result<LLMReply, LLMError>) -> Void) -> Cancellable {
        requests.append(request)
        let call = Call()
        pending = (call, onEvent, completion)
        return call
    }

    /// Completes the request in flight with the next outcome (cancelled if it was cancelled).
    func respond() {
        guard let p = pending else { return XCTFail("no request in flight") }
        pending = nil
        if p.call.cancelled {
            p.completion(.failure(LLMError(kind: .cancelled, provider: "fake", message: "request cancelled")))
            return
        }
        guard !outcomes.isEmpty else { return XCTFail("no outcome scripted") }
        switch outcomes.removeFirst() {
        case .reply(let text, let stop, let usage, let cost):
            p.onEvent(.textDelta(text))
            let response = ChatResponse(id: "r", model: "fake-model", message: .assistant(text), stopReason: stop, usage: usage)
            p.completion(.success(LLMReply(response: response, metrics: RequestMetrics(start: 0, firstToken: 0, end: 1, usage: usage),
                                           cost: cost, provider: "fake", model: "fake-model")))
        case .fail(let error, let partial):
            if !partial.isEmpty { p.onEvent(.textDelta(partial)) }
            p.completion(.failure(error))
        }
    }
}

/// Time that moves only when the test says.
final class FakeClock: EngineClock {
    var now: Double = 1000
    private var timers: [(at: Double, fire: () -> Void, handle: Handle)] = []

    final class Handle: Cancellable {
        var cancelled = false
        func cancel() { cancelled = true }
    }

    func after(_ seconds: Double, _ fire: @escaping () -> Void) -> Cancellable {
        let h = Handle()
        timers.append((now + seconds, fire, h))
        return h
    }

    var pendingTimers: Int { timers.filter { !$0.handle.cancelled }.count }

    func advance(_ seconds: Double) {
        now += seconds
        let due = timers.filter { $0.at <= now }
        timers.removeAll { $0.at <= now }
        for t in due where !t.handle.cancelled { t.fire() }
    }
}

final class EngineViewRecorder: EngineView {
    var notices: [String] = []
    func engineNotice(_ text: String) { notices.append(text) }
}

final class ModelEngineTests: XCTestCase {
    var model: ScriptedModel!
    var clock: FakeClock!
    var view: EngineViewRecorder!
    var spec = AgentSpec(name: "a", kind: .exec, cwd: "/", llm: LLMSettings())
    var eventPipe: [Int32] = [-1, -1]

    override func tearDown() {
        for fd in eventPipe where fd >= 0 { close(fd) }
        eventPipe = [-1, -1]
    }

    func makeEngine(maxRetries: Int = 3, kind: AgentKind = .exec) throws -> ModelEngine {
        model = try ScriptedModel(maxRetries: maxRetries)
        clock = FakeClock()
        view = EngineViewRecorder()
        spec.kind = kind
        spec.llm.model = "fake-model"
        XCTAssertEqual(pipe(&eventPipe), 0)
        _ = fcntl(eventPipe[0], F_SETFL, O_NONBLOCK)
        let events = AgentEvents(environment: ["SUPERVISOR_EVENTS_FD": "\(eventPipe[1])"])
        let engine = ModelEngine(model: model, live: LiveSettings(kind: kind) { [unowned self] in self.spec }, events: events, clock: clock)
        engine.view = view
        engine.random = { 0.5 }
        return engine
    }

    /// The event types written so far, in order.
    func eventTypes() -> [String] { events().compactMap { $0["type"]?.stringValue } }

    func events() -> [JSONValue] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(eventPipe[0], &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { try? JSONValue.parse(Array($0.utf8)) }
    }

    func ask(_ engine: ModelEngine, messages: [Message] = [.user("hi")], discards: UnsafeMutablePointer<Int>? = nil)
        -> () -> Result<ModelEngine.Answer, ModelEngine.Failure>? {
        var result: Result<ModelEngine.Answer, ModelEngine.Failure>?
        engine.ask({ $0.conversation(system: "sys", messages: messages) }, onDiscard: { discards?.pointee += 1 }) { result = $0 }
        return { result }
    }

    static func reset(partial: Bool) -> LLMError {
        LLMError(kind: .transport(.connectionLost), provider: "fake", message: "connection reset by peer", partial: partial)
    }

    // MARK: Transient faults

    /// A connection reset mid-stream: the partial reply is discarded (the agent is told), the
    /// request is sent again after the backoff, and the complete reply is the answer.
    func testAResetMidStreamIsRetriedAndThePartialReplyDiscarded() throws {
        let engine = try makeEngine()
        model.outcomes = [.fail(Self.reset(partial: true), partial: "```python\nprint(1"), .reply("Done.")]
        var discards = 0
        let result = ask(engine, discards: &discards)
        model.respond()
        XCTAssertNil(result(), "not failed: waiting to retry")
        XCTAssertEqual(discards, 1)
        XCTAssertEqual(clock.pendingTimers, 1)
        XCTAssertFalse(model.isWaiting, "nothing is sent before the backoff")
        clock.advance(0.25) // random 0.5 * base 0.5 s
        XCTAssertTrue(model.isWaiting)
        model.respond()
        guard case .success(let answer)? = result() else { return XCTFail("\(String(describing: result()))") }
        XCTAssertEqual(answer.text, "Done.")
        XCTAssertEqual(model.requests.count, 2)
        XCTAssertEqual(model.requests[0], model.requests[1], "the same request again")
        XCTAssertEqual(engine.spend.requests, 1)
        XCTAssertTrue(view.notices.contains { $0.contains("broke off after") && $0.contains("discarded, not used") }, "\(view.notices)")
        XCTAssertEqual(eventTypes(), ["error", "tokens"])
    }

    /// Malformed JSON in a stream and a 200 that is not an event stream are transient too; a
    /// refusal (bad key) and a failure `LLMClient` already retried (before content) are not.
    func testWhichFaultsAreTransient() {
        func e(_ kind: LLMError.Kind, partial: Bool = false) -> LLMError { LLMError(kind: kind, provider: "p", message: "m", partial: partial) }
        XCTAssertTrue(ModelEngine.isTransientFault(e(.provider(.malformedJSON))))
        XCTAssertTrue(ModelEngine.isTransientFault(e(.provider(.notEventStream))))
        XCTAssertTrue(ModelEngine.isTransientFault(e(.provider(.truncated), partial: true)))
        XCTAssertTrue(ModelEngine.isTransientFault(e(.transport(.connectionLost), partial: true)))
        XCTAssertTrue(ModelEngine.isTransientFault(e(.provider(.api(type: "overloaded_error")), partial: true)))
        XCTAssertFalse(ModelEngine.isTransientFault(e(.transport(.connectionLost))), "LLMClient retried it already")
        XCTAssertFalse(ModelEngine.isTransientFault(e(.provider(.api(type: "authentication_error")))))
        XCTAssertFalse(ModelEngine.isTransientFault(e(.cancelled)))
        XCTAssertFalse(ModelEngine.isTransientFault(e(.configuration)))
    }

    /// Retries stop at max_retries: the request then fails, once, with the provider's error.
    func testTransientFaultsAreRetriedWithinMaxRetries() throws {
        let engine = try makeEngine(maxRetries: 2)
        let malformed = LLMError(kind: .provider(.malformedJSON), provider: "fake", message: "malformed JSON in event 2")
        model.outcomes = Array(repeating: .fail(malformed), count: 3)
        let result = ask(engine)
        for _ in 0..<2 {
            model.respond()
            clock.advance(60)
        }
        model.respond()
        guard case .failure(.failed(let error, _))? = result() else { return XCTFail("\(String(describing: result()))") }
        XCTAssertEqual(error.kind, .provider(.malformedJSON))
        XCTAssertEqual(model.requests.count, 3, "the first and max_retries = 2 more")
        XCTAssertEqual(eventTypes(), ["error", "error", "error"])
        XCTAssertEqual(engine.spend.requests, 0)
    }

    /// Cancelling while waiting to retry ends the request at once; nothing more is sent.
    func testCancelDuringTheBackoffEndsTheRequest() throws {
        let engine = try makeEngine()
        model.outcomes = [.fail(Self.reset(partial: true), partial: "x")]
        let result = ask(engine)
        model.respond()
        engine.cancel()
        guard case .failure(.cancelled)? = result() else { return XCTFail("\(String(describing: result()))") }
        clock.advance(60)
        XCTAssertEqual(model.requests.count, 1)
        XCTAssertFalse(engine.isBusy)
    }

    // MARK: Context overflow

    /// One policy for every agent: 70% of what did not fit, up to 3 times in a row, the budget
    /// kept (and handed to the transcript) while the model and context_tokens stay; a fourth
    /// refusal fails the request with a hint.
    func testAContextOverflowIsSentAgainSmallerUpTo3Times() throws {
        let engine = try makeEngine()
        var saved: [ContextCap?] = []
        engine.onContextCapChange = { saved.append($0) }
        let tooLong = LLMError(kind: .provider(.api(type: "invalid_request_error")), provider: "fake",
                               message: "prompt is too long: 212345 tokens > 200000 maximum", status: 400)
        model.outcomes = Array(repeating: .fail(tooLong), count: 4)
        let history = (0..<40).flatMap { i in [Message.user("question \(i) " + String(repeating: "x", count: 2000)), .assistant("answer \(i)")] }
        let result = ask(engine, messages: history + [.user("now")])
        var sent = [ContextFit.tokens(history + [.user("now")])]
        for i in 0..<4 {
            model.respond()
            if i < 3 {
                XCTAssertEqual(saved.last??.tokens, sent.last! * 7 / 10, "round \(i)")
                sent.append(ContextFit.tokens(model.requests.last!.messages))
                XCTAssertLessThanOrEqual(sent.last!, saved.last!!.tokens)
            }
        }
        guard case .failure(.failed(_, let hint))? = result() else { return XCTFail("\(String(describing: result()))") }
        XCTAssertEqual(model.requests.count, 4)
        XCTAssertTrue(hint?.contains("does not fit the model's context window") == true)
        XCTAssertEqual(saved.count, 3)
        XCTAssertEqual(eventTypes().filter { $0 == "context_overflow" }.count, 3)

        // The learned budget applies to the next request of the same model and window only.
        model.outcomes = [.reply("ok"), .reply("ok")]
        _ = ask(engine, messages: history + [.user("again")])
        model.respond()
        XCTAssertLessThanOrEqual(ContextFit.tokens(model.requests.last!.messages), saved.last!!.tokens)
        spec.llm.contextTokens = 1_000_000
        _ = ask(engine, messages: history + [.user("bigger window")])
        model.respond()
        XCTAssertEqual(model.requests.last!.messages.count, history.count + 1, "sent whole")
    }

    // MARK: Settings, accounting, budgets

    /// `supervisor set` applies at the next request: model, max_tokens, temperature.
    func testLiveSettingsApplyAtTheNextRequest() throws {
        let engine = try makeEngine(kind: .goal)
        model.outcomes = [.reply("a"), .reply("b")]
        _ = ask(engine)
        model.respond()
        XCTAssertEqual(model.requests[0].model, "fake-model")
        XCTAssertEqual(model.requests[0].maxTokens, 200, "the goal runner's default")
        XCTAssertEqual(model.requests[0].temperature, 0)
        spec.llm.model = "bigger-model"
        spec.llm.maxTokens = 999
        _ = ask(engine)
        model.respond()
        XCTAssertEqual(model.requests[1].model, "bigger-model")
        XCTAssertEqual(model.requests[1].maxTokens, 999)
    }

    /// Usage and cost are counted once, in the engine, with a `tokens` event per reply; a reply
    /// cut at max_tokens is an `incomplete` event, the same for every agent.
    func testUsageIsCountedAndACutReplyIsReported() throws {
        let engine = try makeEngine()
        model.outcomes = [.reply("a", usage: Usage(input: 100, output: 20, cacheRead: 5), cost: 0.25),
                          .reply("cut", stop: .maxTokens, usage: Usage(input: 50, output: 10), cost: nil)]
        _ = ask(engine)
        model.respond()
        let second = ask(engine)
        model.respond()
        guard case .success(let answer)? = second() else { return XCTFail() }
        XCTAssertTrue(answer.cut)
        XCTAssertEqual(engine.spend.requests, 2)
        XCTAssertEqual(engine.spend.tokens, 185)
        XCTAssertEqual(engine.spend.costUSD, 0.25)
        let events = events()
        XCTAssertEqual(events.compactMap { $0["type"]?.stringValue }, ["tokens", "tokens", "incomplete"])
        XCTAssertEqual(events[2]["max_tokens"]?.intValue, LLMSettings().maxTokens)
    }

    /// Budgets for every kind, counted from what the scope (a turn, a run) spent, earlier
    /// processes included; the time budget runs on the engine's clock.
    func testBudgetsCountWhatTheScopeSpent() throws {
        let engine = try makeEngine(kind: .coder)
        spec.limit = 5
        spec.timeBudget = 60
        spec.tokenBudget = 1000
        spec.costBudget = 1
        var before = Spend()
        before.steps = 2
        before.seconds = 50
        before.inputTokens = 900
        engine.beginScope(before)
        XCTAssertNil(engine.budgetReached())
        clock.advance(10)
        XCTAssertEqual(engine.budgetReached(), BudgetEnd(kind: .time, sentence: "time budget of 60s used up", spent: 60, limit: 60))
        spec.timeBudget = nil
        model.outcomes = [.reply("a", usage: Usage(input: 100, output: 1))]
        _ = ask(engine)
        model.respond()
        XCTAssertEqual(engine.budgetReached()?.kind, .tokens)
        spec.tokenBudget = nil
        engine.spend.steps = 5
        XCTAssertEqual(engine.budgetReached()?.sentence, "step limit reached (limit = 5)")
        engine.ended(by: engine.budgetReached()!, conclusive: true)
        let ended = events().suffix(3)
        XCTAssertEqual(ended.compactMap { $0["type"]?.stringValue }, ["budget", "message", "final"])
        XCTAssertEqual(ended.first?["budget"]?.stringValue, "steps")
        XCTAssertEqual(ended.first?["spent"]?.intValue, 5)
    }
}

/// The same fault gives the same events in every agent: the model side's events come from the
/// engine. Each agent's test (CoderTurnTests, ExecAgentTests, GoalRunnerEndToEndTests) runs
/// these scripts and compares what it emitted of these types.
enum SameFault {
    static let modelSideTypes: Set<String> = ["context_overflow", "incomplete", "tokens", "error", "budget", "final"]

    static func modelSide(_ types: [String]) -> [String] { types.filter(modelSideTypes.contains) }

    /// A request refused as too long once, then an answer.
    static let tooLongThenAnswer = ["context_overflow", "tokens"]
    /// A reply cut at max_tokens (text only), then the final answer: never taken as final.
    static let cutThenAnswer = ["tokens", "incomplete", "tokens"]
    /// HTTP 429 with no retries left: the request fails, said once.
    static let rateLimited = ["error"]
}
