/// Keeps one request within the model's context window, for agents that work for hours.
///
/// The stored history stays whole (a resumed session has everything); only what is sent
/// shrinks, oldest first: long tool results, long texts and long string arguments of old tool
/// calls become a short note; if that is not enough, the oldest exchanges are left out. The
/// first message (the task) and the newest `keepRecent` messages are always sent whole, and a
/// tool call is never separated from its result.
public enum ContextFit {
    /// Tokens a text is assumed to cost: about 3.5 bytes a token, a little on the safe side for
    /// code and JSON (English prose is nearer 4).
    public static func tokens(_ text: String) -> Int { (text.utf8.count * 2 + 6) / 7 }

    public static func tokens(_ message: Message) -> Int {
        message.content.reduce(4) { sum, block in
            switch block {
            case .text(let t): return sum + tokens(t)
            case .toolUse(_, let name, let input): return sum + 8 + tokens(name) + tokens(input.serialized())
            case .toolResult(_, let content, _): return sum + 8 + tokens(content)
            }
        }
    }

    public static func tokens(_ messages: [Message]) -> Int { messages.reduce(0) { $0 + tokens($1) } }

    /// What a request costs besides its messages: the system prompt and the tool definitions.
    public static func overhead(system: String?, tools: [ToolDefinition]) -> Int {
        tokens(system ?? "") + tools.reduce(0) { $0 + 8 + tokens($1.name) + tokens($1.description) + tokens($1.inputSchema.serialized()) }
    }

    /// Tokens left for the messages of a request in a window of `contextTokens`, after the reply
    /// (`maxTokens`), the system prompt and tools, and a 5% margin for the estimate's error.
    public static func messageBudget(contextTokens: Int, maxTokens: Int, system: String?, tools: [ToolDefinition]) -> Int {
        max(1_000, contextTokens - contextTokens / 20 - maxTokens - overhead(system: system, tools: tools))
    }

    public struct Fitted: Equatable {
        public var messages: [Message]
        /// Tool results, texts and arguments replaced by a note.
        public var elided: Int
        /// Messages left out whole.
        public var dropped: Int
        public var tokens: Int
    }

    /// Texts and tool results at most this long are never elided: notes would save nothing.
    static let keepWhole = 600

    public static func fit(_ messages: [Message], budget: Int, keepRecent: Int = 6) -> Fitted {
        var out = messages
        var total = tokens(out)
        var elided = 0, dropped = 0
        guard total > budget else { return Fitted(messages: out, elided: 0, dropped: 0, tokens: total) }
        let protectedTail = max(0, out.count - keepRecent)

        // 1. Oldest first, long blocks become notes.
        var i = 1
        while total > budget && i < protectedTail {
            let before = tokens(out[i])
            var changed = 0
            out[i].content = out[i].content.map { block in
                let (shorter, did) = elide(block)
                if did { changed += 1 }
                return shorter
            }
            if changed > 0 {
                elided += changed
                total += tokens(out[i]) - before
            }
            i += 1
        }

        // 2. Still too long: leave out the oldest exchanges (an assistant message and the user
        // message after it, which holds that message's tool results), never the newest.
        while total > budget && out.count - 2 > keepRecent && out.count >= 3,
              out[1].role == .assistant, out[2].role == .user {
            total -= tokens(out[1]) + tokens(out[2])
            out.removeSubrange(1...2)
            dropped += 2
        }
        if dropped > 0 {
            let note = "[supervisor: \(dropped) earlier messages were left out of this request to fit the model's context window]"
            out[0].content.append(.text(note))
            total += tokens(note)
        }
        return Fitted(messages: out, elided: elided, dropped: dropped, tokens: total)
    }

    static func elide(_ block: ContentBlock) -> (ContentBlock, Bool) {
        switch block {
        case .toolResult(let id, let content, let isError) where content.utf8.count > keepWhole:
            let note = "[output of an earlier call, \(content.utf8.count) bytes, elided to fit the context window; run the tool again if you need it]\n"
                + String(content.prefix(200))
            return (.toolResult(toolUseId: id, content: note, isError: isError), true)
        case .text(let t) where t.utf8.count > keepWhole * 4:
            return (.text(String(t.prefix(keepWhole)) + "\n[... \(t.utf8.count - keepWhole) more bytes elided to fit the context window]"), true)
        case .toolUse(let id, let name, let input):
            let (shorter, did) = elideStrings(input)
            return did ? (.toolUse(id: id, name: name, input: shorter), true) : (block, false)
        default:
            return (block, false)
        }
    }

    /// Long string arguments of an old tool call (a Write's whole file) become a note; the call
    /// keeps its shape, so the conversation still reads as what happened.
    static func elideStrings(_ value: JSONValue) -> (JSONValue, Bool) {
        switch value {
        case .string(let s) where s.utf8.count > keepWhole:
            return (.string(String(s.prefix(200)) + "[... \(s.utf8.count - 200) more bytes elided to fit the context window]"), true)
        case .object(let o):
            var changed = false
            var copy = o
            for (k, v) in o {
                let (shorter, did) = elideStrings(v)
                if did { copy[k] = shorter; changed = true }
            }
            return (.object(copy), changed)
        case .array(let a):
            var changed = false
            let copy = a.map { v -> JSONValue in
                let (shorter, did) = elideStrings(v)
                if did { changed = true }
                return shorter
            }
            return (.array(copy), changed)
        default:
            return (value, false)
        }
    }

    /// Whether a provider's error says the request did not fit the model's context window
    /// (OpenAI `context_length_exceeded`, Anthropic "prompt is too long", llama.cpp "exceeds the
    /// available context size", vLLM/others "maximum context length").
    public static func isOverflow(status: Int?, message: String) -> Bool {
        if let status, ![400, 413, 422, 500].contains(status) { return false }
        let m = message.lowercased()
        return ["context_length_exceeded", "prompt is too long", "maximum context length", "context window",
                "exceeds the available context", "context size", "context length", "too many tokens",
                "input is too long"].contains { m.contains($0) }
    }
}
