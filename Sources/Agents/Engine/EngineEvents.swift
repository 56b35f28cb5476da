import Hosting
import LLM

/// The conversation's events, emitted from one place for every built-in agent: the typed cases
/// of the protocol (`AgentEvent`), so that a log, the dashboard or a remote client can follow
/// the whole conversation of any of them the same way.
extension ModelEngine {
    /// What the agent was told: the profile's task (`source: .task`), or a message typed into
    /// its pane.
    public func userSaid(_ text: String, source: AgentEvent.UserSource) {
        events.emit(.user(text: text, source: source, truncated: false))
    }

    /// The model's whole reply to a step.
    public func replied(step: Int, text: String) {
        events.emit(.reply(step: step, text: text, truncated: false))
    }

    /// A tool call of the model, with its input.
    public func toolCalled(id: String, name: String, input: JSONValue) {
        events.emit(.toolCall(id: id, name: name, input: OrderedJSON(input), truncated: false))
    }

    /// What a tool returned, as the model is shown it.
    public func toolReturned(id: String, name: String, output: String, isError: Bool) {
        events.emit(.toolResult(id: id, name: name, output: output, isError: isError, truncated: false))
    }

    /// A shell command the agent runs, and later what it printed.
    public func commandRuns(_ text: String) { events.emit(.command(text: text, truncated: false)) }
    public func commandPrinted(_ output: String, exitCode: Int?) {
        events.emit(.commandOutput(output: output, exitCode: exitCode, truncated: false))
    }

    /// A code block the agent runs (`n`: its number in its reply), and later what it printed.
    public func codeRuns(n: Int, language: String, code: String) {
        events.emit(.code(n: n, language: language, code: code, truncated: false))
    }
    public func codePrinted(n: Int, status: String, output: String) {
        events.emit(.blockOutput(n: n, status: status, output: output, truncated: false))
    }

    /// Something went wrong; the agent goes on (or ends, saying so).
    public func failed(_ message: String) { events.emit(.error(message: message)) }
}

extension BudgetEnd.Kind {
    var event: AgentEvent.Budget {
        switch self {
        case .steps: return .steps
        case .time: return .time
        case .tokens: return .tokens
        case .cost: return .cost
        }
    }
}
