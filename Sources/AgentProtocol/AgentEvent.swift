/// The event protocol: what an agent tells the shim on its events descriptor (fd 3,
/// `SUPERVISOR_EVENTS_FD`), one JSON object per line, and what `<agent>.events.jsonl` holds.
///
/// Versioning: every event this module writes carries `"v": AgentProtocol.version`, so each line
/// can be read on its own (a file holds lines from many starts, perhaps of different builds, and
/// a reader may start mid-file). A line without `"v"` was written before the protocol had a
/// version (version 0, whose types and fields are version 1's) or by a program that is not ours.
/// A change that only adds a type or an optional field keeps the version; a change of meaning
/// or a removed field raises it.
public enum AgentProtocol {
    public static let version = 1
}

/// One event, typed. Unknown types (programs that are not ours write what they like) decode to
/// `.unknown` with their fields in order, so they pass through unchanged.
public enum AgentEvent: Sendable {
    // The conversation.
    /// What a person (or the profile's task) told the agent.
    case user(text: String, source: UserSource?, truncated: Bool)
    /// The model's whole reply to one request, once complete (`step`: the step it answered).
    case reply(step: Int?, text: String, truncated: Bool)
    /// What the agent says (notes, summaries, an answer without a step).
    case message(text: String, truncated: Bool)
    /// The model asked for a tool (`id`: the provider's call id, pairing it with its result).
    /// An input longer than `EventCaps.toolInput` (as JSON) becomes its cut JSON text.
    case toolCall(id: String?, name: String, input: OrderedJSON, truncated: Bool)
    /// What a tool returned, as the model is shown it.
    case toolResult(id: String?, name: String, output: String, isError: Bool, truncated: Bool)
    /// A tool's progress (status only; `toolCall`/`toolResult` carry the content).
    case tool(name: String, phase: ToolPhase)
    /// A shell command the agent runs.
    case command(text: String, truncated: Bool)
    /// What a shell command printed, and its exit status when it ended.
    case commandOutput(output: String, exitCode: Int?, truncated: Bool)
    /// A code block the agent runs (`n`: its number in its reply).
    case code(n: Int, language: String, code: String, truncated: Bool)
    /// A code block ended.
    case block(n: Int, status: String, duration: Double?)
    /// What a code block printed, as the model is shown it.
    case blockOutput(n: Int, status: String, output: String, truncated: Bool)
    /// Something went wrong (the agent goes on, or an `exit` follows).
    case error(message: String)
    /// The run's end is conclusive: the shim does not restart it, whatever the exit status.
    case final(reason: String)
    /// A coder asks a person whether it may run a tool call, and waits. `id` names the question
    /// for its answer (`PermissionReply`); `summary` is the call in a line, `diff` what a Write or
    /// Edit would change (cut to `EventCaps.output`).
    case permission(id: String, tool: String, summary: String, diff: String?, choices: [PermissionChoice], truncated: Bool)
    /// The question `id` was answered (from the pane or over the network); the coder goes on.
    case permissionAnswer(id: String, tool: String, answer: PermissionChoice)

    // Progress and accounting.
    case state(ActivityState)
    case step(n: Int, limit: Int?)
    /// One model request's amounts; readers add them up.
    case tokens(Usage)
    /// How much of a budget is spent.
    case budget(BudgetUse)
    /// What requests leave out of a long conversation changed.
    case context(ContextFit)
    /// A request did not fit the model's context window; it is sent again smaller.
    case contextOverflow(sentTokens: Int, budget: Int, conversation: String?)
    /// A reply was cut at max_tokens or left a block unclosed; the model is asked to continue.
    case incomplete(cut: Bool, maxTokens: Int, blockNotRun: Bool?, blocksRun: Int?)
    /// Timings of one model request.
    case perf(Perf)
    /// The conversation (exec) or session (coder) the agent works in.
    case conversation(id: String, resumed: Bool, path: String?, finished: String?)
    /// What a turn changed, committed in the agent's worktree (`autocommit = true`).
    case commit(sha: String, subject: String, branch: String?)

