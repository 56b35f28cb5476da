import AgentProtocol
import Foundation
import Glibc
import Loop
import Hosting
import LLM

/// One conversation of the exec agent: every message, code run, result and request with its
/// timings. Stored as `<stateDir>/conversations/<id>.json`, rewritten atomically after every step.
public struct Conversation: Codable, Equatable {
    public enum Status: String, Codable {
        /// Waiting for the person's next message.
        case waiting
        /// A turn is in progress (the model owes an answer): a restart continues it.
        case working
        /// The last turn was ended by a limit (steps, time, tokens, cost) or an error.
        case stopped
    }

    public struct Entry: Codable, Equatable {
        public enum Kind: String, Codable {
            /// The person's message.
            case prompt
            /// The model's answer.
            case answer
            /// Results of the answer's code blocks.
            case results
            /// A notice from the agent (runtime restarted, answer cut off, ...).
            case note
        }
        public var role: String
        public var kind: Kind
        public var text: String
        public var at: String
        public var turn: Int
    }

    public struct CodeRun: Codable, Equatable {
        public var turn: Int
        public var step: Int
        /// Index in `messages` of the answer holding the block.
        public var message: Int
        /// 1-based position of the block in that answer.
        public var block: Int
        public var code: String
        public var result: BlockResult
        public var at: String
        /// Which runtime ran it (a new one after a crash, a kill or a restart of the agent).
        public var runtime: Int
    }

    /// One model request with its performance.
    public struct Request: Codable, Equatable {
        public var turn: Int
        public var step: Int
        public var at: String
        public var model: String
        public var inputTokens: Int
        public var outputTokens: Int
        public var cacheReadTokens: Int
        public var cacheWriteTokens: Int
        public var costUSD: Double?
        public var duration: Double
        /// Seconds to the first token.
        public var timeToFirstToken: Double?
        public var tokensPerSecond: Double?
        public var attempts: Int
        public var stopReason: String?
        public var error: String?
    }

    /// A smaller message budget learned when the provider said a request did not fit its
    /// context window; it applies while the model and `context_tokens` are the ones it was
    /// learned with.
    /// A smaller message budget learned from a refused request (see `ModelEngine`).
    public typealias ContextCap = Agents.ContextCap

    /// Why the last turn stopped (status `.stopped`).
    public struct Stop: Codable, Equatable {
        public enum Kind: String, Codable {
            /// A limit (steps, time, tokens, cost) ended it.
            case limit
            /// A model request failed (provider down, bad key, ...).
            case error
        }
        public var kind: Kind
        public var reason: String
    }

    public var id: String
    public var title: String
    public var created: String
    public var updated: String
    public var provider: String
    public var model: String
    public var status: Status
    public var turns: Int
    public var messages: [Entry]
    public var runs: [CodeRun]
    public var requests: [Request]
    public var contextCap: ContextCap?
    /// Set when a turn stopped (status `.stopped`); nil while working or waiting.
    public var stop: Stop?

    public init(id: String, provider: String, model: String) {
        self.id = id
        title = ""
        created = Conversation.timestamp()
        updated = created
        self.provider = provider
        self.model = model
        status = .waiting
        turns = 0
        messages = []
        runs = []
        requests = []
    }

