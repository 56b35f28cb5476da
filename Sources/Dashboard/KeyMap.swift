import TerminalUI

/// What a key asks the controller to do, beyond changing the view state.
public enum Command: Equatable, Sendable {
    case quit
    case attach(agent: Int)
    case send(agent: Int, text: String)
    case restart(agent: Int)
    case stop(agent: Int)
    case cycleContext(agent: Int)
    case openLog(agent: Int)
    /// Search the focused agent's text for `query`; `forward` is towards newer lines.
    case search(query: String, forward: Bool)
    /// The diff view of an isolated agent's worktree (DiffView.swift).
    case openDiff(agent: Int)
}

/// Which parts of the screen a key changed ("what changed" flags, as in htop's panels).
public struct Changes: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let selection = Changes(rawValue: 1 << 0)
    public static let mode = Changes(rawValue: 1 << 1)
    public static let scroll = Changes(rawValue: 1 << 2)
    public static let prompt = Changes(rawValue: 1 << 3)
    public static let filter = Changes(rawValue: 1 << 4)
    public static let message = Changes(rawValue: 1 << 5)
    public static let none: Changes = []
}

/// The view the dashboard shows.
public enum ViewMode: Equatable, Sendable {
    case tiles
    case focus
    case timeline
    /// One row per agent beside a preview of the selected one.
    case list
}

/// A line of text being typed (send box, search).
public struct Prompt: Equatable, Sendable {
    /// `confirm`: a restart or stop waiting for y (anything else cancels it).
    public enum Purpose: Equatable, Sendable { case send(agent: Int), search, confirm(Command) }
    public var purpose: Purpose
    public var text: String = ""
    /// What the prompt asks, naming the agent it acts on.
    public func label(agentName: (Int) -> String) -> String {
        switch purpose {
        case .send(let agent): return "send to \(agentName(agent)) (Enter sends, Esc cancels): "
        case .search: return "/"
        case .confirm(.restart(let agent)): return "restart \(agentName(agent))? (y/n) "
        case .confirm(.stop(let agent)): return "stop \(agentName(agent))? (y/n) "
        case .confirm: return "go ahead? (y/n) "
        }
    }
}

/// The dashboard's view state and its key handling. Pure: keys in, changes and commands out.
public struct DashboardState: Equatable, Sendable {
    public var mode: ViewMode = .tiles
    public var selected = 0
    public var agentCount: Int
    /// Lines scrolled back from the bottom in the focus view, or from the newest in the timeline.
    public var scroll = 0
    public var timelineScroll = 0
    public var prompt: Prompt?
    public var showHelp = false
    public var lastSearch: String?
    /// Timeline filters: agent index (nil = all) and event type (nil = all).
    public var timelineAgent: Int?
    public var timelineKind: String?
    /// A one-line notice in the help line (errors, confirmations), cleared by the next key.
    public var message: String?
    /// Agents whose view the person switched (`v`) from the one shown by default.
    public var switchedViews: Set<Int> = []
    /// The list view's row order (agent indices; the controller keeps it current).
    public var listOrder: [Int] = []
    /// The view Esc in the focus view goes back to.
    public var focusReturn: ViewMode = .tiles

    public init(agentCount: Int) { self.agentCount = agentCount }

    public struct Result: Equatable {
        public var changes: Changes
        public var command: Command?
        public init(_ changes: Changes, _ command: Command? = nil) { self.changes = changes; self.command = command }
    }

