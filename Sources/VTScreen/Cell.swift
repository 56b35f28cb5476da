/// A colour as the program asked for it: the terminal's default, a palette
/// index (0-15 are the ANSI colours, 16-255 the xterm 256-colour cube and
/// greys) or 24-bit RGB.
public enum Color: Hashable, Sendable {
    case `default`
    case indexed(UInt8)
    case rgb(UInt8, UInt8, UInt8)
}

public enum Underline: UInt8, Hashable, Sendable {
    case none = 0, single = 1, double = 2, curly = 3
}

public struct Attributes: Hashable, Sendable {
    public var bold: Bool
    public var italic: Bool
    public var underline: Underline
    public var blink: Bool
    public var reverse: Bool
    public var strike: Bool
    /// Alternative font (SGR 10-19), 0 = primary.
    public var font: UInt8

    public init(bold: Bool = false, italic: Bool = false, underline: Underline = .none,
                blink: Bool = false, reverse: Bool = false, strike: Bool = false, font: UInt8 = 0) {
        self.bold = bold
        self.italic = italic
        self.underline = underline
        self.blink = blink
        self.reverse = reverse
        self.strike = strike
        self.font = font
    }

    public static let none = Attributes()
}

/// One cell of the visible screen.
public struct Cell: Hashable, Sendable {
    /// The characters in the cell (a base character plus combining marks).
    /// Empty for a cell that was never written or was erased (draw it as a
    /// space) and for the right half of a wide character.
    public var text: String
    /// 1 for a normal cell, 2 for the left half of a wide character, 0 for
    /// its right half (skip it when drawing).
    public var width: Int
    public var foreground: Color
    public var background: Color
    public var attributes: Attributes

    public init(text: String, width: Int, foreground: Color = .default, background: Color = .default,
                attributes: Attributes = .none) {
        self.text = text
        self.width = width
        self.foreground = foreground
        self.background = background
        self.attributes = attributes
    }

    /// True for the right half of a wide character.
    public var isContinuation: Bool { width == 0 }
}

/// Terminal modes a program set that change how the terminal interprets
/// later output or what it sends as input. Read back from libvterm (DECRQM,
/// DECRQSS) so a repaint can leave a fresh terminal in the same state.
/// libvterm 0.1.4 cannot report ANSI modes (insert IRM, newline LNM), so
/// those are not carried over.
public struct TerminalModes: Hashable, Sendable {
    public var applicationCursorKeys = false   // DECCKM ?1
    public var originMode = false              // DECOM ?6
    public var autowrap = true                 // DECAWM ?7
    public var mouseClick = false              // ?1000
    public var mouseDrag = false               // ?1002
    public var mouseMove = false               // ?1003
    public var mouseUTF8 = false               // ?1005
    public var mouseSGR = false                // ?1006
    public var mouseRXVT = false               // ?1015
    public var focusReporting = false          // ?1004
    public var bracketedPaste = false          // ?2004
    /// Scroll region, 0-based, bottom exclusive; nil = whole screen.
    public var scrollRegion: Range<Int>? = nil

    public init() {}
}
