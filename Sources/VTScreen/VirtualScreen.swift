import CVTerm
import Glibc

/// A terminal screen emulated by libvterm: feed it every byte a program
/// writes, then read cells, text, cursor, scrollback and damage, or render a
/// byte sequence that repaints a fresh terminal to the same state.
///
/// Not thread-safe: use one instance from one thread.
public final class VirtualScreen {
    let vt: OpaquePointer
    let screen: OpaquePointer
    let state: OpaquePointer
    private let callbacks: UnsafeMutablePointer<VTermScreenCallbacks>

    public private(set) var rows: Int
    public private(set) var cols: Int

    // Filled by callbacks.
    private var damageLo = Int.max
    private var damageHi = Int.min
    private var cursorVisible = true
    private var altScreen = false
    private var altToggling = false
    var title: String? = nil
    var cursorShape: Int32? = nil
    var cursorBlink = true
    var reverseVideo = false
    /// Number of BEL characters received (the dashboard may flash a tile).
    public private(set) var bellCount = 0

    private var output: [UInt8] = []
    private var capturing = false
    private var captured: [UInt8] = []

    private var scrollback: ScrollbackRing
    /// The primary screen as it was when the program switched to the
    /// alternate screen (libvterm has no API to read the primary buffer while
    /// the alternate one is shown); nil while on the primary screen.
    var mainSnapshot: (cells: [[VTermScreenCell]], cursor: VTermPos, cursorVisible: Bool, pen: Pen)? = nil

    var tracker = EscapeTracker()
    var lastModes = TerminalModes()

    public init(rows: Int, cols: Int, scrollback: Int = 1000) {
        precondition(rows > 0 && cols > 0, "VirtualScreen needs a positive size")
        self.rows = rows
        self.cols = cols
        self.scrollback = ScrollbackRing(capacity: max(0, scrollback))
        vt = vterm_new(Int32(rows), Int32(cols))
        vterm_set_utf8(vt, 1)
        screen = vterm_obtain_screen(vt)
        state = vterm_obtain_state(vt)
        // libvterm keeps the pointer, not a copy: it must live as long as vt.
        callbacks = .allocate(capacity: 1)
        callbacks.initialize(to: VTermScreenCallbacks())
        callbacks.pointee.damage = { rect, user in
            VirtualScreen.owner(user).noteDamage(Int(rect.start_row), Int(rect.end_row))
            return 1
        }
        callbacks.pointee.settermprop = { prop, val, user in
            guard let val else { return 1 }
            return VirtualScreen.owner(user).setTermProp(prop, val.pointee)
        }
        callbacks.pointee.bell = { user in
            VirtualScreen.owner(user).bellCount &+= 1
            return 1
        }
        // Without scrollback no line is kept: libvterm then skips converting every cell of
        // each line that scrolls off (a quarter of its work on a flood of short lines).
        if scrollback > 0 {
            callbacks.pointee.sb_pushline = { cols, cells, user in
                guard let cells else { return 0 }
                VirtualScreen.owner(user).scrollback.push(cells, Int(cols))
                return 1
            }
            callbacks.pointee.sb_popline = { cols, cells, user in
                guard let cells else { return 0 }
                let me = VirtualScreen.owner(user)
                return me.scrollback.pop(into: cells, Int(cols), blank: me.blankCell()) ? 1 : 0
            }
        }
        // Owner pointer is unretained: the VTerm is freed in deinit, so it
        // can never call back into a dead object.
        let user = Unmanaged.passUnretained(self).toOpaque()
        vterm_screen_set_callbacks(screen, callbacks, user)
        vterm_output_set_callback(vt, { bytes, len, user in
            guard let bytes, len > 0 else { return }
            VirtualScreen.owner(user).received(UnsafeRawBufferPointer(start: bytes, count: len))
        }, user)
        vterm_screen_enable_altscreen(screen, 1)
        // Damage is merged into one rectangle and scrolls are deferred: no
        // per-cell callbacks while feeding.
        vterm_screen_set_damage_merge(screen, VTERM_DAMAGE_SCROLL)
        vterm_screen_reset(screen, 1)
        // Properties announced by the reset are defaults, not program choices.
        cursorShape = nil
        title = nil
        damageLo = 0
        damageHi = rows
    }

