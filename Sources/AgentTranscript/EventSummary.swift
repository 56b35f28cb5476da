import AgentProtocol

extension AgentEvent {
    /// One line saying what happened (the dashboard's timeline; the transcript's status lines).
    public var summary: String {
        switch self {
        case let .user(text, source, _):
            return (source.map { "[\($0.name)] " } ?? "") + "> " + Summary.oneLine(text)
        case let .reply(_, text, _): return Summary.oneLine(text)
        case let .message(text, _): return Summary.oneLine(text)
        case let .toolCall(_, name, input, _): return "\(name)(\(Summary.toolInput(input)))"
        case let .toolResult(_, name, output, isError, _):
            return "\(name) \(isError ? "failed" : "->") " + Summary.oneLine(output)
        case let .tool(name, phase): return "\(name) \(phase.name)"
        case let .command(text, _): return "$ " + Summary.oneLine(text)
        case let .commandOutput(output, exitCode, _):
            return Summary.oneLine(output) + (exitCode.map { " (exit \($0))" } ?? "")
        case let .code(n, language, code, _):
            return "block \(n)\(language.isEmpty ? "" : " (\(language))"): " + Summary.oneLine(code)
        case let .block(n, status, duration):
            return "block \(n) \(status)" + (duration.map { " in " + Summary.seconds($0) } ?? "")
        case let .blockOutput(n, status, output, _): return "block \(n) \(status): " + Summary.oneLine(output)
        case let .error(message): return "error: " + Summary.oneLine(message)
        case let .final(reason): return "final: " + Summary.oneLine(reason)
        case let .permission(id, tool, summary, _, choices, _):
            return "asks: may it run \(tool)(\(Summary.oneLine(summary, max: 120)))? [\(choices.map(\.name).joined(separator: "/"))] (question \(id))"
        case let .permissionAnswer(_, tool, answer):
            switch answer {
            case .yes: return "\(tool) allowed"
            case .always: return "\(tool) allowed from now on"
            case .no: return "\(tool) refused"
            case .other(let a): return "\(tool): \(a)"
            }
        case let .state(state): return state.name
        case let .step(n, limit): return limit.map { "step \(n)/\($0)" } ?? "step \(n)"
        case let .tokens(u):
            var text = "in \(Summary.count(u.input)) out \(Summary.count(u.output))"
            if let c = u.costUSD { text += " " + Summary.cost(c) }
            return text
        case let .budget(b):
            return "\(b.budget.name) budget: \(Summary.amount(b.spent, b.budget)) of \(Summary.amount(b.limit, b.budget))"
        case let .context(c):
            var parts: [String] = []
            if c.dropped > 0 { parts.append("\(c.dropped) oldest messages left out") }
            if c.elided > 0 { parts.append("\(c.elided) long texts shortened") }
            if parts.isEmpty { parts.append("everything sent") }
            return "context: " + parts.joined(separator: ", ") + " (about \(Summary.count(c.tokens)) tokens)"
        case let .contextOverflow(sent, budget, _):
            return "context overflow: about \(Summary.count(sent)) tokens did not fit; now \(Summary.count(budget))"
        case let .incomplete(cut, maxTokens, blockNotRun, _):
            return (cut ? "reply cut at max_tokens (\(maxTokens))" : "a block was never closed")
                + (blockNotRun == true ? "; its last block was not run" : "")
        case let .perf(p):
            var parts = [(p.model ?? "model") + " " + Summary.seconds(p.durationS)]
            if let t = p.ttftS { parts.append("first token " + Summary.seconds(t)) }
            if let r = p.tokensPerS { parts.append("\(Int(r.rounded())) tok/s") }
            return parts.joined(separator: ", ")
        case let .conversation(id, resumed, _, finished):
            return "conversation \(id)" + (resumed ? " (resumed)" : "") + (finished.map { " already ended: \($0)" } ?? "")
        case let .placement(engine, note): return "placed on engine \(engine): \(note)"
        case let .gap(bytes, offset, reason):
            return "\(bytes) bytes of output lost before log offset \(offset): \(reason)"
        case let .log(note, _): return note
        case let .attention(_, message, _, _): return "needs you: " + message
        case let .commit(sha, subject, branch):
            return "committed \(sha.prefix(10))" + (branch.map { " on \($0)" } ?? "") + ": " + subject
        case let .start(pid): return "started pid \(pid)"
        case let .exit(status, restarts):
            let what: String
            switch status {
            case .code(let c): what = "exited with code \(c)"
            case .signal(let s): what = "killed by signal \(s)"
            }
            return what + (restarts.map { $0 > 0 ? " (\($0) restarts)" : "" } ?? "")
        case let .container(name, note, error):
            return "container \(name): " + (error.map { "error: \($0)" } ?? note ?? "")
        case let .strays(pids): return "ending processes left behind: " + pids.map(String.init).joined(separator: " ")
        case let .invalid(raw, _): return Summary.oneLine(raw)
        case let .unknown(_, fields):
            return fields.map { "\($0.0)=\($0.1.serialized())" }.joined(separator: " ")
        }
    }
}

