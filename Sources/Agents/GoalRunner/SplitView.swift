import Foundation
import Glibc
import Hosting
import Loop
import TerminalUI

/// What the split view shows, independent of drawing (pure, tested without a terminal).
public struct GoalSplitModel {
    public var goal = ""
    public var step = 0
    public var limit = 0
    public var state = "starting"
    public var tokensIn = 0
    public var tokensOut = 0
    public var cost: Double?
    /// Left: the agent's actions. Right: the terminal as the model sees it.
    public private(set) var actions: [String] = []
    public private(set) var terminal: [String] = []
    public static let keep = 2000

    public init() {}

    public mutating func action(_ line: String) {
        actions.append(line)
        if actions.count > GoalSplitModel.keep { actions.removeFirst(actions.count - GoalSplitModel.keep) }
    }

    public mutating func terminalText(_ text: String) {
        terminal.append(contentsOf: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        if terminal.count > GoalSplitModel.keep { terminal.removeFirst(terminal.count - GoalSplitModel.keep) }
    }

    /// What stays on the normal screen once the split view (on the alternate screen, which the
    /// terminal discards) is gone: the goal and every action, so the pane, the log and the
    /// dashboard's focus view (PgUp/Home) still reach each step after the run.
    public var afterword: String {
        (["goal: \(oneLine(goal))"] + actions).joined(separator: "\n") + "\n"
    }

    public var statusLine: String {
        var s = " step \(step)/\(limit) · \(state) · tokens \(tokensIn) in / \(tokensOut) out"
        if let cost { s += String(format: " · $%.4f", cost) }
        return s
    }

    /// The last rows of `lines` wrapped at `width` columns (by characters).
    public static func tail(_ lines: [String], width: Int, rows: Int) -> [String] {
        guard width > 0, rows > 0 else { return [] }
        var out: [String] = []
        for line in lines.reversed() {
            var pieces: [String] = []
            var rest = Substring(line)
            repeat {
                pieces.append(String(rest.prefix(width)))
                rest = rest.dropFirst(width)
            } while !rest.isEmpty
            out.insert(contentsOf: pieces, at: 0)
            if out.count >= rows { break }
        }
        return Array(out.suffix(rows))
    }
}

/// The pane's split view: actions on the left, the terminal as the model sees it on the
/// right, step n/limit and token use in the status bar. Draws through TerminalUI; frames are
/// coalesced (one per 40 ms at most).
public final class GoalSplitView: GoalView {
    private var model = GoalSplitModel()
    private let loop: EventLoop
    private let screen: Screen
    private let frameTimer: LoopTimer
    private var winch: SignalWatcher?
    private var input: Poll?
    private var frameScheduled = false
    private var closed = false
    /// Ctrl-C or q in the pane (curses' raw mode turns them into keys).
    public var onQuit: (() -> Void)?

    public init(loop: EventLoop, stderrPath: String?) {
        self.loop = loop
        setlocale(LC_ALL, "")
        frameTimer = LoopTimer(loop: loop)
        let w = SignalWatcher(loop: loop)
        TerminalGuard.install(stderrPath: stderrPath)
        screen = Screen(theme: .builtIn, colorEnabled: !Theme.colorDisabled(environment: ProcessInfo.processInfo.environment))
        screen.start()
        try? w.start(SIGWINCH) { [weak self] _ in
            guard let self, let size = PseudoTerminal.size(of: 1) ?? PseudoTerminal.size(of: 0) else { return }
            self.screen.resize(rows: size.rows, cols: size.cols)
            self.requestFrame()
        }
        winch = w
        if let p = try? Poll(loop: loop, fd: 0) {
            try? p.start(.readable) { [weak self] _, _ in
                guard let self else { return }
                for key in self.screen.readKeys() where key == .control("c") || key == .char("q") { self.onQuit?() }
            }
            input = p
        }
        requestFrame()
    }

    private func requestFrame() {
        guard !closed, !frameScheduled else { return }
        frameScheduled = true
        frameTimer.start(seconds: 0.04) { [weak self] in // frame pacing: many events, one frame
            self?.frameScheduled = false
            self?.draw()
        }
    }

