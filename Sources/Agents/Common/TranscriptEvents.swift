import Hosting
import LLM

// The stored transcripts (coder sessions, exec conversations, goal history) as the protocol's events, so
// `sessions show`, `conversations show`, `supervisor logs` and the dashboard render them with
// one renderer (`TranscriptRenderer`).

extension CoderSession {
    /// The session's messages as events: what the person said, the model's texts, each tool
    /// call with its result; the agent's own notes to the model as messages.
    public var events: [AgentEvent] {
        var names: [String: String] = [:]
        var out: [AgentEvent] = []
        for message in messages {
            for block in message.content {
                switch block {
                case .text(let text) where message.role == .user:
                    out.append(AgentNote.isNote(text) ? .message(text: text, truncated: false) : .user(text: text, source: nil, truncated: false))
                case .text(let text):
                    out.append(.reply(step: nil, text: text, truncated: false))
                case let .toolUse(id, name, input):
                    names[id] = name
                    out.append(.toolCall(id: id, name: name, input: OrderedJSON(input), truncated: false))
                case let .toolResult(id, content, isError):
                    out.append(.toolResult(id: id, name: names[id] ?? "tool", output: content, isError: isError, truncated: false))
                }
            }
        }
        if usage.input + usage.output > 0 {
            out.append(.tokens(.init(input: usage.input, output: usage.output, cacheRead: usage.cacheRead, cacheWrite: usage.cacheWrite,
                                     costUSD: costUSD)))
        }
        return out
    }
}

extension Conversation {
    /// The conversation as events: prompts, answers, each code block with what it printed,
    /// notes, each request's tokens, and how it stopped.
    public var events: [AgentEvent] {
        var out: [AgentEvent] = []
        var lastAnswerRan = false
        for (i, m) in messages.enumerated() {
            switch m.kind {
            case .prompt:
                out.append(.user(text: m.text, source: nil, truncated: false))
            case .answer:
                out.append(.reply(step: nil, text: m.text, truncated: false))
                let ran = runs.filter { $0.message == i }
                lastAnswerRan = !ran.isEmpty
                for r in ran {
                    out.append(.code(n: r.block, language: "python", code: r.code, truncated: false))
                    out.append(.blockOutput(n: r.block, status: r.result.status.rawValue, output: r.result.printed, truncated: false))
                }
            case .results:
                // What the blocks printed, as the model was told it: shown with each block already.
                if !lastAnswerRan { out.append(.message(text: m.text, truncated: false)) }
            case .note:
                out.append(.message(text: m.text, truncated: false))
            }
        }
        for r in requests {
            out.append(.tokens(.init(input: r.inputTokens, output: r.outputTokens, cacheRead: r.cacheReadTokens,
                                     cacheWrite: r.cacheWriteTokens, costUSD: r.costUSD)))
        }
        if let stop {
            out.append(stop.kind == .limit ? .final(reason: stop.reason) : .error(message: stop.reason))
        }
        return out
    }
}

extension GoalHistory {
    /// The history as events: the goal, each step's answer, the command that ran and its
    /// output, the notes, the command running when it was saved, and how it ended.
    public var events: [AgentEvent] {
        var out: [AgentEvent] = [.user(text: goal, source: nil, truncated: false)]
        out += notes.map { .message(text: $0, truncated: false) }
        for s in steps {
            out.append(.reply(step: s.n, text: s.answer, truncated: false))
            out.append(.command(text: s.command, truncated: false))
            var exit: Int?
            if case .exited(let code) = s.status { exit = code }
            out.append(.commandOutput(output: s.output, exitCode: exit, truncated: false))
            out += s.notes.map { .message(text: $0, truncated: false) }
        }
        if let running {
            out.append(.reply(step: running.n, text: running.answer, truncated: false))
            out.append(.command(text: running.command, truncated: false))
        }
        if let finished { out.append(.final(reason: finished)) }
        return out
    }
}

extension BlockResult {
    /// What the block printed and returned, in the order a reader wants it.
    var printed: String {
        var parts: [String] = []
        func add(_ s: String) { if !s.isEmpty { parts.append(s.hasSuffix("\n") ? String(s.dropLast()) : s) } }
        add(stdout)
        add(stderr)
        add(strayOutput)
        if let value { add(value) }
        if let error { add(error) }
        if let answer { add("answer: " + answer) }
        return parts.joined(separator: "\n")
    }
}
