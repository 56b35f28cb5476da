import Glibc
import Hosting

/// Writes the agent's structured events as JSON lines to the descriptor the shim hands it
/// (`SUPERVISOR_EVENTS_FD`, normally 3). Outside a shim (a person running the agent by hand)
/// events are dropped. The shim adds `ts` and `agent`.
public final class AgentEvents {
    private let fd: Int32?

    public init(environment: [String: String]) {
        if let text = environment["SUPERVISOR_EVENTS_FD"], let fd = Int32(text), fcntl(fd, F_GETFD) >= 0 {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC) // children of the agent must not write into it
            self.fd = fd
        } else {
            fd = nil
        }
    }

    public var isConnected: Bool { fd != nil }

    public func emit(_ type: String, _ fields: [(String, OrderedJSON)] = []) {
        guard let fd else { return }
        let line = OrderedJSON.object([("type", .string(type))] + fields).serialized() + "\n"
        var bytes = Array(line.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return }
            bytes = bytes.dropFirst(n)
        }
    }

    /// thinking | running_tool | waiting | idle | ... (the dashboard shows these in colour)
    public func state(_ state: String) { emit("state", [("state", .string(state))]) }
    public func step(_ n: Int, limit: Int) { emit("step", [("n", .number("\(n)")), ("limit", .number("\(limit)"))]) }
    public func command(_ text: String) { emit("command", [("text", .string(text))]) }
    public func tool(_ name: String, phase: String) { emit("tool", [("name", .string(name)), ("phase", .string(phase))]) }
    public func message(_ text: String) { emit("message", [("text", .string(text))]) }
    /// The run's end is conclusive (a limit or budget reached, the goal given up): the shim does
    /// not restart it, whatever the exit status (`restart = "on-failure"` would re-run the whole
    /// task and spend its budget again).
    public func final(reason: String) { emit("final", [("reason", .string(reason))]) }
    public func tokens(input: Int, output: Int, cacheRead: Int, cacheWrite: Int, costUSD: Double?) {
        var fields: [(String, OrderedJSON)] = [("input", .number("\(input)")), ("output", .number("\(output)")),
                                             ("cache_read", .number("\(cacheRead)")), ("cache_write", .number("\(cacheWrite)"))]
        if let costUSD { fields.append(("cost_usd", .number("\(costUSD)"))) }
        emit("tokens", fields)
    }
}
