import AgentProtocol
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Hosting
import LLM
import Loop
import Profile
import TerminalUI

/// The full-screen interface (ncursesw through TerminalUI): a scrolling transcript (you,
/// the assistant, tool calls and their results in the theme's colours), a status bar (model,
/// tokens, cost, permission mode, state) and a multi-line input with history.
///
/// Keys: Enter sends; Alt-Enter or Ctrl-J starts a new line; a bracketed paste is inserted
/// whole; Up/Down move between lines or through the history; PageUp/PageDown scroll;
/// Ctrl-C or Esc interrupts the agent (Ctrl-C on an empty idle input, or Ctrl-D, quits).
/// A permission question is answered with y / n / a (always for this tool), or a line.
public final class CoderTUI: CoderUI {
    let loop: EventLoop
    let screen: Screen
    private var poll: Poll?
    private let winch: SignalWatcher
    private let frameTimer: LoopTimer
    private var frameScheduled = false
    weak var agent: CoderAgent?

    private(set) var entries: [TranscriptEntry] = []
    private var streaming = false
    private var wrapped: [(width: Int, count: Int, lines: [(String, TranscriptEntry.Kind)])] = []
    private var scroll = 0
    var editor = InputEditor()
    private var decoder = KeyDecoder()
    private var waiter: ((String?) -> Void)?
    private var queued: [String] = []
    private var permission: (id: String, tool: String, summary: String, hasDiff: Bool, completion: (PermissionAnswer) -> Void)?
    private var status = CoderStatus(model: "", permission: .ask, usage: Usage(), costUSD: 0, state: "starting", session: "")
    private var closed = false

    /// nil when the terminal cannot be used.
    public init?(loop: EventLoop, environment: [String: String], stateDir: String) {
        self.loop = loop
        setlocale(LC_ALL, "")
        var theme = Theme.builtIn
        if let path = Theme.locate(environment: environment, exists: { access($0, R_OK) == 0 }),
           let bytes = try? Files.read(path) {
            theme = Theme.parse(String(decoding: bytes, as: UTF8.self), source: path)
        }
        try? makeDirectories(stateDir)
        TerminalGuard.install(stderrPath: stateDir + "/coder.stderr")
        screen = Screen(theme: theme, colorEnabled: !Theme.colorDisabled(environment: environment))
        winch = SignalWatcher(loop: loop)
        frameTimer = LoopTimer(loop: loop)
        // SIGWINCH before initscr, so ncurses leaves it to us.
        try? winch.start(SIGWINCH) { [weak self] _ in self?.resized() }
        screen.start()
        writeTerminal("\u{1B}[?2004h") // bracketed paste on
        do {
            let p = try Poll(loop: loop, fd: 0)
            try p.start(.readable) { [weak self] _, _ in self?.keysReady() }
            poll = p
        } catch {
            close()
            return nil
        }
        for w in theme.warnings { entries.append(TranscriptEntry(kind: .notice, text: "theme: \(w)")) }
        requestFrame()
    }

    public func attach(_ agent: CoderAgent) {
        self.agent = agent
        status = agent.status
    }

    public func close() {
        guard !closed else { return }
        closed = true
        writeTerminal("\u{1B}[?2004l")
        poll?.close()
        winch.close()
        frameTimer.close()
        screen.stop()
        TerminalGuard.restore()
    }

    private func writeTerminal(_ s: String) {
        Posix.writeAll(1, s)
    }

    // MARK: CoderUI

    public func showUserMessage(_ text: String) { add(.user, text) }

    public func showAssistantDelta(_ text: String) {
        if streaming, let last = entries.indices.last, entries[last].kind == .assistant {
            entries[last].text += text
        } else {
            add(.assistant, text)
            streaming = true
        }
        requestFrame()
    }

    public func assistantAnswerEnded() { streaming = false }

    public func showToolStart(_ call: ToolCallInfo) {
        streaming = false
        add(.tool, "⏺ \(call.name)(\(oneLine(call.summary, width: 200)))")
    }

    public func showToolResult(_ call: ToolCallInfo, _ output: ToolOutput) {
        var lines = output.content.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while lines.last == "" { lines.removeLast() }
        var shown = lines.prefix(4).map { "  ⎿ " + $0 }
        if lines.count > 4 { shown.append("  ⎿ … \(lines.count - 4) more lines") }
        if shown.isEmpty { shown = ["  ⎿ (no output)"] }
        add(output.isError ? .error : .result, shown.joined(separator: "\n"))
    }

    public func showChange(_ call: ToolCallInfo, _ diff: [String]) {
        add(.diff, diff.joined(separator: "\n"))
    }

    public func showNotice(_ text: String) { add(.notice, "· " + text) }
    public func showError(_ text: String) { add(.error, "✗ " + text) }

    public func statusChanged(_ status: CoderStatus) {
        self.status = status
        requestFrame()
    }

