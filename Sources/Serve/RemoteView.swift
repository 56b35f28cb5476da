import AgentProtocol
import AgentTranscript

/// What `supervisor client` shows of one agent's stream, from the stream's messages alone
/// (pure): the transcript as it grows (rendered by the renderer every view uses), the agent's
/// state changes, and the coder's permission question while it waits for an answer.
public struct RemoteView {
    private var renderer: TranscriptRenderer
    private var lastToolCall: String?
    private var lastState: String?
    /// The question the agent waits on (a coder asking to run a tool), nil when none.
    public private(set) var question: String?

    public init(colour: Bool) { renderer = TranscriptRenderer(.init(colour: colour)) }

    /// The text to print for one text message of the stream.
    public mutating func text(_ message: [UInt8]) -> String {
        guard let json = try? OrderedJSON.parse(message), case .string(let type)? = json["type"] else { return "" }
        switch type {
        case "hello":
            guard case .object? = json["status"] else { return "" }
            return state(json["status"])
        case "state":
            return state(json["status"])
        case "event":
            guard let event = json["event"], let record = EventRecord(line: event.serialized()) else { return "" }
            var out = renderer.render(record)
            switch record.event {
            case let .toolCall(_, name, input, _):
                lastToolCall = "\(name)(\(Summary.toolInput(input)))"
            case let .state(value):
                if value == .waiting, let call = lastToolCall {
                    question = "? Allow \(call)? [y]es / [n]o / [a]lways: "
                    out += question!
                } else {
                    question = nil
                }
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

    /// The message to send for a line typed: the answer to a pending question, a control
    /// command (`/start`, `/stop`, `/restart`), or a message to the agent.
    public mutating func message(for line: String) -> String {
        if question != nil, let key = line.trimmingSpaces.lowercased().first, "yna".contains(key) {
            question = nil
            return OrderedJSON.object([("type", .string("input")), ("data", .string(String(key)))]).serialized()
        }
        if let op = ["/start": "start", "/stop": "stop", "/restart": "restart"][line.trimmingSpaces] {
            return OrderedJSON.object([("type", .string("control")), ("op", .string(op))]).serialized()
        }
        return OrderedJSON.object([("type", .string("paste")), ("text", .string(line))]).serialized()
    }

    private mutating func state(_ status: OrderedJSON?) -> String {
        guard case .string(let state)? = status?["state"], state != lastState else { return "" }
        lastState = state
        let agent: String = { if case .string(let a)? = status?["agent"] { return a }; return "agent" }()
        return "[\(agent): \(state)]\n"
    }
}
