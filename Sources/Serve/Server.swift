import AgentHost
import AgentProtocol
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Hosting
import Loop

/// `supervisor serve`: the HTTP API and the WebSocket streams over every profile under
/// `SUPERVISOR_HOME`, on one loop. It holds nothing a restart would lose: the logs, event files
/// and state files are the truth, the shims' sockets the live feed.
public final class Server: WebServerDelegate {
    public struct Configuration: Sendable {
        public var options: WebServerOptions
        public var access: Access
        /// Stream clients with more than this queued are sent back to reading the log.
        public var clientQueueLimit = 1 << 20
        /// A WebSocket client whose queue has not emptied for this long is dropped.
        public var stuckAfter: Double = 60
        /// Largest log range one `GET .../log` returns.
        public var maxLogRange = 4 << 20
        public init(options: WebServerOptions, access: Access) {
            self.options = options
            self.access = access
        }
    }

    let loop: EventLoop
    let paths: SupervisorPaths
    let configuration: Configuration
    let profiles: ProfileSet
    /// Each agent's open permission questions (its `status` and `POST .../permission/ID`).
    let questions = QuestionIndex()
    private var web: WebServer!
    private var streams: [String: [StreamClient]] = [:]  // "profile/agent"
    private var eventClients: [String: [WebSocket]] = [:]  // profile
    private var pendingCalls: [ObjectIdentifier: ShimConnection] = [:]
    private var stuckTimer: LoopTimer?

    public var port: Int { web.port }

    public init(loop: EventLoop, paths: SupervisorPaths, configuration: Configuration) {
        self.loop = loop
        self.paths = paths
        self.configuration = configuration
        profiles = ProfileSet(loop: loop, paths: paths)
        web = WebServer(loop: loop, options: configuration.options, delegate: self)
        profiles.onOutput = { [weak self] profile, agent, offset, bytes in self?.liveOutput(profile, agent, offset, bytes) }
        profiles.onEvent = { [weak self] profile, agent, line in self?.liveEvent(profile, agent, line) }
        profiles.onChange = { [weak self] profile, agent in self?.stateChanged(profile, agent) }
        profiles.onProfile = { [weak self] profile, up in if !up { self?.profileWentDown(profile) } }
    }

    public func start() throws {
        try web.start()
        try profiles.start()
        // Reason: a client whose queue has not emptied for `stuckAfter` seconds is not reading
        // at all (a slow one drains now and then); it is dropped so it holds no memory.
        let timer = LoopTimer(loop: loop)
        timer.start(milliseconds: 5_000, repeatMilliseconds: 5_000) { [weak self] in self?.dropStuckClients() }
        timer.unref()
        stuckTimer = timer
    }

    private func dropStuckClients() {
        let now = loop.nowMilliseconds
        for socket in web.webSockets where socket.queuedBytes > 0 && now - socket.lastDrained > UInt64(configuration.stuckAfter * 1000) {
            socket.drop()
        }
    }

    public func stop() {
        stuckTimer?.close()
        profiles.stop()
        for connection in pendingCalls.values { connection.close() }
        web.stop()
    }

    // MARK: WebServerDelegate

    public func handle(_ request: WebRequest, reply: @escaping (WebResponse) -> Void) {
        let route: Route
        switch Route.parse(method: request.method, path: request.path) {
        case .success(let parsed): route = parsed
        case .failure(.notFound): return reply(.error(404, "no such resource: \(request.path)"))
        case .failure(.methodNotAllowed): return reply(.error(405, "\(request.method) is not allowed on \(request.path)"))
        }
        if route.needsToken, let refusal = configuration.access.refusal(for: request, needs: route.scope) { return reply(refusal) }
        answer(route, request, reply)
    }

