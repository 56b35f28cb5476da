import AgentProtocol

/// Events to readable text: who said what, the tools called with short inputs, what they and
/// the commands and code blocks printed (indented, long ones cut with a note), errors, budgets
/// and the final answer. Pure and incremental: feed records one by one (`supervisor logs
/// --follow`) or all at once; the text is the same. Without `colour` the text has no escape
/// sequences: what the agents and their commands printed is cleaned of them too.
public struct TranscriptRenderer {
    public struct Options: Sendable {
        /// ANSI colours (for a terminal).
        public var colour: Bool
        /// Most lines of one output shown; the rest are counted in a note.
        public var outputLines: Int
        /// Status events too (states, each request's tokens and timings, unknown types).
        public var verbose: Bool

        public init(colour: Bool = false, outputLines: Int = 40, verbose: Bool = false) {
            self.colour = colour; self.outputLines = outputLines; self.verbose = verbose
        }
    }

    public let options: Options
    /// The last model text shown, so an agent that also says it as a `message` is not shown twice.
    private var lastSaid: String?
    /// What the last tool call or code block ran, so its `command` event is not shown twice.
    private var lastRan: String?
    private var lastToolCall: String?
    /// The last user text shown while the model has not answered: the shim records what
    /// `supervisor send` typed and the agent what it read, once.
    private var lastUser: String?
    private var resultShown = false
    private var usage = AgentEvent.Usage(input: 0, output: 0)
    private var requests = 0

    public init(_ options: Options = Options()) { self.options = options }

    /// All of `records` as text.
    public static func render(_ records: some Sequence<EventRecord>, options: Options = Options()) -> String {
        var r = TranscriptRenderer(options)
        var out = ""
        for record in records { out += r.render(record) }
        return out + r.finish()
    }

    /// The text for one record ("" for what is not shown); every line ends with a newline.
    public mutating func render(_ record: EventRecord) -> String {
        let event = record.event
        switch event {
        case let .user(text, source, truncated):
            lastSaid = nil
            if let lastUser, lastUser.trimmingWhitespace == text.trimmingWhitespace { return "" }
            lastUser = text
            return header("user" + (source.map { " (\($0.name))" } ?? ""), .user) + block(text, indent: 2, truncated: truncated)
        case let .reply(step, text, truncated):
            lastSaid = text
            lastUser = nil
            if TranscriptRenderer.plain(text).allSatisfy(\.isWhitespace) { return "" }
            return header("model" + (step.map { " (step \($0))" } ?? ""), .model) + block(text, indent: 2, truncated: truncated)
        case let .message(text, truncated):
            if let lastSaid, lastSaid == text || lastSaid.hasPrefix(text) { return "" }
            lastSaid = text
            lastUser = nil
            return header("agent", .model) + block(text, indent: 2, truncated: truncated)
        case let .toolCall(_, name, input, truncated):
            lastToolCall = name
            resultShown = false
            if case .string(let c)? = input["command"] { lastRan = c } else if case .string(let c)? = input["code"] { lastRan = c }
            return paint("→ \(name)(\(TranscriptRenderer.plain(Summary.toolInput(input))))", .action) + (truncated ? " (input cut)" : "") + "\n"
        case let .toolResult(_, _, output, isError, truncated):
            resultShown = true
            let body = block(output.isEmpty ? "(no output)" : output, indent: 4, truncated: truncated)
            return isError ? paint("  ← error", .error) + "\n" + body : body
        case let .tool(name, phase):
            switch phase {
            case .start:
                if lastToolCall == name { return "" }
                lastToolCall = name
                resultShown = false
                return paint("→ \(name)", .action) + "\n"
            case .error where !resultShown: return paint("  ← \(name) failed", .error) + "\n"
            case .denied: return paint("  ← \(name) denied", .error) + "\n"
            default: return options.verbose ? note("\(name) \(phase.name)") : ""
            }
        case let .command(text, _):
            let start = text.hasSuffix("…") ? String(text.dropLast()) : text
            if let lastRan, lastRan == text || lastRan.hasPrefix(start) { return "" }
            lastRan = text
            // A code block the model's reply just showed.
            if let lastSaid, lastSaid.contains(start) { return "" }
            return paint("$ " + TranscriptRenderer.plain(text).replacingAll("\n", "\n  "), .action) + "\n"
        case let .commandOutput(output, exitCode, truncated):
            var out = block(output.isEmpty ? "(no output)" : output, indent: 4, truncated: truncated)
            if let exitCode, exitCode != 0 { out += paint("    (exit \(exitCode))", .error) + "\n" }
            return out
        case let .code(n, language, code, truncated):
            lastRan = code
            let head = paint("→ block \(n)" + (language.isEmpty ? "" : " (\(language))"), .action) + "\n"
            // The model's reply just showed it.
            if let lastSaid, lastSaid.contains(code.trimmingWhitespace) { return head }
            return head + block(code, indent: 4, truncated: truncated)
        case .block:
            return options.verbose ? note(event.summary) : ""
        case let .blockOutput(n, status, output, truncated):
            let head = paint("  ← block \(n): \(status)", status == "ok" ? .dim : .error) + "\n"
            return head + (output.isEmpty ? "" : block(output, indent: 4, truncated: truncated))
        case let .error(message):
            return paint("error: " + TranscriptRenderer.plain(message), .error) + "\n"
        case let .final(reason):
            return paint("final: " + TranscriptRenderer.plain(reason), .error) + "\n"
        case let .permission(_, _, _, diff, _, truncated):
            let shown = diff.map { block($0, indent: 4, truncated: truncated) } ?? ""
            return shown + paint("? " + TranscriptRenderer.plain(event.summary), .user) + "\n"
        case .permissionAnswer(_, _, let answer):
            return paint("  · " + event.summary, answer == .no ? .error : .dim) + "\n"
        case .state, .perf, .unknown:
            return options.verbose ? note(event.type + " " + event.summary) : ""
        case let .tokens(u):
            requests += 1
            usage.input += u.input; usage.output += u.output; usage.cacheRead += u.cacheRead; usage.cacheWrite += u.cacheWrite
            if let c = u.costUSD { usage.costUSD = (usage.costUSD ?? 0) + c }
            return options.verbose ? note(event.summary) : ""
        case .step, .budget, .context, .contextOverflow, .incomplete, .conversation, .commit, .container, .strays, .placement, .gap, .log, .attention:
            return note(event.summary)
        case .start:
            lastSaid = nil; lastRan = nil; lastToolCall = nil; lastUser = nil
            return "\n" + paint("── " + event.summary + " ──", .dim) + "\n"
        case .exit:
            return totals() + paint("── " + event.summary + " ──", .dim) + "\n"
        case let .invalid(raw, _):
            return note("not an event: " + Summary.oneLine(TranscriptRenderer.plain(raw)))
        }
    }

