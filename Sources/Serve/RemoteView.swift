import AgentProtocol
import AgentTranscript

/// What `supervisor client` shows of one agent's stream, from the stream's messages alone
/// (pure): the transcript as it grows (rendered by the renderer every view uses), the agent's
/// state changes, and the coder's permission question (its typed `permission` event) until answered.
public struct RemoteView {
    private var renderer: TranscriptRenderer
    private var lastState: String?
    /// The permission question the agent waits on (the coder's `permission` event), nil when none.
    public private(set) var question: (id: String, tool: String)?

    /// What a line typed becomes.
    public enum Action: Equatable {
        /// A message for the stream's WebSocket.
        case send(String)
        /// The answer to permission question `id`: `POST .../permission/{id}`.
        case answer(id: String, PermissionChoice)
    }

    /// What follows a permission question: the terminal client's inline prompt, by default.
    private let prompt: (String) -> String

    public init(colour: Bool, prompt: ((String) -> String)? = nil) {
        renderer = TranscriptRenderer(.init(colour: colour))
        self.prompt = prompt ?? RemoteView.inlinePrompt
    }

    /// The text to print for one text message of the stream.
    public mutating func text(_ message: [UInt8]) -> String {
        guard let json = try? OrderedJSON.parse(message), case .string(let type)? = json["type"] else { return "" }
        switch type {
        case "hello":
            guard case .object? = json["status"] else { return "" }
            return state(json["status"]) + question(in: json["status"])
        case "state":
            return state(json["status"])
        case "event":
            guard let event = json["event"], let record = EventRecord(line: event.serialized()) else { return "" }
            var out = renderer.render(record)
            switch record.event {
            case let .permission(id, tool, _, _, _, _):
                question = (id, tool)
                out += prompt(tool)
            case let .permissionAnswer(id, _, _) where question?.id == id:
                question = nil
            case .start, .exit:
                question = nil
            default:
                break
            }
            return out
        case "ack":
            if case .bool(false)? = json["ok"], case .string(let error)? = json["error"] { return "(refused: \(error))\n" }
            return ""
        case "gap", "error":
            return "(\(json.serialized()))\n"
        default:
            return ""
        }
    }

    /// What a line typed does: answer the pending question (y/n/a, yes/no/always), a control
    /// command (`/start`, `/stop`, `/restart`), or a message to the agent.
    public func action(for line: String) -> Action {
        if let question, let answer = PermissionChoice(typed: line) {
            return .answer(id: question.id, answer)
        }
        if let op = ["/start": "start", "/stop": "stop", "/restart": "restart"][line.trimmingSpaces] {
            return .send(OrderedJSON.object([("type", .string("control")), ("op", .string(op))]).serialized())
        }
        return .send(OrderedJSON.object([("type", .string("paste")), ("text", .string(line))]).serialized())
    }

    /// `POST .../permission/{id}`'s body.
    public static func answerBody(_ answer: PermissionChoice) -> [UInt8] {
        Array(OrderedJSON.object([("answer", .string(answer.name))]).serialized().utf8)
    }

    private static func inlinePrompt(_ tool: String) -> String { "  answer [y]es / [n]o / [a]lways for \(tool): " }

    /// The question the agent's status says it waits on (`permission`: a client that connects
    /// while the coder asks has not seen the event), shown and made answerable; "" when none.
    public mutating func question(in status: OrderedJSON?) -> String {
        guard let q = status?["permission"], case .string(let id)? = q["id"], case .string(let tool)? = q["tool"] else { return "" }
        var summary = ""
        if case .string(let s)? = q["summary"] { summary = s }
        question = (id, tool)
        return "? asks: may it run \(tool)(\(Summary.oneLine(summary, max: 120)))?\n" + prompt(tool)
    }

    private mutating func state(_ status: OrderedJSON?) -> String {
        guard case .string(let state)? = status?["state"], state != lastState else { return "" }
        lastState = state
        let agent: String = { if case .string(let a)? = status?["agent"] { return a }; return "agent" }()
        return "[\(agent): \(state)]\n"
    }
}

/// What `supervisor client PROFILE` shows of a whole profile (pure): every agent's events as
/// they happen, from the profile's events WebSocket, each line under its agent's name; a line
/// typed goes to the agent it names (`@NAME text`).
public struct ProfileView {
    public let agents: [String]
    private var views: [String: RemoteView]
    private let column: Int

    public init(agents: [String], colour: Bool) {
        self.agents = agents
        column = agents.map(\.count).max() ?? 0
        views = Dictionary(agents.map { name in
            (name, RemoteView(colour: colour, prompt: { _ in "  answer: @\(name) y / n / a\n" }))
        }, uniquingKeysWith: { first, _ in first })
    }

    /// What a line typed becomes.
    public enum Action: Equatable {
        /// `POST .../agents/AGENT/paste` (the text as one message, as pasted into its pane).
        case paste(agent: String, text: String)
        /// `POST .../agents/AGENT/{op}`: start, stop, restart.
        case control(agent: String, op: String)
        /// `POST .../agents/AGENT/permission/{id}`.
        case answer(agent: String, id: String, PermissionChoice)
        /// Nothing to send: this to print instead.
        case help(String)
    }

    /// The text to print for one message of the events WebSocket.
    public mutating func text(_ message: [UInt8]) -> String {
        guard let json = try? OrderedJSON.parse(message), case .string(let type)? = json["type"] else { return "" }
        switch type {
        case "event":
            guard case .string(let agent)? = json["agent"], views[agent] != nil else { return "" }
            return prefixed(agent, views[agent]!.text(message))
        case "replayed":
            return "--- live ---\n"
        default:
            return ""
        }
    }

    /// An agent's status (`GET /api/profiles/P`): the question it asks now, if any, shown and
    /// made answerable (its `permission` event may be older than what the events replay).
    public mutating func seed(agent: String, status: OrderedJSON) -> String {
        guard views[agent] != nil else { return "" }
        return prefixed(agent, views[agent]!.question(in: status))
    }

    public func action(for line: String) -> Action {
        let trimmed = line.trimmingSpaces
        guard trimmed.hasPrefix("@") else {
            // A bare answer goes to the one agent that asks, when only one does.
            let asking = agents.filter { views[$0]?.question != nil }
            if asking.count == 1, let answer = PermissionChoice(typed: trimmed), let id = views[asking[0]]?.question?.id {
                return .answer(agent: asking[0], id: id, answer)
            }
            return .help("start a line with @AGENT (\(agents.joined(separator: ", "))); /start, /stop, /restart after it act on the agent\n")
        }
        let name = String(trimmed.dropFirst().prefix { $0 != " " })
        let rest = String(trimmed.dropFirst(1 + name.count)).trimmingSpaces
        guard let view = views[name] else { return .help("no agent \(name) here (\(agents.joined(separator: ", ")))\n") }
        guard !rest.isEmpty else { return .help("@\(name) what? (a message, y/n/a to a question, /start, /stop, /restart)\n") }
        if let question = view.question, let answer = PermissionChoice(typed: rest) {
            return .answer(agent: name, id: question.id, answer)
        }
        if let op = ["/start": "start", "/stop": "stop", "/restart": "restart"][rest] { return .control(agent: name, op: op) }
        return .paste(agent: name, text: rest)
    }

    /// Each line of `text` under the agent's name, the names in one column.
    private func prefixed(_ agent: String, _ text: String) -> String {
        guard !text.isEmpty else { return "" }
        let name = agent.padding(toLength: column, withPad: " ", startingAt: 0)
        var out = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
            out += "\(name) │ \(line)\n"
        }
        return out
    }
}