    public func checkUpgrade(_ request: WebRequest) -> WebResponse? {
        guard case .success(let route) = Route.parse(method: "GET", path: request.path, upgrade: true) else {
            return .error(404, "no WebSocket at \(request.path)")
        }
        if let refusal = configuration.access.refusal(for: request, needs: route.scope) { return refusal }
        switch route {
        case .streamSocket(let p, let a) where profiles.agent(p, a) == nil: return .error(404, "no agent \(a) in a profile \(p) that is up")
        case .eventsSocket(let p) where profiles.profiles[p] == nil: return .error(404, "no profile \(p) is up")
        default: return nil
        }
    }

    public func opened(_ socket: WebSocket, request: WebRequest) {
        guard case .success(let route) = Route.parse(method: "GET", path: request.path, upgrade: true) else { return socket.close(policy: true) }
        let scope = configuration.access.scope(of: request) ?? .read
        switch route {
        case .streamSocket(let p, let a):
            guard let agent = profiles.agent(p, a) else { return socket.close(reason: "agent gone") }
            let from = request.query["from"].flatMap { UInt64($0) } ?? 0
            let client = StreamClient(socket: socket, profile: p, agent: agent, from: from, scope: scope)
            client.wantsOutput = request.query["output"] != "0"
            socket.context = client
            streams[p + "/" + a, default: []].append(client)
            socket.onDrained = { [weak self, weak client] in if let client { self?.pump(client) } }
            var hello: [(String, OrderedJSON)] = [("type", .string("hello")), ("profile", .string(p)), ("agent", .string(a)),
                                                    ("from", .number(String(from)))]
            if let end = profiles.profiles[p]?.streamEnd[a] { hello.append(("log_end", .number(String(end)))) }
            if let status = statusJSON(p, a) { hello.append(("status", status)) }
            socket.send(text: OrderedJSON.object(hello).serialized())
            pump(client)
        case .eventsSocket(let p):
            socket.context = EventsClient(profile: p, scope: scope)
            eventClients[p, default: []].append(socket)
            socket.send(text: OrderedJSON.object([("type", .string("hello")), ("profile", .string(p))]).serialized())
            if let count = request.query["replay"].flatMap({ Int($0) }), count > 0 { replayEvents(p, last: min(count, 10_000), to: socket) }
        default:
            socket.close(policy: true)
        }
    }

    public func received(_ socket: WebSocket, message: [UInt8], binary: Bool) {
        guard let client = socket.context as? StreamClient else {
            return socket.send(text: errorMessage("this stream takes no messages"))
        }
        guard let json = try? OrderedJSON.parse(message), case .string(let type)? = json["type"] else {
            return socket.send(text: errorMessage("a client message is a JSON object with a \"type\""))
        }
        let id = json["id"] ?? .null
        guard client.scope == .control else {
            return socket.send(text: OrderedJSON.object([("type", .string("ack")), ("id", id), ("ok", .bool(false)),
                                                         ("error", .string("this token may only read"))]).serialized())
        }
        let frame: Frame
        switch (type, json["data"], json["text"], json["op"]) {
        case ("input", .string(let data)?, _, _): frame = .input(Array(data.utf8))
        case ("paste", _, .string(let text)?, _): frame = .paste(text)
        case ("control", _, _, .string(let op)?) where Route.controlOps.contains(op): frame = .control(ControlOp(rawValue: op)!)
        default:
            return socket.send(text: errorMessage("unknown message: input needs \"data\", paste \"text\", control \"op\" (start, stop, restart)"))
        }
        call(frame, to: client.agent) { [weak socket] error in
            var fields: [(String, OrderedJSON)] = [("type", .string("ack")), ("id", id), ("ok", .bool(error == nil))]
            if let error { fields.append(("error", .string(error))) }
            socket?.send(text: OrderedJSON.object(fields).serialized())
        }
    }

    public func closed(_ socket: WebSocket) {
        if let client = socket.context as? StreamClient {
            streams[client.key]?.removeAll { $0 === client }
            if streams[client.key]?.isEmpty == true { streams[client.key] = nil }
        } else if let client = socket.context as? EventsClient {
            eventClients[client.profile]?.removeAll { $0 === socket }
        }
        socket.context = nil
    }

