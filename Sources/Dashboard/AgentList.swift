import TerminalUI

/// The list view: one row per agent with columns, agents that need a person first, beside a
/// live preview of the selected agent. Pure: models in, order and text out.
public enum AgentList {
    /// A column: its heading, its width, and how it reads a row.
    public struct Column: Sendable {
        public var title: String
        public var width: Int
        public var value: @Sendable (Row) -> String
    }

    /// What a row shows (the tile model plus the last thing the agent did).
    public struct Row: Equatable, Sendable {
        public var model: AgentTileModel
        public var lastActivity: String?
        public init(model: AgentTileModel, lastActivity: String?) { self.model = model; self.lastActivity = lastActivity }
    }

    /// Columns in order; the narrow ones drop from the right first (last activity takes what is left).
    public static let columns: [Column] = [
        Column(title: "STATE", width: 11) { $0.model.state.label },
        Column(title: "KIND", width: 7) { $0.model.kind },
        Column(title: "STEP", width: 7) { row in row.model.step.map { String($0.dropFirst("step ".count)) } ?? "" },
        Column(title: "TOKENS", width: 6) { row in row.model.tokens.map { String($0.dropLast(" tok".count)) } ?? "" },
        Column(title: "COST", width: 6) { $0.model.cost ?? "" },
        Column(title: "UP", width: 6) { $0.model.uptime ?? "" },
        Column(title: "↻", width: 2) { $0.model.restarts > 0 ? "\($0.model.restarts)" : "" },
    ]

    /// Agents in display order: those that need a person first, each group in profile order.
    public static func order(_ models: [AgentTileModel]) -> [Int] {
        models.indices.filter { models[$0].needsPerson } + models.indices.filter { !models[$0].needsPerson }
    }

    /// The name column's width and the other columns that fit in `width` (at least the state).
    public static func fit(width: Int, nameWidth: Int) -> (name: Int, columns: [Column]) {
        let name = min(max(6, nameWidth), 16)
        var used = 2 + name
        var chosen: [Column] = []
        for column in columns where used + 1 + column.width <= width || chosen.isEmpty {
            chosen.append(column)
            used += 1 + column.width
        }
        return (name, chosen)
    }

    /// The heading line.
    public static func heading(width: Int, nameWidth: Int) -> String {
        let (name, chosen) = fit(width: width, nameWidth: nameWidth)
        var line = "  " + TextWidth.pad("AGENT", columns: name)
        for column in chosen { line += " " + TextWidth.pad(column.title, columns: column.width) }
        return finish(line, activity: "LAST ACTIVITY", width: width)
    }

    /// One row's text, `width` columns (the state column is coloured by the renderer).
    public static func line(_ row: Row, width: Int, nameWidth: Int) -> String {
        let (name, chosen) = fit(width: width, nameWidth: nameWidth)
        let mark = row.model.needsPerson ? "! " : "  "
        var line = mark + TextWidth.pad(row.model.name, columns: name)
        for column in chosen { line += " " + TextWidth.pad(column.value(row), columns: column.width) }
        return finish(line, activity: row.model.attention.map { "needs you: " + $0 } ?? row.lastActivity ?? "", width: width)
    }

    /// Where the state column starts in a line (for its colour).
    public static func stateColumn(nameWidth: Int) -> Int { 2 + min(max(6, nameWidth), 16) + 1 }

    private static func finish(_ line: String, activity: String, width: Int) -> String {
        let room = width - TextWidth.columns(line) - 1
        let text = room >= 6 ? line + " " + TextWidth.prefix(activity, columns: room) : line
        return TextWidth.pad(text, columns: width)
    }

    /// The first row shown so that `selectedRow` is visible in `height` rows.
    public static func firstVisible(selectedRow: Int, count: Int, height: Int, current: Int) -> Int {
        guard height > 0, count > height else { return 0 }
        var first = min(current, count - height)
        if selectedRow < first { first = selectedRow }
        if selectedRow >= first + height { first = selectedRow - height + 1 }
        return max(0, first)
    }

    /// The list's share of the content area; the preview takes the rest.
    public static func split(_ area: Rect) -> (list: Rect, preview: Rect) {
        let listWidth = area.width >= 120 ? min(90, area.width / 2) : max(40, area.width / 2)
        let list = Rect(x: area.x, y: area.y, width: min(area.width, listWidth), height: area.height)
        let preview = Rect(x: list.maxX + 1, y: area.y, width: max(0, area.width - list.width - 1), height: area.height)
        return (list, preview)
    }
}

extension DisplayState {
    /// A person is needed: the agent waits for input or a decision, or it failed.
    public var needsPerson: Bool {
        switch self {
        case .waiting, .failed, .unreachable: return true
        case .exited(let code): return (code ?? 0) != 0
        default: return false
        }
    }
}
