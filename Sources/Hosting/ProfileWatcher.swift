import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Loop

/// Follows every agent of a profile on one loop: state changes, events and (optionally) output,
/// reconnecting with backoff when a shim goes away and comes back. On demand (`serve`), it
/// holds a connection to an agent's shim only while someone asked for that agent
/// (`setInterest`): with no viewer, a shim sends nothing anywhere.
public final class ProfileWatcher {
    /// What to subscribe to on one agent's shim.
    public struct Interest: Equatable, Sendable {
        public var output: Bool
        public var events: Bool
        public var isNone: Bool { !output && !events }
        public init(output: Bool, events: Bool) { self.output = output; self.events = events }
        public static let none = Interest(output: false, events: false)
    }

    public let record: ProfileRecord
    let loop: EventLoop
    public private(set) var states: [String: AgentState] = [:]
    /// Each agent's own last `state` event ("thinking", "idle", "staying", ...), from its events.
    public private(set) var activity: [String: String] = [:]
    /// Agents whose shim cannot be reached right now.
    public private(set) var unreachable: Set<String> = []
    public var onChange: ((String) -> Void)?
    public var onOutput: ((String, UInt64, [UInt8]) -> Void)?
    public var onEvent: ((String, String) -> Void)?
    /// Each (re)connection's hello: where the agent's log stands when the stream starts.
    public var onHello: ((String, ShimHello) -> Void)?
    /// The shim acknowledged a subscription: from now on it sends what was asked (what came
    /// before the acknowledgement is only in the files).
    public var onSubscribed: ((String) -> Void)?
    private let onDemand: Bool
    private var interests: [String: Interest] = [:]
    /// Connections made or being made; `connected` those that are up.
    private var connections: [String: ShimConnection] = [:]
    private var connected: Set<String> = []
    /// On demand: the events file's size when `activity` was last read from it.
    private var activityReadAt: [String: Int] = [:]
    private var retryTimers: [String: LoopTimer] = [:]
    private var retryDelay: [String: Double] = [:]
    private var stopped = false

    /// `onDemand`: connect to no shim until `setInterest` asks for one (`output` is then unused).
    public init(loop: EventLoop, record: ProfileRecord, output: Bool, onDemand: Bool = false) {
        self.loop = loop
        self.record = record
        self.onDemand = onDemand
        for agent in record.agents {
            if let state = try? StateFile.read(path: agent.statePath) { states[agent.name] = state }
            if !onDemand { interests[agent.name] = Interest(output: output, events: true) }
            readActivity(of: agent)
        }
    }

    /// What it said before we came (or while nobody listened): its events file holds it.
    private func readActivity(of agent: ProfileRecord.Agent) {
        var info = stat()
        activityReadAt[agent.name] = stat(agent.eventsPath, &info) == 0 ? Int(info.st_size) : 0
        let tail = (try? LogReader.tailBytes(path: agent.eventsPath, newlines: 200)) ?? []
        for line in tail.split(separator: 0x0A) { noteActivity(String(decoding: line, as: UTF8.self), of: agent.name) }
    }

    /// The agent's activity, read again from its events file when it has grown and no
    /// subscription brings its events (on demand).
    public func currentActivity(_ name: String) -> String? {
        if interests[name]?.events != true, let agent = record.agents.first(where: { $0.name == name }) {
            var info = stat()
            if stat(agent.eventsPath, &info) == 0, Int(info.st_size) != activityReadAt[name] {
                activity[name] = nil
                readActivity(of: agent)
            }
        }
        return activity[name]
    }

    public func start() {
        for agent in record.agents where interests[agent.name] != nil { connect(agent) }
    }

    /// Subscribes to what is asked of one agent's shim (on demand): connects when something is
    /// wanted, changes the subscription on the open connection, and closes it when nothing is.
    public func setInterest(_ name: String, _ interest: Interest) {
        guard !stopped, let agent = record.agents.first(where: { $0.name == name }), interests[name] ?? .none != interest else { return }
        interests[name] = interest.isNone ? nil : interest
        if interest.isNone {
            retryTimers.removeValue(forKey: name)?.close()
            retryDelay[name] = nil
            unreachable.remove(name)
            connected.remove(name)
            connections.removeValue(forKey: name)?.close()  // no longer ours: its onClose does nothing
        } else if connected.contains(name) {
            connections[name]?.send(.subscribe(output: interest.output, events: interest.events))
        } else if connections[name] == nil {
            // Now, not after a backoff left from an earlier subscription.
            retryTimers[name]?.stop()
            connect(agent)
        }
    }