    // The shim's own.
    case start(pid: Int)
    case exit(status: ExitCode, restarts: Int?)
    case container(name: String, note: String?, error: String?)
    case strays(pids: [Int])
    /// Where `up`, `start` or `restart` placed an agent's container (`engine = "auto"`, or a
    /// recorded engine that is gone): the engine's name and why.
    case placement(engine: String, note: String)
    /// Output that could not be written to the log (a full disk): `bytes` lost before `offset`,
    /// where the log has a `[supervisor: N bytes of output lost here]` line.
    case gap(bytes: Int, offset: Int, reason: String)
    /// The log file was removed or moved from outside and opened anew at its path.
    case log(note: String, offset: Int)
    /// The agent needs a person (the shim's attention logic: waiting for input, a permission
    /// question, a failure, a limit, a goal reached, the end); what `[notify] command` reads.
    case attention(reason: AttentionReason, message: String, profile: String?, kind: String?)
    /// A line that was not a JSON object, kept verbatim (cut at the shim's line limit).
    case invalid(raw: String, truncated: Bool)

    /// A type this protocol does not know: its fields (without `ts`, `agent`, `type`, `v`).
    case unknown(type: String, fields: [(String, OrderedJSON)])
}

extension AgentEvent {
    /// Where a user message came from.
    public enum UserSource: NamedCases {
        /// The profile's task, goal or prompt, given at start.
        case task
        /// Typed into the agent's pane.
        case pane
        /// `supervisor send`.
        case send
        case other(String)

        public static let named: [(String, UserSource)] = [("task", .task), ("pane", .pane), ("send", .send)]
        public var otherName: String? { if case .other(let s) = self { return s }; return nil }
    }

    public enum ToolPhase: NamedCases {
        case start, end, error, denied
        case other(String)

        public static let named: [(String, ToolPhase)] = [("start", .start), ("end", .end), ("error", .error), ("denied", .denied)]
        public var otherName: String? { if case .other(let s) = self { return s }; return nil }
    }

    public struct Usage: Equatable, Sendable {
        public var input: Int
        public var output: Int
        public var cacheRead: Int
        public var cacheWrite: Int
        public var costUSD: Double?
        public init(input: Int, output: Int, cacheRead: Int = 0, cacheWrite: Int = 0, costUSD: Double? = nil) {
            self.input = input; self.output = output; self.cacheRead = cacheRead; self.cacheWrite = cacheWrite
            self.costUSD = costUSD
        }
    }

    /// Which budget: `time_budget` (seconds), `token_budget`, `cost_budget` (USD), or the step
    /// `limit`.
    public enum Budget: NamedCases {
        case time, tokens, cost, steps
        case other(String)

        public static let named: [(String, Budget)] = [("time", .time), ("tokens", .tokens), ("cost", .cost), ("steps", .steps)]
        public var otherName: String? { if case .other(let s) = self { return s }; return nil }
    }

    public struct BudgetUse: Equatable, Sendable {
        public var budget: Budget
        public var spent: Double
        public var limit: Double
        public init(budget: Budget, spent: Double, limit: Double) {
            self.budget = budget; self.spent = spent; self.limit = limit
        }
    }

    /// What the requests of a long conversation leave out (profiles/README.md, "Long sessions").
    public struct ContextFit: Equatable, Sendable {
        /// Long outputs, texts or arguments of earlier steps shortened.
        public var elided: Int
        /// Oldest messages left out.
        public var dropped: Int
        /// About how many tokens of messages are sent.
        public var tokens: Int
        /// The token budget for messages, when it is not the whole window.
        public var budget: Int?
        /// The model's context window (`context_tokens`).
        public var contextTokens: Int?
        public var conversation: String?
        public init(elided: Int, dropped: Int, tokens: Int, budget: Int? = nil, contextTokens: Int? = nil, conversation: String? = nil) {
            self.elided = elided; self.dropped = dropped; self.tokens = tokens; self.budget = budget
            self.contextTokens = contextTokens; self.conversation = conversation
        }
    }

    public struct Perf: Equatable, Sendable {
        public var step: Int?
        public var model: String?
        public var durationS: Double
        /// Time to the first token.
        public var ttftS: Double?
        public var tokensPerS: Double?
        public var costUSD: Double?
        public var conversation: String?
        public init(step: Int? = nil, model: String? = nil, durationS: Double, ttftS: Double? = nil, tokensPerS: Double? = nil,
                    costUSD: Double? = nil, conversation: String? = nil) {
            self.step = step; self.model = model; self.durationS = durationS; self.ttftS = ttftS
            self.tokensPerS = tokensPerS; self.costUSD = costUSD; self.conversation = conversation
        }
    }

    /// How a process ended: `{"code":N}` or `{"signal":N}`.
    public enum ExitCode: Equatable, Sendable {
        case code(Int)
        case signal(Int)
    }
}

