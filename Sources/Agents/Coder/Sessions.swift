#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import AgentProtocol
import Hosting
import LLM

/// Text the agent adds to a user message for the model (the person did not type it): an
/// interrupted answer, a tool call cut off at max_tokens. A resumed session shows it as a
/// notice, and it is not counted as a turn.
enum AgentNote {
    static let prefix = "[supervisor: "
    static func make(_ text: String) -> String { prefix + text + "]" }
    static func isNote(_ text: String) -> Bool { text.hasPrefix(prefix) }
}

/// One saved conversation: `stateDir/sessions/<id>.json`, rewritten atomically after every
/// step (a model answer, a batch of tool results, a user message).
public struct CoderSession: Equatable {
    public var id: String
    /// ISO 8601 UTC.
    public var started: String
    public var updated: String
    public var model: String
    public var workspace: String
    public var messages: [Message]
    /// The person ended it (quit, or a one-shot prompt got its final answer). A session that
    /// did not finish is resumed by the next start with the same launch config.
    public var finished: Bool
    /// Tools the person answered "always" for.
    public var alwaysAllowed: [String]
    public var usage: Usage
    public var costUSD: Double
    /// What the current turn has spent against the budgets (a restarted agent goes on counting).
    public var turnSpend = Spend()
    /// A smaller request budget learned from a refused request (see `ModelEngine`).
    public var contextCap: ContextCap?

    public init(id: String, started: String, model: String, workspace: String) {
        self.id = id; self.started = started; updated = started; self.model = model; self.workspace = workspace
        messages = []; finished = false; alwaysAllowed = []; usage = Usage(); costUSD = 0
    }

    /// User messages the person typed (not tool results, not the agent's notes).
    public var turns: Int {
        messages.filter { m in m.role == .user && m.content.contains { if case .text(let t) = $0 { return !AgentNote.isNote(t) } else { return false } } }.count
    }

    /// The last text of the conversation, on one line.
    public var lastMessagePreview: String {
        for m in messages.reversed() {
            // Text blocks are separate pieces: joined without a space they would run together.
            let t = m.content.compactMap { if case .text(let t) = $0, !AgentNote.isNote(t) { return t } else { return nil } }.joined(separator: "\n")
            let line = oneLine(t, width: 60)
            if !line.isEmpty { return (m.role == .user ? "you: " : "") + line }
        }
        return ""
    }

    // MARK: The session format before transcripts (version 1), read only

    public init(json: JSONValue) throws {
        guard let id = json["id"]?.stringValue, let list = json["messages"]?.arrayValue else {
            throw ToolError("not a coder session file")
        }
        self.id = id
        started = json["started"]?.stringValue ?? ""
        updated = json["updated"]?.stringValue ?? started
        model = json["model"]?.stringValue ?? ""
        workspace = json["workspace"]?.stringValue ?? ""
        finished = json["finished"]?.boolValue ?? false
        alwaysAllowed = json["always_allowed"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let u = json["usage"]
        usage = Usage(input: u?["input"]?.intValue ?? 0, output: u?["output"]?.intValue ?? 0,
                      cacheRead: u?["cache_read"]?.intValue ?? 0, cacheWrite: u?["cache_write"]?.intValue ?? 0)
        costUSD = json["cost_usd"]?.doubleValue ?? 0
        turnSpend = json["turn_spend"].map(Spend.init(json:)) ?? Spend()
        if let c = json["context_cap"], let t = c["tokens"]?.intValue, let m = c["model"]?.stringValue, let w = c["context_tokens"]?.intValue {
            contextCap = ContextCap(tokens: t, model: m, contextTokens: w)
        }
        messages = try list.map(Transcript.decode)
    }
}

/// The sessions of one agent: `<stateDir>/sessions/*.json`.
public struct SessionStore {
    public let directory: String

    public init(stateDir: String) { directory = stateDir + "/sessions" }

    public func path(_ id: String) -> String { directory + "/" + id + ".json" }

    public func save(_ session: CoderSession) throws {
        try makeDirectories(directory)
        try writeFileAtomically(path: path(session.id), data: session.transcript.bytes, mode: 0o600)
    }

