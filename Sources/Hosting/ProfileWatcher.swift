import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Loop

/// Follows every agent of a profile on one loop: state changes, events and (optionally) output,
/// reconnecting with backoff when a shim goes away and comes back.
public final class ProfileWatcher {
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
    private let wantsOutput: Bool
    private var connections: [String: ShimConnection] = [:]
    private var retryTimers: [String: LoopTimer] = [:]
    private var retryDelay: [String: Double] = [:]
    private var stopped = false

    public init(loop: EventLoop, record: ProfileRecord, output: Bool) {
        self.loop = loop
        self.record = record
        self.wantsOutput = output
        for agent in record.agents {
            if let state = try? StateFile.read(path: agent.statePath) { states[agent.name] = state }
            // What it said before we came: its events file holds it (the shim replays none).
            let tail = (try? LogReader.tailBytes(path: agent.eventsPath, newlines: 200)) ?? []
            for line in tail.split(separator: 0x0A) { noteActivity(String(decoding: line, as: UTF8.self), of: agent.name) }
        }
    }

    public func start() {
        for agent in record.agents { connect(agent) }
    }

    public func stop() {
        stopped = true
        for timer in retryTimers.values { timer.close() }
        for connection in connections.values { connection.close() }
        connections = [:]
    }

    public func send(_ frame: Frame, to agent: String) -> Bool {
        guard let connection = connections[agent] else { return false }
        connection.send(frame)
        return true
    }

    private func connect(_ agent: ProfileRecord.Agent) {
        guard !stopped else { return }
        let connection = ShimConnection(loop: loop, agent: agent.name)
        connection.onFrame = { [weak self] frame in self?.handle(frame, from: agent.name) }
        connection.onClose = { [weak self] _ in
            guard let self, !self.stopped else { return }
            self.connections[agent.name] = nil
            self.unreachable.insert(agent.name)
            if let state = try? StateFile.read(path: agent.statePath) { self.states[agent.name] = state }
            self.onChange?(agent.name)
            self.scheduleReconnect(agent)
        }
        connection.connect(path: agent.socketPath) { [weak self] error in
            guard let self else { return }
            if error != nil {
                // onClose has run (or will): it schedules the retry.
                return
            }
            self.connections[agent.name] = connection
            self.unreachable.remove(agent.name)
            self.retryDelay[agent.name] = nil
            connection.send(.subscribe(output: self.wantsOutput, events: true))
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