    /// Handles one key. `columns` is how many tiles a row of the layout holds (for up/down);
    /// `page` is the height of the scrolling area; `kinds` are the event types seen so far.
    public mutating func handle(_ key: Key, columns: Int = 1, page: Int = 20, kinds: [String] = []) -> Result {
        var extra: Changes = []
        if message != nil { message = nil; extra.insert(.message) }
        if key == .control("c") { return Result(extra, .quit) }
        if prompt != nil { return handlePrompt(key).adding(extra) }
        if showHelp {
            showHelp = false
            return Result(extra.union(.mode))
        }
        if key == .char("?") { showHelp = true; return Result(extra.union(.mode)) }
        switch mode {
        case .tiles: return handleTiles(key, columns: max(1, columns)).adding(extra)
        case .focus: return handleFocus(key, page: max(1, page)).adding(extra)
        case .timeline: return handleTimeline(key, page: max(1, page), kinds: kinds).adding(extra)
        case .list: return handleList(key, page: max(1, page)).adding(extra)
        }
    }

    private mutating func select(_ index: Int) -> Result {
        guard agentCount > 0 else { return Result([]) }
        let clamped = max(0, min(agentCount - 1, index))
        if clamped == selected { return Result([]) }
        selected = clamped
        scroll = 0
        return Result(.selection)
    }

    /// Keys that act on the selected agent in the tiles and focus views.
    private mutating func agentKey(_ key: Key) -> Result? {
        guard agentCount > 0 else { return nil }
        switch key {
        case .char("a"): return Result([], .attach(agent: selected))
        case .char("s"): prompt = Prompt(purpose: .send(agent: selected)); return Result(.prompt)
        // Both end what the agent is doing (a restart loses its unsaved work): ask first.
        case .char("r"): prompt = Prompt(purpose: .confirm(.restart(agent: selected))); return Result(.prompt)
        case .char("x"): prompt = Prompt(purpose: .confirm(.stop(agent: selected))); return Result(.prompt)
        case .char("c"): return Result([], .cycleContext(agent: selected))
        // `l` moves right among the tiles (hjkl), so the log is `L` there and `l` or `L` in focus.
        case .char("l"), .char("L"): return Result([], .openLog(agent: selected))
        case .char("t"): mode = .timeline; timelineScroll = 0; return Result(.mode)
        case .char("d"): return Result([], .openDiff(agent: selected))
        case .char("v"):
            if switchedViews.contains(selected) { switchedViews.remove(selected) } else { switchedViews.insert(selected) }
            scroll = 0
            return Result(.mode)
        default: return nil
        }
    }

    private mutating func handleTiles(_ key: Key, columns: Int) -> Result {
        switch key {
        case .char("q"): return Result([], .quit)
        case .left, .char("h"): return select(selected - 1)
        case .right, .char("l"): return select(selected + 1)
        case .up, .char("k"): return select(selected - columns)
        case .down, .char("j"): return select(selected + columns)
        case .tab: return select((selected + 1) % max(1, agentCount))
        case .backTab: return select((selected - 1 + agentCount) % max(1, agentCount))
        case .char(let c) where c.isASCII && c.isNumber:
            let n = Int(String(c))!
            return select(n == 0 ? 9 : n - 1)
        case .enter:
            guard agentCount > 0 else { return Result([]) }
            mode = .focus
            focusReturn = .tiles
            scroll = 0
            return Result(.mode)
        case .char("o"): mode = .list; return Result(.mode)
        default:
            return agentKey(key) ?? Result([])
        }
    }

    private mutating func handleList(_ key: Key, page: Int) -> Result {
        let order = listOrder.count == agentCount ? listOrder : Array(0..<agentCount)
        let row = order.firstIndex(of: selected) ?? 0
        func move(_ delta: Int) -> Result {
            guard !order.isEmpty else { return Result([]) }
            return select(order[max(0, min(order.count - 1, row + delta))])
        }
        switch key {
        case .char("q"): return Result([], .quit)
        case .char("o"), .escape: mode = .tiles; return Result(.mode)
        case .up, .char("k"), .backTab: return move(-1)
        case .down, .char("j"), .tab: return move(1)
        case .pageUp: return move(-page)
        case .pageDown: return move(page)
        case .home, .char("g"): return move(-order.count)
        case .end, .char("G"): return move(order.count)
        case .enter:
            guard agentCount > 0 else { return Result([]) }
            mode = .focus
            focusReturn = .list
            scroll = 0
            return Result(.mode)
        default:
            return agentKey(key) ?? Result([])
        }
    }