    public func load(_ id: String) throws -> CoderSession {
        guard SessionStore.validID(id) else { throw ToolError("invalid session id \"\(id)\"") }
        let p = path(id)
        guard let bytes = try? Files.read(p) else {
            throw ToolError("no session \"\(id)\" in \(directory) (see `supervisor sessions list PROFILE AGENT`)")
        }
        do { return try CoderSession(bytes: bytes) } catch {
            throw ToolError("session file \(p) is damaged: \(error)")
        }
    }

    /// Removes a session (its id checked as `load` does).
    public func delete(_ id: String) throws {
        _ = try load(id)
        guard unlink(path(id)) == 0 else { throw ToolError("cannot delete \(path(id)): \(String(cString: strerror(errno)))") }
    }

    /// Every readable session, oldest first.
    public func list() -> [CoderSession] {
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var out: [CoderSession] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard name.hasSuffix(".json"), let bytes = try? Files.read(directory + "/" + name),
                  let s = try? CoderSession(bytes: bytes) else { continue }
            out.append(s)
        }
        return out.sorted { ($0.started, $0.id) < ($1.started, $1.id) }
    }

    /// The newest session that did not finish, if any.
    public func latestUnfinished() -> CoderSession? {
        list().filter { !$0.finished }.max { ($0.updated, $0.id) < ($1.updated, $1.id) }
    }

    static func validID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// "20261122-013501-4f2a": sortable, unique enough for one agent.
    public static func newID(now: time_t = time(nil)) -> String {
        var t = now
        var tmv = tm()
        gmtime_r(&t, &tmv)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y%m%d-%H%M%S", &tmv)
        return String(cString: buffer) + "-" + String(UInt16.random(in: 0...UInt16.max), radix: 16)
    }

    public static func timestamp(now: time_t = time(nil)) -> String {
        var t = now
        var tmv = tm()
        gmtime_r(&t, &tmv)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &tmv)
        return String(cString: buffer)
    }
}

// MARK: As a transcript

extension CoderSession {
    /// What only the coder keeps: its tool permissions and the current turn's spend.
    struct Extras: Codable {
        var alwaysAllowed: [String]
        var turnSpend: Spend
    }

    public var transcript: Transcript {
        var spend = Spend()
        spend.inputTokens = usage.input; spend.outputTokens = usage.output
        spend.cacheReadTokens = usage.cacheRead; spend.cacheWriteTokens = usage.cacheWrite
        spend.costUSD = costUSD
        return Transcript(id: id, kind: .coder, model: model, workspace: workspace, started: started, updated: updated,
                          status: finished ? .finished(reason: nil) : .working, spend: spend, contextCap: contextCap,
                          entries: events.map { EventRecord(event: $0) }, messages: messages,
                          extras: try? JSONCoding.encode(Extras(alwaysAllowed: alwaysAllowed, turnSpend: turnSpend)))
    }

    public init(transcript t: Transcript) throws {
        guard t.kind == .coder else { throw ToolError("transcript \(t.id) is a \(t.kind.rawValue) agent's, not a coder session") }
        self.init(id: t.id, started: t.started, model: t.model, workspace: t.workspace ?? "")
        updated = t.updated
        messages = t.messages
        if case .finished = t.status { finished = true }
        usage = Usage(input: t.spend.inputTokens, output: t.spend.outputTokens, cacheRead: t.spend.cacheReadTokens, cacheWrite: t.spend.cacheWriteTokens)
        costUSD = t.spend.costUSD ?? 0
        contextCap = t.contextCap
        if t.extras != nil {
            let extras = try t.extras(as: Extras.self)
            alwaysAllowed = extras.alwaysAllowed
            turnSpend = extras.turnSpend
        }
    }

    /// A session file of either format: a transcript, or the coder's own format before it
    /// (version 1), converted on load and written as a transcript on the next save.
    public init(bytes: [UInt8]) throws {
        let json = try JSONValue.parse(bytes)
        if json["format"]?.stringValue == Transcript.format {
            try self.init(transcript: try Transcript(bytes: bytes))
        } else {
            try self.init(json: json)
        }
    }
}