/// A person's answer to a permission question.
public enum PermissionChoice: NamedCases {
    case yes, no
    /// Yes, and do not ask again for this tool in this session.
    case always
    case other(String)

    public static let named: [(String, PermissionChoice)] = [("yes", .yes), ("no", .no), ("always", .always)]
    public var otherName: String? { if case .other(let s) = self { return s }; return nil }
    /// The answers a coder takes.
    public static let all: [PermissionChoice] = [.yes, .no, .always]

    /// What a person typed as an answer: y / yes / ok / 1, n / no, a / always / !; nil for
    /// anything else.
    public init?(typed: String) {
        var word = Substring(typed)
        while word.first?.isWhitespace == true { word.removeFirst() }
        while word.last?.isWhitespace == true { word.removeLast() }
        switch word.lowercased() {
        case "y", "yes", "ok", "1": self = .yes
        case "n", "no": self = .no
        case "a", "always", "!": self = .always
        default: return nil
        }
    }
}

/// How a permission answer reaches a coder as input: the line `/permission ID ANSWER`, pasted
/// into its pane (what `POST .../permission/ID` and the stream's `permission` message send).
/// Naming the question makes a late answer harmless: a coder that no longer asks `ID` ignores it
/// instead of taking "yes" for a message or for the answer to another question.
public enum PermissionReply {
    public static func text(id: String, answer: PermissionChoice) -> String { "/permission \(id) \(answer.name)" }

    /// The id and answer of a `/permission ID ANSWER` line; nil for any other text, and for an
    /// answer that is not one of `PermissionChoice.all`.
    public static func parse(_ text: String) -> (id: String, answer: PermissionChoice)? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        guard words.count == 3, words[0] == "/permission", isID(String(words[1])) else { return nil }
        let answer = PermissionChoice(String(words[2]).lowercased())
        guard PermissionChoice.all.contains(answer) else { return nil }
        return (String(words[1]), answer)
    }

    /// Question ids: 1 to 128 letters, digits, `_`, `-`, `.` (tool call ids are).
    public static func isID(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 128
            && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D || $0 == 0x2E }
    }
}

/// Why an agent needs a person (the `attention` event's `reason`).
public enum AttentionReason: NamedCases {
    /// A command agent blocked reading its terminal, or a built-in agent waiting for a message.
    case input
    /// A coder agent asks for permission.
    case permission
    case failed
    /// Stopped at a budget or limit.
    case limit
    case goal
    /// Ended with status 0.
    case finished
    case other(String)

    public static let named: [(String, AttentionReason)] = [
        ("waiting_for_input", .input), ("permission", .permission), ("failed", .failed), ("limit", .limit),
        ("reached_goal", .goal), ("finished", .finished),
    ]
    public var otherName: String? { if case .other(let s) = self { return s }; return nil }
}

/// What an agent is doing. The built-in agents' states and the shim's lifecycle phases are
/// cases; anything else a program reports is `.other`, shown as it is.
public enum ActivityState: NamedCases {
    // Built-in agents.
    case thinking, runningTool, waiting, idle, staying
    // The shim's phases (`AgentPhase`).
    case starting, running, exited, restarting, stopping, stopped, failed
    case other(String)

    public static let named: [(String, ActivityState)] = [
        ("thinking", .thinking), ("running_tool", .runningTool), ("waiting", .waiting), ("idle", .idle),
        ("staying", .staying), ("starting", .starting), ("running", .running), ("exited", .exited),
        ("restarting", .restarting), ("stopping", .stopping), ("stopped", .stopped), ("failed", .failed),
    ]
    public var otherName: String? { if case .other(let s) = self { return s }; return nil }

    /// Every named state (for documentation and tests).
    public static var allNamed: [ActivityState] { named.map(\.1) }
}

/// An enum of names written in events, with `.other` for a name it does not know (a program
/// that is not ours, or a newer writer): read and written back unchanged.
public protocol NamedCases: Equatable, Sendable {
    /// Each known case and its name.
    static var named: [(String, Self)] { get }
    static func other(_ name: String) -> Self
    /// The name of an `.other`, nil for a known case.
    var otherName: String? { get }
}

extension NamedCases {
    public init(_ text: String) {
        self = Self.named.first { $0.0 == text }?.1 ?? .other(text)
    }

    /// The name as written.
    public var name: String {
        otherName ?? Self.named.first { $0.1 == self }!.0
    }
}

