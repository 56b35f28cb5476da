import TerminalUI
import Hosting

/// One structured event of an agent (a line of its events.jsonl), parsed.
public struct AgentEvent: Equatable, Sendable {
    /// Unix seconds (from `ts`; 0 when missing or unreadable).
    public var time: Double
    public var agent: String
    public var type: String
    public var fields: [(String, OrderedJSON)]
    public var line: String

    public static func == (a: AgentEvent, b: AgentEvent) -> Bool { a.line == b.line && a.agent == b.agent }

    /// Nil for a line that is not a JSON object.
    public static func parse(_ line: String, agent defaultAgent: String) -> AgentEvent? {
        guard case .object(let fields)? = try? OrderedJSON.parse(Array(line.utf8)) else { return nil }
        var event = AgentEvent(time: 0, agent: defaultAgent, type: "?", fields: fields, line: line)
        for (key, value) in fields {
            switch (key, value) {
            case ("ts", .string(let s)): event.time = parseISO8601(s) ?? 0
            case ("agent", .string(let s)): event.agent = s
            case ("type", .string(let s)): event.type = s
            default: break
            }
        }
        return event
    }

    public func string(_ key: String) -> String? {
        for (k, v) in fields where k == key {
            switch v {
            case .string(let s): return s
            case .number(let n): return n
            case .bool(let b): return b ? "true" : "false"
            default: return nil
            }
        }
        return nil
    }

    public func number(_ key: String) -> Double? {
        for (k, v) in fields where k == key {
            switch v {
            case .number(let n): return Double(n)
            case .string(let s): return Double(s)
            default: return nil
            }
        }
        return nil
    }

    /// One line for the timeline.
    public var summary: String {
        switch type {
        case "state": return string("state") ?? ""
        case "step":
            let n = number("n").map { String(Int($0)) } ?? "?"
            return number("limit").map { "step \(n)/\(Int($0))" } ?? "step \(n)"
        case "command": return "$ " + (string("text") ?? "")
        case "tool": return [string("name"), string("phase")].compactMap { $0 }.joined(separator: " ")
        case "tokens":
            let input = Int(number("input") ?? 0), output = Int(number("output") ?? 0)
            var text = "in \(formatCount(input)) out \(formatCount(output))"
            if let cost = number("cost_usd") { text += " " + formatCost(cost) }
            return text
        case "message": return string("text") ?? ""
        case "start": return "started" + (string("pid").map { " pid \($0)" } ?? "")
        case "exit":
            for (k, v) in fields where k == "status" {
                if case .object(let status) = v {
                    for (sk, sv) in status {
                        if case .number(let n) = sv { return sk == "code" ? "exited with code \(n)" : "killed by signal \(n)" }
                    }
                }
            }
            return "exited"
        case "invalid": return string("raw") ?? ""
        default:
            return fields.filter { !["ts", "agent", "type"].contains($0.0) }
                .map { "\($0.0)=\($0.1.serialized())" }.joined(separator: " ")
        }
    }
}

/// What an agent's events say it is doing, accumulated.
public struct AgentActivity: Equatable, Sendable {
    /// The latest `state` event's state ("thinking", "tool", "waiting", "idle"...).
    public var detail: String?
    public var detailTime: Double = 0
    public var inputTokens = 0
    public var outputTokens = 0
    public var cost = 0.0
    public var step: Int?
    public var stepLimit: Int?
    /// Last command or tool, for the header.
    public var lastAction: String?
    public var toolRunning: String?
    /// Start time of the current run (from `start` events), when known.
    public var lastStart: Double?

    public init() {}

    public var tokens: Int { inputTokens + outputTokens }

    public mutating func apply(_ event: AgentEvent) {
        switch event.type {
        case "state":
            detail = event.string("state")
            detailTime = event.time
        case "tokens":
            inputTokens += Int(event.number("input") ?? 0)
            outputTokens += Int(event.number("output") ?? 0)
            cost += event.number("cost_usd") ?? 0
        case "step":
            step = event.number("n").map { Int($0) }
            stepLimit = event.number("limit").map { Int($0) }
        case "command":
            if let text = event.string("text") { lastAction = "$ " + text }
        case "tool":
            let name = event.string("name") ?? "tool"
            lastAction = name
            toolRunning = event.string("phase") == "start" ? name : nil
        case "start":
            // A new run: what the old one was doing no longer applies.
            detail = nil
            toolRunning = nil
            lastStart = event.time
        case "exit":
            detail = nil
            toolRunning = nil
        default: break
        }
    }
}

