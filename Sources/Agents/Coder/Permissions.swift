import AgentProtocol
import Hosting
import Profile

/// A person's answer to "may the agent run this?".
public enum PermissionAnswer: Equatable {
    case yes
    case no
    /// Yes, and do not ask again for this tool in this session.
    case always

    /// "y", "yes", "a", "always" (`PermissionChoice(typed:)`); anything else is no.
    public init(text: String) {
        self = PermissionChoice(typed: text).flatMap(PermissionAnswer.init) ?? .no
    }

    /// As the protocol names it (`permission_answer` events, `/permission ID ANSWER`).
    public var choice: PermissionChoice {
        switch self {
        case .yes: return .yes
        case .no: return .no
        case .always: return .always
        }
    }

    public init?(_ choice: PermissionChoice) {
        switch choice {
        case .yes: self = .yes
        case .no: self = .no
        case .always: self = .always
        case .other: return nil
        }
    }

    /// What a reply typed or pasted while question `id` waits means: a `/permission ID ANSWER`
    /// line answers only when it names this question (nil: it is meant for another one, and
    /// changes nothing); any other text is read as y / n / a.
    public static func reply(_ text: String, to id: String) -> PermissionAnswer? {
        if let named = PermissionReply.parse(text) { return named.id == id ? PermissionAnswer(named.answer) : nil }
        return PermissionAnswer(text: text)
    }
}

/// Asks a person (the TUI, stdin lines, or a test's script).
public protocol PermissionAsker: AnyObject {
    /// `id`: the question's name, which a `/permission ID ANSWER` reply must give (the
    /// `permission` event carries it); `diff`: what the call would change (a unified diff for
    /// Write and Edit), else empty.
    func askPermission(id: String, tool: String, summary: String, diff: [String], completion: @escaping (PermissionAnswer) -> Void)
}

/// Which calls need a person's yes.
public struct PermissionPolicy: Equatable {
    public enum Decision: Equatable { case allow, deny(String), ask }

    public var mode: Permission
    /// nil: every tool is available.
    public var allowTools: Set<String>?
    public var denyTools: Set<String>
    /// Tools the person answered "always" for.
    public var alwaysAllowed: Set<String>

    public init(mode: Permission, allowTools: [String]? = nil, denyTools: [String] = [], alwaysAllowed: Set<String> = []) {
        self.mode = mode
        self.allowTools = allowTools.map(Set.init)
        self.denyTools = Set(denyTools)
        self.alwaysAllowed = alwaysAllowed
    }

    /// Offered to the model at all. `mcp__SERVER__*` in a list stands for every tool of that server.
    public func isAvailable(_ tool: String) -> Bool {
        !Self.listed(tool, in: denyTools) && (allowTools.map { Self.listed(tool, in: $0) } ?? true)
    }

    static func listed(_ tool: String, in names: Set<String>) -> Bool {
        if names.contains(tool) { return true }
        if let server = MCPServerSpec.serverName(ofToolPattern: tool) { return names.contains("mcp__\(server)__*") }
        return false
    }

    /// Reading tools never ask; edits ask in `ask` mode; commands, fetches and MCP tools (they
    /// may change anything) ask unless `yolo`.
    public func decide(_ tool: String) -> Decision {
        guard isAvailable(tool) else { return .deny("the \(tool) tool is not allowed for this agent (allow_tools/deny_tools)") }
        if mode == .yolo || alwaysAllowed.contains(tool) { return .allow }
        switch tool {
        case "Read", "Glob", "Grep": return .allow
        case "Write", "Edit": return mode == .allowEdits ? .allow : .ask
        default: return .ask
        }
    }
}