    /// Back to the state of a new screen of this size, in place. A new screen allocates both
    /// of libvterm's buffers and faults their pages in (a sixth of a flooded shim's time when
    /// its mirror was rebuilt 20 times a second); this erases the ones it has.
    public func reset() {
        // CAN ends any sequence the parser is inside; leaving the alternate screen first makes
        // libvterm show its primary buffer again (a hard reset clears the mode, not the buffer
        // choice); libvterm 0.1.4's RIS keeps the mouse modes, so they go off, each in its own
        // sequence (from a list it takes the protocol off only once); RIS resets the other
        // modes, pen, cursor and erases.
        let bytes: [UInt8] = Array("\u{18}\u{1b}[?1049l\u{1b}[?1000l\u{1b}[?1002l\u{1b}[?1003l\u{1b}[?1005l\u{1b}[?1006l\u{1b}[?1015l\u{1b}[?1004l\u{1b}c".utf8)
        bytes.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { _ = vterm_input_write(vt, $0, b.count) }
        }
        scrollback = ScrollbackRing(capacity: scrollback.capacity)
        mainSnapshot = nil
        altScreen = false
        cursorVisible = true
        cursorBlink = true
        reverseVideo = false
        tracker = EscapeTracker()
        lastModes = TerminalModes()
        output.removeAll(keepingCapacity: true)
        // Properties announced by the reset are defaults, not program choices.
        cursorShape = nil
        title = nil
        damageLo = 0
        damageHi = rows
    }

    deinit {
        vterm_free(vt)
        callbacks.deinitialize(count: 1)
        callbacks.deallocate()
    }

    @inline(__always)
    private static func owner(_ user: UnsafeMutableRawPointer?) -> VirtualScreen {
        Unmanaged<VirtualScreen>.fromOpaque(user!).takeUnretainedValue()
    }

    // MARK: Input

    /// Feeds program output. Whole buffers go to libvterm in one call.
    public func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        tracker.update(bytes)
        _ = vterm_input_write(vt, base.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    public func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    public func feed(_ string: String) {
        var s = string
        s.withUTF8 { feed(UnsafeRawBufferPointer($0)) }
    }

    /// Bytes the terminal sends back to the program (answers to DA, DSR/CPR,
    /// DECRQM ... queries), in order; write them to the program's input.
    public func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    /// True if takeOutput() would return something.
    public var hasOutput: Bool { !output.isEmpty }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        if capturing { captured.append(contentsOf: bytes) } else { output.append(contentsOf: bytes) }
    }

    // MARK: Size

    public func resize(rows: Int, cols: Int) {
        precondition(rows > 0 && cols > 0, "VirtualScreen needs a positive size")
        if rows == self.rows && cols == self.cols { return }
        vterm_set_size(vt, Int32(rows), Int32(cols))
        self.rows = rows
        self.cols = cols
        vterm_screen_flush_damage(screen)
        damageLo = 0
        damageHi = rows
    }

    // MARK: Reading the screen

    public var cursor: (row: Int, col: Int, visible: Bool) {
        var pos = VTermPos()
        vterm_state_get_cursorpos(state, &pos)
        return (Int(pos.row), Int(pos.col), cursorVisible)
    }

    public var isAltScreen: Bool { altScreen }

    func rawCell(_ row: Int, _ col: Int) -> VTermScreenCell {
        var c = VTermScreenCell()  // get_cell leaves chars after the first 0 untouched
        _ = vterm_screen_get_cell(screen, VTermPos(row: Int32(row), col: Int32(col)), &c)
        return c
    }

    public func cell(row: Int, col: Int) -> Cell {
        precondition(row >= 0 && row < rows && col >= 0 && col < cols, "cell(\(row), \(col)) outside \(rows)x\(cols)")
        var c = rawCell(row, col)
        if c.chars.0 == UInt32.max {
            // libvterm leaves a stale pen on the right half of a wide
            // character; report the pen of the cell it belongs to.
            var l = col - 1
            while l >= 0 && rawCell(row, l).chars.0 == UInt32.max { l -= 1 }
            let left = l >= 0 ? rawCell(row, l) : blankCell()
            c.fg = left.fg
            c.bg = left.bg
            c.attrs = left.attrs
        }
        return Cell(c)
    }

    /// One row of cells.
    public func row(_ row: Int) -> [Cell] {
        (0..<cols).map { cell(row: row, col: $0) }
    }

    /// The visible screen as plain text, one string per row, trailing spaces
    /// trimmed.
    public func text() -> [String] {
        (0..<rows).map { r in
            var scalars = String.UnicodeScalarView()
            for c in 0..<cols { appendText(rawCell(r, c), to: &scalars) }
            return trimTrailingSpaces(String(scalars))
        }
    }

    /// Lines that scrolled off the top of the primary screen, oldest first, as
    /// plain text (trailing spaces trimmed). At most `scrollback` lines.
    public func scrollbackLines() -> [String] {
        scrollback.lines().map { line in
            var scalars = String.UnicodeScalarView()
            for c in line { appendText(c, to: &scalars) }
            return trimTrailingSpaces(String(scalars))
        }
    }

    /// Scrollback lines with their cells (colours, attributes), oldest first.
    /// Lines are trimmed of trailing blank default cells.
    public func scrollbackCells() -> [[Cell]] {
        scrollback.lines().map { $0.map(Cell.init) }
    }

    public var scrollbackCount: Int { scrollback.count }

    /// Rows changed since the last call (nil: nothing changed). Covers
    /// text, colours, scrolling, erasing, resize and screen switches; not
    /// cursor movement alone (compare `cursor`).
    public func takeDamage() -> ClosedRange<Int>? {
        vterm_screen_flush_damage(screen)
        defer { damageLo = .max; damageHi = .min }
        let lo = max(0, damageLo), hi = min(rows, damageHi)
        return lo < hi ? lo...(hi - 1) : nil
    }

    // MARK: Callbacks

    private func noteDamage(_ start: Int, _ end: Int) {
        if start < damageLo { damageLo = start }
        if end > damageHi { damageHi = end }
    }

    private func setTermProp(_ prop: VTermProp, _ val: VTermValue) -> Int32 {
        switch prop {
        case VTERM_PROP_CURSORVISIBLE: cursorVisible = val.boolean != 0
        case VTERM_PROP_CURSORBLINK: cursorBlink = val.boolean != 0
        case VTERM_PROP_CURSORSHAPE: cursorShape = val.number
        case VTERM_PROP_REVERSE: reverseVideo = val.boolean != 0
        case VTERM_PROP_TITLE:
            title = val.string.map { String(cString: $0) }
        case VTERM_PROP_ALTSCREEN:
            if altToggling { return 1 }
            let on = val.boolean != 0
            if on { snapshotPrimary() } else { mainSnapshot = nil }
            altScreen = on
        default: break
        }
        return 1
    }

    /// Called when libvterm has just switched to the alternate buffer. The
    /// primary buffer stays frozen until the program switches back, so copy
    /// it now: briefly switch back (state layer), read it, switch again.
    /// Switching to the alternate screen only erases it, which the program's
    /// own switch does anyway.
    private func snapshotPrimary() {
        altToggling = true
        defer { altToggling = false }
        var off = VTermValue(boolean: 0)
        _ = vterm_state_set_termprop(state, VTERM_PROP_ALTSCREEN, &off)
        var cells: [[VTermScreenCell]] = []
        cells.reserveCapacity(rows)
        for r in 0..<rows { cells.append((0..<cols).map { rawCell(r, $0) }) }
        var pos = VTermPos()
        vterm_state_get_cursorpos(state, &pos)
        mainSnapshot = (cells, pos, cursorVisible, currentPen())
        var on = VTermValue(boolean: 1)
        _ = vterm_state_set_termprop(state, VTERM_PROP_ALTSCREEN, &on)
    }

    func blankCell() -> VTermScreenCell {
        var c = VTermScreenCell()
        c.width = 1
        vterm_state_get_default_colors(state, &c.fg, &c.bg)
        return c
    }

    // MARK: Mode queries

    /// Reads the program's terminal modes from libvterm by injecting DECRQM
    /// and DECRQSS queries and parsing the answers (which never reach
    /// takeOutput). Only done between complete sequences; otherwise returns
    /// the modes read last time.
    public func modes() -> TerminalModes {
        guard tracker.isAtBoundary else { return lastModes }
        capturing = true
        captured.removeAll(keepingCapacity: true)
        let dec = [1, 6, 7, 1000, 1002, 1003, 1004, 1005, 1006, 1015, 2004]
        var q = ""
        for m in dec { q += "\u{1B}[?\(m)$p" }
        q += "\u{1B}P$qr\u{1B}\\"
        var bytes = Array(q.utf8)
        bytes.withUnsafeMutableBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) {
                _ = vterm_input_write(vt, $0, b.count)
            }
        }
        capturing = false
        var m = TerminalModes()
        ModeReplyParser.parse(captured, rows: rows, into: &m)
        captured.removeAll(keepingCapacity: true)
        lastModes = m
        return m
    }
}

