import AgentProtocol
import Hosting
import Glibc
import Loop
import LLM
import Profile

/// Plain line mode: the transcript is printed as it happens, messages and permission answers
/// are lines on stdin. Used when stdin or stdout is not a terminal (and as the fallback
/// without a TUI). `ask` prompts read "y" / "n" / "a" lines, so `supervisor send P coder y`
/// answers one.
public final class LineUI: CoderUI {
    let input: LineInput
    let out: Int32
    let color: Bool
    let echoInput: Bool
    private var atLineStart = true
    private var inAnswer = false

    /// - Parameters:
    ///   - color: ANSI colours (a terminal without NO_COLOR).
    ///   - echoInput: print the person's messages (stdin is not a terminal, so they are not seen otherwise).
    public init(input: LineInput, out: Int32 = 1, color: Bool, echoInput: Bool) {
        self.input = input
        self.out = out
        self.color = color
        self.echoInput = echoInput
    }

    func write(_ s: String) {
        guard !s.isEmpty else { return }
        Posix.writeAll(out, s)
        atLineStart = s.hasSuffix("\n")
    }

    func line(_ s: String) {
        if !atLineStart { write("\n") }
        write(s + "\n")
    }

    func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m" + s + "\u{1B}[0m" : s }

    public func showUserMessage(_ text: String) {
        if echoInput { line(paint("> " + text.replacing("\n", with: "\n  "), "32")) }
    }

    public func showAssistantDelta(_ text: String) {
        if !inAnswer { if !atLineStart { write("\n") }; inAnswer = true }
        write(text)
    }

    public func assistantAnswerEnded() {
        if inAnswer && !atLineStart { write("\n") }
        inAnswer = false
    }

    public func showToolStart(_ call: ToolCallInfo) {
        line(paint("⏺ \(call.name)(\(oneLine(call.summary, width: 100)))", "36"))
    }

    public func showToolResult(_ call: ToolCallInfo, _ output: ToolOutput) {
        var lines = output.content.split(separator: "\n", omittingEmptySubsequences: false)
        while lines.last?.isEmpty == true { lines.removeLast() }
        var shown = lines.prefix(6).map { "  ⎿ " + oneLine(String($0), width: 160) }
        if lines.count > 6 { shown.append("  ⎿ … \(lines.count - 6) more lines") }
        line(paint(shown.joined(separator: "\n"), output.isError ? "31" : "2"))
    }

    public func showChange(_ call: ToolCallInfo, _ diff: [String]) {
        line(diffText(diff))
    }

    /// The diff indented under the call, + lines green, - lines red, hunk headers cyan.
    func diffText(_ diff: [String]) -> String {
        diff.map { l in
            let code = l.hasPrefix("+") ? "32" : l.hasPrefix("-") ? "31" : l.hasPrefix("@@") ? "36" : "2"
            return paint("    " + l, code)
        }.joined(separator: "\n")
    }

    public func showNotice(_ text: String) { line(paint("· " + text, "33")) }
    public func showError(_ text: String) { line(paint("✗ " + text, "31")) }
    public func statusChanged(_ status: CoderStatus) {}

    public func nextMessage(_ deliver: @escaping (String?) -> Void) {
        if isatty(0) == 1 { write(paint("> ", "32")) }
        var parts: [String] = []
        func read() {
            input.nextLine { line in
                guard var line else { deliver(parts.isEmpty ? nil : parts.joined(separator: "\n")); return }
                // A line ending in a backslash continues on the next one.
                if line.hasSuffix("\\") {
                    line.removeLast()
                    parts.append(line)
                    read()
                    return
                }
                parts.append(line)
                let text = parts.joined(separator: "\n")
                if parts.count == 1 && text.trimmed.isEmpty { parts = []; read(); return }
                // A network client's answer that came after its question was answered.
                if parts.count == 1 && PermissionReply.parse(text) != nil { parts = []; read(); return }
                if ["/exit", "/quit"].contains(text.trimmed) { deliver(nil); return }
                deliver(text)
            }
        }
        read()
    }

    public func askPermission(id: String, tool: String, summary: String, diff: [String], completion: @escaping (PermissionAnswer) -> Void) {
        if !diff.isEmpty { line(diffText(diff)) }
        line(paint("? Allow \(tool)(\(oneLine(summary, width: 200)))? [y]es / [n]o / [a]lways for \(tool): ", "1;33"))
        func read() {
            input.nextLine { answer in
                guard let answer else { return self.answered(.no, completion) }
                // An answer meant for an earlier question: this one still waits.
                guard let a = PermissionAnswer.reply(answer, to: id) else { return read() }
                self.answered(a, completion)
            }
        }
        read()
    }

    private func answered(_ a: PermissionAnswer, _ completion: (PermissionAnswer) -> Void) {
        line(paint("  → \(a == .yes ? "yes" : a == .always ? "always" : "no")", "2"))
        completion(a)
    }
}
