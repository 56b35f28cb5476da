import Foundation

/// What the model's answer means for the goal runner.
public enum ModelAnswer: Equatable {
    /// Run this command (already sanitized); `rules` names the rewrites that were applied.
    case command(String, rules: [String])
    /// `DONE: <reason>`: the model says the goal is reached.
    case done(reason: String)
    /// `GIVE UP: <reason>`: the model says the goal cannot be reached.
    case giveUp(reason: String)
    /// Nothing runnable in the answer.
    case empty
}

/// Turns a model's answer into one shell command that runs unattended. Pure; every rule is in
/// `CommandSanitizer.rules` (the table in profiles/README.md is this list), applied in order.
///
/// | rule | what it does |
/// | --- | --- |
/// | `think` | drops `<think>...</think>` reasoning blocks |
/// | `fence` | takes the first markdown code block (```bash ... ```) when there is one |
/// | `protocol` | `DONE: reason` / `GIVE UP: reason` (any case, optional `**`) end the run |
/// | `prose` | multi-line answers: leading prose lines go, then the command line plus its continuation (`\`, heredoc, open quote), trailing prose goes |
/// | `backticks` | an answer wrapped in single backticks, or a stray leading/trailing backtick, is unwrapped |
/// | `prompt` | a leading shell prompt (`$ `, `user@host:~$ `, `bash$ `) is removed |
/// | `sudo` | as root: `sudo` (and its -E/-H/-n/-S flags) is removed; otherwise `sudo` becomes `sudo -n` (fails instead of asking for a password) |
/// | `apt` | `apt`/`apt-get`/`aptitude` install/upgrade/remove/purge/autoremove/dist-upgrade/full-upgrade get `-y` and run with `DEBIAN_FRONTEND=noninteractive` (through `env` after sudo) |
/// | `yum` | `yum`/`dnf` install/update/remove get `-y`; `add-apt-repository` gets `-y` |
/// | `wget` | `wget` gets `-nv` unless it is already quiet (`-q`, `-nv`, `--quiet`, `--no-verbose`) |
/// | `tar` | `tar` loses `v` from its option cluster (`-xvzf` -> `-xzf`, `xvf` -> `xf`) and `--verbose` |
/// | `pager` | a final `| less` / `| more` is removed |
public enum CommandSanitizer {
    public static let rules: [(name: String, meaning: String)] = [
        ("think", "drop <think>...</think> reasoning blocks"),
        ("fence", "take the first markdown code block (```bash ... ```)"),
        ("protocol", "DONE: reason / GIVE UP: reason end the run"),
        ("prose", "multi-line answers: keep the command (with its \\ continuations, heredoc or open quotes), drop the prose around it"),
        ("backticks", "unwrap `command` and stray leading/trailing backticks"),
        ("prompt", "remove a leading shell prompt ($ , user@host:~$ )"),
        ("sudo", "as root: remove sudo; otherwise sudo -n (never waits for a password)"),
        ("apt", "apt/apt-get install/upgrade/remove/...: add -y, run with DEBIAN_FRONTEND=noninteractive"),
        ("yum", "yum/dnf install/update/remove and add-apt-repository: add -y"),
        ("wget", "wget: add -nv unless already quiet"),
        ("tar", "tar: remove v from the options and --verbose"),
        ("pager", "remove a final | less or | more"),
    ]

    /// - Parameter isRoot: whether commands run as root in the box (decides the `sudo` rule).
    public static func sanitize(_ answer: String, isRoot: Bool) -> ModelAnswer {
        var applied: [String] = []
        var text = answer.replacingOccurrences(of: "\r\n", with: "\n")

        // think
        while let open = text.range(of: "<think>"), let close = text.range(of: "</think>", range: open.upperBound..<text.endIndex) {
            text.removeSubrange(open.lowerBound..<close.upperBound)
            applied.append("think")
        }
        text = text.trimmingCharacters(in: .whitespacesAndNewlines)

        if let outcome = protocolAnswer(text) { return outcome }

        // fence
        var fenced = false
        if let block = firstFencedBlock(text) {
            text = block
            fenced = true
            applied.append("fence")
            if let outcome = protocolAnswer(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return outcome }
        }

        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while let first = lines.first, first.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeFirst() }
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        if !fenced && lines.count == 1 && looksLikeProse(lines[0]) && !lines[0].contains("=") {
            return .empty // a sentence, not a command
        }
        if !fenced && lines.count > 1 {
            let picked = pickCommandLines(lines)
            if picked != lines { applied.append("prose") }
            lines = picked
        }
        guard !lines.isEmpty else { return .empty }
        var command = lines.joined(separator: "\n")