/// Caps of the text an event carries, in bytes of JSON-escaped text, so a line stays under the
/// shim's 64 KiB line limit (beyond which it would arrive as a truncated `invalid` event). A cut
/// text keeps its start and says `truncated: true`; the conversation and session files keep
/// everything whole.
public enum EventCaps {
    /// The shim's longest line; longer ones become truncated `invalid` events.
    public static let line = 64 * 1024
    /// `reply`, `message` and `user` texts.
    public static let text = 60 * 1024
    /// `block_output`, `tool_result` and `command_output` outputs, and `code`.
    public static let output = 16 * 1024
    /// `tool_call` input, as JSON text.
    public static let toolInput = 16 * 1024
    /// `command` text.
    public static let command = 4 * 1024

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
            case 0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x08, 0x0C: cost = 2
            case 0x00...0x1F, 0x7F, 0x2028, 0x2029: cost = 6
            default: cost = UTF8.width(scalar)
            }
            if size + cost > limit { return (String(text.unicodeScalars[..<end]), true) }
            size += cost
            end = text.unicodeScalars.index(after: end)
        }
        return (text, false)
    }
}

extension AgentEvent {
    /// The event with its texts cut to `EventCaps` (and `truncated` set when cut). Emitters call
    /// this once, so no caller has to remember a cap.
    public func capped() -> AgentEvent {
        func cap(_ s: String, _ limit: Int, _ was: Bool) -> (String, Bool) {
            let (t, cut) = EventCaps.capped(s, jsonBytes: limit)
            return (t, cut || was)
        }
        switch self {
        case let .user(text, source, t):
            let (s, c) = cap(text, EventCaps.text, t); return .user(text: s, source: source, truncated: c)
        case let .reply(step, text, t):
            let (s, c) = cap(text, EventCaps.text, t); return .reply(step: step, text: s, truncated: c)
        case let .message(text, t):
            let (s, c) = cap(text, EventCaps.text, t); return .message(text: s, truncated: c)
        case let .toolCall(id, name, input, t):
            let json = input.serialized()
            guard json.utf8.count > EventCaps.toolInput else { return self }
            let (s, _) = EventCaps.capped(json, jsonBytes: EventCaps.toolInput)
            _ = t
            return .toolCall(id: id, name: name, input: .string(s), truncated: true)
        case let .toolResult(id, name, output, isError, t):
            let (s, c) = cap(output, EventCaps.output, t)
            return .toolResult(id: id, name: name, output: s, isError: isError, truncated: c)
        case let .command(text, t):
            let (s, c) = cap(text, EventCaps.command, t); return .command(text: s, truncated: c)
        case let .commandOutput(output, code, t):
            let (s, c) = cap(output, EventCaps.output, t); return .commandOutput(output: s, exitCode: code, truncated: c)
        case let .code(n, language, code, t):
            let (s, c) = cap(code, EventCaps.output, t); return .code(n: n, language: language, code: s, truncated: c)
        case let .blockOutput(n, status, output, t):
            let (s, c) = cap(output, EventCaps.output, t); return .blockOutput(n: n, status: status, output: s, truncated: c)
        case let .error(message):
            return .error(message: EventCaps.capped(message, jsonBytes: EventCaps.text).text)
        case let .permission(id, tool, summary, diff, choices, t):
            let (s, c1) = cap(summary, EventCaps.command, t)
            let d = diff.map { cap($0, EventCaps.output, false) }
            return .permission(id: id, tool: tool, summary: s, diff: d?.0, choices: choices, truncated: c1 || d?.1 == true)
        default:
            return self
        }
    }
}

/// The permission questions an agent asks and nobody has answered yet, folded from its events
/// (pure): what serve offers to answer, what its clients show. A start or an exit ends them all
/// (a question dies with the process that asked it).
public struct OpenQuestions: Equatable, Sendable {
    public struct Question: Equatable, Sendable {
        public var id: String
        public var tool: String
        public var summary: String
        public var choices: [PermissionChoice]
    }

    /// In the order asked.
    public private(set) var questions: [Question] = []

    public init() {}

    public mutating func observe(_ event: AgentEvent) {
        switch event {
        case let .permission(id, tool, summary, _, choices, _):
            questions.removeAll { $0.id == id }
            questions.append(Question(id: id, tool: tool, summary: summary, choices: choices))
        case let .permissionAnswer(id, _, _):
            questions.removeAll { $0.id == id }
        case .start, .exit:
            questions = []
        default:
            break
        }
    }

    public func contains(_ id: String) -> Bool { questions.contains { $0.id == id } }
}
