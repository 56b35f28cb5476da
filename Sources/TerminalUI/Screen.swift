import CNcurses
import Glibc
import VTScreen

/// A style for interface text: a theme role for the foreground, optionally on the status
/// background, plus attributes.
public struct UIStyle: Hashable {
    public init(role: Theme.Role? = nil, onStatusBar: Bool = false, bold: Bool = false, reverse: Bool = false, dim: Bool = false, standout: Bool = false) {
        self.role = role; self.onStatusBar = onStatusBar; self.bold = bold; self.reverse = reverse; self.dim = dim; self.standout = standout
    }
    public var role: Theme.Role?
    public var onStatusBar = false
    public var bold = false
    public var reverse = false
    public var dim = false
    public var standout = false
}

/// The thin ncurses layer: start/stop, keys, and drawing primitives on stdscr. It owns no data;
/// the controller hands it snapshots to draw. Only this module calls ncurses: the dashboard and the built-in agents' interfaces draw through it.
public final class Screen {
    public let theme: Theme
    public let colorEnabled: Bool
    public private(set) var width = 0
    public private(set) var height = 0
    private var mapper = ColorMapper(available: 8)
    private var pairs = ColorPairCache(capacity: 0, reserved: 0)
    private var hasColor = false
    private var styleCache: [UIStyle: (attr_t, Int32)] = [:]
    private var run: [wchar_t] = []
    private var ansiForeground: [Int] = Array(0..<16)
    private var ansiBackground: [Int] = Array(0..<16)

    public init(theme: Theme, colorEnabled: Bool) {
        self.theme = theme
        self.colorEnabled = colorEnabled
        run.reserveCapacity(512)
    }

    /// initscr and modes. The caller has set the locale and installed TerminalGuard.
    public func start() {
        _ = initscr()
        TerminalGuard.cursesActive = true
        _ = raw()
        _ = noecho()
        _ = nonl()
        _ = keypad(sv_stdscr(), true)
        _ = nodelay(sv_stdscr(), true)
        _ = set_escdelay(25)
        // Never stop a screen update because a key is waiting: ncurses would leave the rest of
        // the frame undrawn until the next one, and the dashboard draws only when something
        // changed, so that can be a second later (the key's own frame included).
        _ = typeahead(-1)
        _ = curs_set(0)
        _ = leaveok(sv_stdscr(), true)
        if colorEnabled && has_colors() {
            _ = start_color()
            _ = use_default_colors()
            hasColor = true
            mapper = ColorMapper(available: Int(sv_colors()))
            // A theme with its own background (a light one) paints the whole screen with it:
            // the terminal's default colours become the theme's.
            if theme.background != nil || theme.foreground != nil {
                _ = assume_default_colors(Int32(theme.foreground.map { mapper.nearest($0) } ?? -1),
                                          Int32(theme.background.map { mapper.nearest($0) } ?? -1))
            }
            pairs = ColorPairCache(capacity: Int(min(sv_color_pairs(), 32767)), reserved: 0)
            // The 16 ANSI colours agents (and the conversation view) ask for are the theme's, as
            // a Kitty theme means them, made readable on its background as foregrounds.
            ansiForeground = (0..<16).map { n in
                theme.palette[n].map { mapper.nearest(theme.readable($0, on: theme.assumedBackground)) } ?? n
            }
            ansiBackground = (0..<16).map { n in theme.palette[n].map { mapper.nearest($0) } ?? n }
        }
        updateSize()
        leaveInitialState()
    }

    /// ncurses 6.4 (Debian 12's) flushes its output after every cursor movement until the
    /// screen has once come back from `endwin` (`_nc_mvcur` flushes while the screen is in its
    /// initial state, which only a resume ends): a frame that changes N places reaches the
    /// terminal as N writes, and each wakes the terminal's reader (tmux) and the scheduler. One
    /// round trip through `endwin` at the start makes every frame one write, as after a pager.
    private func leaveInitialState() {
        _ = endwin()
        _ = refresh()
    }

    public func stop() {
        guard TerminalGuard.cursesActive else { return }
        _ = endwin()
        TerminalGuard.cursesActive = false
    }

    /// Gives the terminal to a child (tmux attach, a pager).
    public func suspend() {
        _ = endwin()
    }

    /// Takes the terminal back after `suspend` and repaints everything.
    public func resume() {
        _ = refresh()
        _ = clearok(sv_curscr(), true)
        updateSize()
    }

    /// Follows the terminal's new size (SIGWINCH).
    public func resize(rows: Int, cols: Int) {
        _ = resizeterm(Int32(rows), Int32(cols))
        updateSize()
        _ = clearok(sv_curscr(), true)
    }

    private func updateSize() {
        width = Int(sv_cols())
        height = Int(sv_lines())
    }

    // MARK: Keys

