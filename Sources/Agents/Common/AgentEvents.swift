import Glibc
import Loop
import Hosting

/// Writes the agent's structured events as JSON lines to the descriptor the shim hands it
/// (`SUPERVISOR_EVENTS_FD`, normally 3). Outside a shim (a person running the agent by hand)
/// events are dropped. The shim adds `ts` and `agent`. The events are the protocol's typed
/// cases (`AgentEvent`, module AgentProtocol); the methods below are shorthands for common ones.
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

    /// Writes one event (its texts cut to `EventCaps`).
    public func emit(_ event: AgentEvent) {
        guard let fd else { return }
        Posix.writeAll(fd, EventCodec.agentLine(event))
    }

    /// An event given by its type and fields, as before the protocol was typed: decoded into its
    /// typed case (a type the protocol does not know goes out as it is). Prefer `emit(_:)`.
    public func emit(_ type: String, _ fields: [(String, OrderedJSON)] = []) {
        emit(AgentEvent.decode(type: type, fields: fields).event)
    }

    /// thinking | running_tool | waiting | idle | staying (`ActivityState`; the dashboard shows
    /// these in colour)
    public func state(_ state: String) { emit(.state(ActivityState(state))) }
    public func state(_ state: ActivityState) { emit(.state(state)) }
    public func step(_ n: Int, limit: Int) { emit(.step(n: n, limit: limit)) }
    public func command(_ text: String) { emit(.command(text: text, truncated: false)) }
    /// An autocommit at the end of a turn (`autocommit = true` in an isolated agent's worktree).
    public func commit(_ sha: String, branch: String?, subject: String) {
        emit(.commit(sha: sha, subject: String(subject.prefix(200)), branch: branch))
    }
    public func tool(_ name: String, phase: String) { emit(.tool(name: name, phase: .init(phase))) }
    /// What the agent says; a long text keeps its start (`EventCaps.text`).
    public func message(_ text: String) { emit(.message(text: text, truncated: false)) }

    /// Most bytes of a `reply` event's `text` as a JSON string (escapes counted).
    public static let replyTextLimit = EventCaps.text
    /// Most bytes of a `block_output` event's `output` as a JSON string (escapes counted).
    public static let blockOutputLimit = EventCaps.output

    /// The model's whole reply to one request (`step`: the step it answered), once the reply is
    /// complete; `truncated: true` when the text was cut to `replyTextLimit`.
    public func reply(step: Int, text: String) { emit(.reply(step: step, text: text, truncated: false)) }

    /// What a code block printed, as the model is shown it (`n`: the block's number in its reply);
    /// `truncated: true` when the output was cut to `blockOutputLimit`.
    public func blockOutput(n: Int, status: String, output: String) {
        emit(.blockOutput(n: n, status: status, output: output, truncated: false))
    }

    public static func capped(_ text: String, jsonBytes limit: Int) -> (text: String, truncated: Bool) {
        EventCaps.capped(text, jsonBytes: limit)
    }

    /// The run's end is conclusive (a limit or budget reached, the goal given up): the shim does
    /// not restart it, whatever the exit status (`restart = "on-failure"` would re-run the whole
    /// task and spend its budget again).
    public func final(reason: String) { emit(.final(reason: reason)) }
    public func tokens(input: Int, output: Int, cacheRead: Int, cacheWrite: Int, costUSD: Double?) {
        emit(.tokens(.init(input: input, output: output, cacheRead: cacheRead, cacheWrite: cacheWrite, costUSD: costUSD)))
    }
}
