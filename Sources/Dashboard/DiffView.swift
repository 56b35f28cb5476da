import Foundation
import Hosting
import Loop
import TerminalUI

// The dashboard's diff view of an isolated agent (`d`): its worktree's changes against its base,
// a list of files beside the selected file's hunks. Self-contained: the document and the view
// state are pure; `DiffViewer` runs git on a worker thread (never on the loop, so the screen
// never waits for it) and keeps each agent's diff keyed by its worktree's fingerprint, so
// opening it again costs one `git status` unless something changed.

/// A unified diff (`git diff` output) split into files. Pure.
public struct DiffDocument: Equatable, Sendable {
    public enum LineKind: Equatable, Sendable { case header, hunk, added, removed, context }

    public struct Line: Equatable, Sendable {
        public var kind: LineKind
        public var text: String
    }

    public struct File: Equatable, Sendable {
        public var path: String
        public var added = 0
        public var removed = 0
        public var lines: [Line] = []
    }

    public var files: [File] = []
    public var added: Int { files.reduce(0) { $0 + $1.added } }
    public var removed: Int { files.reduce(0) { $0 + $1.removed } }

    public static func parse(_ text: String) -> DiffDocument {
        var doc = DiffDocument()
        var inHunk = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("diff --git ") {
                // `diff --git a/PATH b/PATH`: the new side's path (a new file's is "b/NAME").
                let path = line.range(of: " b/", options: .backwards).map { String(line[$0.upperBound...]) } ?? String(line.dropFirst(11))
                doc.files.append(File(path: path, lines: [Line(kind: .header, text: line)]))
                inHunk = false
                continue
            }
            guard !doc.files.isEmpty else { continue }
            let i = doc.files.count - 1
            let kind: LineKind
            if line.hasPrefix("@@") { kind = .hunk; inHunk = true }
            else if !inHunk { kind = .header }
            else if line.hasPrefix("+") { kind = .added; doc.files[i].added += 1 }
            else if line.hasPrefix("-") { kind = .removed; doc.files[i].removed += 1 }
            else if line.isEmpty && raw.endIndex == text.endIndex { continue } // the final newline
            else { kind = .context }
            doc.files[i].lines.append(Line(kind: kind, text: line))
        }
        return doc
    }
}

/// What the diff view shows and where it is. Pure: keys in, what to do out.
public struct DiffViewState: Equatable, Sendable {
    public enum Action: Equatable, Sendable { case none, redraw, close, refresh }

    public var agent: String
    public var document: DiffDocument?
    /// A note in the title line: "computing…", an error, or nil.
    public var note: String?
    public var file = 0
    public var scroll = 0

    public init(agent: String, document: DiffDocument? = nil, note: String? = nil) {
        self.agent = agent; self.document = document; self.note = note
    }

    /// A new document: keeps the selected file (by path) and, for that file, the scroll.
    public mutating func show(_ doc: DiffDocument) {
        let path = document.flatMap { file < $0.files.count ? $0.files[file].path : nil }
        let index = path.flatMap { p in doc.files.firstIndex { $0.path == p } }
        if index == nil { scroll = 0 }
        file = index ?? 0
        document = doc
        clamp(page: 1)
    }

    private var lineCount: Int {
        guard let doc = document, file < doc.files.count else { return 0 }
        return doc.files[file].lines.count
    }

    private mutating func clamp(page: Int) {
        scroll = max(0, min(scroll, lineCount - max(1, page)))
    }

    public mutating func handle(_ key: Key, page: Int) -> Action {
        let files = document?.files.count ?? 0
        let before = (file, scroll)
        switch key {
        case .escape, .char("q"), .char("d"): return .close
        case .char("r"): return .refresh
        case .down, .char("j"): scroll += 1
        case .up, .char("k"): scroll -= 1
        case .pageDown, .char(" "): scroll += max(1, page - 1)
        case .pageUp: scroll -= max(1, page - 1)
        case .home, .char("g"): scroll = 0
        case .end, .char("G"): scroll = lineCount
        case .tab, .right, .char("n"), .char("l"):
            if files > 0 { file = (file + 1) % files; scroll = 0 }
        case .backTab, .left, .char("p"), .char("h"):
            if files > 0 { file = (file - 1 + files) % files; scroll = 0 }
        default: return .none
        }
        clamp(page: page)
        return (file, scroll) == before ? .none : .redraw
    }
}

/// Diffs already computed, per agent, with the worktree fingerprint they were computed at.
/// Lives as long as the dashboard.
final class DiffCache {
    var entries: [String: (fingerprint: String, document: DiffDocument)] = [:]
}

/// One open diff view: loads the agent's diff off the loop thread and draws the view.
final class DiffViewer {
    private(set) var state: DiffViewState
    /// Set when the view must be drawn again; the dashboard clears it after drawing.
    var dirty = true
    private let worktrees: Worktrees
    private let profile: String
    private let cache: DiffCache
    private let loop: EventLoop
    private var cancel = CancellationFlag()
    private let onChange: () -> Void

