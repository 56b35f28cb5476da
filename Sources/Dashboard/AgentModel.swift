import AgentTranscript
import TerminalUI
import Hosting

/// One line of an agent's events.jsonl, read through the protocol's codec, with its time.
public struct TimelineEvent: Equatable, Sendable {
    /// Unix seconds (from `ts`; 0 when missing or unreadable).
    public var time: Double
    public var agent: String
    public var record: EventRecord
    public var line: String

    public var event: AgentEvent { record.event }
    /// The type as written (for the timeline's filter).
    public var type: String { record.event.type }

    public static func == (a: TimelineEvent, b: TimelineEvent) -> Bool { a.line == b.line && a.agent == b.agent }

    /// Nil for a blank line; a line that is not a JSON object is an `invalid` event.
    public static func parse(_ line: String, agent defaultAgent: String) -> TimelineEvent? {
        guard let record = EventRecord(line: line) else { return nil }
        return TimelineEvent(time: record.ts.flatMap(parseISO8601) ?? 0, agent: record.agent ?? defaultAgent,
                             record: record, line: line)
    }

    /// One line for the timeline (line breaks in a message or command become spaces).
    public var summary: String { oneLine(event.summary) }
}

/// What an agent's events say it is doing, accumulated.
public struct AgentActivity: Equatable, Sendable {
    /// The latest `state` event's state.
    public var detail: ActivityState?
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
    /// What the agent needs a person for (its shim's `attention` event), until it gets going.
    public var attention: Attention?

    public init() {}

    public var tokens: Int { inputTokens + outputTokens }

    public mutating func apply(_ event: TimelineEvent) {
        switch event.event {
        case .state(let state):
            detail = state
            detailTime = event.time
            switch state {
            case .thinking, .runningTool, .running, .starting, .restarting, .stopping, .stopped: attention = nil
            default: break
            }
        case .tokens(let u):
            inputTokens += u.input
            outputTokens += u.output
            cost += u.costUSD ?? 0
        case let .step(n, limit):
            step = n
            stepLimit = limit
        case .command(let text, _):
            lastAction = "$ " + oneLine(text)
        case let .tool(name, phase):
            lastAction = name
            toolRunning = phase == .start ? name : nil
        case .start:
            // A new run: what the old one was doing no longer applies.
            detail = nil
            toolRunning = nil
            attention = nil
            lastStart = event.time
        case .exit:
            detail = nil
            toolRunning = nil
            attention = nil // what it waited for ended with it; its shim says what the end means
        case .attention:
            if let a = Attention(event.event) { attention = a }
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
            switch activity.detail {
            case .thinking?: return .thinking
            case .runningTool?: return .tool(nil)
            case .waiting?: return .waiting
            case .idle?: return waitingHeuristic ? .waiting : .idle
            case .staying?: return .staying // nothing to type: it is done and keeps what it started
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
    /// Why the agent needs a person, when it does (its shim's `attention` event).
    public var attention: String?

    /// A person is needed: the state says so, or the agent's shim raised it.
    public var needsPerson: Bool { attention != nil || state.needsPerson }

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
        attention = activity.attention?.message
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
        // One count of waiting agents: the state counts say it; the badge counts who needs a person.
        var text = parts.joined(separator: ", ")
        if tokens > 0 { text += " · \(formatCount(tokens)) tok" }
        if cost > 0 { text += " · \(formatCost(cost))" }
        return text
    }
}