    public static func timestamp(_ date: Date = Date()) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    /// A `timestamp` read back.
    public static func date(_ timestamp: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: timestamp)
    }

    /// Why the last turn stopped, also for files written before `stop` was kept (a failed
    /// request is recorded with its error; otherwise a limit ended it).
    public var stopKind: Stop.Kind? {
        guard status == .stopped else { return nil }
        if let stop { return stop.kind }
        return requests.last?.error != nil ? .error : .limit
    }

    /// The person's message that began the latest turn.
    public var lastPrompt: String? { messages.last { $0.kind == .prompt }?.text }

    public mutating func append(_ role: String, _ kind: Entry.Kind, _ text: String) {
        messages.append(Entry(role: role, kind: kind, text: text, at: Conversation.timestamp(), turn: turns))
        if title.isEmpty && kind == .prompt {
            title = oneLine(text, width: 70)
        }
    }

    /// The messages for the model: consecutive entries of one role are joined (notes and
    /// results before the next prompt), so roles alternate and the first is the user's. The
    /// whole history: a request sends it fitted to the context window (`ContextFit`).
    public var chatMessages: [Message] {
        var out: [Message] = []
        for entry in messages {
            let role: Role = entry.role == "assistant" ? .assistant : .user
            if let last = out.last, last.role == role {
                out[out.count - 1] = Message(role: role, content: [.text(last.text + "\n\n" + entry.text)])
            } else {
                out.append(Message(role: role, content: [.text(entry.text)]))
            }
        }
        if out.first?.role == .assistant { out.insert(.user("(conversation resumed)"), at: 0) }
        return out
    }

    public var totalCost: Double? {
        let costs = requests.compactMap(\.costUSD)
        return costs.isEmpty ? nil : costs.reduce(0, +)
    }
    public var totalTokens: (input: Int, output: Int) {
        requests.reduce((0, 0)) { ($0.0 + $1.inputTokens + $1.cacheReadTokens + $1.cacheWriteTokens, $0.1 + $1.outputTokens) }
    }
}

public struct ConversationError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// `<stateDir>/conversations/`: one JSON file per conversation plus `current.json`, which names
/// the conversation the agent is in and the process (the shim) that started it.
public struct ConversationStore {
    public let directory: String

    public init(stateDir: String) { directory = stateDir + "/conversations" }

    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 100 && id.first != "." && id != "current"
            && id.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "-" || $0 == "_" || $0 == "." }
    }

    /// "20250101-120304-a1b2": sorts by time, unique enough for one agent.
    public static func newID(date: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let suffix = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        return f.string(from: date) + "-" + String(repeating: "0", count: 4 - suffix.count) + suffix
    }

    public func path(_ id: String) -> String { directory + "/" + id + ".json" }

    public func save(_ conversation: Conversation) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var c = conversation
        c.updated = Conversation.timestamp()
        try writeFileAtomically(path: path(c.id), data: c.transcript.bytes)
    }

    public func load(_ id: String) throws -> Conversation {
        guard ConversationStore.isValidID(id) else { throw ConversationError(message: "\"\(id)\" is not a conversation id") }
        guard let data = FileManager.default.contents(atPath: path(id)) else {
            throw ConversationError(message: "no conversation \(id) in \(directory)")
        }
        do {
            return try Conversation(bytes: Array(data))
        } catch {
            throw ConversationError(message: "\(path(id)) is not a readable conversation: \(error)")
        }
    }

    /// Every conversation, oldest first (by id, which starts with its creation time).
    public func list() -> [Conversation] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") && $0 != "current.json" }
            .map { String($0.dropLast(5)) }
            .sorted()
            .compactMap { try? load($0) }
    }

    public func delete(_ id: String) throws {
        _ = try load(id)
        try FileManager.default.removeItem(atPath: path(id))
        if currentID() == id { try? FileManager.default.removeItem(atPath: directory + "/current.json") }
    }

    // MARK: The current conversation

    /// Who started the current conversation: the agent's parent process (the shim) and when it
    /// started, so a restart by the same shim resumes while a fresh `up` starts anew.
    public struct Current: Codable, Equatable {
        public var id: String
        public var parentPID: Int32
        public var parentStart: UInt64
    }

    public func current() -> Current? {
        guard let data = FileManager.default.contents(atPath: directory + "/current.json") else { return nil }
        return try? JSONCoding.decode(Current.self, from: Array(data))
    }

    public func currentID() -> String? { current()?.id }

    public func setCurrent(_ id: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let parent = getppid()
        let current = Current(id: id, parentPID: parent, parentStart: ConversationStore.startTime(of: parent) ?? 0)
        try writeFileAtomically(path: directory + "/current.json", data: try JSONCoding.encodeBytes(current))
    }

    /// True when the current conversation was started under this same parent process (the
    /// shim restarted the agent).
    public func currentBelongsToParent() -> Current? {
        guard let c = current() else { return nil }
        let parent = getppid()
        guard c.parentPID == parent, parent > 1, let start = ConversationStore.startTime(of: parent), start == c.parentStart else { return nil }
        return c
    }

    /// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat).
    static func startTime(of pid: Int32) -> UInt64? { ProcFS.stat(pid)?.startTime }
}