    private enum Loaded {
        case noWorktree(String)
        case unchanged
        case fresh(fingerprint: String, document: DiffDocument)
        case failed(String)
    }

    init(agent: String, profile: String, worktrees: Worktrees, cache: DiffCache, loop: EventLoop, onChange: @escaping () -> Void) {
        self.profile = profile
        self.worktrees = worktrees
        self.cache = cache
        self.loop = loop
        self.onChange = onChange
        let cached = cache.entries[agent]
        state = DiffViewState(agent: agent, document: cached?.document, note: cached == nil ? "computing…" : "checking for changes…")
        load()
    }

    /// Starts (or restarts) the background load; a result arriving after `close` is dropped.
    func load() {
        cancel.cancel()
        let flag = CancellationFlag()
        cancel = flag
        let (worktrees, profile, agent) = (self.worktrees, self.profile, state.agent)
        let known = cache.entries[agent]?.fingerprint
        WorkerThread.run(loop: loop, cancel: flag, { flag -> Loaded in
            guard let record = worktrees.record(profile: profile, agent: agent) else {
                return .noWorktree("\(agent) has no worktree (isolation = \"worktree\" gives it one)")
            }
            let fingerprint = worktrees.fingerprint(record)
            if fingerprint == known { return .unchanged }
            if flag.isCancelled { return .unchanged }
            do {
                let text = try worktrees.diff(record, stat: false, againstBaseTip: false, color: false)
                return .fresh(fingerprint: fingerprint, document: DiffDocument.parse(text))
            } catch {
                return .failed("\(error)")
            }
        }, completion: { [weak self] loaded in
            guard let self, !flag.isCancelled else { return }
            switch loaded {
            case .noWorktree(let why), .failed(let why):
                self.state.note = why
            case .unchanged:
                self.state.note = nil
            case .fresh(let fingerprint, let document):
                self.cache.entries[agent] = (fingerprint, document)
                self.state.show(document)
                self.state.note = document.files.isEmpty ? "no changes" : nil
            }
            self.dirty = true
            self.onChange()
        })
    }

    func handle(_ key: Key, page: Int) -> DiffViewState.Action {
        let action = state.handle(key, page: page)
        switch action {
        case .refresh:
            state.note = "checking for changes…"
            load()
            dirty = true
        case .redraw: dirty = true
        case .close: cancel.cancel()
        case .none: break
        }
        return action
    }

    static let help = "↑↓/PgUp/PgDn scroll · Tab/n/p next/prev file · r refresh · Esc back"

    func draw(_ screen: Screen, _ area: Rect) {
        dirty = false
        screen.fill(area)
        guard area.height >= 3, area.width >= 20 else { return }
        let doc = state.document
        var title = " diff · \(state.agent)"
        if let doc { title += " · \(doc.files.count) file\(doc.files.count == 1 ? "" : "s") +\(doc.added) -\(doc.removed)" }
        if let note = state.note { title += " · \(note)" }
        screen.text(title, y: area.y, x: area.x, maxWidth: area.width, style: UIStyle(role: .header, bold: true))
        guard let doc, !doc.files.isEmpty else { return }

        let listWidth = min(40, max(16, area.width / 4))
        let top = area.y + 1, height = area.height - 1
        // Files: the selected one stands out; the list scrolls to keep it in sight.
        let first = max(0, min(state.file - height / 2, doc.files.count - height))
        for row in 0..<min(height, doc.files.count - first) {
            let i = first + row
            let f = doc.files[i]
            let counts = " +\(f.added) -\(f.removed)"
            let name = String(f.path.suffix(max(1, listWidth - counts.count - 2)))
            screen.text(" " + name + counts, y: top + row, x: area.x, maxWidth: listWidth - 1,
                        style: UIStyle(role: i == state.file ? .accent : .text, reverse: i == state.file))
        }
        // Hunks of the selected file.
        let x = area.x + listWidth + 1, width = area.width - listWidth - 1
        let lines = doc.files[min(state.file, doc.files.count - 1)].lines
        for row in 0..<height {
            let i = state.scroll + row
            guard i < lines.count else { break }
            let line = lines[i]
            let role: Theme.Role
            switch line.kind {
            case .added: role = .running
            case .removed: role = .error
            case .hunk: role = .accent
            case .header: role = .muted
            case .context: role = .text
            }
            screen.text(line.text.replacingTabs(), y: top + row, x: x, maxWidth: width, style: UIStyle(role: role, bold: line.kind == .header))
        }
    }

    func close() { cancel.cancel() }
}

private extension String {
    /// Tabs as spaces (the screen drops control characters).
    func replacingTabs() -> String { contains("\t") ? split(separator: "\t", omittingEmptySubsequences: false).joined(separator: "    ") : self }
}