/// The state shown for an agent, from coarse (shim) to fine (agent events).
public enum DisplayState: Equatable, Sendable {
    case starting, running, thinking, tool(String?), waiting, idle, restarting, stopping, stopped, failed
    /// A goal agent reached its goal and stays (`stay`): its shell and jobs keep running.
    case staying
    case exited(Int32?)
    case unreachable
    case unknown

    public var label: String {
        switch self {
        case .starting: return "starting"
        case .running: return "running"
        case .thinking: return "thinking"
        case .tool(let name): return name.map { "tool \($0)" } ?? "running a tool"
        case .waiting: return "WAITING"
        case .idle: return "idle"
        case .staying: return "reached, staying"
        case .restarting: return "restarting"
        case .stopping: return "stopping"
        case .stopped: return "stopped"
        case .failed: return "failed"
        case .exited(let code): return code.map { "exited (\($0))" } ?? "exited"
        case .unreachable: return "shim gone"
        case .unknown: return "down"
        }
    }

    /// Key for counting in the status bar.
    public var group: String {
        switch self {
        case .tool: return "tool"
        case .staying: return "staying"
        case .exited: return "exited"
        default: return label.lowercased()
        }
    }

    public var role: Theme.Role {
        switch self {
        case .running, .staying: return .running
        case .thinking: return .busy
        case .tool: return .tool
        case .waiting: return .waiting
        case .idle: return .idle
        case .starting, .restarting, .stopping: return .starting
        case .stopped, .unknown: return .stopped
        case .failed, .unreachable: return .failed
        case .exited(let code): return (code ?? 0) == 0 ? .stopped : .failed
        }
    }

    public var isActive: Bool {
        switch self {
        case .starting, .running, .thinking, .tool, .waiting, .idle, .staying, .restarting, .stopping: return true
        default: return false
        }
    }

    /// Combines the shim's phase, the agent's own `state` events and the waiting heuristic.
    public static func resolve(state: AgentState?, activity: AgentActivity, unreachable: Bool, waitingHeuristic: Bool) -> DisplayState {
        guard let state else { return unreachable ? .unreachable : .unknown }
        switch state.state {
        case .starting: return unreachable ? .unreachable : .starting
        case .restarting: return .restarting
        case .stopping: return .stopping
        case .stopped: return .stopped
        case .failed: return .failed
        case .exited:
            if case .exited(let code)? = state.runs.last?.exit { return .exited(code) }
            if state.runs.last?.exit != nil { return .failed }
            return .exited(nil)
        case .running:
            if unreachable { return .unreachable }
            if let tool = activity.toolRunning { return .tool(tool) }
            switch activity.detail?.lowercased() {
            case "thinking"?: return .thinking
            case "tool"?, "running_tool"?, "tool_use"?: return .tool(nil)
            case "waiting"?, "waiting_for_input"?, "input"?: return .waiting
            case "idle"?: return waitingHeuristic ? .waiting : .idle
            case "staying"?: return .staying // nothing to type: it is done and keeps what it started
            default: return waitingHeuristic ? .waiting : .running
            }
        }
    }
}

/// A tile's header and everything else drawn from an agent's state (no terminal content).
public struct AgentTileModel: Equatable, Sendable {
    public var index: Int
    public var name: String
    public var kind: String
    public var state: DisplayState
    public var uptime: String?
    /// True when `uptime` shows seconds (the clock must tick every second while it is shown).
    public var uptimeShowsSeconds: Bool
    public var restarts: Int
    public var tokens: String?
    public var cost: String?
    public var step: String?
    public var lastAction: String?
    public var pid: Int32?

