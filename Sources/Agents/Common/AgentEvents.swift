import Glibc
import Loop
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
        Posix.writeAll(fd, line)
    }

    /// thinking | running_tool | waiting | idle | ... (the dashboard shows these in colour)
    public func state(_ state: String) { emit("state", [("state", .string(state))]) }
    public func step(_ n: Int, limit: Int) { emit("step", [("n", .number("\(n)")), ("limit", .number("\(limit)"))]) }
    public func command(_ text: String) { emit("command", [("text", .string(text))]) }
    public func tool(_ name: String, phase: String) { emit("tool", [("name", .string(name)), ("phase", .string(phase))]) }
    /// What the agent says; a long text keeps its start (like `reply`), so the line stays under
    /// the shim's 64 KiB limit instead of arriving as a truncated `invalid` event.
    public func message(_ text: String) {
        let (kept, cut) = AgentEvents.capped(text, jsonBytes: AgentEvents.replyTextLimit)
        emit("message", [("text", .string(kept))] + (cut ? [("truncated", .bool(true))] : []))
    }

    /// Most bytes of a `reply` event's `text` as a JSON string (escapes counted): with the other
    /// fields and what the shim adds, the line stays under its 64 KiB limit (`EventLine.maxLineBytes`),
    /// beyond which a line would become a truncated `invalid` event.
    public static let replyTextLimit = 60 * 1024
    /// Most bytes of a `block_output` event's `output` as a JSON string (escapes counted).
    public static let blockOutputLimit = 16 * 1024

    /// The model's whole reply to one request (`step`: the step it answered), once the reply is
    /// complete; `truncated: true` when the text was cut to `replyTextLimit`.
    public func reply(step: Int, text: String) {
        let (kept, cut) = AgentEvents.capped(text, jsonBytes: AgentEvents.replyTextLimit)
        var fields: [(String, OrderedJSON)] = [("step", .number("\(step)")), ("text", .string(kept))]
        if cut { fields.append(("truncated", .bool(true))) }
        emit("reply", fields)
    }

    /// What a code block printed, as the model is shown it (`n`: the block's number in its reply);
    /// `truncated: true` when the output was cut to `blockOutputLimit`.
    public func blockOutput(n: Int, status: String, output: String) {
        let (kept, cut) = AgentEvents.capped(output, jsonBytes: AgentEvents.blockOutputLimit)
        var fields: [(String, OrderedJSON)] = [("n", .number("\(n)")), ("status", .string(status)), ("output", .string(kept))]
        if cut { fields.append(("truncated", .bool(true))) }
        emit("block_output", fields)
    }

    /// The longest start of `text` whose JSON string form (without the quotes, escapes counted
    /// as `OrderedJSON` writes them) takes at most `jsonBytes` bytes, cut between Unicode scalars;
    /// `truncated` when anything was left out. Counting escapes keeps the cap honest for text
    /// full of newlines, quotes or control characters, each of which grows to 2 or 6 bytes.
    public static func capped(_ text: String, jsonBytes limit: Int) -> (text: String, truncated: Bool) {
        if text.utf8.count * 6 <= limit { return (text, false) } // fits whatever it contains
        var size = 0
        var end = text.unicodeScalars.startIndex
        for scalar in text.unicodeScalars {
            let v = scalar.value
            let cost: Int
            switch v {
            case 0x22, 0x5C, 0x0A, 0x0D, 0x09: cost = 2
            case 0x00...0x1F, 0x7F: cost = 6
            default: cost = UTF8.width(scalar)
            }
            if size + cost > limit { return (String(text.unicodeScalars[..<end]), true) }
            size += cost
            end = text.unicodeScalars.index(after: end)
        }
        return (text, false)
    }
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
