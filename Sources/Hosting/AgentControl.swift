import AgentHost
import Glibc
import Loop

/// start / stop / restart of one agent, through its shim, or by replacing a shim that died.
public struct AgentControl {
    public let record: ProfileRecord
    public let environment: [String: String]

    public init(record: ProfileRecord, environment: [String: String]) {
        self.record = record
        self.environment = environment
    }

    /// Performs the operation and waits for its outcome; returns the resulting state's name.
    public func perform(_ operation: ControlOp, on agent: ProfileRecord.Agent, refreshedSpec: ShimSpec? = nil) throws -> String {
        // The shim re-reads its spec at each start: a changed profile or `set` applies now.
        if let refreshedSpec, operation == .start || operation == .restart {
            var spec = refreshedSpec
            spec.notifySocket = (try? ShimSpec.read(path: agent.specPath))?.notifySocket ?? spec.notifySocket
            try spec.write(to: agent.specPath)
        }
        let stopTimeout = (try? ShimSpec.read(path: agent.specPath).stopTimeout) ?? 10
        let before = try? StateFile.read(path: agent.statePath)
        let ack: Ack
        do {
            ack = try ShimRequest.send(.control(operation), to: agent.socketPath, agent: agent.name).ack
        } catch {
            return try withoutShim(operation, on: agent, reason: "\(error)")
        }
        guard ack.ok else { throw HostingError(ack.error ?? "\(agent.name): refused") }
        let done: (AgentState) -> Bool
        switch operation {
        case .stop, .shutdown:
            done = { [.stopped, .exited, .failed].contains($0.state) }
        case .start, .restart:
            let oldPid = before?.agentPid
            done = { state in
                (state.state == .running && state.agentPid != oldPid) || [.failed, .exited, .restarting].contains(state.state)
            }
        case .status:
            done = { _ in true }
        }
        let state = try ShimRequest.waitForState(socket: agent.socketPath, agent: agent.name, timeout: stopTimeout + 5, done)
        return describe(state)
    }

    private func withoutShim(_ operation: ControlOp, on agent: ProfileRecord.Agent, reason: String) throws -> String {
        switch operation {
        case .start, .restart:
            try Launcher(paths: SupervisorPaths(environment: environment), environment: environment,
                         shimCommand: record.shimCommand, tmuxConfig: record.tmuxConfig)
                .respawnShim(record, agent: agent)
            return describe(try? StateFile.read(path: agent.statePath)) + " (its shim had gone; started a new one)"
        case .stop, .shutdown:
            if var state = try? StateFile.read(path: agent.statePath) {
                if let pid = state.agentPid, processIsAlive(pid), processSession(pid) == pid { kill(-pid, SIGKILL) }
                state.agentPid = nil
                state.shimPid = 0
                state.state = .stopped
                try StateFile.write(state, to: agent.statePath)
            }
            return "stopped (its shim had gone)"
        case .status:
            throw HostingError(reason)
        }
    }

    private func describe(_ state: AgentState?) -> String {
        guard let state else { return "unknown" }
        var text = state.state.rawValue
        if let pid = state.agentPid { text += " (pid \(pid))" }
        if let exit = state.runs.last?.exit, !state.state.isActive { text += ", last \(exit)" }
        if let error = state.lastError { text += ": \(error)" }
        return text
    }
}
