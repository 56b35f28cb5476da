import CVTerm

/// The pen a cell is drawn with, in SGR terms.
struct Pen: Equatable {
    var fg: Color
    var bg: Color
    var attrs: Attributes

    static let plain = Pen(fg: .default, bg: .default, attrs: .none)

    init(fg: Color, bg: Color, attrs: Attributes) {
        self.fg = fg
        self.bg = bg
        self.attrs = attrs
    }

    init(_ c: VTermScreenCell) {
        self.init(fg: Color(c.fg, background: false), bg: Color(c.bg, background: true), attrs: Attributes(c.attrs))
    }
}

/// Builds the repaint byte stream.
struct RepaintWriter {
    var out: [UInt8] = []
    var pen: Pen? = nil  // unknown until the first SGR

    init() { out.reserveCapacity(16 * 1024) }

    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    mutating func number(_ n: Int) {
        if n >= 10 { number(n / 10) }
        out.append(UInt8(0x30 + n % 10))
    }

    mutating func csi() { out.append(0x1B); out.append(UInt8(ascii: "[")) }

    /// CUP, 0-based arguments.
    mutating func moveTo(_ row: Int, _ col: Int) {
        csi(); number(row + 1)
        if col > 0 { out.append(UInt8(ascii: ";")); number(col + 1) }
        out.append(UInt8(ascii: "H"))
    }

    mutating func forward(_ n: Int) {
        guard n > 0 else { return }
        csi(); if n > 1 { number(n) }
        out.append(UInt8(ascii: "C"))
    }

    mutating func eraseChars(_ n: Int) {
        csi(); if n > 1 { number(n) }
        out.append(UInt8(ascii: "X"))
    }

    mutating func decMode(_ mode: Int, _ on: Bool) {
        csi(); out.append(UInt8(ascii: "?")); number(mode)
        out.append(on ? UInt8(ascii: "h") : UInt8(ascii: "l"))
    }

    mutating func setPen(_ p: Pen) {
        if pen == p { return }
        pen = p
        // Always from a reset: short enough, and never depends on what the
        // target terminal's pen was.
        csi(); out.append(UInt8(ascii: "0"))
        let a = p.attrs
        if a.bold { raw(";1") }
        if a.italic { raw(";3") }
        switch a.underline {
        case .none: break
        case .single: raw(";4")
        case .double: raw(";4:2")
        case .curly: raw(";4:3")
        }
        if a.blink { raw(";5") }
        if a.reverse { raw(";7") }
        if a.strike { raw(";9") }
        if a.font > 0 { raw(";"); number(10 + Int(a.font)) }
        color(p.fg, base: 30, bright: 90, extended: 38)
        color(p.bg, base: 40, bright: 100, extended: 48)
        out.append(UInt8(ascii: "m"))
    }

    private mutating func color(_ c: Color, base: Int, bright: Int, extended: Int) {
        switch c {
        case .default: break
        case .indexed(let i) where i < 8: raw(";"); number(base + Int(i))
        case .indexed(let i) where i < 16: raw(";"); number(bright + Int(i) - 8)
        case .indexed(let i): raw(";"); number(extended); raw(";5;"); number(Int(i))
        case .rgb(let r, let g, let b):
            raw(";"); number(extended); raw(";2;"); number(Int(r)); raw(";"); number(Int(g)); raw(";"); number(Int(b))
        }
    }

