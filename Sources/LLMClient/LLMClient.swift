import Foundation
import HTTP
import LLM
import Loop
import Profile

/// A finished response with its accounting.
public struct LLMReply: Equatable {
    public var response: ChatResponse
    /// Timing, usage (incl. cache tokens) and attempts; `timeToFirstToken`, `outputTokensPerSecond`.
    public var metrics: RequestMetrics
    /// USD, nil for a model without a price.
    public var cost: Double?
    public var provider: String
    public var model: String

    public init(response: ChatResponse, metrics: RequestMetrics, cost: Double?, provider: String, model: String) {
        self.response = response; self.metrics = metrics; self.cost = cost; self.provider = provider; self.model = model
    }
}

/// One call in flight.
public final class LLMCall {
    fileprivate weak var run: RequestRun?
    fileprivate init() {}
    /// Stops the call; its completion gets `.cancelled` (unless it already completed).
    public func cancel() { run?.cancel() }
}

/// Streams chat requests to the configured provider on an `EventLoop`: many calls at once, one
/// thread, nothing blocks. Retries only before the first content byte; a failure after that is
/// a typed error with `partial == true`.
public final class LLMClient {
    public let config: LLMConfig
    public let loop: EventLoop
    public var retryPolicy: RetryPolicy
    /// Uniform in [0, 1), for retry jitter (tests make it fixed).
    public var random: () -> Double = { Double.random(in: 0..<1) }
    public let http: HTTPClient?
    private let ownsHTTP: Bool
    let apiKey: String?
    var script: ScriptProvider?
    let debug: DebugLog?
    private var runs: [ObjectIdentifier: RequestRun] = [:]
    private var nextID = 0

    /// - Parameters:
    ///   - environment: where the API key (named by api_key_env) and base URL variables are read.
    ///   - http: share one HTTP client (one curl multi) between LLM clients on the same loop.
    ///   - debugFile: append requests and responses as JSON lines here (also when `settings.debug`
    ///     is false); with `settings.debug` and no path, `llm-debug.jsonl` in the current directory.
    /// - Throws: `LLMError` for a missing API key or unusable settings, before anything starts.
    public init(settings: LLMSettings, loop: EventLoop,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                http: HTTPClient? = nil, debugFile: String? = nil) throws {
        try Self.checkCredentials(settings: settings, environment: environment)
        config = try LLMConfig(settings: settings, environment: environment)
        self.loop = loop
        retryPolicy = config.retry
        apiKey = config.apiKeyEnv.flatMap { environment[$0] }
        if config.provider == .script {
            let path = config.scriptPath!
            guard let data = FileManager.default.contents(atPath: path) else {
                throw LLMError(kind: .configuration, provider: "script", message: "cannot read script file \(path)")
            }
            do {
                script = try ScriptProvider(text: String(decoding: data, as: UTF8.self),
                                            fileName: (path as NSString).lastPathComponent, model: config.model)
            } catch {
                throw LLMError(kind: .configuration, provider: "script", message: "\(error)")
            }
            self.http = nil
            ownsHTTP = false
        } else {
            let owns = http == nil
            if let shared = http { self.http = shared } else { self.http = HTTPClient(loop: loop, environment: environment) }
            ownsHTTP = owns
        }
        let debugPath = debugFile ?? (settings.debug ? "llm-debug.jsonl" : nil)
        let key = apiKey
        debug = debugPath.map { DebugLog(path: $0, secret: key) }
    }

    /// Reports a missing API key before anything starts, naming the variable (never a value).
    public static func checkCredentials(settings: LLMSettings,
                                        environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard settings.provider != .script,
              let variable = settings.apiKeyEnv ?? settings.provider.defaultAPIKeyEnv else { return }
        if (environment[variable] ?? "").isEmpty {
            throw LLMError(kind: .missingAPIKey(variable: variable), provider: settings.provider.rawValue,
                           message: "the API key variable \(variable) is not set (llm.api_key_env names it)")
        }
    }

    /// A request with the configured model, max_tokens and temperature.
    public func makeRequest(system: String? = nil, messages: [Message], tools: [ToolDefinition] = []) -> ChatRequest {
        ChatRequest(model: config.model, system: system, messages: messages, tools: tools,
                    maxTokens: config.maxTokens, temperature: config.temperature)
    }

    /// Calls in flight.
    public var activeCalls: Int { runs.count }