        // backticks
        let unwrapped = unwrapBackticks(command)
        if unwrapped != command { command = unwrapped; applied.append("backticks") }
        if let outcome = protocolAnswer(command) { return outcome }

        // prompt
        let noPrompt = stripPrompt(command)
        if noPrompt != command { command = noPrompt; applied.append("prompt") }
        command = command.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !command.isEmpty else { return .empty }

        // per-line rewrites (heredoc bodies are left alone)
        var out: [String] = []
        var heredocEnd: String?
        for line in command.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if let end = heredocEnd {
                out.append(line)
                if line.trimmingCharacters(in: .whitespaces) == end { heredocEnd = nil }
                continue
            }
            var l = line
            for (name, rewrite) in lineRules(isRoot: isRoot) {
                let r = rewrite(l)
                if r != l { l = r; if !applied.contains(name) { applied.append(name) } }
            }
            out.append(l)
            heredocEnd = heredocTerminator(l)
        }
        command = out.joined(separator: "\n")
        return .command(command, rules: applied)
    }

    // MARK: Protocol

    static func protocolAnswer(_ text: String) -> ModelAnswer? {
        let firstLine = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        var s = firstLine.trimmingCharacters(in: .whitespaces)
        for wrapper in ["**", "`", "*"] where s.hasPrefix(wrapper) { s.removeFirst(wrapper.count) }
        let upper = s.uppercased()
        func reason(after n: Int) -> String {
            var r = String(s.dropFirst(n))
            while let c = r.first, c == ":" || c == " " || c == "*" || c == "`" || c == "-" || c == "." { r.removeFirst() }
            while let c = r.last, c == "*" || c == "`" { r.removeLast() }
            let rest = text.split(separator: "\n", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
            let all = (r + (rest.isEmpty ? "" : "\n" + rest)).trimmingCharacters(in: .whitespacesAndNewlines)
            return all
        }
        func isWord(_ word: String) -> Bool {
            guard upper.hasPrefix(word) else { return false }
            let after = upper.dropFirst(word.count).first
            return after == nil || after == ":" || after == " " || after == "." || after == "*" || after == "`" || after == "-"
        }
        if isWord("DONE") {
            // "done" alone or "DONE: ..." — but not a command like "done_script.sh"
            return .done(reason: reason(after: 4))
        }
        for w in ["GIVE UP", "GIVE_UP", "GIVEUP"] where isWord(w) {
            return .giveUp(reason: reason(after: w.count))
        }
        return nil
    }

    // MARK: Fences and prose

    /// Whether `answer` (outside `<think>` blocks) has a code block that is closed: its command
    /// is whole even if the answer was cut off after it.
    public static func hasClosedFencedBlock(_ answer: String) -> Bool {
        var text = answer.replacingOccurrences(of: "\r\n", with: "\n")
        while let open = text.range(of: "<think>"), let close = text.range(of: "</think>", range: open.upperBound..<text.endIndex) {
            text.removeSubrange(open.lowerBound..<close.upperBound)
        }
        if let open = text.range(of: "<think>") { text = String(text[..<open.lowerBound]) } // cut while reasoning
        let fences = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("```") }
        guard let first = fences.first else { return false }
        if first.count > 6 && first.hasSuffix("```") { return true } // ```ls -la``` on one line
        return fences.count >= 2
    }

    static func firstFencedBlock(_ text: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("```") }) else { return nil }
        let opener = lines[start].trimmingCharacters(in: .whitespaces)
        // ```ls -la``` on one line
        if opener.count > 6, opener.hasSuffix("```") {
            let inner = opener.dropFirst(3).dropLast(3)
            return String(inner).trimmingCharacters(in: .whitespaces)
        }
        var body: [Substring] = []
        var i = start + 1
        while i < lines.count, !lines[i].trimmingCharacters(in: .whitespaces).hasPrefix("```") { body.append(lines[i]); i += 1 }
        let joined = body.joined(separator: "\n").trimmingCharacters(in: .newlines)
        return joined.isEmpty ? nil : joined
    }

    static let proseStarters: Set<String> = ["here", "here's", "next", "now", "first", "then", "i", "i'll", "i'm", "let's", "let",
                                             "this", "the", "to", "we", "sure", "sure,", "okay", "okay,", "ok", "ok,", "note", "note:",
                                             "command:", "answer:", "it", "that", "since", "after", "finally", "in", "you", "my", "once"]

    /// Whether a line reads like an English sentence rather than a command.
    static func looksLikeProse(_ line: String) -> Bool {
        let t = line.trimmingCharacters(in: .whitespaces)
        if t.isEmpty { return true }
        if t.hasSuffix(":") && !t.contains("=") { return true }
        let words = t.split(separator: " ")
        guard let first = words.first?.lowercased() else { return true }
        if proseStarters.contains(first) && words.count > 1 {
            // "cd" never starts prose; "I" / "Let's" / "Next," / "This command" do
            return true
        }
        if let c = t.first, c.isUppercase, words.count >= 4, t.hasSuffix(".") { return true }
        return false
    }

    /// The first command line of a multi-line answer with its continuation lines.
    static func pickCommandLines(_ lines: [String]) -> [String] {
        guard let start = lines.firstIndex(where: { !looksLikeProse($0) }) else { return [] }
        var picked = [lines[start]]
        var i = start + 1
        var heredoc = heredocTerminator(lines[start])
        var quote = openQuote(in: lines[start])
        while i < lines.count {
            let previous = picked.last!
            if let end = heredoc {
                picked.append(lines[i])
                if lines[i].trimmingCharacters(in: .whitespaces) == end { heredoc = nil }
            } else if quote != nil {
                picked.append(lines[i])
                quote = openQuote(in: picked.joined(separator: "\n"))
            } else if previous.hasSuffix("\\") || previous.hasSuffix("&&") || previous.hasSuffix("||") || previous.hasSuffix("|") {
                picked.append(lines[i])
                heredoc = heredocTerminator(lines[i])
                quote = openQuote(in: picked.joined(separator: "\n"))
            } else {
                break
            }
            i += 1
        }
        return picked
    }

    /// The terminator word of a heredoc started on this line (`<<EOF`, `<< 'EOF'`, `<<-"END"`).
    static func heredocTerminator(_ line: String) -> String? {
        guard let r = line.range(of: "<<") else { return nil }
        var rest = line[r.upperBound...]
        if rest.hasPrefix("<") { return nil } // here-string <<<
        if rest.hasPrefix("-") { rest = rest.dropFirst() }
        rest = rest.drop(while: { $0 == " " })
        var word = ""
        for c in rest {
            if c == "'" || c == "\"" { continue }
            if c.isLetter || c.isNumber || c == "_" { word.append(c) } else { break }
        }
        return word.isEmpty ? nil : word
    }

    /// The quote character left open at the end of `text` (shell rules, roughly), nil if none.
    static func openQuote(in text: String) -> Character? {
        var open: Character?
        var escaped = false
        for c in text {
            if escaped { escaped = false; continue }
            if c == "\\" && open != "'" { escaped = true; continue }
            if let o = open { if c == o { open = nil } } else if c == "'" || c == "\"" { open = c }
        }
        return open
    }

    static func unwrapBackticks(_ command: String) -> String {
        var c = command.trimmingCharacters(in: .whitespaces)
        let count = c.filter { $0 == "`" }.count
        if count == 2, c.hasPrefix("`"), c.hasSuffix("`"), c.count > 2 { return String(c.dropFirst().dropLast()) }
        if count % 2 == 1 {
            if c.hasPrefix("`") { c.removeFirst() } else if c.hasSuffix("`") { c.removeLast() }
        }
        return c
    }

    static func stripPrompt(_ command: String) -> String {
        var c = command
        if c.hasPrefix("$ ") { return String(c.dropFirst(2)) }
        // user@host:~/dir$ cmd   or   root@box:/# cmd
        if let r = c.range(of: #"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:[^\s$#]*[$#] "#, options: .regularExpression) {
            c.removeSubrange(r)
            return c
        }
        if let r = c.range(of: #"^(bash|sh)(-[0-9.]+)?[$#] "#, options: .regularExpression) { c.removeSubrange(r) }
        return c
    }

    // MARK: Line rules

    typealias LineRule = (String, (String) -> String)

    static func lineRules(isRoot: Bool) -> [LineRule] {
        [("sudo", { sudoRule($0, isRoot: isRoot) }), ("apt", aptRule), ("yum", yumRule), ("wget", wgetRule),
         ("tar", tarRule), ("pager", pagerRule)]
    }

    /// Start positions of simple commands in a line: after start, `;`, `&&`, `||`, `|`, `(`, `$(`, and
    /// leading `VAR=value` assignments and `sudo ...`/`env` are skipped by the rules themselves.
    static let commandStart = #"(^|[;&|(]\s*|\$\(\s*)"#

    static func replace(_ pattern: String, in line: String, with template: String) -> String {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return line }
        return re.stringByReplacingMatches(in: line, range: NSRange(line.startIndex..., in: line), withTemplate: template)
    }

    static func sudoRule(_ line: String, isRoot: Bool) -> String {
        if isRoot {
            return replace(commandStart + #"sudo\s+((-[EHnS]+|--preserve-env|--non-interactive)\s+)*"#, in: line, with: "$1")
        }
        return replace(commandStart + #"sudo\s+(?!(-[A-Za-z]*n|--non-interactive))"#, in: line, with: "$1sudo -n ")
    }

    static let aptVerbs = "install|upgrade|remove|purge|autoremove|dist-upgrade|full-upgrade|reinstall|build-dep"

    static func aptRule(_ line: String) -> String {
        guard let re = try? NSRegularExpression(pattern: commandStart + #"((?:sudo(?:\s+-[A-Za-z]+)*\s+)?)((?:env\s+)?(?:DEBIAN_FRONTEND=\S+\s+)?)(apt-get|apt|aptitude)((?:\s+-\S+)*)\s+("# + aptVerbs + #")\b([^;&|]*)"#) else { return line }
        var result = line
        for m in re.matches(in: line, range: NSRange(line.startIndex..., in: line)).reversed() {
            func g(_ i: Int) -> String { Range(m.range(at: i), in: line).map { String(line[$0]) } ?? "" }
            let lead = g(1), sudo = g(2), program = g(4), options = g(5), verb = g(6), rest = g(7)
            let all = options + " " + rest
            let hasYes = all.range(of: #"(^|\s)(-[A-Za-z]*y[A-Za-z]*|--yes|--assume-yes)\b"#, options: .regularExpression) != nil
            let envPart = sudo.isEmpty ? "DEBIAN_FRONTEND=noninteractive " : "env DEBIAN_FRONTEND=noninteractive "
            let rebuilt = lead + sudo + envPart + program + options + " " + verb + (hasYes ? "" : " -y") + rest
            result.replaceSubrange(Range(m.range, in: result)!, with: rebuilt)
        }
        return result
    }

    static func yumRule(_ line: String) -> String {
        var l = line
        if l.range(of: #"\b(yum|dnf|microdnf)\s+(install|update|upgrade|remove|erase|groupinstall)\b"#, options: .regularExpression) != nil,
           l.range(of: #"(\s-y\b|--assumeyes)"#, options: .regularExpression) == nil {
            l = replace(#"\b(yum|dnf|microdnf)\s+(install|update|upgrade|remove|erase|groupinstall)\b"#, in: l, with: "$1 $2 -y")
        }
        if l.range(of: #"\b(add-apt-repository|apt-add-repository)\b"#, options: .regularExpression) != nil,
           l.range(of: #"(\s-y\b|--yes)"#, options: .regularExpression) == nil {
            l = replace(#"\b(add-apt-repository|apt-add-repository)\b"#, in: l, with: "$1 -y")
        }
        return l
    }

    static func wgetRule(_ line: String) -> String {
        guard line.range(of: commandStart + #"((?:sudo(?:\s+-[A-Za-z]+)*\s+)?)wget\b"#, options: .regularExpression) != nil else { return line }
        if line.range(of: #"wget\b[^;&|]*\s(-[A-Za-z]*q[A-Za-z]*|-nv|--quiet|--no-verbose)\b"#, options: .regularExpression) != nil { return line }
        return replace(commandStart + #"((?:sudo(?:\s+-[A-Za-z]+)*\s+)?)wget\b"#, in: line, with: "$1$2wget -nv")
    }

    static func tarRule(_ line: String) -> String {
        guard let re = try? NSRegularExpression(pattern: commandStart + #"((?:sudo(?:\s+-[A-Za-z]+)*\s+)?)tar\b((?:[ \t]+[^\s;&|]+)*)"#) else { return line }
        var result = line
        for m in re.matches(in: line, range: NSRange(line.startIndex..., in: line)).reversed() {
            guard let argsRange = Range(m.range(at: 3), in: line) else { continue }
            let args = line[argsRange]
            var out: [String] = []
            var first = true
            for token in args.split(separator: " ", omittingEmptySubsequences: true) {
                var t = String(token)
                if t == "--verbose" || t == "-v" { first = false; continue }
                if t.hasPrefix("-") && !t.hasPrefix("--") {
                    t = "-" + t.dropFirst().filter { $0 != "v" }
                } else if first && !t.hasPrefix("-") && t.allSatisfy({ "cxtrudAzjJvfpPkSOZ".contains($0) }) && t.contains("v") {
                    t = t.filter { $0 != "v" } // old-style "xvf"
                }
                first = false
                if t == "-" && token != "-" { continue }
                out.append(t)
            }
            result.replaceSubrange(Range(m.range(at: 3), in: result)!, with: out.isEmpty ? "" : " " + out.joined(separator: " "))
        }
        return result
    }

    static func pagerRule(_ line: String) -> String {
        replace(#"\s*\|\s*(less|more)(\s+-\S+)*\s*$"#, in: line, with: "")
    }
}
