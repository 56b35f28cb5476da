import Profile

/// Builds what the model reads: the system prompt (with the answer protocol) and one user
/// message holding the goal and the history of command/outcome pairs. Pure.
public struct GoalPrompt {
    public var goal: String
    public var boxDescription: String
    public var mode: ContextMode
    public var limit: Int
    /// Tokens the whole request may take (system + message + answer); ~4 characters a token.
    public var contextBudget: Int
    public var answerTokens: Int
    public var doneWhen: String?
    /// Lines of each outcome shown in partial mode.
    public static let partialLines = 10

    public init(goal: String, boxDescription: String, mode: ContextMode, limit: Int, contextBudget: Int, answerTokens: Int, doneWhen: String?) {
        self.goal = goal; self.boxDescription = boxDescription; self.mode = mode; self.limit = limit
        self.contextBudget = contextBudget; self.answerTokens = answerTokens; self.doneWhen = doneWhen
    }

    public static func estimateTokens(_ text: String) -> Int { (text.utf8.count + 3) / 4 }

    public var system: String {
        var s = """
        You operate a Linux shell (bash) to reach a goal. You work in \(boxDescription).
        Each turn you get the goal and the commands run so far with their outcomes. Answer with exactly ONE shell command and nothing else: no explanation, no markdown, no backticks.
        The shell is persistent: cd, export and background jobs (&) carry over to the next command.
        Commands must not wait for input: use -y and other non-interactive options, no editors or pagers, give input with a pipe or a here-document.
        Start programs that keep running (servers) in the background with & and their output redirected to a log file; a command that is still running after a while is moved to the background.
        Your answer may be at most \(answerTokens) tokens; a longer one is cut off and NOT run, so write a big file in several smaller commands (cat > f <<'EOF' ... then cat >> f <<'EOF' ...).
        When the goal has been reached, answer exactly: DONE: <one line saying why>
        If the goal cannot be reached at all, answer: GIVE UP: <why>
        """
        if let doneWhen { s += "\nWhen you answer DONE, this check must pass: \(doneWhen)" }
        return s
    }

    /// The outcome of a step as the model sees it in `mode` (`summary` replaces the output in
    /// full mode when the output did not fit).
    public func outcome(_ step: GoalStep, outputShown: OutputShown) -> String {
        var s = "### \(step.n). $ \(step.command)\n"
        s += "status: \(step.status)"
        if let cwd = step.cwd { s += " · cwd \(cwd)" }
        s += "\n"
        switch outputShown {
        case .omitted:
            s += "output: (left out to save space)\n"
        case .natural:
            if step.output.isEmpty {
                s += "output: (none)\n"
            } else if mode == .partial {
                s += "output (last \(GoalPrompt.partialLines) lines):\n" + OutputCleaner.lastLines(step.output, GoalPrompt.partialLines) + "\n"
            } else if let summary = step.summary {
                s += "output (summarized, it was long):\n" + summary + "\n"
            } else {
                s += "output:\n" + step.output + "\n"
            }
        }
        for note in step.notes { s += "note: \(note)\n" }
        return s
    }

    public enum OutputShown { case natural, omitted }

    /// The user message. `omitOutputs` oldest steps lose their output; `dropSteps` oldest steps
    /// are left out entirely (counted in a note).
    public func message(history: GoalHistory, omitOutputs: Int = 0, dropSteps: Int = 0) -> String {
        var s = "GOAL: \(goal)\n\n"
        for note in history.notes { s += "note: \(note)\n" }
        let n = history.steps.count
        if n == 0 {
            s += "No commands have been run yet.\n"
        } else {
            s += "Commands so far (\(n) of at most \(limit)), oldest first:\n"
            if dropSteps > 0 { s += "(\(dropSteps) earlier steps left out to save space)\n" }
            for (i, step) in history.steps.enumerated() where i >= dropSteps {
                s += outcome(step, outputShown: i < omitOutputs ? .omitted : .natural)
            }
        }
        s += "\nNext command (\(n + 1) of at most \(limit)), or DONE: <reason>, or GIVE UP: <reason>:"
        return s
    }

    /// Tokens the request may use for the message.
    public var messageBudget: Int { max(50, contextBudget - answerTokens - GoalPrompt.estimateTokens(system) - 20) }

    public func fits(_ message: String) -> Bool { GoalPrompt.estimateTokens(message) <= messageBudget }

    /// In full mode: steps (indices, oldest first) whose output should be summarized so the
    /// message fits; stops as soon as summarizing those would be enough (estimated with a
    /// summary of `summaryTokens`).
    public func stepsToSummarize(history: GoalHistory, summaryTokens: Int) -> [Int] {
        guard mode == .full else { return [] }
        var h = history
        var picked: [Int] = []
        for i in h.steps.indices {
            if fits(message(history: h)) { break }
            let step = h.steps[i]
            guard step.summary == nil, GoalPrompt.estimateTokens(step.output) > summaryTokens else { continue }
            picked.append(i)
            h.steps[i].summary = String(repeating: "x", count: summaryTokens * 4)
        }
        return fits(message(history: h)) || !picked.isEmpty ? picked : []
    }

    /// The message that fits: whole, else oldest outputs left out, else oldest steps left out.
    public func fittedMessage(history: GoalHistory) -> String {
        var m = message(history: history)
        if fits(m) { return m }
        let n = history.steps.count
        for omit in 1...max(1, n) {
            m = message(history: history, omitOutputs: omit)
            if fits(m) { return m }
        }
        for drop in 1...max(1, n) {
            m = message(history: history, omitOutputs: n, dropSteps: drop)
            if fits(m) { return m }
        }
        return m
    }

    // MARK: Summaries

    public var summarySystem: String {
        "You summarize the terminal output of shell commands for an agent that works towards a goal. Keep errors, file names and paths, versions, ports, URLs, and anything the next command depends on. Answer with the summary only, at most 8 short lines."
    }

    public func summaryMessage(command: String, part: Int, of parts: Int, text: String) -> String {
        let which = parts > 1 ? "part \(part) of \(parts) of the output" : "the output"
        return "GOAL: \(goal)\nCommand: $ \(command)\nSummarize \(which):\n\(text)"
    }

    /// Characters of output one summarization request may carry.
    public var chunkCharacters: Int {
        max(200, (contextBudget - answerTokens - GoalPrompt.estimateTokens(summarySystem) - 60 - GoalPrompt.estimateTokens(goal)) * 4)
    }

    /// Splits `text` into chunks of at most `size` characters, at line ends where possible.
    public static func chunks(_ text: String, size: Int) -> [String] {
        var result: [String] = []
        var current = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var rest = Substring(line)
            while rest.count > size {
                if !current.isEmpty { result.append(current); current = "" }
                result.append(String(rest.prefix(size)))
                rest = rest.dropFirst(size)
            }
            if current.count + rest.count + 1 > size, !current.isEmpty { result.append(current); current = "" }
            current += (current.isEmpty ? "" : "\n") + rest
        }
        if !current.isEmpty { result.append(current) }
        return result
    }
}