    /// Every key ncurses has (nodelay: never blocks).
    public func readKeys() -> [Key] {
        var keys: [Key] = []
        var ch: wint_t = 0
        while true {
            let status = wget_wch(sv_stdscr(), &ch)
            if status == ERR { break }
            if status == KEY_CODE_YES {
                keys.append(Screen.functionKey(Int32(ch)))
            } else {
                keys.append(Screen.characterKey(UInt32(ch)))
            }
        }
        return keys
    }

    public static func functionKey(_ code: Int32) -> Key {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_ENTER: return .enter
        case KEY_BTAB: return .backTab
        case KEY_BACKSPACE: return .backspace
        case KEY_RESIZE: return .resize
        default:
            if code >= sv_key_f(1) && code <= sv_key_f(24) { return .function(Int(code - sv_key_f(0))) }
            return .unknown(code)
        }
    }

    /// Enter sends CR (13: `nonl()` keeps it from becoming LF); LF (10) is Ctrl-J, a key of its
    /// own (the coder's input inserts a line break with it).
    public static func characterKey(_ c: UInt32) -> Key {
        switch c {
        case 13: return .enter
        case 9: return .tab
        case 27: return .escape
        case 8, 127: return .backspace
        case 1...26: return .control(Character(Unicode.Scalar(c + 96)!))
        default:
            guard let scalar = Unicode.Scalar(c) else { return .unknown(Int32(bitPattern: c)) }
            return .char(Character(scalar))
        }
    }

    // MARK: Colours

    private func pair(_ key: ColorPairKey) -> Int32 {
        guard hasColor else { return 0 }
        if let (n, isNew) = pairs.lookup(key) {
            if isNew { _ = init_extended_pair(Int32(n), Int32(key.foreground), Int32(key.background)) }
            return Int32(n)
        }
        let fallback = ColorPairCache.fallback(key)
        if let (n, isNew) = pairs.lookup(fallback) {
            if isNew { _ = init_extended_pair(Int32(n), Int32(fallback.foreground), Int32(fallback.background)) }
            return Int32(n)
        }
        return 0
    }

    private func resolve(_ style: UIStyle) -> (attr_t, Int32) {
        if let cached = styleCache[style] { return cached }
        var attrs = sv_a_normal()
        if style.bold { attrs |= sv_a_bold() }
        if style.reverse { attrs |= sv_a_reverse() }
        if style.dim { attrs |= sv_a_dim() }
        if style.standout { attrs |= sv_a_standout() }
        var pairNumber: Int32 = 0
        if hasColor {
            let rgb = style.role.flatMap { style.onStatusBar ? theme.statusForeground($0) : theme.foreground($0) }
            let fg = rgb.map { mapper.nearest($0) } ?? -1
            let bg = style.onStatusBar ? mapper.nearest(theme.statusBackground) : -1
            pairNumber = pair(ColorPairKey(fg, bg))
        } else if style.onStatusBar {
            attrs |= sv_a_reverse()
        }
        styleCache[style] = (attrs, pairNumber)
        return (attrs, pairNumber)
    }

    private func colorIndex(_ color: Color, _ ansi: [Int]) -> Int {
        if case .indexed(let n) = color, n < 16 { return ansi[Int(n)] }
        return mapper.index(color)
    }

    // MARK: Drawing

    public func erase() { _ = werase(sv_stdscr()) }

    /// Rings the terminal's bell (or flashes, as the terminal is set up).
    public func bell() { _ = beep() }

    /// Fills a rectangle with blanks of `style`.
    public func fill(_ rect: Rect, style: UIStyle = UIStyle()) {
        let (attrs, pairNumber) = resolve(style)
        _ = sv_wattr_set(sv_stdscr(), attrs, pairNumber)
        let blanks = [wchar_t](repeating: 32, count: max(0, rect.width))
        for y in rect.y..<rect.maxY where y < height {
            blanks.withUnsafeBufferPointer { _ = mvwaddnwstr(sv_stdscr(), Int32(y), Int32(rect.x), $0.baseAddress, Int32(min(rect.width, width - rect.x))) }
        }
    }

    /// Draws `text` at (y, x) clipped to `maxWidth` columns; returns the columns used.
    @discardableResult
    public func text(_ text: String, y: Int, x: Int, maxWidth: Int, style: UIStyle = UIStyle()) -> Int {
        guard y >= 0, y < height, x < width, maxWidth > 0 else { return 0 }
        let limit = min(maxWidth, width - x)
        run.removeAll(keepingCapacity: true)
        var used = 0
        for scalar in text.unicodeScalars {
            var w = Int(sv_wcwidth(wchar_t(bitPattern: scalar.value)))
            if scalar.value < 32 { continue }
            if w < 0 { w = 1 }
            if used + w > limit { break }
            run.append(wchar_t(bitPattern: scalar.value))
            used += w
        }
        let (attrs, pairNumber) = resolve(style)
        _ = sv_wattr_set(sv_stdscr(), attrs, pairNumber)
        run.withUnsafeBufferPointer { _ = mvwaddnwstr(sv_stdscr(), Int32(y), Int32(x), $0.baseAddress, Int32($0.count)) }
        return used
    }

    /// Draws a box-drawn border around `rect` (its outermost cells).
    public func box(_ rect: Rect, style: UIStyle = UIStyle()) {
        guard rect.width >= 2, rect.height >= 2 else { return }
        let inner = String(repeating: "─", count: rect.width - 2)
        text("┌" + inner + "┐", y: rect.y, x: rect.x, maxWidth: rect.width, style: style)
        for y in (rect.y + 1)..<(rect.maxY - 1) {
            text("│", y: y, x: rect.x, maxWidth: 1, style: style)
            text("│", y: y, x: rect.maxX - 1, maxWidth: 1, style: style)
        }
        text("└" + inner + "┘", y: rect.maxY - 1, x: rect.x, maxWidth: rect.width, style: style)
    }

    /// Draws cells of an agent's screen at (y, x), `width` columns; pads with blanks.
    /// Wide characters cut by the right edge become a blank. `highlight` stands the row out;
    /// `marked` columns (a search match) are shown reversed.
    public func cells(_ cells: (Int) -> Cell, count: Int, y: Int, x: Int, width maxWidth: Int, colored: Bool, highlight: Bool = false,
                      marked: Range<Int>? = nil) {
        guard y >= 0, y < height, x < width else { return }
        let limit = min(maxWidth, width - x)
        var col = 0
        var runStart = 0
        var runKey: (attr_t, Int32) = (sv_a_normal(), 0)
        run.removeAll(keepingCapacity: true)
        func flush() {
            guard !run.isEmpty else { return }
            _ = sv_wattr_set(sv_stdscr(), runKey.0, runKey.1)
            run.withUnsafeBufferPointer { _ = mvwaddnwstr(sv_stdscr(), Int32(y), Int32(x + runStart), $0.baseAddress, Int32($0.count)) }
            run.removeAll(keepingCapacity: true)
        }
        var i = 0
        while col < limit {
            var attrs = sv_a_normal()
            var pairNumber: Int32 = 0
            var scalars: [UInt32] = [32]
            var w = 1
            if i < count {
                let cell = cells(i)
                i += 1
                if cell.width == 0 { continue }
                w = cell.width
                if !cell.text.isEmpty { scalars = cell.text.unicodeScalars.map { $0.value } }
                let a = cell.attributes
                if a.bold { attrs |= sv_a_bold() }
                if a.underline != .none { attrs |= sv_a_underline() }
                if a.reverse { attrs |= sv_a_reverse() }
                if a.italic { attrs |= sv_a_italic() }
                if a.blink { attrs |= sv_a_blink() }
                if colored && hasColor && (cell.foreground != .default || cell.background != .default) {
                    pairNumber = pair(ColorPairKey(colorIndex(cell.foreground, ansiForeground), colorIndex(cell.background, ansiBackground)))
                }
                if col + w > limit { scalars = [32]; w = 1 }
            }
            if highlight { attrs |= sv_a_standout() }
            if let marked, marked.contains(col) { attrs |= sv_a_reverse() | sv_a_bold() }
            if run.isEmpty || attrs != runKey.0 || pairNumber != runKey.1 {
                flush()
                runStart = col
                runKey = (attrs, pairNumber)
            }
            for s in scalars { run.append(wchar_t(bitPattern: s)) }
            col += w
        }
        flush()
    }

    /// Marks this frame's drawing done and sends it to the terminal (one doupdate per frame).
    public func present() {
        _ = wnoutrefresh(sv_stdscr())
        _ = doupdate()
    }
}

