import AgentProtocol
import LLM

// Foundation-free on purpose: a transcript is data (read by the CLI, the dashboard and any
// future client), encoded by the one JSON implementation, `OrderedJSON`/`JSONCoding`.

/// One saved run of a built-in agent, the same file format for the three kinds: the coder's
/// sessions, the exec agent's conversations and the goal runner's history. It holds what every
/// kind shares (who, which model, where, when, how it stands, what it spent), the conversation
/// as typed protocol events (`entries`, what `sessions show` and `conversations show` render),
/// the provider-neutral messages a resumed agent sends again, and the kind's own record in
/// `extras`.
public struct Transcript: Equatable {
    /// The `format` key that tells a transcript from the per-kind files written before it.
    public static let format = "supervisor-transcript"
    public static let version = 1

    public enum Status: Equatable {
        /// A turn is in progress: a restart continues it.
        case working
        /// Waiting for the person's next message.
        case waiting
        /// Ended for good (the person quit, a one-shot prompt or a goal got its answer).
        case finished(reason: String?)
        /// A limit or an error ended the last turn.
        case stopped(reason: String)

        var name: String {
            switch self {
            case .working: "working"
            case .waiting: "waiting"
            case .finished: "finished"
            case .stopped: "stopped"
            }
        }
        var reason: String? {
            switch self {
            case .finished(let r): r
            case .stopped(let r): r
            default: nil
            }
        }
        init(name: String, reason: String?) throws {
            switch name {
            case "working": self = .working
            case "waiting": self = .waiting
            case "finished": self = .finished(reason: reason)
            case "stopped": self = .stopped(reason: reason ?? "")
            default: throw TranscriptError("unknown transcript status \"\(name)\"")
            }
        }
    }

    public var id: String
    public var kind: AgentKind
    public var provider: String?
    public var model: String
    /// The coder's workspace, the goal runner's current directory.
    public var workspace: String?
    /// ISO 8601 UTC.
    public var started: String
    public var updated: String
    public var status: Status
    /// What the run has spent (requests, steps, tokens, cost, seconds).
    public var spend: Spend
    /// A smaller request budget learned from a refused request (see `ModelEngine`).
    public var contextCap: ContextCap?
    /// The conversation as protocol events, in order, for people to read.
    public var entries: [EventRecord]
    /// What the model is sent again on resume (the coder's; the others rebuild theirs).
    public var messages: [Message]
    /// The kind's own record (`JSONCoding` of its type), nil when it has none.
    public var extras: OrderedJSON?

    public init(id: String, kind: AgentKind, provider: String? = nil, model: String, workspace: String? = nil,
                started: String, updated: String? = nil, status: Status = .waiting, spend: Spend = Spend(),
                contextCap: ContextCap? = nil, entries: [EventRecord] = [], messages: [Message] = [], extras: OrderedJSON? = nil) {
        self.id = id; self.kind = kind; self.provider = provider; self.model = model; self.workspace = workspace
        self.started = started; self.updated = updated ?? started; self.status = status; self.spend = spend
        self.contextCap = contextCap; self.entries = entries; self.messages = messages; self.extras = extras
    }

    /// The kind's own record, typed.
    public func extras<T: Decodable>(as type: T.Type) throws -> T {
        guard let extras else { throw TranscriptError("transcript \(id) has no \(kind.rawValue) record") }
        return try JSONCoding.decode(type, from: extras)
    }

    // MARK: JSON

    public var json: OrderedJSON {
        var o: [(String, OrderedJSON)] = [
            ("format", .string(Self.format)), ("version", .int(Self.version)),
            ("id", .string(id)), ("kind", .string(kind.rawValue)),
        ]
        if let provider { o.append(("provider", .string(provider))) }
        o.append(("model", .string(model)))
        if let workspace { o.append(("workspace", .string(workspace))) }
        o += [("started", .string(started)), ("updated", .string(updated)), ("status", .string(status.name))]
        if let r = status.reason { o.append(("reason", .string(r))) }
        o.append(("spend", (try? JSONCoding.encode(spend, sortedKeys: true)) ?? .object([])))
        if let c = contextCap, let j = try? JSONCoding.encode(c, sortedKeys: true) { o.append(("context_cap", j)) }
        o.append(("entries", .array(entries.map(\.json))))
        o.append(("messages", .array(messages.map { OrderedJSON(Self.encode($0)) })))
        if let extras { o.append(("extras", extras)) }
        return .object(o)
    }