    mutating func scalar(_ v: UInt32) {
        switch v {
        case 0..<0x80: out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (v >> 6))); out.append(UInt8(0x80 | (v & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (v >> 12))); out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (v >> 18))); out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    /// CHA, 0-based.
    mutating func column(_ col: Int) {
        csi(); if col > 0 { number(col + 1) }
        out.append(UInt8(ascii: "G"))
    }

    mutating func chars(_ c: VTermScreenCell) {
        withUnsafeBytes(of: c.chars) { raw in
            for ch in raw.bindMemory(to: UInt32.self) {
                if ch == 0 { break }
                scalar(ch)
            }
        }
    }

    /// Paints rows onto a cleared screen: skips clear cells, writes erased
    /// cells with a non-default pen as ECH so they stay empty with that pen,
    /// writes everything else with its pen. Reproduces libvterm's broken
    /// wide characters too (a narrow cell followed by an orphaned right
    /// half, or a wide character whose right half was overwritten).
    mutating func paint(rows: Int, cols: Int, cell: (Int, Int) -> VTermScreenCell) {
        for r in 0..<rows {
            var end = cols
            while end > 0 && isClearCell(cell(r, end - 1)) { end -= 1 }
            if end == 0 { continue }
            moveTo(r, 0)
            var at: Int? = 0        // the target's cursor column; nil = not sure
            var forceNext = false   // the target may have put a right half here
            var col = 0
            func position(_ col: Int) {
                if let a = at, a == col { return }
                if let a = at, col > a { forward(col - a) } else { column(col) }
                at = col
            }
            while col < end || (forceNext && col < cols) {
                let c = cell(r, col)
                let force = forceNext
                forceNext = false
                if c.chars.0 == UInt32.max {
                    // A right half with no left half (only at column 0 here:
                    // elsewhere the cell before reports width 2). Draw wide
                    // characters, then delete the first cell to shift one in.
                    var k = 1
                    while col + k < cols && cell(r, col + k).chars.0 == UInt32.max { k += 1 }
                    setPen(.plain)
                    for j in stride(from: col + k - 1, through: col, by: -1) { column(j); scalar(0x4E00) }
                    column(col)
                    csi(); out.append(UInt8(ascii: "P"))
                    at = nil
                    col += k
                    continue
                }
                let wide = c.width == 2
                if c.chars.0 == 0 && !wide {
                    let p = Pen(c)
                    var n = 1
                    while col + n < end {
                        let d = cell(r, col + n)
                        if d.chars.0 != 0 || d.width != 1 || Pen(d) != p { break }
                        n += 1
                    }
                    if p != .plain || force {
                        position(col)
                        setPen(p)
                        eraseChars(n)
                    }
                    col += n
                    continue
                }
                position(col)
                setPen(Pen(c))
                var halves = 0  // right halves after this cell
                if wide {
                    halves = 1
                    while col + halves + 1 < cols && cell(r, col + halves + 1).chars.0 == UInt32.max { halves += 1 }
                }
                if wide && (c.chars.0 < 0x1100 || halves > 1) {
                    // Narrow or empty cell in front of orphaned right halves:
                    // draw wide characters right to left, each leaving its
                    // right half, then overwrite the leftmost.
                    for j in stride(from: col + halves - 1, through: col, by: -1) {
                        column(j)
                        scalar(0x4E00)
                    }
                    column(col)
                    if c.chars.0 == 0 { eraseChars(1) } else { chars(c) }
                    at = nil
                    col += 1 + halves
                    continue
                }
                chars(c)
                if c.chars.0 < 0x80 {
                    at = col + 1
                } else {
                    at = nil  // the target's width table may differ: position absolutely
                    if !wide && c.chars.0 >= 0x1100 { forceNext = true }
                }
                col += wide ? 2 : 1
            }
        }
    }
}