    private mutating func handleFocus(_ key: Key, page: Int) -> Result {
        switch key {
        case .char("q"), .escape: mode = focusReturn; scroll = 0; return Result(.mode)
        case .pageUp: scroll += page; return Result(.scroll)
        case .pageDown: scroll = max(0, scroll - page); return Result(.scroll)
        case .up, .char("k"): scroll += 1; return Result(.scroll)
        case .down, .char("j"): scroll = max(0, scroll - 1); return Result(.scroll)
        case .home, .char("g"): scroll = Int.max / 2; return Result(.scroll)
        case .end, .char("G"): scroll = 0; return Result(.scroll)
        case .tab, .right: return select((selected + 1) % max(1, agentCount)).adding(.mode)
        case .backTab, .left: return select((selected - 1 + agentCount) % max(1, agentCount)).adding(.mode)
        case .char("/"): prompt = Prompt(purpose: .search); return Result(.prompt)
        case .char("n"):
            guard let q = lastSearch else { return Result([]) }
            return Result([], .search(query: q, forward: false))
        case .char("N"):
            guard let q = lastSearch else { return Result([]) }
            return Result([], .search(query: q, forward: true))
        default: return agentKey(key) ?? Result([])
        }
    }

    private mutating func handleTimeline(_ key: Key, page: Int, kinds: [String]) -> Result {
        switch key {
        case .char("q"), .escape, .char("t"): mode = .tiles; return Result(.mode)
        case .pageUp: timelineScroll += page; return Result(.scroll)
        case .pageDown: timelineScroll = max(0, timelineScroll - page); return Result(.scroll)
        case .up, .char("k"): timelineScroll += 1; return Result(.scroll)
        case .down, .char("j"): timelineScroll = max(0, timelineScroll - 1); return Result(.scroll)
        case .home, .char("g"): timelineScroll = Int.max / 2; return Result(.scroll)
        case .end, .char("G"): timelineScroll = 0; return Result(.scroll)
        case .char("f"):
            // All agents, then each in turn.
            if let a = timelineAgent { timelineAgent = a + 1 < agentCount ? a + 1 : nil } else if agentCount > 0 { timelineAgent = 0 }
            timelineScroll = 0
            return Result(.filter)
        case .char("e"):
            if let k = timelineKind, let i = kinds.firstIndex(of: k) {
                timelineKind = i + 1 < kinds.count ? kinds[i + 1] : nil
            } else {
                timelineKind = kinds.first
            }
            timelineScroll = 0
            return Result(.filter)
        default: return Result([])
        }
    }

    private mutating func handlePrompt(_ key: Key) -> Result {
        guard var p = prompt else { return Result([]) }
        if case .confirm(let command) = p.purpose {
            prompt = nil
            if key == .char("y") || key == .char("Y") { return Result(.prompt, command) }
            return Result(.prompt)
        }
        switch key {
        case .escape:
            prompt = nil
            return Result(.prompt)
        case .enter:
            prompt = nil
            switch p.purpose {
            case .send(let agent):
                return p.text.isEmpty ? Result(.prompt) : Result(.prompt, .send(agent: agent, text: p.text))
            case .search:
                guard !p.text.isEmpty else { return Result(.prompt) }
                lastSearch = p.text
                return Result(.prompt, .search(query: p.text, forward: false))
            case .confirm: return Result(.prompt)
            }
        case .backspace:
            if !p.text.isEmpty { p.text.removeLast() }
        case .char(let c):
            p.text.append(c)
        case .tab:
            p.text.append("\t")
        default:
            return Result([])
        }
        prompt = p
        return Result(.prompt)
    }

