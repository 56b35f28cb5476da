import AgentProtocol
import TerminalUI
import VTScreen

/// An agent's terminal for the web page (pure): log bytes through a libvterm screen, so cursor
/// moves, clears and redraws land where a terminal puts them; each row as text, and as runs of
/// cells that look the same (colours and attributes) for the page to paint.
public enum TerminalRows {
    /// How a run of cells looks: CSS colours (`#rrggbb`; nil: the terminal's default) and
    /// attributes. `plain` is the default look.
    public struct Style: Hashable, Sendable {
        public var fg: String?
        public var bg: String?
        public var bold = false, italic = false, underline = false, reverse = false, strike = false

        public static let plain = Style()

        init(fg: String? = nil, bg: String? = nil) { self.fg = fg; self.bg = bg }

        init(_ cell: Cell) {
            fg = Style.css(cell.foreground); bg = Style.css(cell.background)
            let a = cell.attributes
            bold = a.bold; italic = a.italic; underline = a.underline != .none; reverse = a.reverse; strike = a.strike
        }

        /// xterm's colours for palette indices (the ncurses dashboard's `ColorMapper`).
        static func css(_ color: Color) -> String? {
            let rgb: RGB
            switch color {
            case .default: return nil
            case .indexed(let n): rgb = ColorMapper.xterm256(Int(n))
            case .rgb(let r, let g, let b): rgb = RGB(r, g, b)
            }
            let digits = Array("0123456789abcdef")
            return "#" + String([rgb.r, rgb.g, rgb.b].flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
        }

        /// `{"fg","bg","b","i","u","r","s"}`, only what is not the default.
        var json: OrderedJSON {
            var f: [(String, OrderedJSON)] = []
            if let fg { f.append(("fg", .string(fg))) }
            if let bg { f.append(("bg", .string(bg))) }
            for (key, on) in [("b", bold), ("i", italic), ("u", underline), ("r", reverse), ("s", strike)] where on { f.append((key, .int(1))) }
            return .object(f)
        }
    }

    /// The screen after some output: its rows as text (trailing blanks dropped), and each row's
    /// runs (`spans`, nil for a row all in the default look) with their look in `styles`.
    public struct Screen: Sendable {
        public var rows: [String]
        public var spans: [[(text: String, style: Int)]?]
        public var styles: [Style]

        /// `"rows"`, `"styles"` (style 0 is the default) and `"spans"`: per row null, or
        /// `[[text, style], ...]`. Compact: most rows are plain, and a look is sent once.
        public var jsonFields: [(String, OrderedJSON)] {
            [("rows", .array(rows.map { .string($0) })), ("styles", .array(styles.map(\.json))),
             ("spans", .array(spans.map { row in
                 row.map { .array($0.map { .array([.string($0.text), .int($0.style)]) }) } ?? .null
             }))]
        }
    }

    /// The screen's rows after `bytes`, trailing blank rows dropped.
    public static func render(_ bytes: [UInt8], rows: Int, cols: Int) -> [String] {
        screen(bytes, rows: rows, cols: cols).text().trimmingBlankRows
    }

    /// The rows with their looks.
    public static func styled(_ bytes: [UInt8], rows: Int, cols: Int) -> Screen {
        let vt = screen(bytes, rows: rows, cols: cols)
        let text = vt.text().trimmingBlankRows
        var styles: [Style] = [.plain]
        var index: [Style: Int] = [.plain: 0]
        var spans: [[(text: String, style: Int)]?] = []
        for r in 0..<text.count {
            let runs = runs(vt.row(r))
            if runs.allSatisfy({ $0.style == .plain }) { spans.append(nil); continue }
            spans.append(runs.map { run in
                if let i = index[run.style] { return (run.text, i) }
                index[run.style] = styles.count
                styles.append(run.style)
                return (run.text, styles.count - 1)
            })
        }
        return Screen(rows: text, spans: spans, styles: styles)
    }

    /// Cells that look the same, joined; the trailing blank cells of the default look dropped
    /// (a blank with a background colour is kept: a status bar's fill).
    static func runs(_ cells: [Cell]) -> [(text: String, style: Style)] {
        var out: [(text: String, style: Style)] = []
        for cell in cells where !cell.isContinuation {
            let style = Style(cell), text = cell.text.isEmpty ? " " : cell.text
            if let last = out.last, last.style == style { out[out.count - 1].text += text } else { out.append((text, style)) }
        }
        while let last = out.last, last.style == .plain {
            var t = Substring(last.text)
            while t.last == " " { t.removeLast() }
            if t.isEmpty { out.removeLast() } else { out[out.count - 1].text = String(t); break }
        }
        return out
    }

    private static func screen(_ bytes: [UInt8], rows: Int, cols: Int) -> VirtualScreen {
        let screen = VirtualScreen(rows: rows, cols: cols, scrollback: 0)
        // Output written for a newline-only terminal (a bare `\n`) still starts each line at
        // column 0, as the pane's terminal does with its default `onlcr`.
        var cooked: [UInt8] = []
        cooked.reserveCapacity(bytes.count + bytes.count / 16)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 0x0A && previous != 0x0D { cooked.append(0x0D) }
            cooked.append(byte)
            previous = byte
        }
        screen.feed(cooked)
        return screen
    }
}

extension Array where Element == String {
    fileprivate var trimmingBlankRows: [String] {
        var lines = self
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }
}