// MARK: - Cell conversion

extension Cell {
    init(_ c: VTermScreenCell) {
        var scalars = String.UnicodeScalarView()
        var width = Int(c.width)
        if c.chars.0 == UInt32.max {
            width = 0
        } else {
            forEachChar(c) { scalars.append($0) }
        }
        self.init(text: String(scalars), width: width,
                  foreground: Color(c.fg, background: false), background: Color(c.bg, background: true),
                  attributes: Attributes(c.attrs))
    }
}

extension Color {
    init(_ c: VTermColor, background: Bool) {
        let t = UInt32(c.type)
        let defaultFlag = background ? VTERM_COLOR_DEFAULT_BG.rawValue : VTERM_COLOR_DEFAULT_FG.rawValue
        if t & defaultFlag != 0 {
            self = .default
        } else if t & VTERM_COLOR_TYPE_MASK.rawValue == VTERM_COLOR_INDEXED.rawValue {
            self = .indexed(c.indexed.idx)
        } else {
            self = .rgb(c.rgb.red, c.rgb.green, c.rgb.blue)
        }
    }
}

extension Attributes {
    init(_ a: VTermScreenCellAttrs) {
        self.init(bold: a.bold != 0, italic: a.italic != 0, underline: Underline(rawValue: UInt8(a.underline)) ?? .single,
                  blink: a.blink != 0, reverse: a.reverse != 0, strike: a.strike != 0, font: UInt8(a.font))
    }
}