    /// Keeps scroll offsets within what there is to show.
    public mutating func clampScroll(maxScroll: Int) {
        scroll = max(0, min(scroll, maxScroll))
    }
}

extension DashboardState.Result {
    func adding(_ c: Changes) -> DashboardState.Result {
        var r = self
        r.changes.formUnion(c)
        return r
    }
}

/// The help line and the `?` screen, generated from one table so they never disagree.
public enum HelpText {
    public static let tiles = "←↓↑→/hjkl/Tab/1-9 move · Enter focus · v view · o list · a attach · s send · r restart · x stop · c context · L log · d diff · t timeline · ? help · q quit"
    public static let list = "↑↓/jk move · Enter focus · v view · o/Esc grid · a attach · s send · r restart · x stop · L log · d diff · ? help · q quit"
    public static let focus = "PgUp/PgDn/Home/End scroll · / search · n/N next/prev · v view · Tab next agent · a s r x c l · Esc back"
    public static let timeline = "↑↓/PgUp/PgDn scroll · f filter agent · e filter event type · Esc back"

    public static let full: [String] = [
        "supervisor dashboard — keys",
        "",
        "Tiles",
        "  arrows, h j k l, Tab, Shift-Tab, 1-9 0   move between agents",
        "  Enter        focus the agent (whole screen, scrollback, search)",
        "  v            switch between its terminal and its conversation (built-in agents)",
        "  o            list of agents (those needing a person first) beside a preview; o, Esc back",
        "  a            attach to its tmux window (F12 or C-b d comes back)",
        "  s            send text (one paste, then Enter)",
        "  r            restart the agent (asks first)",
        "  x            stop the agent (asks first)",
        "  c            cycle its context mode (partial/full; goal agents apply it from their next step)",
        "  L (l in focus) open its conversation (built-in agents) or log in $PAGER (default less -R)",
        "  t            timeline of all events",
        "  d            diff of the agent's worktree against its base (isolation = \"worktree\")",
        "  ?            this help",
        "  q, Ctrl-C    quit the dashboard — agents keep running",
        "",
        "Focus",
        "  PgUp PgDn ↑ ↓ k j Home End g G   scroll    / search   n older match   N newer match",
        "  v                        terminal or conversation",
        "  Tab → / Shift-Tab ←      next / previous agent    Esc, q back to the tiles or list",
        "  a s r x c t as in the tiles; l or L opens the conversation or log",
        "",
        "List (o)",
        "  ↑ ↓ j k PgUp PgDn Home End   move    Enter focus    v a s r x c L as in the tiles    o, Esc back",
        "",
        "Timeline",
        "  ↑ ↓ k j PgUp PgDn Home End g G   scroll    f filter by agent    e filter by event type",
        "  Esc, q, t    back to the tiles",
        "",
        "press any key",
    ]
}

/// "1 character", "2 characters".
public func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

/// Finds text in lines (oldest first). Pure.
public enum TextSearch {
    /// The index of the next line containing `query` (case-insensitive), searching from `from`
    /// towards older lines (`forward` false) or newer ones, excluding `from`; wraps around.
    public static func find(_ query: String, in lines: [String], from: Int, forward: Bool) -> Int? {
        guard !lines.isEmpty, !query.isEmpty else { return nil }
        let needle = query.lowercased()
        let n = lines.count
        let start = max(-1, min(n, from))
        for step in 1...n {
            let i = ((forward ? start + step : start - step) % n + n) % n
            if lines[i].lowercased().contains(needle) { return i }
        }
        return nil
    }

    /// The terminal columns `query` takes on `line` at its first case-insensitive match.
    public static func columns(of query: String, in line: String) -> Range<Int>? {
        let hay = Array(line.lowercased()), needle = Array(query.lowercased())
        guard !needle.isEmpty, needle.count <= hay.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) {
            let start = TextWidth.columns(String(hay[..<i]))
            return start..<(start + TextWidth.columns(String(needle)))
        }
        return nil
    }
}
