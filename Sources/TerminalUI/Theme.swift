/// A 24-bit colour.
public struct RGB: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public var description: String {
        "#" + [r, g, b].map { let s = String($0, radix: 16); return s.count == 1 ? "0" + s : s }.joined()
    }

    /// `#rrggbb`, `#rgb` (each digit doubled), or the same without `#`.
    public init?(hex text: String) {
        var s = Substring(text)
        if s.hasPrefix("#") { s = s.dropFirst() }
        guard s.count == 6 || s.count == 3, s.allSatisfy({ $0.isHexDigit }) else { return nil }
        let digits = s.count == 3 ? s.flatMap { [$0, $0] } : Array(s)
        func byte(_ i: Int) -> UInt8 { UInt8(String(digits[i...(i + 1)]), radix: 16)! }
        self.init(byte(0), byte(2), byte(4))
    }
}

/// Colours of the dashboard, read from a theme in Kitty's format (`key value` lines, `#`
/// comments): `foreground`, `background`, `color0`...`color15`, and the TUI keys
/// `assistant_fg`, `user_fg`, `status_bg`, `error_fg`, `header_fg`.
public struct Theme: Equatable, Sendable {
    public var foreground: RGB?
    public var background: RGB?
    /// The 16 ANSI colours; nil where the theme does not say.
    public var palette: [RGB?] = Array(repeating: nil, count: 16)
    public var assistantFg: RGB?
    public var userFg: RGB?
    public var statusBg: RGB?
    public var errorFg: RGB?
    public var headerFg: RGB?
    /// Where the theme came from ("built-in" or a path).
    public var source: String = "built-in"
    /// Lines that could not be used: "file:line: reason".
    public var warnings: [String] = []

    public init() {}

    /// xterm's default ANSI colours, used where the theme is silent.
    public static let xtermPalette: [RGB] = [
        RGB(0, 0, 0), RGB(205, 0, 0), RGB(0, 205, 0), RGB(205, 205, 0),
        RGB(0, 0, 238), RGB(205, 0, 205), RGB(0, 205, 205), RGB(229, 229, 229),
        RGB(127, 127, 127), RGB(255, 0, 0), RGB(0, 255, 0), RGB(255, 255, 0),
        RGB(92, 92, 255), RGB(255, 0, 255), RGB(0, 255, 255), RGB(255, 255, 255),
    ]

    public static let builtIn = Theme()

    /// ANSI colour `n` of this theme (or xterm's).
    public func color(_ n: Int) -> RGB { palette[n] ?? Theme.xtermPalette[n] }

    // MARK: Roles (Kitty key, else the ANSI colour the reference maps it to)

    /// What a role of the interface is drawn with.
    public enum Role: CaseIterable, Sendable {
        case text, header, status, error, user, accent, muted
        case running, busy, tool, waiting, idle, starting, failed, stopped
    }

    /// The colour a role's foreground should be, or nil for the terminal's default.
    public func foreground(_ role: Role) -> RGB? {
        switch role {
        case .text: return assistantFg ?? foreground
        case .header: return headerFg ?? color(4)
        case .status: return foreground ?? color(15)
        case .error, .failed: return errorFg ?? color(1)
        case .user, .running: return userFg ?? color(2)
        case .accent, .busy: return color(6)
        case .tool: return color(5)
        case .waiting, .starting: return color(3)
        case .idle, .muted, .stopped: return color(8)
        }
    }

    /// Background of the status bar and the help line.
    public var statusBackground: RGB { statusBg ?? color(8) }

    // MARK: Parsing

    /// Parses Kitty's theme format. Unknown keys are ignored (Kitty themes carry many settings
    /// the dashboard has no use for); a known key with a bad colour, or a line without a value,
    /// becomes a warning and is skipped.
    public static func parse(_ text: String, source: String = "theme") -> Theme {
        var theme = Theme()
        theme.source = source
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            let key = String(parts[0])
            guard parts.count == 2 else {
                theme.warnings.append("\(source):\(index + 1): \"\(key)\" has no value")
                continue
            }
            // Kitty allows a trailing comment after the value only as its own line; take the
            // first word as the value.
            let valueText = String(parts[1].trimmingCharacters(in: " \t").split(separator: " ").first ?? "")
            guard let slot = Theme.slot(key) else { continue }
            guard let value = RGB(hex: valueText) else {
                theme.warnings.append("\(source):\(index + 1): \"\(valueText)\" is not a colour (#rrggbb) for \(key)")
                continue
            }
            slot(&theme, value)
        }
        return theme
    }

    private static func slot(_ key: String) -> ((inout Theme, RGB) -> Void)? {
        switch key {
        case "foreground": return { $0.foreground = $1 }
        case "background": return { $0.background = $1 }
        case "assistant_fg": return { $0.assistantFg = $1 }
        case "user_fg": return { $0.userFg = $1 }
        case "status_bg": return { $0.statusBg = $1 }
        case "error_fg": return { $0.errorFg = $1 }
        case "header_fg": return { $0.headerFg = $1 }
        default:
            if key.hasPrefix("color"), let n = Int(key.dropFirst(5)), (0..<16).contains(n), key.count <= 7 {
                return { $0.palette[n] = $1 }
            }
            return nil
        }
    }

    /// The theme file to use: `$SUPERVISOR_THEME`, then `$XDG_CONFIG_HOME/supervisor/theme.conf`,
    /// then `~/.supervisor/theme.conf`; nil means the built-in defaults. `exists` is injected so
    /// this stays pure.
    public static func locate(environment: [String: String], exists: (String) -> Bool) -> String? {
        if let explicit = environment["SUPERVISOR_THEME"], !explicit.isEmpty { return explicit }
        var candidates: [String] = []
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            candidates.append(xdg + "/supervisor/theme.conf")
        } else if let home = environment["HOME"], !home.isEmpty {
            candidates.append(home + "/.config/supervisor/theme.conf")
        }
        if let home = environment["HOME"], !home.isEmpty { candidates.append(home + "/.supervisor/theme.conf") }
        return candidates.first(where: exists)
    }

    /// NO_COLOR (https://no-color.org): present and not empty disables colour.
    public static func colorDisabled(environment: [String: String]) -> Bool {
        if let value = environment["NO_COLOR"], !value.isEmpty { return true }
        return false
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var start = startIndex, end = endIndex
        while start < end, set.contains(self[start]) { start = index(after: start) }
        while end > start, set.contains(self[index(before: end)]) { end = index(before: end) }
        return String(self[start..<end])
    }
}