/// Calls body for each character of a cell (base + combining), skipping
/// invalid code points.
@inline(__always)
func forEachChar(_ c: VTermScreenCell, _ body: (Unicode.Scalar) -> Void) {
    withUnsafeBytes(of: c.chars) { raw in
        let chars = raw.bindMemory(to: UInt32.self)
        for ch in chars {
            if ch == 0 { break }
            if let s = Unicode.Scalar(ch) { body(s) }
        }
    }
}

func appendText(_ c: VTermScreenCell, to scalars: inout String.UnicodeScalarView) {
    if c.chars.0 == UInt32.max { return }  // right half of a wide char
    if c.chars.0 == 0 { scalars.append(" "); return }
    forEachChar(c) { scalars.append($0) }
}

func trimTrailingSpaces(_ s: String) -> String {
    var end = s.endIndex
    while end > s.startIndex {
        let before = s.index(before: end)
        if s[before] != " " { break }
        end = before
    }
    return String(s[..<end])
}

/// True for a cell nobody wrote to, or erased, with the default pen: what a
/// cleared terminal holds.
@inline(__always)
func isClearCell(_ c: VTermScreenCell) -> Bool {
    c.chars.0 == 0 && hasDefaultPen(c)
}

@inline(__always)
func hasDefaultPen(_ c: VTermScreenCell) -> Bool {
    UInt32(c.fg.type) & VTERM_COLOR_DEFAULT_FG.rawValue != 0
        && UInt32(c.bg.type) & VTERM_COLOR_DEFAULT_BG.rawValue != 0
        && c.attrs.bold == 0 && c.attrs.underline == 0 && c.attrs.italic == 0 && c.attrs.blink == 0
        && c.attrs.reverse == 0 && c.attrs.strike == 0 && c.attrs.font == 0
}