extension VirtualScreen {
    /// Bytes that, written to a fresh terminal of the same size (or to one
    /// showing anything at all), reproduce this screen: the primary screen
    /// (and, if a full-screen program is on the alternate screen, both the
    /// saved primary screen and the alternate one), every cell's text,
    /// colours and attributes, wide characters, the cursor position and
    /// visibility, the current pen, the title, and the modes that change
    /// how later output is interpreted (scroll region, origin, autowrap,
    /// insert, cursor keys, mouse, bracketed paste, focus).
    public func renderRepaint() -> [UInt8] {
        let m = modes()
        var w = RepaintWriter()
        // Leave any alternate screen, then RIS: resets charsets (a stale
        // `ESC ( 0` would turn our text into line drawing), pen, modes,
        // scroll region and tabs. RIS rather than `ESC ( B`, after which
        // libvterm splits a combining mark from its base character at the
        // last column. The explicit resets after it are for terminals whose
        // RIS does less. Hide the cursor while painting; clear.
        w.raw("\u{1B}[?1049l\u{1B}c\u{1B}[0m\u{1B}[4l\u{1B}[20l\u{1B}[?6l\u{1B}[?7h\u{1B}[r\u{1B}[?25l\u{1B}[H\u{1B}[2J")
        w.pen = .plain
        if isAltScreen {
            if let snap = mainSnapshot {
                let r = min(rows, snap.cells.count)
                w.paint(rows: r, cols: cols) { row, col in
                    col < snap.cells[row].count ? snap.cells[row][col] : blankCell()
                }
                // 1049h saves cursor, pen and visibility for the switch back.
                w.setPen(snap.pen)
                w.moveTo(min(Int(snap.cursor.row), rows - 1), min(Int(snap.cursor.col), cols - 1))
                w.decMode(25, snap.cursorVisible)
            } else {
                w.setPen(.plain)
                w.decMode(25, true)
            }
            w.raw("\u{1B}[?1049h\u{1B}[?25l")
            w.pen = nil  // the switch erased the alternate screen with our pen: clear it with a plain one
            w.setPen(.plain)
            w.raw("\u{1B}[H\u{1B}[2J")
        }
        w.paint(rows: rows, cols: cols) { rawCell($0, $1) }

        // Modes, explicitly on or off: the target may have stale ones.
        w.decMode(1, m.applicationCursorKeys)
        w.decMode(7, m.autowrap)
        // All offs before any on: turning one mouse mode or protocol off
        // resets the whole group.
        let flags = [(1000, m.mouseClick), (1002, m.mouseDrag), (1003, m.mouseMove),
                     (1005, m.mouseUTF8), (1006, m.mouseSGR), (1015, m.mouseRXVT),
                     (1004, m.focusReporting), (2004, m.bracketedPaste)]
        for (mode, on) in flags where !on { w.decMode(mode, false) }
        for (mode, on) in flags where on { w.decMode(mode, true) }
        if reverseVideo { w.decMode(5, true) }
        if let shape = cursorShape {
            // DECSCUSR: 1/2 block, 3/4 underline, 5/6 bar; odd = blinking.
            let base: Int
            switch shape {
            case Int32(VTERM_PROP_CURSORSHAPE_UNDERLINE): base = 3
            case Int32(VTERM_PROP_CURSORSHAPE_BAR_LEFT): base = 5
            default: base = 1
            }
            w.csi(); w.number(cursorBlink ? base : base + 1); w.raw(" q")
        }
        if let title, !title.isEmpty {
            w.raw("\u{1B}]2;")
            for u in title.utf8 where u >= 0x20 && u != 0x7F { w.out.append(u) }
            w.out.append(0x07)
        }
        var top = 0
        if let region = m.scrollRegion {
            w.csi(); w.number(region.lowerBound + 1); w.raw(";"); w.number(region.upperBound); w.raw("r")
            if m.originMode { top = region.lowerBound }
        }
        if m.originMode { w.decMode(6, true) }

        // The program's current pen: text it writes next must look the same.
        w.pen = nil
        w.setPen(currentPen())
        let cur = cursor
        w.moveTo(cur.row - top, cur.col)
        if cur.visible { w.decMode(25, true) }
        return w.out
    }

    func currentPen() -> Pen {
        var attrs = Attributes()
        var v = VTermValue()
        func get(_ a: VTermAttr) -> VTermValue {
            v = VTermValue()
            _ = vterm_state_get_penattr(state, a, &v)
            return v
        }
        attrs.bold = get(VTERM_ATTR_BOLD).boolean != 0
        attrs.italic = get(VTERM_ATTR_ITALIC).boolean != 0
        attrs.underline = Underline(rawValue: UInt8(truncatingIfNeeded: get(VTERM_ATTR_UNDERLINE).number)) ?? .single
        attrs.blink = get(VTERM_ATTR_BLINK).boolean != 0
        attrs.reverse = get(VTERM_ATTR_REVERSE).boolean != 0
        attrs.strike = get(VTERM_ATTR_STRIKE).boolean != 0
        attrs.font = UInt8(truncatingIfNeeded: get(VTERM_ATTR_FONT).number)
        let fg = Color(get(VTERM_ATTR_FOREGROUND).color, background: false)
        let bg = Color(get(VTERM_ATTR_BACKGROUND).color, background: true)
        return Pen(fg: fg, bg: bg, attrs: attrs)
    }
}
