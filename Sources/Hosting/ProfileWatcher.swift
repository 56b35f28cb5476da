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
            if let line = try? frame.decodeEvent() { onEvent?(agent, line) }
        default:
            break
        }
    }

    /// Whether every agent has come to rest: exited, failed or stopped, or its shim is gone.
    public var allFinished: Bool {
        record.agents.allSatisfy { agent in
            guard let state = states[agent.name] else { return unreachable.contains(agent.name) }
            switch state.state {
            case .exited, .failed, .stopped: return true
            default: return unreachable.contains(agent.name) && !isShimAlive(state)
            }
        }
    }

    private func isShimAlive(_ state: AgentState) -> Bool {
        state.shimPid > 0 && processIsAlive(state.shimPid) && isShim(pid: state.shimPid)
    }
}
