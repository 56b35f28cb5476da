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
        /// Stream clients with more than this queued are sent back to reading the log (the
        /// memory a client that falls behind costs: 200 streams hold at most 50 MiB).
        public var clientQueueLimit = 256 << 10
        /// A WebSocket client whose queue has not emptied for this long is dropped.
        public var stuckAfter: Double = 60
        /// Largest log range one `GET .../log` returns.
        public var maxLogRange = 4 << 20
        /// A profile stream's client gets at most one message per this many microseconds while
        /// output keeps coming (`StreamPacer`; 0: each frame as it comes).
        public var profileStreamInterval: UInt64 = 1500
        /// Largest message of a profile stream (a batch of records).
        public var profileStreamMessage = 64 << 10
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
    private var profileStreams: [String: [ProfileStreamClient]] = [:]  // profile
    private var eventClients: [String: [WebSocket]] = [:]  // profile
    /// Per "profile/agent" whose events are subscribed: how far its events file has been sent.
    private var eventsSent: [String: (next: UInt64, inode: UInt64)] = [:]
    private var pendingCalls: [ObjectIdentifier: ShimConnection] = [:]
    private var stuckTimer: LoopTimer?
    /// Profile stream clients whose batch waits for its time, and the one timer for all of them
    /// (they get the same frames at the same moments, so their times mostly coincide).
    private var holding: [ObjectIdentifier: ProfileStreamClient] = [:]
    private var pacingTimer: PreciseTimer?
    private var pacingDeadline: UInt64?

    public var port: Int { web.port }

    public init(loop: EventLoop, paths: SupervisorPaths, configuration: Configuration) {
        self.loop = loop
        self.paths = paths
        self.configuration = configuration
        profiles = ProfileSet(loop: loop, paths: paths)
        web = WebServer(loop: loop, options: configuration.options, delegate: self)
        profiles.onOutput = { [weak self] profile, agent, offset, bytes in self?.liveOutput(profile, agent, offset, bytes) }
        profiles.onEvent = { [weak self] profile, agent, _ in self?.sendNewEvents(profile, agent) }
        profiles.onSubscribed = { [weak self] profile, agent in self?.subscribed(profile, agent) }
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
        pacingTimer = try PreciseTimer(loop: loop)
    }

    private func dropStuckClients() {
        let now = loop.nowMilliseconds
        for socket in web.webSockets where socket.queuedBytes > 0 && now - socket.lastDrained > UInt64(configuration.stuckAfter * 1000) {
            socket.drop()
        }
    }

    public func stop() {
        stuckTimer?.close()
        pacingTimer?.close()
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
        case .profileStreamSocket(let p):
            guard let record = profiles.profiles[p]?.record else { return .error(404, "no profile \(p) is up") }
            if case .failure(let refusal) = ProfileStreamRequest.parse(query: request.query, agents: record.agents.map(\.name)) {
                return .error(400, refusal.description)
            }
            return nil
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
            updateInterest(p, a)
            var hello: [(String, OrderedJSON)] = [("type", .string("hello")), ("profile", .string(p)), ("agent", .string(a)),
                                                    ("from", .number(String(from)))]
            if let end = (try? LogReader.segments(path: agent.logPath))?.last?.end ?? profiles.profiles[p]?.streamEnd[a] {
                hello.append(("log_end", .number(String(end))))
            }
            if let sent = eventsSent[client.key] { hello.append(("events_end", .number(String(sent.next)))) }
            if let status = statusJSON(p, a) { hello.append(("status", status)) }
            socket.send(text: OrderedJSON.object(hello).serialized())
            if let eventsFrom = request.query["events_from"].flatMap({ UInt64($0) }) {
                replayEvents(p, agent, from: eventsFrom) { [weak socket] text in socket?.send(text: text) }
            }
            pump(client)
        case .profileStreamSocket(let p):
            openProfileStream(socket, request: request, profile: p, scope: scope)
        case .eventsSocket(let p):
            socket.context = EventsClient(profile: p, scope: scope)
            eventClients[p, default: []].append(socket)
            for agent in profiles.profiles[p]?.record.agents ?? [] { updateInterest(p, agent.name) }
            socket.send(text: OrderedJSON.object([("type", .string("hello")), ("profile", .string(p))]).serialized())
            if let count = request.query["replay"].flatMap({ Int($0) }), count > 0 { replayEvents(p, last: min(count, 10_000), to: socket) }
            // What follows is live (a client that only wanted the history may leave now).
            socket.send(text: OrderedJSON.object([("type", .string("replayed"))]).serialized())
        default:
            socket.close(policy: true)
        }
    }

    public func received(_ socket: WebSocket, message: [UInt8], binary: Bool) {
        let profileClient = socket.context as? ProfileStreamClient
        guard socket.context is StreamClient || profileClient != nil else {
            return socket.send(text: errorMessage("this stream takes no messages"))
        }
        guard let json = try? OrderedJSON.parse(message), case .string(let type)? = json["type"] else {
            return socket.send(text: errorMessage("a client message is a JSON object with a \"type\""))
        }
        let id = json["id"] ?? .null
        let target: ProfileRecord.Agent, scope: Scope
        if let client = socket.context as? StreamClient {
            (target, scope) = (client.agent, client.scope)
        } else if let client = profileClient, case .string(let name)? = json["agent"], let index = client.follows(name) {
            (target, scope) = (client.agents[index], client.scope)
        } else {
            return socket.send(text: errorMessage("a message on a profile stream names its \"agent\", one the stream asked for"))
        }
        guard scope == .control else {
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
        call(frame, to: target) { [weak socket] error in
            var fields: [(String, OrderedJSON)] = [("type", .string("ack")), ("id", id), ("ok", .bool(error == nil))]
            if let error { fields.append(("error", .string(error))) }
            socket?.send(text: OrderedJSON.object(fields).serialized())
        }
    }

    public func closed(_ socket: WebSocket) {
        if let client = socket.context as? StreamClient {
            streams[client.key]?.removeAll { $0 === client }
            if streams[client.key]?.isEmpty == true { streams[client.key] = nil }
            updateInterest(client.profile, client.agent.name)
        } else if let client = socket.context as? ProfileStreamClient {
            holding[ObjectIdentifier(client)] = nil
            profileStreams[client.profile]?.removeAll { $0 === client }
            if profileStreams[client.profile]?.isEmpty == true { profileStreams[client.profile] = nil }
            for agent in client.agents { updateInterest(client.profile, agent.name) }
        } else if let client = socket.context as? EventsClient {
            eventClients[client.profile]?.removeAll { $0 === socket }
            if eventClients[client.profile]?.isEmpty == true { eventClients[client.profile] = nil }
            for agent in profiles.profiles[client.profile]?.record.agents ?? [] { updateInterest(client.profile, agent.name) }
        }
        socket.context = nil
    }

    // MARK: subscriptions

    /// Subscribes to an agent's shim only while someone watches it: output while a stream
    /// client wants output, events while any stream client of the agent or events client of
    /// its profile is open; no connection at all otherwise.
    private func updateInterest(_ profile: String, _ agent: String) {
        guard let watcher = profiles.profiles[profile]?.watcher else { return }
        let key = profile + "/" + agent
        let clients = streams[key] ?? []
        let mirrors = (profileStreams[profile] ?? []).filter { $0.follows(agent) != nil }
        let interest = ProfileWatcher.Interest(output: clients.contains { $0.wantsOutput } || !mirrors.isEmpty,
                                               events: !clients.isEmpty || !mirrors.isEmpty || eventClients[profile] != nil)
        if interest.events, eventsSent[key] == nil, let record = self.profiles.agent(profile, agent) {
            // Live events continue the file from where it ends now; what the shim sends before
            // it acknowledges the subscription is read from the file then.
            let end = EventFile.end(path: record.eventsPath)
            eventsSent[key] = (end.size, end.inode)
        } else if !interest.events {
            eventsSent[key] = nil
        }
        watcher.setInterest(agent, interest)
    }

    /// The shim now sends what was asked: whatever reached the files before that is read from
    /// them (events up to the file's end; output by sending live clients back to the log).
    private func subscribed(_ profile: String, _ agent: String) {
        sendNewEvents(profile, agent)
        for client in streams[profile + "/" + agent] ?? [] where client.cursor.mode == .live {
            client.cursor.recheck()
            pump(client)
        }
        for client in profileStreams[profile] ?? [] {
            guard let index = client.follows(agent), client.cursors[index]?.mode == .live else { continue }
            client.cursors[index]!.recheck()
            pump(client)
        }
    }

    // MARK: streams

    /// Sends a catching-up client the next piece of the log (one piece per drain, so a client
    /// that reads slowly costs one piece of memory, not the whole log; 64 KiB, since what the
    /// socket does not take at once libwebsockets keeps a copy of).
    private func pump(_ client: StreamClient) {
        guard client.wantsOutput, client.cursor.mode == .catchingUp, client.socket.isOpen, client.socket.queuedBytes == 0 else { return }
        let chunk = 64 * 1024
        guard let (offset, bytes) = try? LogReader.read(path: client.agent.logPath, from: client.cursor.next, maxBytes: chunk) else {
            _ = client.cursor.read(offset: client.cursor.next, count: 0, reachedEnd: true)
            return
        }
        if let gap = client.cursor.read(offset: offset, count: bytes.count, reachedEnd: bytes.count < chunk) {
            client.socket.send(text: OrderedJSON.object([("type", .string("gap")), ("from", .number(String(gap.gapFrom))),
                                                         ("to", .number(String(gap.gapTo)))]).serialized())
        }
        if !bytes.isEmpty { client.socket.send(binary: offsetHeader(offset), bytes[...]) }
        // onDrained calls back once this piece is written; a live client waits for frames.
    }

    private func liveOutput(_ profile: String, _ agent: String, _ offset: UInt64, _ bytes: [UInt8]) {
        if let clients = profileStreams[profile] { liveOutput(clients, agent, offset, bytes) }
        guard let clients = streams[profile + "/" + agent] else { return }
        var whole: OutgoingMessage?  // the frame as one message, made once for all who get all of it
        for client in clients where client.wantsOutput {
            let canQueue = client.socket.queuedBytes < configuration.clientQueueLimit
            if let (start, skip) = client.cursor.live(offset: offset, count: bytes.count, canQueue: canQueue) {
                // Behind by a message or more: one bigger message (up to 64 KiB) instead of many.
                let end = start + UInt64(bytes.count - skip)
                if !client.socket.extendLast(tag: start, with: bytes[skip...], newTag: end, limit: 64 * 1024) {
                    if skip == 0 {
                        if whole == nil { whole = OutgoingMessage(offsetHeader(start)[...], bytes[...]) }
                        client.socket.send(binary: whole!, tag: end)
                    } else {
                        client.socket.send(binary: offsetHeader(start), bytes[skip...], tag: end)
                    }
                }
            } else if client.cursor.mode == .catchingUp {
                pump(client)
            }
        }
    }

    // MARK: profile streams

    private func openProfileStream(_ socket: WebSocket, request: WebRequest, profile p: String, scope: Scope) {
        guard let record = profiles.profiles[p]?.record,
              case .success(let asked) = ProfileStreamRequest.parse(query: request.query, agents: record.agents.map(\.name)) else {
            return socket.close(reason: "profile gone")
        }
        let client = ProfileStreamClient(socket: socket, profile: p, agents: record.agents, scope: scope,
                                         interval: configuration.profileStreamInterval, messageLimit: configuration.profileStreamMessage)
        var listed: [OrderedJSON] = []
        for (index, agent) in record.agents.enumerated() {
            guard let start = asked.starts[agent.name] else { continue }
            let end = (try? LogReader.segments(path: agent.logPath))?.last?.end ?? profiles.profiles[p]?.streamEnd[agent.name]
            let from: UInt64
            switch start {
            case .offset(let offset): from = offset
            case .end: from = end ?? 0
            }
            client.cursors[index] = StreamCursor(from: from)
            var fields: [(String, OrderedJSON)] = [("index", .number(String(index))), ("agent", .string(agent.name)),
                                                   ("from", .number(String(from)))]
            if let end { fields.append(("log_end", .number(String(end)))) }
            listed.append(.object(fields))
        }
        socket.context = client
        profileStreams[p, default: []].append(client)
        socket.onDrained = { [weak self, weak client] in if let client { self?.drained(client) } }
        for agent in record.agents where client.follows(agent.name) != nil { updateInterest(p, agent.name) }
        // After the subscriptions: `events_end` says where each agent's live events continue.
        for (i, item) in listed.enumerated() {
            guard case .object(var fields) = item, case .string(let name)? = item["agent"] else { continue }
            if let sent = eventsSent[p + "/" + name] { fields.append(("events_end", .number(String(sent.next)))) }
            if let status = statusJSON(p, name) { fields.append(("status", status)) }
            listed[i] = .object(fields)
        }
        socket.send(text: OrderedJSON.object([("type", .string("hello")), ("v", .number(String(StreamRecords.version))),
                                              ("profile", .string(p)), ("agents", .array(listed))]).serialized())
        for (name, from) in asked.eventsFrom.sorted(by: { $0.key < $1.key }) {
            guard let index = client.follows(name) else { continue }
            replayEvents(p, client.agents[index], from: from) { [weak socket] text in socket?.send(text: text) }
        }
        pump(client)
    }

    /// A live frame for every profile stream client that follows `agent`: sent at once to a
    /// client the pacer lets have it (one message made for all of them), else added to the
    /// client's batch.
    private func liveOutput(_ clients: [ProfileStreamClient], _ agent: String, _ offset: UInt64, _ bytes: [UInt8]) {
        let now = PreciseTimer.now()
        var whole: OutgoingMessage?
        for client in clients {
            guard let index = client.follows(agent) else { continue }
            let canQueue = client.socket.queuedBytes + client.batch.count < configuration.clientQueueLimit
            guard let (start, skip) = client.cursors[index]!.live(offset: offset, count: bytes.count, canQueue: canQueue) else {
                if client.cursors[index]!.mode == .catchingUp { pump(client) }
                continue
            }
            let decision = client.pacer.decide(now: now)
            if decision == .sendNow && client.batch.isEmpty && client.socket.queuedBytes == 0 {
                if skip == 0 {
                    if whole == nil { whole = OutgoingMessage(StreamRecords.header(agent: index, offset: start, length: bytes.count)[...], bytes[...]) }
                    client.socket.send(binary: whole!)
                } else {
                    client.socket.send(binary: StreamRecords.header(agent: index, offset: start, length: bytes.count - skip), bytes[skip...])
                }
                client.pacer.sent(at: now)
                continue
            }
            if !client.batch.add(agent: index, offset: start, bytes: bytes[skip...]) {
                flush(client, now: now)
                _ = client.batch.add(agent: index, offset: start, bytes: bytes[skip...])
            }
            switch decision {
            case .sendNow:
                if client.socket.queuedBytes == 0 { flush(client, now: now) }  // else when it drains
            case .holdUntil(let time):
                hold(client, until: time)
            }
        }
    }

    private func hold(_ client: ProfileStreamClient, until time: UInt64) {
        holding[ObjectIdentifier(client)] = client
        client.flushAt = min(client.flushAt ?? time, time)
        if let deadline = pacingDeadline, deadline <= time { return }
        pacingDeadline = time
        pacingTimer?.start(at: time) { [weak self] in self?.pacingTimeUp() }
    }

    /// Sends every held batch whose time has come, or comes within 200 us (to a client that is
    /// behind, when it drains). All are stamped sent at the same moment, so their next times
    /// coincide too: one timer event each interval, not one per client (perf: timerfd_settime
    /// was 8% of serve's time when each client's time differed by the microseconds between
    /// their sends).
    private func pacingTimeUp() {
        pacingDeadline = nil
        let now = PreciseTimer.now()
        var next: UInt64?
        for client in holding.values {
            guard let time = client.flushAt else { continue }
            if time > now + 200 {
                next = min(next ?? time, time)
            } else if client.socket.queuedBytes == 0 {
                flush(client, now: now)
            } else {
                client.flushAt = nil  // `drained` sends it
                holding[ObjectIdentifier(client)] = nil
            }
        }
        if let next {
            pacingDeadline = next
            pacingTimer?.start(at: next) { [weak self] in self?.pacingTimeUp() }
        }
    }

    /// The client's batch goes out as one message (into its queue, if it is behind).
    private func flush(_ client: ProfileStreamClient, now: UInt64 = PreciseTimer.now()) {
        if client.flushAt != nil {
            client.flushAt = nil
            holding[ObjectIdentifier(client)] = nil
        }
        guard let message = client.batch.take() else { return }
        client.socket.send(binary: message)
        client.pacer.sent(at: now)
    }

    /// Text (a state, an event, a gap) after the output that came before it.
    private func send(text: String, to client: ProfileStreamClient) {
        flush(client)
        client.socket.send(text: text)
    }

    private func drained(_ client: ProfileStreamClient) {
        if !client.batch.isEmpty && client.pacer.decide(now: PreciseTimer.now()) == .sendNow { flush(client) }
        pump(client)
    }

    /// The next log piece of an agent that is catching up (taking turns, one piece per drain),
    /// or nothing when all are live.
    private func pump(_ client: ProfileStreamClient) {
        let count = client.cursors.count
        for step in 0..<count {
            guard client.socket.isOpen, client.socket.queuedBytes == 0 else { return }
            let index = (client.nextPump + step) % count
            guard var cursor = client.cursors[index], cursor.mode == .catchingUp else { continue }
            flush(client)  // what came live before goes first
            let agent = client.agents[index]
            let chunk = 64 * 1024
            let piece = try? LogReader.read(path: agent.logPath, from: cursor.next, maxBytes: chunk)
            let (offset, bytes) = piece ?? (cursor.next, [])
            let gap = cursor.read(offset: offset, count: bytes.count, reachedEnd: piece == nil || bytes.count < chunk)
            client.cursors[index] = cursor
            if let gap {
                client.socket.send(text: OrderedJSON.object([("type", .string("gap")), ("agent", .string(agent.name)),
                                                             ("from", .number(String(gap.gapFrom))), ("to", .number(String(gap.gapTo)))]).serialized())
            }
            if !bytes.isEmpty {
                client.socket.send(binary: StreamRecords.header(agent: index, offset: offset, length: bytes.count), bytes[...])
            }
            if gap != nil || !bytes.isEmpty {
                client.nextPump = index + 1
                return  // the rest when this is written
            }
        }
    }

    /// An output message is `[u64 BE offset][bytes]`: its first eight bytes.
    private func offsetHeader(_ offset: UInt64) -> [UInt8] { StreamRecords.bigEndian(offset, 8) }

    /// An event came (or a subscription began): the events file's new lines go out, each with
    /// its offset (`at`), so the stream continues the file exactly. The shim writes an event to
    /// the file before it sends it, so the file has at least what the frames announce.
    private func sendNewEvents(_ profile: String, _ agent: String) {
        let key = profile + "/" + agent
        guard let sent = eventsSent[key], let record = profiles.agent(profile, agent) else { return }
        let read = EventFile.read(path: record.eventsPath, from: sent.next, inode: sent.inode, maxBytes: configuration.maxLogRange)
        eventsSent[key] = (read.next, read.inode)
        let clients = streams[key] ?? []
        if read.rotated {
            for client in clients { client.socket.send(text: OrderedJSON.object([("type", .string("events_rotated"))]).serialized()) }
        }
        for line in read.lines {
            let text = eventMessage(profile, agent, at: line.at, line.bytes)
            for client in clients {
                // A stream client that does not read its events is dropped: it can come back
                // with `events_from` and miss nothing.
                if client.socket.queuedBytes > configuration.clientQueueLimit + configuration.maxLogRange {
                    client.socket.close(policy: true, reason: "too slow")
                    continue
                }
                client.socket.send(text: text)
            }
            for socket in eventClients[profile] ?? [] {
                if socket.queuedBytes > configuration.clientQueueLimit { socket.close(policy: true, reason: "too slow"); continue }
                socket.send(text: text)
            }
            for client in profileStreams[profile] ?? [] where client.follows(agent) != nil {
                if client.socket.queuedBytes > configuration.clientQueueLimit + configuration.maxLogRange {
                    client.socket.close(policy: true, reason: "too slow")
                    continue
                }
                send(text: text, to: client)
            }
        }
    }

    /// `events_from=BYTE`: the stream starts with the events file's lines from BYTE up to
    /// where live events continue (the last `maxLogRange` bytes of them at most, after a `gap`).
    private func replayEvents(_ profile: String, _ agent: ProfileRecord.Agent, from: UInt64, send: (String) -> Void) {
        guard let sent = eventsSent[profile + "/" + agent.name] else { return }
        var start = from
        if from > sent.next {  // the file the client read was rotated away
            send(OrderedJSON.object([("type", .string("events_rotated")), ("agent", .string(agent.name))]).serialized())
            start = 0
        }
        var afterGap = false
        if sent.next > start + UInt64(configuration.maxLogRange) {
            start = sent.next - UInt64(configuration.maxLogRange)
            afterGap = true
        }
        while start < sent.next {
            var read = EventFile.read(path: agent.eventsPath, from: start, inode: sent.inode, maxBytes: Int(sent.next - start))
            guard !read.rotated, read.next > start else { break }
            if afterGap {
                // The range began mid-line, or so it is taken: its first line is skipped.
                afterGap = false
                let resume = read.lines.count > 1 ? read.lines[1].at : read.next
                send(OrderedJSON.object([("type", .string("gap")), ("agent", .string(agent.name)), ("events_from", .number(String(from))),
                                         ("events_to", .number(String(resume)))]).serialized())
                read.lines.removeFirst()
            }
            for line in read.lines { send(eventMessage(profile, agent.name, at: line.at, line.bytes)) }
            start = read.next
        }
    }

    private func eventMessage(_ profile: String, _ agent: String, at: UInt64?, _ line: ArraySlice<UInt8>) -> String {
        let event = (try? OrderedJSON.parse(Array(line))) ?? .object([("type", .string("invalid")), ("raw", .string(String(decoding: line, as: UTF8.self)))])
        var fields: [(String, OrderedJSON)] = [("type", .string("event")), ("profile", .string(profile)), ("agent", .string(agent))]
        if let at { fields.append(("at", .number(String(at)))) }
        fields.append(("event", event))
        return OrderedJSON.object(fields).serialized()
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
                merged.append((ts, eventMessage(profile, agent.name, at: nil, Array(line.utf8)[...])))
            }
        }
        // Stable: one agent's events keep their file order when their stamps are equal.
        let ordered = merged.enumerated().sorted { ($0.element.ts, $0.offset) < ($1.element.ts, $1.offset) }
        for (_, item) in ordered.suffix(count) { socket.send(text: item.text) }
    }

    private func stateChanged(_ profile: String, _ agent: String) {
        let clients = streams[profile + "/" + agent] ?? []
        let mirrors = (profileStreams[profile] ?? []).filter { $0.follows(agent) != nil }
        guard !clients.isEmpty || !mirrors.isEmpty, let status = statusJSON(profile, agent) else { return }
        let text = OrderedJSON.object([("type", .string("state")), ("agent", .string(agent)), ("status", status)]).serialized()
        for client in clients { client.socket.send(text: text) }
        for client in mirrors { send(text: text, to: client) }
    }

    private func profileWentDown(_ profile: String) {
        // Its watcher is gone with its subscriptions: a profile that comes back starts afresh.
        for key in eventsSent.keys where key.hasPrefix(profile + "/") { eventsSent[key] = nil }
        for (key, clients) in streams where key.hasPrefix(profile + "/") {
            clients.forEach { $0.socket.close(reason: "profile \(profile) went down") }
        }
        eventClients[profile]?.forEach { $0.close(reason: "profile \(profile) went down") }
        profileStreams[profile]?.forEach { $0.socket.close(reason: "profile \(profile) went down") }
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
        if case .object(var fields) = json, let activity = profiles.profiles[profile]?.watcher.currentActivity(agent) {
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

/// A client of `/api/profiles/P/stream`.
final class ProfileStreamClient {
    let socket: WebSocket
    let profile: String
    /// The profile's agents; a record's agent number is its index here.
    let agents: [ProfileRecord.Agent]
    /// Per agent, the client's place in its output; nil for an agent it did not ask for.
    var cursors: [StreamCursor?]
    let index: [String: Int]
    let scope: Scope
    let batch: RecordBatch
    var pacer: StreamPacer
    /// When the held batch is to go (the server's pacing timer sends it).
    var flushAt: UInt64?
    /// The agent whose log is read next when several catch up.
    var nextPump = 0

    init(socket: WebSocket, profile: String, agents: [ProfileRecord.Agent], scope: Scope, interval: UInt64, messageLimit: Int) {
        self.socket = socket
        self.profile = profile
        self.agents = agents
        cursors = Array(repeating: nil, count: agents.count)
        index = Dictionary(agents.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.scope = scope
        batch = RecordBatch(limit: messageLimit)
        pacer = StreamPacer(interval: interval)
    }

    /// The agent's index when this client follows it.
    func follows(_ agent: String) -> Int? {
        guard let i = index[agent], cursors[i] != nil else { return nil }
        return i
    }
}

/// A client of `/api/profiles/P/events`.
final class EventsClient {
    let profile: String
    let scope: Scope
    init(profile: String, scope: Scope) { self.profile = profile; self.scope = scope }
}