    public func nextMessage(_ deliver: @escaping (String?) -> Void) {
        if !queued.isEmpty { deliver(queued.removeFirst()); return }
        waiter = deliver
        requestFrame()
    }

    /// The diff goes into the transcript, right above the question (PageUp/PageDown scroll it
    /// while the question waits), and stays there after the answer.
    public func askPermission(id: String, tool: String, summary: String, diff: [String], completion: @escaping (PermissionAnswer) -> Void) {
        if !diff.isEmpty { add(.diff, diff.joined(separator: "\n")) }
        permission = (id, tool, summary, !diff.isEmpty, completion)
        scroll = 0
        requestFrame()
    }

    private func add(_ kind: TranscriptEntry.Kind, _ text: String) {
        entries.append(TranscriptEntry(kind: kind, text: text))
        if kind != .assistant { streaming = false }
        requestFrame()
    }

    // MARK: Keys

    private func keysReady() {
        let keys = screen.readKeys()
        for action in decoder.decode(keys) { handle(action) }
        requestFrame()
    }

    func handle(_ action: InputAction) {
        if let p = permission {
            var answer: PermissionAnswer?
            switch action {
            case .key(.char(let c)) where "yY".contains(c): answer = .yes
            case .key(.char(let c)) where "nN".contains(c): answer = .no
            case .key(.char(let c)) where "aA".contains(c): answer = .always
            case .escape, .key(.control("c")): answer = .no
            case .paste(let t):
                answer = PermissionAnswer.reply(t, to: p.id)
                if answer == nil { add(.notice, "· an answer to a question no longer asked, ignored") }
            case .key(.pageUp), .key(.pageDown): scrollPage(action == .key(.pageUp))
            default: break
            }
            if let answer {
                permission = nil
                add(.notice, "· \(p.tool): \(answer == .yes ? "allowed" : answer == .always ? "allowed from now on" : "refused")")
                p.completion(answer)
            }
            return
        }
        switch action {
        case .newline: editor.newline()
        case .paste(let t) where PermissionReply.parse(t) != nil:
            // A network client's answer that came after the question was answered here.
            add(.notice, "· an answer to a question no longer asked, ignored")
        case .paste(let t): editor.insert(t)
        case .escape: if isBusy { agent?.interrupt() }
        case .key(let k):
            switch k {
            case .enter: submit()
            case .char(let c): editor.insert(String(c))
            case .tab: editor.insert("    ")
            case .backspace: editor.backspace()
            case .left: editor.left()
            case .right: editor.right()
            case .up: editor.up()
            case .down: editor.down()
            case .home, .control("a"): editor.home()
            case .end, .control("e"): editor.end()
            case .control("k"): editor.killToEnd()
            case .control("u"): editor.killToStart()
            case .control("w"): editor.deleteWordBack()
            case .control("d"):
                if editor.isEmpty { agent?.quit() } else { editor.deleteForward() }
            case .control("c"):
                if isBusy { agent?.interrupt() } else if !editor.isEmpty { editor.clear() } else { agent?.quit() }
            case .control("l"): wrapped = []
            case .pageUp, .pageDown: scrollPage(k == .pageUp)
            case .resize: resized()
            default: break
            }
        }
    }

    private func scrollPage(_ up: Bool) {
        let page = max(1, transcriptHeight - 2)
        scroll = up ? scroll + page : max(0, scroll - page)
    }

    var isBusy: Bool { waiter == nil && permission == nil && status.state != "idle" }

    private func submit() {
        let text = editor.text
        guard !text.trimmed.isEmpty else { return }
        _ = editor.submit()
        scroll = 0
        if text.trimmed == "/exit" || text.trimmed == "/quit" { agent?.quit(); return }
        if let w = waiter {
            waiter = nil
            w(text)
        } else {
            queued.append(text)
            add(.notice, "· queued: \(oneLine(text, width: 60))")
        }
    }

    private func resized() {
        guard !closed, let size = PseudoTerminal.size(of: 1) ?? PseudoTerminal.size(of: 0) else { return }
        screen.resize(rows: size.rows, cols: size.cols)
        wrapped = []
        requestFrame()
    }

    // MARK: Drawing

    private func requestFrame() {
        guard !closed, !frameScheduled else { return }
        frameScheduled = true
        // Reason: coalesce the many changes of one loop turn (stream deltas, keys) into one frame.
        frameTimer.start(milliseconds: 16) { [weak self] in
            self?.frameScheduled = false
            self?.draw()
        }
    }

    private var inputHeight: Int { permission != nil ? 1 : min(6, editor.lines.count) }
    private var transcriptHeight: Int { max(0, screen.height - inputHeight - 1) }