    // MARK: streams

    /// Sends a catching-up client the next piece of the log (one piece per drain, so a client
    /// that reads slowly costs one piece of memory, not the whole log).
    private func pump(_ client: StreamClient) {
        guard client.wantsOutput, client.cursor.mode == .catchingUp, client.socket.isOpen, client.socket.queuedBytes == 0 else { return }
        let chunk = 256 * 1024
        guard let (offset, bytes) = try? LogReader.read(path: client.agent.logPath, from: client.cursor.next, maxBytes: chunk) else {
            _ = client.cursor.read(offset: client.cursor.next, count: 0, reachedEnd: true)
            return
        }
        if let gap = client.cursor.read(offset: offset, count: bytes.count, reachedEnd: bytes.count < chunk) {
            client.socket.send(text: OrderedJSON.object([("type", .string("gap")), ("from", .number(String(gap.gapFrom))),
                                                         ("to", .number(String(gap.gapTo)))]).serialized())
        }
        if !bytes.isEmpty { client.socket.send(binary: outputMessage(offset, bytes[...])) }
        // onDrained calls back once this piece is written; a live client waits for frames.
    }

    private func liveOutput(_ profile: String, _ agent: String, _ offset: UInt64, _ bytes: [UInt8]) {
        guard let clients = streams[profile + "/" + agent] else { return }
        for client in clients where client.wantsOutput {
            let canQueue = client.socket.queuedBytes < configuration.clientQueueLimit
            if let (start, skip) = client.cursor.live(offset: offset, count: bytes.count, canQueue: canQueue) {
                client.socket.send(binary: outputMessage(start, bytes[skip...]))
            } else if client.cursor.mode == .catchingUp {
                pump(client)
            }
        }
    }

    /// `[u64 BE offset][bytes]`: an output frame as it goes to a client.
    private func outputMessage(_ offset: UInt64, _ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var message = [UInt8]()
        message.reserveCapacity(8 + bytes.count)
        for shift in stride(from: 56, through: 0, by: -8) { message.append(UInt8(truncatingIfNeeded: offset >> UInt64(shift))) }
        message += bytes
        return message
    }

    private func liveEvent(_ profile: String, _ agent: String, _ line: String) {
        let event = (try? OrderedJSON.parse(Array(line.utf8))) ?? .object([("type", .string("invalid")), ("raw", .string(line))])
        let text = OrderedJSON.object([("type", .string("event")), ("profile", .string(profile)), ("agent", .string(agent)),
                                       ("event", event)]).serialized()
        for client in streams[profile + "/" + agent] ?? [] where client.socket.queuedBytes < configuration.clientQueueLimit {
            client.socket.send(text: text)
        }
        for socket in eventClients[profile] ?? [] {
            // A client that does not read its events is dropped: it can reconnect and read the files.
            if socket.queuedBytes > configuration.clientQueueLimit { socket.close(policy: true, reason: "too slow"); continue }
            socket.send(text: text)
        }
    }

    /// The last `count` events of every agent of the profile, merged in time order (`ts`), so
    /// a timeline opened late starts with its history.
    private func replayEvents(_ profile: String, last count: Int, to socket: WebSocket) {
        guard let record = profiles.profiles[profile]?.record else { return }
        var merged: [(ts: String, text: String)] = []
        for agent in record.agents {
            for line in (try? LogReader.lastLines(path: agent.eventsPath, count: count)) ?? [] {
                guard let event = try? OrderedJSON.parse(Array(line.utf8)) else { continue }
                let ts: String = { if case .string(let t)? = event["ts"] { return t }; return "" }()
                merged.append((ts, OrderedJSON.object([("type", .string("event")), ("profile", .string(profile)),
                                                       ("agent", .string(agent.name)), ("event", event)]).serialized()))
            }
        }
        // Stable: one agent's events keep their file order when their stamps are equal.
        let ordered = merged.enumerated().sorted { ($0.element.ts, $0.offset) < ($1.element.ts, $1.offset) }
        for (_, item) in ordered.suffix(count) { socket.send(text: item.text) }
    }