    /// Streams `request` (an empty model means the configured one). `onEvent` gets text and
    /// tool-call events as they arrive (events of a failed attempt that is retried are held back
    /// until content arrives, so nothing is seen twice; errors go to `completion` only).
    /// `completion` runs exactly once, on the loop, never from inside this call.
    @discardableResult
    public func stream(request: ChatRequest, onEvent: @escaping (StreamEvent) -> Void,
                       completion: @escaping (Result<LLMReply, LLMError>) -> Void) -> LLMCall {
        var r = request
        if r.model.isEmpty { r.model = config.model }
        nextID += 1
        let call = LLMCall()
        let run = RequestRun(client: self, id: nextID, request: r, onEvent: onEvent) { [weak self] run, result in
            self?.runs[ObjectIdentifier(run)] = nil
            completion(result)
        }
        call.run = run
        runs[ObjectIdentifier(run)] = run
        run.begin()
        return call
    }

    /// Cancels every call and frees the HTTP client if this client made it.
    public func close() {
        for run in Array(runs.values) { run.cancel() }
        if ownsHTTP { http?.close() }
    }
}

/// One `stream` call: its attempts, retries and accounting.
final class RequestRun {
    unowned let client: LLMClient
    let id: Int
    let request: ChatRequest
    let onEvent: (StreamEvent) -> Void
    private var done: ((RequestRun, Result<LLMReply, LLMError>) -> Void)?
    private let provider: String
    private let start = EventLoop.monotonicSeconds()
    private var attempt = 0
    private var assembler: Assembler
    private var parser: StreamParser?
    private var pending: [StreamEvent] = []
    private var forwarding = false
    private var firstToken: Double?
    private var head: HTTPResponseHead?
    private var errorBody: [UInt8] = []
    private var debugBody: [UInt8] = []
    private var transfer: HTTPTransfer?
    private var timer: LoopTimer?
    /// Bumped per attempt so a stale transfer completion is ignored.
    private var attemptToken = 0
    private var attemptStart = 0.0
    private var finished = false
    private var requestText: String?

    init(client: LLMClient, id: Int, request: ChatRequest, onEvent: @escaping (StreamEvent) -> Void,
         done: @escaping (RequestRun, Result<LLMReply, LLMError>) -> Void) {
        self.client = client
        self.id = id
        self.request = request
        self.onEvent = onEvent
        self.done = done
        provider = client.config.providerName
        assembler = Assembler(provider: provider)
    }

    func begin() {
        if client.script != nil { runScript() } else { sendAttempt() }
    }

    // MARK: Network

    private func makeParser() -> StreamParser {
        switch client.config.wire! {
        case .anthropicMessages: return StreamParser(api: .anthropicMessages)
        case .openAIChat: return StreamParser(decoder: OpenAIChatStreamDecoder(provider: provider))
        case .openAICompletions: return StreamParser(decoder: OpenAICompletionsStreamDecoder(provider: provider))
        }
    }

    private func sendAttempt() {
        guard !finished, let http = client.http, let wire = client.config.wire else { return }
        attempt += 1
        attemptToken += 1
        let token = attemptToken
        attemptStart = EventLoop.monotonicSeconds()
        assembler = Assembler(provider: provider)
        parser = makeParser()
        pending = []
        head = nil
        errorBody = []
        debugBody = []
        let spec = wire.encode(request, apiKey: client.apiKey)
        let url = spec.url(baseURL: client.config.baseURL!)
        requestText = "\(spec.method) \(url)"
        client.debug?.write([
            "type": "request", "call": .number(Double(id)), "attempt": .number(Double(attempt)),
            "method": .string(spec.method), "url": .string(url), "headers": DebugLog.headers(spec.headers),
            "body": (try? JSONValue.parse(spec.body)) ?? .string(String(decoding: spec.body, as: UTF8.self)),
        ])
        let c = client.config
        let req = HTTPRequest(method: spec.method, url: url, headers: spec.headers, body: spec.body,
                              connectTimeout: c.connectTimeout, stallTimeout: c.stallTimeout,
                              totalTimeout: max(0.001, c.requestTimeout - (attemptStart - start)))
        transfer = http.start(req, onHead: { [weak self] h in
            guard let self, token == self.attemptToken else { return }
            self.head = h
        }, onBody: { [weak self] bytes in
            guard let self, token == self.attemptToken else { return }
            self.body(bytes)
        }, onComplete: { [weak self] result in
            guard let self, token == self.attemptToken else { return }
            self.transferEnded(result)
        })
    }