    /// Agents whose shim this watcher holds a connection to (made or being made).
    public var connectedAgents: Set<String> { Set(connections.keys) }

    public func stop() {
        stopped = true
        for timer in retryTimers.values { timer.close() }
        let open = connections.values
        connections = [:]
        connected = []
        for connection in open { connection.close() }
    }

    public func send(_ frame: Frame, to agent: String) -> Bool {
        guard connected.contains(agent), let connection = connections[agent] else { return false }
        connection.send(frame)
        return true
    }

    private func connect(_ agent: ProfileRecord.Agent) {
        guard !stopped, interests[agent.name] != nil, connections[agent.name] == nil else { return }
        let connection = ShimConnection(loop: loop, agent: agent.name)
        connections[agent.name] = connection
        connection.onFrame = { [weak self] frame in self?.handle(frame, from: agent.name) }
        connection.onClose = { [weak self, weak connection] _ in
            // A connection closed because nobody wants it any more is not a lost shim.
            guard let self, !self.stopped, let connection, self.connections[agent.name] === connection else { return }
            self.connections[agent.name] = nil
            self.connected.remove(agent.name)
            self.unreachable.insert(agent.name)
            if let state = try? StateFile.read(path: agent.statePath) { self.states[agent.name] = state }
            self.onChange?(agent.name)
            self.scheduleReconnect(agent)
        }
        connection.connect(path: agent.socketPath) { [weak self, weak connection] error in
            guard let self, let connection, self.connections[agent.name] === connection else { return }
            if error != nil {
                // onClose has run (or will): it schedules the retry.
                return
            }
            self.connected.insert(agent.name)
            self.unreachable.remove(agent.name)
            self.retryDelay[agent.name] = nil
            let interest = self.interests[agent.name] ?? .none
            connection.send(.subscribe(output: interest.output, events: interest.events))
        }
    }

    private func scheduleReconnect(_ agent: ProfileRecord.Agent) {
        let delay = min((retryDelay[agent.name] ?? 0.1) * 2, 5)
        retryDelay[agent.name] = delay
        let timer = retryTimers[agent.name] ?? LoopTimer(loop: loop)
        retryTimers[agent.name] = timer
        timer.start(seconds: delay) { [weak self] in self?.connect(agent) } // reconnect backoff
    }

    private func handle(_ frame: Frame, from agent: String) {
        switch frame.type {
        case .hello:
            if let hello = try? frame.decodeHello() {
                onHello?(agent, hello)
                if let state = hello.state { states[agent] = state; onChange?(agent) }
            }
        case .state:
            if let state = try? frame.decodeState() { states[agent] = state; onChange?(agent) }
        case .output:
            if let (offset, bytes) = try? frame.decodeOutput() { onOutput?(agent, offset, bytes) }
        case .ack:
            onSubscribed?(agent)
        case .event:
            if let line = try? frame.decodeEvent() {
                if noteActivity(line, of: agent) { onChange?(agent) }
                onEvent?(agent, line)
            }
        default:
            break
        }
    }

    /// Whether every agent has come to rest: exited, failed or stopped, its shim is gone, or it
    /// reached its goal and stays to keep what it started running (a goal agent with `stay`).
    public var allFinished: Bool {
        record.agents.allSatisfy { agent in
            guard let state = states[agent.name] else { return unreachable.contains(agent.name) }
            switch state.state {
            case .exited, .failed, .stopped: return true
            case .running where activity[agent.name] == "staying": return true
            default: return unreachable.contains(agent.name) && !isShimAlive(state)
            }
        }
    }

    /// Takes the agent's `state` events (a new run's `start` forgets the old one's). True when
    /// its activity changed.
    @discardableResult
    private func noteActivity(_ line: String, of agent: String) -> Bool {
        guard line.contains("\"state\"") || line.contains("\"start\""), let json = try? OrderedJSON.parse(Array(line.utf8)),
              case .string(let type)? = json["type"] else { return false }
        let before = activity[agent]
        switch type {
        case "state": if case .string(let value)? = json["state"] { activity[agent] = value }
        case "start": activity[agent] = nil
        default: return false
        }
        return activity[agent] != before
    }

    private func isShimAlive(_ state: AgentState) -> Bool {
        state.shimPid > 0 && processIsAlive(state.shimPid) && isShim(pid: state.shimPid)
    }
}