    /// What is left to say at the end (the totals since the last start, when not said yet).
    public mutating func finish() -> String { totals() }

    private mutating func totals() -> String {
        guard requests > 0 else { return "" }
        defer { requests = 0; usage = AgentEvent.Usage(input: 0, output: 0) }
        var text = "\(requests) model request\(requests == 1 ? "" : "s"): in \(Summary.count(usage.input + usage.cacheRead + usage.cacheWrite)) out \(Summary.count(usage.output))"
        if let c = usage.costUSD { text += ", " + Summary.cost(c) }
        return note(text)
    }

    // MARK: text

    enum Role { case user, model, action, error, dim }

    private func paint(_ text: String, _ role: Role) -> String {
        guard options.colour else { return text }
        let code: String
        switch role {
        case .user: code = "1;36"
        case .model: code = "1;32"
        case .action: code = "33"
        case .error: code = "31"
        case .dim: code = "2"
        }
        return "\u{1B}[\(code)m" + text + "\u{1B}[0m"
    }

    private func header(_ text: String, _ role: Role) -> String { "\n" + paint(text + ":", role) + "\n" }

    private func note(_ text: String) -> String { paint("· " + TranscriptRenderer.plain(text), .dim) + "\n" }

    /// `text` cleaned, indented, cut at `outputLines` lines with a note.
    private func block(_ text: String, indent: Int, truncated: Bool) -> String {
        let pad = String(repeating: " ", count: indent)
        var lines = TranscriptRenderer.plain(text).split(separator: "\n", omittingEmptySubsequences: false)
        while let last = lines.last, last.allSatisfy(\.isWhitespace), lines.count > 0 { lines.removeLast() }
        var out = ""
        let shown = lines.count > options.outputLines ? max(1, options.outputLines - 1) : lines.count
        for line in lines.prefix(shown) { out += line.isEmpty ? "\n" : pad + line + "\n" }
        if shown < lines.count { out += paint(pad + "… (\(lines.count - shown) more lines)", .dim) + "\n" }
        if truncated { out += paint(pad + "… (cut in the event log; the conversation file has all of it)", .dim) + "\n" }
        return out
    }

    /// `text` without terminal control: escape sequences (CSI, OSC, others) and control
    /// characters other than newline and tab are left out; a carriage return starts the line
    /// again (as a terminal would overwrite it), a backspace takes back one character.
    public static func plain(_ text: String) -> String {
        // Fast path: nothing to clean.
        if !text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value) }) {
            return text
        }
        var out: [Unicode.Scalar] = []
        var lineStart = 0
        var pendingCR = false
        enum Mode { case text, escape, csi, osc, oscEscape }
        var mode = Mode.text
        for s in text.unicodeScalars {
            switch mode {
            case .escape:
                switch s {
                case "[": mode = .csi
                case "]", "P", "X", "^", "_": mode = .osc
                default: mode = .text
                }
                continue
            case .csi:
                if (0x40...0x7E).contains(s.value) { mode = .text }
                continue
            case .osc:
                if s.value == 0x07 || s.value == 0x9C { mode = .text } else if s.value == 0x1B { mode = .oscEscape }
                continue
            case .oscEscape:
                mode = s == "\\" ? .text : .osc
                continue
            case .text: break
            }
            if pendingCR && s != "\n" {
                out.removeSubrange(lineStart...)   // a lone CR: what follows overwrites the line
            }
            pendingCR = false
            switch s.value {
            case 0x1B: mode = .escape
            case 0x9B: mode = .csi
            case 0x9D: mode = .osc
            case 0x0D: pendingCR = true
            case 0x0A: out.append(s); lineStart = out.count
            case 0x09: out.append(s)
            case 0x08: if out.count > lineStart { out.removeLast() }
            case 0x00...0x1F, 0x7F...0x9F: break
            default: out.append(s)
            }
        }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: out)
        return String(result)
    }
}

extension String {
    var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return self[start..<max(start, end)]
    }

    /// Every `target` replaced (no Foundation).
    func replacingAll(_ target: Character, _ with: String) -> String {
        var out = ""
        for c in self { if c == target { out += with } else { out.append(c) } }
        return out
    }
}