    private var isSuccessStatus: Bool { (head.map { (200...299).contains($0.status) }) ?? false }

    private func body(_ bytes: UnsafeRawBufferPointer) {
        if client.debug != nil && debugBody.count < 1 << 20 { debugBody.append(contentsOf: bytes.prefix((1 << 20) - debugBody.count)) }
        guard isSuccessStatus else {
            if errorBody.count < 65536 { errorBody.append(contentsOf: bytes.prefix(65536 - errorBody.count)) }
            return
        }
        guard var p = parser else { return }
        let events = p.feed(Array(bytes))
        parser = p
        for e in events {
            apply(e)
            if assembler.error != nil {
                // A provider error event or a protocol violation: stop reading this answer.
                let t = transfer
                attemptToken += 1
                t?.cancel()
                streamFailed()
                return
            }
        }
    }

    private func apply(_ e: StreamEvent) {
        assembler.apply(e)
        if case .error = e { return }
        switch e {
        case .textDelta, .toolCallStart, .toolCallArgumentsDelta:
            if firstToken == nil { firstToken = EventLoop.monotonicSeconds() }
            if !forwarding {
                forwarding = true
                pending.forEach(onEvent)
                pending = []
            }
        default: break
        }
        if forwarding { onEvent(e) } else { pending.append(e) }
    }

    /// The answer failed inside the stream (error event, malformed data, truncated).
    private func streamFailed() {
        guard let pe = assembler.error else { return }
        logResponse(error: pe.description)
        let error = LLMError(kind: .provider(pe.kind), provider: provider, request: requestText, message: pe.message,
                             status: nil, attempts: attempt, partial: assembler.streamedAnyByte)
        // An overload or server error event before any content is retried like its HTTP status.
        var asStatus: Int?
        if case .api(let type) = pe.kind {
            switch type {
            case "overloaded_error": asStatus = 529
            case "api_error": asStatus = 500
            case "rate_limit_error": asStatus = 429
            default: break
            }
        }
        if let s = asStatus { retryOrFail(error, status: s, headers: []) } else { fail(error) }
    }

    private func transferEnded(_ result: Result<HTTPTransferInfo, HTTPError>) {
        transfer = nil
        switch result {
        case .success(let info):
            if (200...299).contains(info.head.status) {
                guard var p = parser else { return }
                for e in p.finish() { apply(e) }
                parser = p
                if assembler.error != nil { streamFailed(); return }
                switch assembler.result() {
                case .success(let response):
                    logResponse(error: nil)
                    succeed(response)
                case .failure(let pe):
                    logResponse(error: pe.description)
                    fail(LLMError(kind: .provider(pe.kind), provider: provider, request: requestText, message: pe.message,
                                  attempts: attempt, partial: assembler.streamedAnyByte))
                }
            } else {
                let status = info.head.status
                logResponse(error: nil)
                let pe = ProviderErrorBody.error(provider: provider, status: status, body: errorBody, apiKey: client.apiKey)
                var message = pe.message
                if case .api(let type) = pe.kind, !type.isEmpty { message = type + ": " + message }
                let error = LLMError(kind: .provider(pe.kind), provider: provider, request: requestText, message: message,
                                     status: status, attempts: attempt)
                retryOrFail(error, status: status, headers: info.head.headers)
            }
        case .failure(let he):
            logResponse(error: he.message)
            let error = LLMError(kind: he.kind == .cancelled ? .cancelled : .transport(he.kind), provider: provider,
                                 request: requestText, message: Self.withoutRequestPrefix(he.message, requestText ?? ""), attempts: attempt,
                                 partial: assembler.streamedAnyByte)
            if he.isTransient { retryOrFail(error, status: nil, headers: []) } else { fail(error) }
        }
    }

    private func retryOrFail(_ error: LLMError, status: Int?, headers: [(String, String)]) {
        let decision = client.retryPolicy.decide(status: status, headers: headers, attempt: attempt - 1,
                                                 elapsed: EventLoop.monotonicSeconds() - start,
                                                 streamedAnyByte: assembler.streamedAnyByte, random: client.random)
        guard case .retry(let delay) = decision, !finished else { fail(error); return }
        client.debug?.write(["type": "retry", "call": .number(Double(id)), "attempt": .number(Double(attempt)),
                             "delay": .number(delay), "error": .string(error.redacting(client.apiKey).description)])
        let t = timer ?? LoopTimer(loop: client.loop)
        timer = t
        // Reason: retry delay from retry-after or backoff.
        t.start(seconds: delay) { [weak self] in self?.sendAttempt() }
    }