/// Short forms of texts and amounts, for one-line summaries.
public enum Summary {
    /// The text on one line: runs of whitespace (newlines included) become one space, control
    /// characters are left out, and a text longer than `max` characters ends in "…".
    public static func oneLine(_ text: String, max: Int = 200) -> String {
        var out = ""
        var count = 0
        var space = false
        for ch in text {
            if ch.isWhitespace || ch.isNewline {
                space = !out.isEmpty
                continue
            }
            if let a = ch.asciiValue, a < 0x20 || a == 0x7F { continue }
            if ch.unicodeScalars.first.map({ $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) == true { continue }
            if space { out.append(" "); count += 1; space = false }
            if count >= max { return out + "…" }
            out.append(ch)
            count += 1
        }
        return out
    }

    /// A tool's input in a few words: the value of its telling key (a command, a path, a
    /// pattern...) when it has one, else its fields as `key=value`.
    public static func toolInput(_ input: OrderedJSON, max: Int = 80) -> String {
        guard case .object(let fields) = input else {
            if case .string(let s) = input { return oneLine(s, max: max) }
            return oneLine(input.serialized(), max: max)
        }
        let telling = ["command", "cmd", "file_path", "path", "pattern", "query", "url", "code", "name"]
        for key in telling {
            if case .string(let s)? = input[key] {
                let rest = fields.count > 1 ? ", …" : ""
                return oneLine(s, max: max) + rest
            }
        }
        let text = fields.map { k, v -> String in
            if case .string(let s) = v { return "\(k)=\(s)" }
            return "\(k)=\(v.serialized())"
        }.joined(separator: " ")
        return oneLine(text, max: max)
    }

    /// `950`, `12.3k`, `1.2M`.
    public static func count(_ n: Int) -> String {
        if n < 1000 { return "\(n)" }
        if n < 1_000_000 { return decimal(Double(n) / 1000, places: n < 10_000 ? 1 : 0) + "k" }
        return decimal(Double(n) / 1_000_000, places: 1) + "M"
    }

    /// `$0.0123` below a dollar, `$1.23` above.
    public static func cost(_ usd: Double) -> String {
        "$" + decimal(usd, places: usd < 1 ? 4 : 2)
    }

    /// `0.42s`, `12.3s`, `2m05s`.
    public static func seconds(_ s: Double) -> String {
        if s < 10 { return decimal(s, places: 2) + "s" }
        if s < 60 { return decimal(s, places: 1) + "s" }
        let total = Int(s.rounded())
        let sec = total % 60
        return "\(total / 60)m\(sec < 10 ? "0" : "")\(sec)s"
    }

    static func amount(_ v: Double, _ budget: AgentEvent.Budget) -> String {
        switch budget {
        case .cost: return cost(v)
        case .time: return seconds(v)
        case .tokens: return count(Int(v))
        default: return v == v.rounded() ? "\(Int(v))" : decimal(v, places: 2)
        }
    }

    /// `v` with exactly `places` decimals (no Foundation `String(format:)`).
    public static func decimal(_ v: Double, places: Int) -> String {
        guard v.isFinite else { return "\(v)" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let negative = v < 0
        let scaled = Int((abs(v) * scale).rounded())
        let whole = scaled / Int(scale)
        var text = "\(whole)"
        if places > 0 {
            let frac = String(scaled % Int(scale))
            text += "." + String(repeating: "0", count: places - frac.count) + frac
        }
        return negative && scaled != 0 ? "-" + text : text
    }
}