/// Restores the terminal on every way out: atexit, fatal signals (a crash), and the normal
/// path. stderr goes to a file while curses owns the screen.
public enum TerminalGuard {
    nonisolated(unsafe) static var cursesActive = false
    nonisolated(unsafe) static var savedStderr: Int32 = -1
    nonisolated(unsafe) static var installed = false

    public static func install(stderrPath: String?) {
        if let stderrPath {
            let fd = open(stderrPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            if fd >= 0 {
                savedStderr = dup(2)
                _ = fcntl(savedStderr, F_SETFD, FD_CLOEXEC)
                dup2(fd, 2)
                close(fd)
            }
        }
        guard !installed else { return }
        installed = true
        atexit { TerminalGuard.restore() }
        for sig in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGQUIT] {
            signal(sig) { sig in
                TerminalGuard.restore()
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
    }

    /// Idempotent: endwin and stderr back.
    public static func restore() {
        if cursesActive {
            cursesActive = false
            _ = endwin()
        }
        if savedStderr >= 0 {
            dup2(savedStderr, 2)
            close(savedStderr)
            savedStderr = -1
        }
    }

    /// The terminal's stderr for children that take over the terminal.
    public static var terminalStderr: Int32 { savedStderr >= 0 ? savedStderr : 2 }
}
