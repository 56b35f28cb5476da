import TerminalUI

/// A terminal size in cells.
public struct PaneSize: Equatable, Sendable, CustomStringConvertible {
    public var rows: Int
    public var cols: Int
    public init(rows: Int, cols: Int) { self.rows = rows; self.cols = cols }
    public var description: String { "\(cols)x\(rows)" }
}

/// What the focus view asks of the agents' panes.
public enum SizeEffect: Equatable, Sendable {
    /// Make the agent's pane (and so its pty) this size.
    case resize(agent: Int, to: PaneSize)
    /// Give the agent's pane back the size it had before the focus view took it.
    case restore(agent: Int, to: PaneSize)
}

/// The focus view shows a whole screen: the focused agent's pane is sized to the focus area
/// while it is focused and given its own size back when the person leaves (or moves to another
/// agent, or quits). A lifecycle: each input returns the next state and the effects to perform.
public enum FocusSizing: Equatable, Sendable {
    case idle
    /// `agent` was `original` and is now `applied`.
    case sized(agent: Int, original: PaneSize, applied: PaneSize)

    /// The area an agent's screen has in the focus view of a terminal of `width` x `height`:
    /// the content between the bars, inside the border.
    public static func area(width: Int, height: Int) -> PaneSize {
        let c = ScreenLayout(width: width, height: height).content
        return PaneSize(rows: max(1, c.height - 2), cols: max(1, c.width - 2))
    }

    /// The next state for: the agent in focus (nil when none), the focus area, and the current
    /// pane size of an agent (nil when unknown: it is left alone).
    public func next(focused: Int?, area: PaneSize, paneSize: (Int) -> PaneSize?) -> (FocusSizing, [SizeEffect]) {
        var effects: [SizeEffect] = []
        var base: PaneSize?
        if case let .sized(agent, original, applied) = self {
            if agent == focused {
                if applied == area { return (self, []) }
                base = original
            } else {
                effects.append(.restore(agent: agent, to: original))
            }
        }
        guard let focused, let current = base ?? paneSize(focused) else { return (.idle, effects) }
        if current == area && base == nil { return (.idle, effects) }
        effects.append(.resize(agent: focused, to: area))
        return (.sized(agent: focused, original: current, applied: area), effects)
    }
}
