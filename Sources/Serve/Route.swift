import AgentProtocol

/// Every URL the server answers, parsed from method and path alone (pure), with the scope each
/// needs. Adding a page or an endpoint is one case here and one in `ServeAPI.answer`.
public enum Route: Equatable, Sendable {
    /// `/`: the browser's entry (logs in with `?token=`), and `/static/NAME`: files embedded in
    /// the binary (`StaticPages`).
    case page(String)
    case openAPI
    /// `/api/session`: the scope the caller's token has (the page hides what it may not do).
    case session
    case profiles
    case profile(String)
    case agent(String, String)
    case log(String, String)
    case events(String, String)
    case transcript(String, String)
    /// The agent's terminal as text rows (the log's tail through a virtual screen).
    case screen(String, String)
    case input(String, String)
    case paste(String, String)
    case control(String, String, String)
    /// `POST .../agents/A/permission/ID` `{"answer": "yes"|"no"|"always"}`: answers a coder's
    /// open permission question.
    case permission(String, String, String)
    case settings(String, String)
    case conversations(String, String)
    case conversation(String, String, String)
    case deleteConversation(String, String, String)
    case resumeConversation(String, String, String)
    /// WebSocket upgrades.
    case streamSocket(String, String)
    /// Every agent of a profile on one WebSocket (`ProfileStream`).
    case profileStreamSocket(String)
    case eventsSocket(String)

    public enum Failure: Error, Equatable, Sendable {
        case notFound
        case methodNotAllowed
    }

    /// Control operations `POST .../agents/A/{op}` accepts.
    public static let controlOps: Set<String> = ["start", "stop", "restart"]

    public var scope: Scope {
        switch self {
        case .input, .paste, .control, .permission, .settings, .deleteConversation, .resumeConversation: return .control
        default: return .read
        }
    }

    /// Pages are open (they hold no data; the API behind them asks for the token).
    public var needsToken: Bool {
        if case .page = self { return false }
        return true
    }

    public var isWebSocket: Bool {
        switch self {
        case .streamSocket, .profileStreamSocket, .eventsSocket: return true
        default: return false
        }
    }

    public static func parse(method: String, path: String, upgrade: Bool = false) -> Result<Route, Failure> {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if upgrade {
            switch parts.count {
            case 6 where parts[0] == "api" && parts[1] == "profiles" && parts[3] == "agents" && parts[5] == "stream"
                && isName(parts[2]) && isName(parts[4]):
                return .success(.streamSocket(parts[2], parts[4]))
            case 4 where parts[0] == "api" && parts[1] == "profiles" && parts[3] == "events" && isName(parts[2]):
                return .success(.eventsSocket(parts[2]))
            case 4 where parts[0] == "api" && parts[1] == "profiles" && parts[3] == "stream" && isName(parts[2]):
                return .success(.profileStreamSocket(parts[2]))
            default:
                return .failure(.notFound)
            }
        }
        let get = method == "GET" || method == "HEAD", post = method == "POST", delete = method == "DELETE"
        func only(_ allowed: Bool, _ route: Route) -> Result<Route, Failure> { allowed ? .success(route) : .failure(.methodNotAllowed) }
        if parts.isEmpty { return only(get, .page("index.html")) }
        if parts.count == 2, parts[0] == "static", StaticPages.isName(parts[1]) { return only(get, .page(parts[1])) }
        guard parts[0] == "api", parts.count >= 2 else { return .failure(.notFound) }
        if parts.count == 2 && parts[1] == "openapi.json" { return only(get, .openAPI) }
        if parts.count == 2 && parts[1] == "session" { return only(get, .session) }
        guard parts[1] == "profiles" else { return .failure(.notFound) }
        if parts.count == 2 { return only(get, .profiles) }
        let p = parts[2]
        guard isName(p) else { return .failure(.notFound) }
        if parts.count == 3 { return only(get, .profile(p)) }
        guard parts[3] == "agents", parts.count >= 5, isName(parts[4]) else { return .failure(.notFound) }
        let a = parts[4]
        if parts.count == 5 { return only(get, .agent(p, a)) }
        let rest = Array(parts[5...])
        switch rest.count {
        case 1:
            switch rest[0] {
            case "log": return only(get, .log(p, a))
            case "events": return only(get, .events(p, a))
            case "transcript": return only(get, .transcript(p, a))
            case "screen": return only(get, .screen(p, a))
            case "input": return only(post, .input(p, a))
            case "paste": return only(post, .paste(p, a))
            case "settings": return only(post, .settings(p, a))
            case "conversations": return only(get, .conversations(p, a))
            case let op where controlOps.contains(op): return only(post, .control(p, a, op))
            default: return .failure(.notFound)
            }
        case 2 where rest[0] == "permission" && PermissionReply.isID(rest[1]):
            return only(post, .permission(p, a, rest[1]))
        case 2 where rest[0] == "conversations" && isConversationID(rest[1]):
            if delete { return .success(.deleteConversation(p, a, rest[1])) }
            return only(get, .conversation(p, a, rest[1]))
        case 3 where rest[0] == "conversations" && isConversationID(rest[1]) && rest[2] == "resume":
            return only(post, .resumeConversation(p, a, rest[1]))
        default:
            return .failure(.notFound)
        }
    }

    /// Profile and agent names: `[a-z0-9][a-z0-9_-]*` (the profile schema's rule).
    public static func isName(_ s: String) -> Bool {
        guard let first = s.utf8.first, s.utf8.count <= 64, (first >= 0x61 && first <= 0x7A) || (first >= 0x30 && first <= 0x39) else { return false }
        return s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D }
    }

    /// Conversation ids: letters, digits, `-`, `_`, `.` (no `/`, no `..`).
    public static func isConversationID(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 128 && s != "." && s != ".." && !s.hasPrefix(".")
            && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D || $0 == 0x2E }
    }
}
