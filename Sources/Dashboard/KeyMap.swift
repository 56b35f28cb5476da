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
}

/// A line of text being typed (send box, search).
public struct Prompt: Equatable, Sendable {
    public enum Purpose: Equatable, Sendable { case send(agent: Int), search, confirmStop(agent: Int) }
    public var purpose: Purpose
    public var text: String = ""
    public var label: String {
        switch purpose {
        case .send: return "send: "
        case .search: return "/"
        case .confirmStop: return "stop this agent? (y/n) "
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
        case .char("r"): return Result([], .restart(agent: selected))
        case .char("x"): prompt = Prompt(purpose: .confirmStop(agent: selected)); return Result(.prompt)
        case .char("c"): return Result([], .cycleContext(agent: selected))
        // `l` moves right among the tiles (hjkl), so the log is `L` there and `l` or `L` in focus.
        case .char("l"), .char("L"): return Result([], .openLog(agent: selected))
        case .char("t"): mode = .timeline; timelineScroll = 0; return Result(.mode)
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
            scroll = 0
            return Result(.mode)
        default:
            return agentKey(key) ?? Result([])
        }
    }

    private mutating func handleFocus(_ key: Key, page: Int) -> Result {
        switch key {
        case .char("q"), .escape: mode = .tiles; scroll = 0; return Result(.mode)
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
        if case .confirmStop(let agent) = p.purpose {
            prompt = nil
            if key == .char("y") || key == .char("Y") { return Result(.prompt, .stop(agent: agent)) }
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
            case .confirmStop: return Result(.prompt)
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
    public static let tiles = "←↓↑→/hjkl/Tab/1-9 move · Enter focus · a attach · s send · r restart · x stop · c context · L log · t timeline · ? help · q quit"
    public static let focus = "PgUp/PgDn/Home/End scroll · / search · n/N next/prev · Tab next agent · a s r x c l · Esc back"
    public static let timeline = "↑↓/PgUp/PgDn scroll · f filter agent · e filter event type · Esc back"

    public static let full: [String] = [
        "supervisor dashboard — keys",
        "",
        "Tiles",
        "  arrows, h j k, Tab, Shift-Tab, 1-9 0   move between agents",
        "  Enter        focus the agent (full size, scrollback, search)",
        "  a            attach to its tmux window (F12 or C-b d comes back)",
        "  s            send text (one paste, then Enter)",
        "  r            restart the agent",
        "  x            stop the agent (asks first)",
        "  c            cycle its context mode (partial/full; goal agents apply it from their next step)",
        "  L (l in focus) open its conversation (built-in agents) or log in $PAGER (default less -R)",
        "  t            timeline of all events",
        "  q, Ctrl-C    quit the dashboard — agents keep running",
        "",
        "Focus",
        "  PgUp PgDn ↑ ↓ Home End   scroll    / search   n older match   N newer match",
        "  Tab / Shift-Tab          next / previous agent    Esc, q back to the tiles",
        "",
        "Timeline",
        "  ↑ ↓ PgUp PgDn Home End   scroll    f filter by agent    e filter by event type",
        "",
        "press any key",
    ]
}

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
}
