import AgentProtocol

// The notify protocol: what a shim says on its profile's notify socket (`notify.sock`, 0600 in
// the profile's 0700 state directory) to the process that launched it (`up`, or `start`
// replacing a shim that died), and that process's answer.
//
// One JSON object per connection, ended by the end of the sender's writing side:
//   shim:     {"v":1,"kind":"started","agent":A,"pid":P}           (nothing comes back)
//             {"v":1,"kind":"failed","agent":A,"error":WHY}         (nothing comes back)
//             {"v":1,"kind":"key_request","agent":A,"names":[...]}
//   launcher: {"v":1,"kind":"keys","keys":{NAME:VALUE,...}}        (to a key_request)
//             {"v":1,"kind":"refused","error":WHY}                  (a request it cannot read)
// `v`, `kind` and `agent` keep their names and meaning in every version, so a peer of another
// build is named and refused, never misread. A message without `v` is version 0: the
// unversioned messages of builds before this protocol (`StartNotice`, `KeyRequest`).

/// The one version and codec of the notify protocol (as `AgentProtocol.version` and
/// `EventCodec` are the event protocol's, and `ShimHello.currentVersion` and `Frame` the shim
/// socket's).
public enum NotifyProtocol {
    /// Raised by any change a peer of the previous build would misread or not know: a new kind,
    /// a field renamed, removed or given another meaning. Both ends of a profile are normally
    /// one build; a mismatch is an error that says so, not a guess.
    public static let version = 1

    /// Largest message either side reads (keys are small; this bounds a confused peer).
    public static let maxBytes = 1 << 20

    public static func encode(_ message: NotifyMessage) -> [UInt8] {
        switch message {
        case .started(let agent, let pid): return encode(Envelope(kind: "started", agent: agent, pid: pid))
        case .failed(let agent, let error): return encode(Envelope(kind: "failed", agent: agent, error: error))
        case .keyRequest(let agent, let names): return encode(Envelope(kind: "key_request", agent: agent, names: names))
        }
    }

    public static func encode(_ reply: NotifyReply) -> [UInt8] {
        switch reply {
        case .keys(let keys): return encode(Envelope(kind: "keys", keys: keys))
        case .refused(let why): return encode(Envelope(kind: "refused", error: why))
        }
    }

    /// What a shim sent. Throws `NotifyError` naming the sender's agent when it can be read.
    public static func decodeMessage(_ bytes: [UInt8]) throws(NotifyError) -> NotifyMessage {
        let (kind, agent, body) = try open(bytes)
        switch kind {
        case "started":
            guard let agent = body.agent else { break }
            return .started(agent: agent, pid: body.pid)
        case "failed":
            guard let agent = body.agent, let error = body.error else { break }
            return .failed(agent: agent, error: error)
        case "key_request":
            guard let agent = body.agent, let names = body.names else { break }
            return .keyRequest(agent: agent, names: names)
        default:
            throw .unknownKind(shown(kind), agent: agent)
        }
        throw .malformed(kind: kind, agent: agent)
    }

    /// What the launcher answered a key request.
    public static func decodeReply(_ bytes: [UInt8]) throws(NotifyError) -> NotifyReply {
        let (kind, _, body) = try open(bytes)
        switch kind {
        case "keys":
            guard let keys = body.keys else { break }
            return .keys(keys)
        case "refused":
            guard let why = body.error else { break }
            return .refused(why)
        default:
            throw .unknownKind(nil, agent: nil) // an answer's text is never quoted: it may hold keys
        }
        throw .malformed(kind: kind, agent: nil)
    }

    // MARK: the wire

    /// Every field of every kind; each kind uses its own (nil ones are left out).
    private struct Envelope: Codable {
        var v = NotifyProtocol.version
        var kind: String
        var agent: String?
        var pid: Int32?
        var error: String?
        var names: [String]?
        var keys: [String: String]?
    }

    private static func encode(_ envelope: Envelope) -> [UInt8] {
        // Only non-finite doubles can fail to encode, and a notify message has none.
        guard let bytes = try? JSONCoding.encodeBytes(envelope) else { preconditionFailure("cannot encode a notify message") }
        return bytes
    }