    private func draw() {
        guard !closed else { return }
        let w = screen.width, h = screen.height
        guard w > 10, h > 3 else { return }
        screen.erase()
        screen.fill(Rect(x: 0, y: 0, width: w, height: 1), style: UIStyle(onStatusBar: true))
        let title = " goal: \(oneLine(model.goal))"
        let used = screen.text(title, y: 0, x: 0, maxWidth: max(1, w - model.statusLine.count - 1), style: UIStyle(role: .header, onStatusBar: true, bold: true))
        screen.text(model.statusLine, y: 0, x: max(used + 1, w - model.statusLine.count), maxWidth: w, style: UIStyle(role: .status, onStatusBar: true))
        let leftWidth = max(10, w * 2 / 5)
        let rightX = leftWidth + 1
        let rightWidth = w - rightX
        let rows = h - 2
        screen.text(" actions", y: 1, x: 0, maxWidth: leftWidth, style: UIStyle(role: .accent, bold: true))
        screen.text(" terminal (as the model sees it)", y: 1, x: rightX, maxWidth: rightWidth, style: UIStyle(role: .accent, bold: true))
        for y in 1..<h { screen.text("│", y: y, x: leftWidth, maxWidth: 1, style: UIStyle(role: .muted)) }
        for (i, line) in GoalSplitModel.tail(model.actions, width: leftWidth - 1, rows: rows).enumerated() {
            let style: UIStyle = line.hasPrefix("$") ? UIStyle(role: .tool, bold: true)
                : line.hasPrefix("!") ? UIStyle(role: .error) : UIStyle(role: .text)
            screen.text(" " + line, y: 2 + i, x: 0, maxWidth: leftWidth, style: style)
        }
        for (i, line) in GoalSplitModel.tail(model.terminal, width: rightWidth - 1, rows: rows).enumerated() {
            screen.text(" " + line, y: 2 + i, x: rightX, maxWidth: rightWidth, style: line.hasPrefix("──") ? UIStyle(role: .muted) : UIStyle())
        }
        screen.present()
    }

    public func started(goal: String, box: String, resumedSteps: Int) {
        model.goal = goal
        model.action("box: \(box)")
        if resumedSteps > 0 { model.action("resumed with \(resumedSteps) recorded steps") }
        requestFrame()
    }

    public func thinking(step: Int, limit: Int) {
        model.step = step; model.limit = limit; model.state = "thinking"
        model.action("[\(step)/\(limit)] thinking...")
        requestFrame()
    }

    public func command(step: Int, limit: Int, command: String, rules: [String]) {
        model.state = "running"
        for (i, line) in command.split(separator: "\n", omittingEmptySubsequences: false).enumerated() { model.action((i == 0 ? "$ " : "  ") + line) }
        if !rules.isEmpty { model.action("  (sanitized: \(rules.joined(separator: ", ")))") }
        model.terminalText("$ " + command)
        requestFrame()
    }

    public func terminal(_ text: String) {
        // Blank lines go, as in what the model sees.
        let t = text.split(separator: "\n").filter { !$0.allSatisfy { $0 == " " || $0 == "\t" } }.joined(separator: "\n")
        guard !t.isEmpty else { return }
        model.terminalText(t)
        requestFrame()
    }

    public func outcome(_ step: GoalStep, shown: String) {
        model.action(String(format: "  -> %@ (%.1fs)", "\(step.status)", step.duration))
        model.terminalText("── \(step.status)")
        requestFrame()
    }

    public func usage(history: GoalHistory, limit: Int) {
        model.tokensIn = history.inputTokens + history.cacheReadTokens + history.cacheWriteTokens
        model.tokensOut = history.outputTokens
        model.cost = history.costUSD
        requestFrame()
    }

    public func note(_ text: String) {
        guard !closed else {
            // After the run (an agent that stays): plain lines under the summary.
            fputs("note: \(text)\n", stdout)
            fflush(stdout)
            return
        }
        model.action("! " + text)
        requestFrame()
    }

    public func finished(_ result: GoalResult, summary: String) {
        model.state = result.reached ? "done" : "stopped"
        // The steps and the summary stay readable in the pane after the view closes.
        close()
        fputs(model.afterword + "\n" + summary, stdout)
        fflush(stdout)
    }

    public func close() {
        guard !closed else { return }
        closed = true
        frameTimer.close()
        winch?.close()
        input?.close()
        screen.stop()
        TerminalGuard.restore()
    }
}