    func style(_ kind: TranscriptEntry.Kind) -> UIStyle {
        switch kind {
        case .user: return UIStyle(role: .user, bold: true)
        case .assistant: return UIStyle(role: .text)
        case .tool: return UIStyle(role: .tool)
        case .result: return UIStyle(role: .muted, dim: true)
        case .error: return UIStyle(role: .error)
        case .notice: return UIStyle(role: .header)
        case .diff: return UIStyle(role: .muted)
        case .added: return UIStyle(role: .running)
        case .removed: return UIStyle(role: .error)
        case .hunk: return UIStyle(role: .accent)
        }
    }

    func transcriptLines(width: Int) -> [(String, TranscriptEntry.Kind)] {
        if wrapped.count > entries.count { wrapped = [] }
        var out: [(String, TranscriptEntry.Kind)] = []
        for (i, e) in entries.enumerated() {
            if i < wrapped.count, wrapped[i].width == width, wrapped[i].count == e.text.utf8.count {
                out += wrapped[i].lines
                continue
            }
            var text = e.kind == .user ? "> " + e.text.replacing("\n", with: "\n  ") : e.text
            if e.kind == .user || (e.kind == .assistant && i > 0) { text = "\n" + text }
            let lines = e.kind == .diff ? TranscriptEntry.diffLines(text, width: width) : TextWrap.wrap(text, width: width).map { ($0, e.kind) }
            let item = (width: width, count: e.text.utf8.count, lines: lines)
            if i < wrapped.count { wrapped[i] = item } else if i == wrapped.count { wrapped.append(item) }
            out += lines
        }
        return out
    }

    private func draw() {
        guard !closed else { return }
        let w = screen.width, h = screen.height
        guard w > 0, h > 2 else { return }
        screen.erase()
        let th = transcriptHeight
        let lines = transcriptLines(width: w)
        scroll = min(scroll, max(0, lines.count - th))
        let end = lines.count - scroll
        let start = max(0, end - th)
        for (row, i) in (start..<end).enumerated() {
            screen.text(lines[i].0, y: row, x: 0, maxWidth: w, style: style(lines[i].1))
        }
        // Status bar.
        let y = th
        screen.fill(Rect(x: 0, y: y, width: w, height: 1), style: UIStyle(onStatusBar: true))
        let u = status.usage
        var left = " \(status.model) │ in \(Self.count(u.totalInput)) out \(Self.count(u.output))"
        left += " │ $\(String(format: "%.4f", status.costUSD)) │ \(status.permission.rawValue) │ \(permission != nil ? "waiting" : status.state)"
        if scroll > 0 { left += " │ ↑\(scroll)" }
        let right = "session \(status.session) "
        screen.text(left, y: y, x: 0, maxWidth: w, style: UIStyle(role: .status, onStatusBar: true, bold: true))
        if left.count + right.count < w {
            screen.text(right, y: y, x: w - right.count, maxWidth: right.count, style: UIStyle(role: .status, onStatusBar: true))
        }
        // Input or permission question.
        let iy = y + 1
        if let p = permission {
            let q = "Allow \(p.tool)(\(oneLine(p.summary, width: 200)))?  y = yes  n = no  a = always for \(p.tool)"
                + (p.hasDiff ? "  (the change is above; PageUp/PageDown)" : "")
            screen.text(q, y: iy, x: 0, maxWidth: w, style: UIStyle(role: .waiting, bold: true))
        } else {
            let visible = inputHeight
            let first = max(0, min(editor.row - visible + 1, editor.lines.count - visible))
            for r in 0..<visible {
                let li = first + r
                guard li < editor.lines.count else { break }
                let prefix = li == 0 ? "> " : "  "
                let chars = editor.lines[li]
                // Keep the cursor in view on long lines.
                let avail = max(1, w - 2)
                var offset = 0
                if li == editor.row && editor.column >= avail { offset = editor.column - avail + 1 }
                let shown = String(chars[min(offset, chars.count)...])
                let promptStyle = UIStyle(role: .user, bold: true)
                screen.text(prefix, y: iy + r, x: 0, maxWidth: 2, style: promptStyle)
                screen.text(shown, y: iy + r, x: 2, maxWidth: w - 2, style: UIStyle(role: .user))
                if li == editor.row {
                    let before = chars[min(offset, chars.count)..<min(editor.column, chars.count)].reduce(0) { $0 + TextWrap.columns($1) }
                    let under = editor.column < chars.count ? String(chars[editor.column]) : " "
                    screen.text(under, y: iy + r, x: 2 + before, maxWidth: 2, style: UIStyle(role: .user, reverse: true))
                }
            }
        }
        screen.present()
    }

    static func count(_ n: Int) -> String {
        n >= 1_000_000 ? String(format: "%.1fM", Double(n) / 1e6) : n >= 10_000 ? "\(n / 1000)k" : "\(n)"
    }
}

extension CoderTUI: CoderTUIHandle {
    public var ui: CoderUI { self }
    public var transcript: [TranscriptEntry] { entries }
}