    public init(index: Int, name: String, kind: String, state: AgentState?, activity: AgentActivity,
                unreachable: Bool, waitingHeuristic: Bool, now: Double) {
        self.index = index
        self.name = name
        self.kind = kind
        self.state = DisplayState.resolve(state: state, activity: activity, unreachable: unreachable, waitingHeuristic: waitingHeuristic)
        self.restarts = state?.restarts ?? 0
        self.pid = state?.agentPid
        if let state, self.state.isActive, self.state != .unreachable {
            let started = state.runs.last.map { $0.endedAt == nil ? $0.startedAt : state.since } ?? state.since
            let seconds = max(0, now - started)
            uptime = formatDuration(seconds)
            uptimeShowsSeconds = seconds < 3600
        } else {
            uptime = nil
            uptimeShowsSeconds = false
        }
        tokens = activity.tokens > 0 ? formatCount(activity.tokens) + " tok" : nil
        cost = activity.cost > 0 ? formatCost(activity.cost) : nil
        if let n = activity.step { step = activity.stepLimit.map { "step \(n)/\($0)" } ?? "step \(n)" } else { step = nil }
        lastAction = activity.lastAction
    }

    /// Header pieces in order of importance: name, kind, state first, then the rest. The state
    /// piece is coloured by the renderer.
    public func headerParts() -> (lead: String, state: String, trail: String) {
        let lead = "\(index + 1 <= 9 ? String(index + 1) : "·") \(name) [\(kind)] "
        var trail: [String] = []
        if let uptime { trail.append(uptime) }
        if restarts > 0 { trail.append("↻\(restarts)") }
        if let step { trail.append(step) }
        if let tokens { trail.append(tokens) }
        if let cost { trail.append(cost) }
        if let lastAction { trail.append(lastAction) }
        return (lead, state.label, trail.isEmpty ? "" : " " + trail.joined(separator: " · "))
    }
}

/// 950, 12.3k, 4.5M
public func formatCount(_ n: Int) -> String {
    if n < 1000 { return "\(n)" }
    if n < 1_000_000 { return oneDecimal(Double(n) / 1000) + "k" }
    return oneDecimal(Double(n) / 1_000_000) + "M"
}

/// $0.004, $1.23
public func formatCost(_ usd: Double) -> String {
    if usd < 0.01 && usd > 0 { return "$" + fixed(usd, 3) }
    return "$" + fixed(usd, 2)
}

func oneDecimal(_ v: Double) -> String {
    let tenths = Int((v * 10).rounded())
    return tenths % 10 == 0 || tenths >= 1000 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
}

func fixed(_ v: Double, _ digits: Int) -> String {
    var scale = 1
    for _ in 0..<digits { scale *= 10 }
    let n = Int((v * Double(scale)).rounded())
    var frac = String(n % scale)
    while frac.count < digits { frac = "0" + frac }
    return "\(n / scale).\(frac)"
}

/// The status bar's totals.
public struct Totals: Equatable, Sendable {
    public var byState: [(String, Int)]
    public var waiting: Int
    public var tokens: Int
    public var cost: Double

    public static func == (a: Totals, b: Totals) -> Bool {
        a.waiting == b.waiting && a.tokens == b.tokens && a.cost == b.cost
            && a.byState.map(\.0) == b.byState.map(\.0) && a.byState.map(\.1) == b.byState.map(\.1)
    }

    public init(tiles: [AgentTileModel], activities: [AgentActivity]) {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for tile in tiles {
            let key = tile.state.group
            if counts[key] == nil { order.append(key) }
            counts[key, default: 0] += 1
        }
        byState = order.map { ($0, counts[$0]!) }
        waiting = tiles.filter { $0.state == .waiting }.count
        tokens = activities.reduce(0) { $0 + $1.tokens }
        cost = activities.reduce(0) { $0 + $1.cost }
    }

    public var text: String {
        var parts = byState.map { "\($0.1) \($0.0)" }
        if waiting > 0 && !byState.contains(where: { $0.0 == "waiting" }) { parts.append("\(waiting) waiting") }
        var text = parts.joined(separator: ", ")
        text += " · waiting: \(waiting)"
        if tokens > 0 { text += " · \(formatCount(tokens)) tok" }
        if cost > 0 { text += " · \(formatCost(cost))" }
        return text
    }
}