    private func stateChanged(_ profile: String, _ agent: String) {
        guard let clients = streams[profile + "/" + agent], let status = statusJSON(profile, agent) else { return }
        let text = OrderedJSON.object([("type", .string("state")), ("status", status)]).serialized()
        for client in clients { client.socket.send(text: text) }
    }

    private func profileWentDown(_ profile: String) {
        for (key, clients) in streams where key.hasPrefix(profile + "/") {
            clients.forEach { $0.socket.close(reason: "profile \(profile) went down") }
        }
        eventClients[profile]?.forEach { $0.close(reason: "profile \(profile) went down") }
    }

    // MARK: shim requests

    /// One request to an agent's shim on a connection of its own, answered by the shim's ack
    /// (nil) or an error. The shared watcher connection carries no acks.
    func call(_ frame: Frame, to agent: ProfileRecord.Agent, _ done: @escaping (String?) -> Void) {
        let connection = ShimConnection(loop: loop, agent: agent.name)
        let key = ObjectIdentifier(connection)
        pendingCalls[key] = connection
        var finished = false
        func finish(_ error: String?) {
            guard !finished else { return }
            finished = true
            pendingCalls[key] = nil
            connection.close()
            done(error)
        }
        connection.onFrame = { frame in
            if frame.type == .ack, let ack = try? frame.decodeAck() { finish(ack.ok ? nil : ack.error ?? "refused") }
        }
        connection.onClose = { reason in finish(reason ?? "the shim closed the connection") }
        connection.connect(path: agent.socketPath) { error in
            if let error { finish(error + "; `supervisor restart` on the host brings a lost agent back") } else { connection.send(frame) }
        }
    }

    // MARK: helpers

    func statusJSON(_ profile: String, _ agent: String) -> OrderedJSON? {
        guard let record = profiles.profiles[profile]?.record,
              var status = StatusReport.collect(record).first(where: { $0.agent == agent }) else { return nil }
        if profiles.profiles[profile]?.watcher.unreachable.contains(agent) == true, status.state == "running" { status.state = "lost" }
        var json = (try? JSONCoding.encode(status, sortedKeys: true)) ?? .null
        if case .object(var fields) = json, let activity = profiles.profiles[profile]?.watcher.activity[agent] {
            fields.append(("activity", .string(activity)))
            json = .object(fields)
        }
        if case .object(var fields) = json, let spec = record.agents.first(where: { $0.name == agent }), spec.kind == .coder,
           let question = questions.open(spec.eventsPath).questions.last {
            // The question it waits on: what a client offers to answer (POST .../permission/ID).
            fields.append(("permission", .object([("id", .string(question.id)), ("tool", .string(question.tool)),
                                                  ("summary", .string(question.summary)),
                                                  ("choices", .array(question.choices.map { .string($0.name) }))])))
            json = .object(fields)
        }
        return json
    }

    func errorMessage(_ text: String) -> String {
        OrderedJSON.object([("type", .string("error")), ("message", .string(text))]).serialized()
    }
}

/// A client of `/api/profiles/P/agents/A/stream`.
final class StreamClient {
    let socket: WebSocket
    let profile: String
    let agent: ProfileRecord.Agent
    let scope: Scope
    var cursor: StreamCursor
    /// `?output=0`: events and state only (a client that shows the transcript).
    var wantsOutput = true
    var key: String { profile + "/" + agent.name }

    init(socket: WebSocket, profile: String, agent: ProfileRecord.Agent, from: UInt64, scope: Scope) {
        self.socket = socket
        self.profile = profile
        self.agent = agent
        self.scope = scope
        cursor = StreamCursor(from: from)
    }
}

/// A client of `/api/profiles/P/events`.
final class EventsClient {
    let profile: String
    let scope: Scope
    init(profile: String, scope: Scope) { self.profile = profile; self.scope = scope }
}