    /// The transport names the request itself; the error already says it once.
    static func withoutRequestPrefix(_ message: String, _ request: String) -> String {
        message.hasPrefix(request + ": ") ? String(message.dropFirst(request.count + 2)) : message
    }

    private func logResponse(error: String?) {
        guard let debug = client.debug else { return }
        var o: [String: JSONValue] = [
            "type": "response", "call": .number(Double(id)), "attempt": .number(Double(attempt)),
            "duration": .number(((EventLoop.monotonicSeconds() - attemptStart) * 1000).rounded() / 1000),
            "body": .string(String(decoding: debugBody, as: UTF8.self)),
        ]
        if let h = head {
            o["status"] = .number(Double(h.status))
            o["headers"] = DebugLog.headers(h.headers)
        }
        if let error { o["error"] = .string(error) }
        debug.write(o)
    }

    // MARK: Script

    private func runScript() {
        attempt = 1
        requestText = nil
        attemptStart = EventLoop.monotonicSeconds()
        // The debug log shows what the agent asked and what the script answered, as for a real
        // provider (the request in Anthropic's wire form: it has every part of the request).
        if let debug = client.debug {
            let spec = WireAPI.anthropicMessages.encode(request, apiKey: nil)
            debug.write([
                "type": "request", "call": .number(Double(id)), "attempt": 1, "provider": "script",
                "body": (try? JSONValue.parse(spec.body)) ?? .string(String(decoding: spec.body, as: UTF8.self)),
            ])
        }
        let events = client.script!.respond(to: request)
        var rest = events[...]
        let t = LoopTimer(loop: client.loop)
        timer = t
        func next() {
            guard !finished else { return }
            guard let e = rest.popFirst() else {
                if let debug = client.debug, case .success(let r) = assembler.result() {
                    debug.write(["type": "response", "call": .number(Double(id)), "attempt": 1, "provider": "script",
                                 "duration": .number(((EventLoop.monotonicSeconds() - attemptStart) * 1000).rounded() / 1000),
                                 "text": .string(r.message.text), "stop_reason": .string(r.stopReason.wireName),
                                 "tool_calls": .array(r.message.toolUses.map { .string($0.name) })])
                }
                switch assembler.result() {
                case .success(let r): succeed(r)
                case .failure(let pe):
                    fail(LLMError(kind: .provider(pe.kind), provider: provider, message: pe.message, attempts: 1,
                                  partial: assembler.streamedAnyByte))
                }
                return
            }
            apply(e)
            if let pe = assembler.error {
                fail(LLMError(kind: .provider(pe.kind), provider: provider, message: pe.message, attempts: 1,
                              partial: assembler.streamedAnyByte))
                return
            }
            // Reason: script events arrive one loop turn apart, like a real stream.
            t.start(milliseconds: 0) { next() }
        }
        t.start(milliseconds: 0) { next() }
    }

    // MARK: Ending

    func cancel() {
        guard !finished else { return }
        if let t = transfer {
            t.cancel()  // completes through transferEnded with .cancelled
        } else {
            fail(LLMError(kind: .cancelled, provider: provider, request: requestText, message: "request cancelled",
                          attempts: attempt, partial: assembler.streamedAnyByte))
        }
    }

    private func succeed(_ response: ChatResponse) {
        if !forwarding { pending.forEach(onEvent); pending = [] }
        let end = EventLoop.monotonicSeconds()
        // A script replays a whole reply in microseconds: its "speed" (millions of tokens per
        // second) and time to first token say nothing about a model, so it reports neither.
        let metrics = RequestMetrics(start: start, firstToken: client.script == nil ? firstToken : nil, end: end,
                                     usage: response.usage, attempts: attempt)
        let model = response.model.isEmpty ? request.model : response.model
        let cost = client.config.prices.cost(response.usage, model: model) ?? client.config.prices.cost(response.usage, model: request.model)
        finish(.success(LLMReply(response: response, metrics: metrics, cost: cost, provider: provider, model: model)))
    }

    private func fail(_ error: LLMError) {
        finish(.failure(error.redacting(client.apiKey)))
    }

    private func finish(_ result: Result<LLMReply, LLMError>) {
        guard !finished else { return }
        finished = true
        attemptToken += 1
        timer?.close()
        timer = nil
        let d = done
        done = nil
        d?(self, result)
    }
}
