import Glibc

/// A 24-bit colour.
public struct RGB: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    /// WCAG 2 relative luminance (0 black ... 1 white).
    public var luminance: Double {
        func linear(_ v: UInt8) -> Double {
            let c = Double(v) / 255
            return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }
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

    /// The colour a role's foreground should be, or nil for the terminal's default. Whatever the
    /// theme says, the colour is made readable on `background` (WCAG contrast >= 4.5:1).
    public func foreground(_ role: Role) -> RGB? {
        wanted(role).map { readable($0, on: assumedBackground) }
    }

    /// A role's colour on the status bar and help line, readable there.
    public func statusForeground(_ role: Role) -> RGB? {
        wanted(role).map { readable($0, on: statusBackground) }
    }

    /// What the theme asks for: its TUI key, else its ANSI colour the reference maps the role to,
    /// else the built-in colour (chosen from the 256-colour cube, so it maps exactly).
    func wanted(_ role: Role) -> RGB? {
        switch role {
        case .text: return assistantFg ?? foreground
        case .header: return headerFg ?? palette[4] ?? ColorMapper.xterm256(111)
        case .status: return foreground ?? palette[15] ?? ColorMapper.xterm256(255)
        case .error, .failed: return errorFg ?? palette[1] ?? ColorMapper.xterm256(203)
        case .user, .running: return userFg ?? palette[2] ?? ColorMapper.xterm256(114)
        case .accent, .busy: return palette[6] ?? ColorMapper.xterm256(80)
        case .tool: return palette[5] ?? ColorMapper.xterm256(176)
        case .waiting, .starting: return palette[3] ?? ColorMapper.xterm256(220)
        case .idle, .muted, .stopped: return palette[8] ?? ColorMapper.xterm256(246)
        }
    }

    /// Background of the status bar and the help line.
    public var statusBackground: RGB { statusBg ?? ColorMapper.xterm256(235) }

    /// The background text is drawn on: the theme's, else the dark one the built-in colours are
    /// made for (most terminals' default).
    public var assumedBackground: RGB { background ?? RGB(0, 0, 0) }

    /// The minimum contrast of interface text (WCAG AA for normal text).
    public static let minimumContrast = 4.5

    /// WCAG 2 contrast ratio of two colours (1...21).
    public static func contrast(_ a: RGB, _ b: RGB) -> Double {
        let la = a.luminance, lb = b.luminance
        return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
    }

    /// `color`, or the nearest mix of it towards white or black (whichever contrasts more with
    /// `background`) that reaches the minimum contrast: a theme made for another background
    /// stays readable instead of vanishing.
    public func readable(_ color: RGB, on background: RGB) -> RGB {
        if Theme.contrast(color, background) >= Theme.minimumContrast { return color }
        let target = Theme.contrast(RGB(255, 255, 255), background) >= Theme.contrast(RGB(0, 0, 0), background) ? RGB(255, 255, 255) : RGB(0, 0, 0)
        for step in 1...10 {
            let t = Double(step) / 10
            func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) * (1 - t) + Double(b) * t).rounded()) }
            let mixed = RGB(mix(color.r, target.r), mix(color.g, target.g), mix(color.b, target.b))
            if Theme.contrast(mixed, background) >= Theme.minimumContrast { return mixed }
        }
        return target
    }

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