// MARK: As a transcript

extension Conversation {
    /// What only the exec agent keeps: for each of the transcript's `messages` (the one copy of
    /// their text), what kind of entry it is, when and in which turn; each code run with its
    /// runtime, each request with its timings, and why the last turn stopped.
    struct Extras: Codable {
        struct MessageInfo: Codable {
            var kind: Entry.Kind
            var at: String
            var turn: Int
        }
        var title: String
        var turns: Int
        /// Parallel to the transcript's `messages`.
        var messageInfo: [MessageInfo]?
        /// Transcripts written before `messageInfo` kept the whole entries here, a second copy
        /// of the conversation's text; they still load.
        var messages: [Entry]?
        var runs: [CodeRun]
        var requests: [Request]
        var stop: Stop?
    }

    public var transcript: Transcript {
        var spend = Spend()
        for r in requests where r.error == nil {
            spend.add(Usage(input: r.inputTokens, output: r.outputTokens, cacheRead: r.cacheReadTokens, cacheWrite: r.cacheWriteTokens), cost: r.costUSD)
        }
        spend.steps = Set(requests.map { "\($0.turn).\($0.step)" }).count
        let state: Transcript.Status = switch status {
        case .waiting: .waiting
        case .working: .working
        case .stopped: .stopped(reason: stop?.reason ?? requests.last?.error ?? "limit")
        }
        let info = messages.map { Extras.MessageInfo(kind: $0.kind, at: $0.at, turn: $0.turn) }
        let extras = Extras(title: title, turns: turns, messageInfo: info, runs: runs, requests: requests, stop: stop)
        // One message per entry, not joined as `chatMessages` joins them for a request, so each
        // keeps its kind, time and turn.
        let stored = messages.map { Message(role: $0.role == "assistant" ? .assistant : .user, content: [.text($0.text)]) }
        return Transcript(id: id, kind: .exec, provider: provider, model: model, started: created, updated: updated,
                          status: state, spend: spend, contextCap: contextCap, entries: events.map { EventRecord(event: $0) },
                          messages: stored, extras: try? JSONCoding.encode(extras, sortedKeys: true))
    }

    public init(transcript t: Transcript) throws {
        guard t.kind == .exec else { throw ConversationError(message: "transcript \(t.id) is a \(t.kind.rawValue) agent's, not a conversation") }
        let extras = try t.extras(as: Extras.self)
        self.init(id: t.id, provider: t.provider ?? "", model: t.model)
        created = t.started
        updated = t.updated
        status = switch t.status {
        case .working: .working
        case .waiting, .finished: .waiting
        case .stopped: .stopped
        }
        contextCap = t.contextCap
        title = extras.title; turns = extras.turns
        if let info = extras.messageInfo {
            guard info.count == t.messages.count else {
                throw ConversationError(message: "transcript \(t.id): \(t.messages.count) messages but \(info.count) records of them")
            }
            messages = zip(t.messages, info).map { m, i in Entry(role: m.role.rawValue, kind: i.kind, text: m.text, at: i.at, turn: i.turn) }
        } else {
            messages = extras.messages ?? []
        }
        runs = extras.runs; requests = extras.requests; stop = extras.stop
    }

    /// A conversation file of either format: a transcript, or the exec agent's own before it.
    public init(bytes: [UInt8]) throws {
        let json = try OrderedJSON.parse(bytes)
        if Transcript.isTranscript(json) {
            try self.init(transcript: try Transcript(json: json))
        } else {
            self = try JSONCoding.decode(Conversation.self, from: json)
        }
    }
}