// MARK: - Scrollback

/// Bounded ring of scrolled-off lines, stored as libvterm cells trimmed of
/// trailing clear cells. Evicted lines' storage is reused.
struct ScrollbackRing {
    let capacity: Int
    private var storage: [[VTermScreenCell]] = []
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func push(_ cells: UnsafePointer<VTermScreenCell>, _ cols: Int) {
        guard capacity > 0 else { return }
        var n = cols
        while n > 0 && isClearCell(cells[n - 1]) { n -= 1 }
        let line = UnsafeBufferPointer(start: cells, count: n)
        let slot: Int
        if count == capacity {
            slot = head
            head = (head + 1) % capacity
        } else {
            slot = (head + count) % capacity
            count += 1
        }
        if slot == storage.count {
            storage.append(Array(line))
        } else {
            storage[slot].removeAll(keepingCapacity: true)
            storage[slot].append(contentsOf: line)
        }
    }

    /// Gives back the newest line (libvterm asks when the screen grows).
    mutating func pop(into cells: UnsafeMutablePointer<VTermScreenCell>, _ cols: Int, blank: VTermScreenCell) -> Bool {
        guard count > 0 else { return false }
        let slot = (head + count - 1) % capacity
        count -= 1
        let line = storage[slot]
        for i in 0..<cols { cells[i] = i < line.count ? line[i] : blank }
        return true
    }

    func lines() -> [[VTermScreenCell]] {
        (0..<count).map { storage[(head + $0) % capacity] }
    }
}

// MARK: - Mode replies

enum ModeReplyParser {
    /// Parses `CSI ? Ps ; Pm $ y`, `CSI Ps ; Pm $ y` and `DCS 1 $ r Pt ; Pb r ST`.
    static func parse(_ b: [UInt8], rows: Int, into m: inout TerminalModes) {
        var i = 0
        func number() -> Int? {
            var v = 0, any = false
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { v = v * 10 + Int(b[i] - 0x30); i += 1; any = true }
            return any ? v : nil
        }
        func expect(_ c: Character) -> Bool {
            if i < b.count && b[i] == c.asciiValue! { i += 1; return true }
            return false
        }
        while i < b.count {
            guard b[i] == 0x1B, i + 1 < b.count else { i += 1; continue }
            i += 1
            if expect("[") {
                let dec = expect("?")
                guard let mode = number(), expect(";"), let value = number(), expect("$"), expect("y") else { continue }
                let on = value == 1 || value == 3
                if dec {
                    switch mode {
                    case 1: m.applicationCursorKeys = on
                    case 6: m.originMode = on
                    case 7: m.autowrap = on
                    case 1000: m.mouseClick = on
                    case 1002: m.mouseDrag = on
                    case 1003: m.mouseMove = on
                    case 1004: m.focusReporting = on
                    case 1005: m.mouseUTF8 = on
                    case 1006: m.mouseSGR = on
                    case 1015: m.mouseRXVT = on
                    case 2004: m.bracketedPaste = on
                    default: break
                    }
                }
            } else if expect("P") {
                guard expect("1"), expect("$"), expect("r"), let top = number(), expect(";"), let bottom = number(), expect("r")
                else { continue }
                if top > 1 || bottom < rows, top >= 1, bottom > top { m.scrollRegion = (top - 1)..<bottom }
            }
        }
    }
}
