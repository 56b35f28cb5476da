import Foundation
import Glibc
import Hosting

/// The plain line mode: used when stdout is not a terminal, and as the fallback. One line per
/// action; terminal output indented under its command.
public final class GoalLineView: GoalView {
    private let write: (String) -> Void
    /// Terminal lines shown per command (the rest is in the terminal log).
    public var terminalLines = 40
    private var shownLines = 0
    private var hiddenLines = 0

    public init(write: @escaping (String) -> Void = { text in fputs(text, stdout); fflush(stdout) }) {
        self.write = write
    }

    public func started(goal: String, box: String, resumedSteps: Int) {
        write("goal: \(oneLine(goal))\nbox: \(box)\n")
        if resumedSteps > 0 { write("resuming: \(resumedSteps) steps recorded before the restart\n") }
    }

    public func thinking(step: Int, limit: Int) { write("[\(step)/\(limit)] thinking...\n") }

    public func command(step: Int, limit: Int, command: String, rules: [String]) {
        let lines = command.split(separator: "\n", omittingEmptySubsequences: false)
        write("[\(step)/\(limit)] $ \(lines.first ?? "")\n")
        for l in lines.dropFirst() { write("        \(l)\n") }
        if !rules.isEmpty { write("        (sanitized: \(rules.joined(separator: ", ")))\n") }
        shownLines = 0
        hiddenLines = 0
    }

    public func terminal(_ text: String) {
        for line in text.split(separator: "\n") {
            if shownLines < terminalLines { write("  | \(line)\n"); shownLines += 1 } else { hiddenLines += 1 }
        }
    }

    public func outcome(_ step: GoalStep, shown: String) {
        if hiddenLines > 0 { write("  | [\(hiddenLines) more lines]\n") }
        write(String(format: "  -> %@ (%.1fs)\n", "\(step.status)", step.duration))
    }

    public func usage(history: GoalHistory, limit: Int) {
        var s = "  tokens: \(history.inputTokens + history.cacheReadTokens + history.cacheWriteTokens) in, \(history.outputTokens) out"
        if let c = history.costUSD { s += String(format: ", $%.4f", c) }
        write(s + "\n")
    }

    public func note(_ text: String) { write("  note: \(text)\n") }

    public func finished(_ result: GoalResult, summary: String) { write("\n" + summary) }

    public func close() {}
}