    /// The file's bytes: pretty, for people who open it.
    public var bytes: [UInt8] { Array((json.serialized(pretty: true) + "\n").utf8) }

    public static func isTranscript(_ json: OrderedJSON) -> Bool { json["format"]?.stringValue == format }

    public init(json: OrderedJSON) throws {
        guard Self.isTranscript(json) else { throw TranscriptError("not a transcript (no \"format\": \"\(Self.format)\")") }
        guard let id = json["id"]?.stringValue, let kindName = json["kind"]?.stringValue else {
            throw TranscriptError("transcript without an id or a kind")
        }
        guard let kind = AgentKind(rawValue: kindName) else { throw TranscriptError("unknown agent kind \"\(kindName)\" in transcript \(id)") }
        self.id = id
        self.kind = kind
        provider = json["provider"]?.stringValue
        model = json["model"]?.stringValue ?? ""
        workspace = json["workspace"]?.stringValue
        started = json["started"]?.stringValue ?? ""
        updated = json["updated"]?.stringValue ?? started
        status = try Status(name: json["status"]?.stringValue ?? "waiting", reason: json["reason"]?.stringValue)
        spend = try json["spend"].map { try JSONCoding.decode(Spend.self, from: $0) } ?? Spend()
        contextCap = try json["context_cap"].map { try JSONCoding.decode(ContextCap.self, from: $0) }
        entries = try (json["entries"]?.arrayValue ?? []).map { j in
            guard let r = EventRecord(json: j) else { throw TranscriptError("damaged entry in transcript \(id)") }
            return r
        }
        messages = try (json["messages"]?.arrayValue ?? []).map { try Self.decode(JSONValue($0)) }
        extras = json["extras"]
    }

    public init(bytes: [UInt8]) throws {
        let json: OrderedJSON
        do { json = try OrderedJSON.parse(bytes) } catch let e as OrderedJSON.ParseError {
            throw TranscriptError("invalid JSON at byte \(e.offset): \(e.reason)")
        }
        try self.init(json: json)
    }

    // MARK: Messages (the coder's session files have always stored them this way)

    static func encode(_ m: Message) -> JSONValue {
        ["role": .string(m.role.rawValue), "content": .array(m.content.map { block -> JSONValue in
            switch block {
            case .text(let t): return ["type": "text", "text": .string(t)]
            case .toolUse(let id, let name, let input): return ["type": "tool_use", "id": .string(id), "name": .string(name), "input": input]
            case .toolResult(let id, let content, let isError):
                return ["type": "tool_result", "tool_use_id": .string(id), "content": .string(content), "is_error": .bool(isError)]
            }
        })]
    }

    static func decode(_ j: JSONValue) throws -> Message {
        guard let role = j["role"]?.stringValue.flatMap(Role.init(rawValue:)), let blocks = j["content"]?.arrayValue else {
            throw TranscriptError("damaged message in transcript")
        }
        return Message(role: role, content: try blocks.map { b in
            switch b["type"]?.stringValue {
            case "text": return .text(b["text"]?.stringValue ?? "")
            case "tool_use": return .toolUse(id: b["id"]?.stringValue ?? "", name: b["name"]?.stringValue ?? "", input: b["input"] ?? [:])
            case "tool_result": return .toolResult(toolUseId: b["tool_use_id"]?.stringValue ?? "", content: b["content"]?.stringValue ?? "",
                                                   isError: b["is_error"]?.boolValue ?? false)
            default: throw TranscriptError("unknown content block in transcript")
            }
        })
    }
}

extension OrderedJSON {
    fileprivate var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    fileprivate var arrayValue: [OrderedJSON]? { if case .array(let a) = self { return a }; return nil }
}

public struct TranscriptError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