    /// The version check and the kind, before any field of the kind is read; the agent (when
    /// readable) for the error of a message that fails after it.
    private static func open(_ bytes: [UInt8]) throws(NotifyError) -> (kind: String, agent: String?, body: Envelope) {
        guard bytes.count <= maxBytes else { throw .tooLarge(bytes.count) }
        guard let json = try? OrderedJSON.parse(bytes), case .object = json else { throw .notJSON }
        var agent: String?
        if case .string(let name)? = json["agent"] { agent = shown(name) }
        let version: Int
        switch json["v"] {
        case nil: version = 0
        case .number(let text)?:
            guard let n = Int(text) else { throw .malformed(kind: nil, agent: agent) }
            version = n
        default: throw .malformed(kind: nil, agent: agent)
        }
        guard version == NotifyProtocol.version else { throw .otherVersion(version, agent: agent) }
        guard case .string(let kind)? = json["kind"] else { throw .malformed(kind: nil, agent: agent) }
        // A field of another type than its kind's (a number for a name, say) is unreadable.
        guard let body = try? JSONCoding.decode(Envelope.self, from: json) else {
            throw .malformed(kind: shown(kind) ?? "?", agent: agent)
        }
        return (kind, agent, body)
    }

    /// A name the peer sent, fit to quote in an error: short and of name characters only, so
    /// an error never carries arbitrary text from the socket (such as a key's value).
    static func shown(_ name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= 64,
              name.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) })
        else { return nil }
        return name
    }
}

/// What a shim sends on the notify socket, one per connection.
public enum NotifyMessage: Equatable, Sendable {
    /// Its agent runs (sd_notify style): a waiting `up` or `start` stops waiting for it.
    case started(agent: String, pid: Int32?)
    /// Its agent could not start, and why.
    case failed(agent: String, error: String)
    /// The values of these variables, the agent's secrets (`ShimKeys`), answered by a
    /// `NotifyReply` on the same connection.
    case keyRequest(agent: String, names: [String])

    public var agent: String {
        switch self {
        case .started(let agent, _), .failed(let agent, _), .keyRequest(let agent, _): return agent
        }
    }
}

/// The launcher's answer to a `keyRequest`.
public enum NotifyReply: Equatable, Sendable {
    /// The values it has of the requested variables of that agent (one missing from its
    /// environment, or not the agent's, is missing here too).
    case keys([String: String])
    /// It could not read the request (a `NotifyError`'s description: never a key).
    case refused(String)
}

/// A message that is not this build's notify protocol. No case carries text from the message
/// but its version and, when they are plain names, its kind and agent.
public enum NotifyError: Error, Equatable, CustomStringConvertible {
    case notJSON
    case tooLarge(Int)
    /// Another version (0: a build from before the protocol had one).
    case otherVersion(Int, agent: String?)
    /// The kind, when it is a plain name and from a shim (an answer's is never quoted).
    case unknownKind(String?, agent: String?)
    /// No `kind` (nil), an unreadable `v`, or a known kind without the fields it needs.
    case malformed(kind: String?, agent: String?)

    /// The sending shim's agent, when the message names one.
    public var agent: String? {
        switch self {
        case .notJSON, .tooLarge: return nil
        case .otherVersion(_, let agent), .unknownKind(_, let agent), .malformed(_, let agent): return agent
        }
    }

    public var description: String {
        switch self {
        case .notJSON: return "notify protocol: not a JSON object"
        case .tooLarge(let n): return "notify protocol: a message of \(n) bytes exceeds the \(NotifyProtocol.maxBytes)-byte limit"
        case .otherVersion(let v, _):
            return "notify protocol: a version \(v) message\(v == 0 ? " (from a build before the protocol had a version)" : ""), this build speaks version \(NotifyProtocol.version)"
        case .unknownKind(let kind?, _): return "notify protocol: unknown message kind \"\(kind)\""
        case .unknownKind(nil, _): return "notify protocol: a message of an unknown kind"
        case .malformed(let kind?, _): return "notify protocol: a \"\(kind)\" message without the fields it needs"
        case .malformed(nil, _): return "notify protocol: a message without a readable version and kind"
        }
    }
}
