/// What an agent is: one of the three built-in model-driven agents, or any other program
/// (`command`). Written in profiles as `kind = "..."` and in shim specs and `profile.json`.
public enum AgentKind: String, Codable, CaseIterable, Sendable {
    case coder, goal, exec, command
    /// Kinds whose agent calls a model (so needs `llm.model`).
    public var usesLLM: Bool { self != .command }
    /// Built-in agents write the typed events of this protocol, so their log can be rendered
    /// as a conversation; a `command` agent is any program, read through its terminal bytes.
    public var isBuiltIn: Bool { self != .command }
}
