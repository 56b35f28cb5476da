/// A key press, decoded from ncurses (see `Screen.readKeys`) but independent of it.
public enum Key: Equatable, Hashable, Sendable {
    case char(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, tab, backTab, escape, backspace
    /// Ctrl + a letter (lower case).
    case control(Character)
    case function(Int)
    case resize
    case unknown(Int32)
}
