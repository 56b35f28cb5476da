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

    public init(colour: Bool) { renderer = TranscriptRenderer(.init(colour: colour)) }

    /// The text to print for one text message of the stream.
    public mutating func text(_ message: [UInt8]) -> String {
        guard let json = try? OrderedJSON.parse(message), case .string(let type)? = json["type"] else { return "" }
        switch type {
        case "hello":
            guard case .object? = json["status"] else { return "" }
            return state(json["status"]) + asking(json["status"])
        case "state":
            return state(json["status"])
        case "event":
            guard let event = json["event"], let record = EventRecord(line: event.serialized()) else { return "" }
            var out = renderer.render(record)
            switch record.event {
            case let .permission(id, tool, _, _, _, _):
                question = (id, tool)
                out += Self.prompt(tool)
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

    private static func prompt(_ tool: String) -> String { "  answer [y]es / [n]o / [a]lways for \(tool): " }

    /// The question the agent's status says it waits on (`permission`: a client that connects
    /// while the coder asks has not seen the event).
    private mutating func asking(_ status: OrderedJSON?) -> String {
        guard let q = status?["permission"], case .string(let id)? = q["id"], case .string(let tool)? = q["tool"] else { return "" }
        var summary = ""
        if case .string(let s)? = q["summary"] { summary = s }
        question = (id, tool)
        return "? asks: may it run \(tool)(\(Summary.oneLine(summary, max: 120)))?\n" + Self.prompt(tool)
    }

    private mutating func state(_ status: OrderedJSON?) -> String {
        guard case .string(let state)? = status?["state"], state != lastState else { return "" }
        lastState = state
        let agent: String = { if case .string(let a)? = status?["agent"] { return a }; return "agent" }()
        return "[\(agent): \(state)]\n"
    }
}
