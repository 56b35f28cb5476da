import Hosting
import Glibc
import TerminalUI

/// What the person did at the keyboard, after escape sequences are decoded (pure; tested
/// without a terminal).
public enum InputAction: Equatable {
    case key(Key)
    /// Alt-Enter (ESC then Enter) or Ctrl-J: a newline in the message.
    case newline
    /// A bracketed paste, whole (line breaks kept).
    case paste(String)
    /// Escape alone.
    case escape
}

/// Turns ncurses keys into actions: `ESC Enter` is Alt-Enter; `ESC [ 2 0 0 ~ ... ESC [ 2 0 1 ~`
/// is a bracketed paste.
public struct KeyDecoder {
    private var pending: [Key] = []
    private var pasting = false
    private var paste = ""
    private var pasteTail: [Key] = []
    public init() {}

    static let pasteStart: [Key] = [.escape, .char("["), .char("2"), .char("0"), .char("0"), .char("~")]
    static let pasteEnd: [Key] = [.escape, .char("["), .char("2"), .char("0"), .char("1"), .char("~")]

    /// Decodes one batch of keys (as read in one go; a lone ESC at the end of a batch is Escape).
    public mutating func decode(_ keys: [Key]) -> [InputAction] {
        var out: [InputAction] = []
        for k in keys {
            if pasting {
                pasteTail.append(k)
                if !KeyDecoder.pasteEnd.starts(with: pasteTail) {
                    for t in pasteTail { paste += KeyDecoder.text(t) }
                    pasteTail = []
                    if k == .escape { pasteTail = [k] }
                } else if pasteTail.count == KeyDecoder.pasteEnd.count {
                    out.append(.paste(paste))
                    paste = ""
                    pasteTail = []
                    pasting = false
                }
                continue
            }
            if pending.isEmpty {
                if k == .escape { pending = [k] } else if k == .control("j") { out.append(.newline) } else { out.append(.key(k)) }
                continue
            }
            pending.append(k)
            if pending.count == 2 && (k == .enter) { out.append(.newline); pending = []; continue }
            if KeyDecoder.pasteStart.starts(with: pending) {
                if pending.count == KeyDecoder.pasteStart.count { pasting = true; pending = [] }
                continue
            }
            // Not a sequence we know: Escape, then the keys as they were (Alt-x = Escape + x).
            let keys = pending
            pending = []
            out.append(.escape)
            for key in keys.dropFirst() {
                if key == .escape { pending = [key] } else { out.append(.key(key)) }
            }
        }
        if !pasting && pending == [.escape] { out.append(.escape); pending = [] }
        return out
    }

    static func text(_ k: Key) -> String {
        switch k {
        case .char(let c): return String(c)
        case .enter: return "\n"
        case .tab: return "\t"
        case .control("j"): return "\n"
        default: return ""
        }
    }
}

/// The input area: a multi-line message with a cursor, and the history of sent messages.
public struct InputEditor: Equatable {
    public private(set) var lines: [[Character]] = [[]]
    public private(set) var row = 0
    public private(set) var column = 0
    public private(set) var history: [String] = []
    private var historyIndex: Int?
    private var draft: String = ""

    public init(history: [String] = []) { self.history = history }

    public var text: String { lines.map { String($0) }.joined(separator: "\n") }
    public var isEmpty: Bool { lines.count == 1 && lines[0].isEmpty }

    public mutating func insert(_ s: String) {
        for c in s {
            if c == "\n" || c == "\r\n" { newline() } else if c == "\r" { newline() } else {
                lines[row].insert(c, at: column)
                column += 1
            }
        }
    }

    public mutating func newline() {
        let rest = Array(lines[row][column...])
        lines[row].removeSubrange(column...)
        lines.insert(rest, at: row + 1)
        row += 1
        column = 0
    }

    public mutating func backspace() {
        if column > 0 {
            lines[row].remove(at: column - 1)
            column -= 1
        } else if row > 0 {
            let line = lines.remove(at: row)
            row -= 1
            column = lines[row].count
            lines[row] += line
        }
    }

    public mutating func deleteForward() {
        if column < lines[row].count { lines[row].remove(at: column) } else if row + 1 < lines.count {
            lines[row] += lines.remove(at: row + 1)
        }
    }

    public mutating func left() {
        if column > 0 { column -= 1 } else if row > 0 { row -= 1; column = lines[row].count }
    }

    public mutating func right() {
        if column < lines[row].count { column += 1 } else if row + 1 < lines.count { row += 1; column = 0 }
    }

    public mutating func home() { column = 0 }
    public mutating func end() { column = lines[row].count }
    public mutating func killToEnd() { lines[row].removeSubrange(column...) }
    public mutating func killToStart() { lines[row].removeSubrange(..<column); column = 0 }

    public mutating func deleteWordBack() {
        while column > 0 && lines[row][column - 1] == " " { backspace() }
        while column > 0 && lines[row][column - 1] != " " { backspace() }
    }

    /// Up: the line above, or at the top the previous history entry.
    public mutating func up() {
        if row > 0 { row -= 1; column = min(column, lines[row].count); return }
        guard !history.isEmpty else { return }
        let i: Int
        if let h = historyIndex { i = max(0, h - 1) } else { draft = text; i = history.count - 1 }
        historyIndex = i
        set(history[i])
    }

    /// Down: the line below, or at the bottom the next history entry (then the draft).
    public mutating func down() {
        if row + 1 < lines.count { row += 1; column = min(column, lines[row].count); return }
        guard let h = historyIndex else { return }
        if h + 1 < history.count { historyIndex = h + 1; set(history[h + 1]) } else { historyIndex = nil; set(draft) }
    }

    public mutating func clear() { set(""); historyIndex = nil }

    mutating func set(_ s: String) {
        lines = s.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0) }
        if lines.isEmpty { lines = [[]] }
        row = lines.count - 1
        column = lines[row].count
    }

    /// The message, now in the history; the editor is empty again.
    public mutating func submit() -> String {
        let t = text
        if !t.trimmed.isEmpty && history.last != t { history.append(t) }
        historyIndex = nil
        draft = ""
        set("")
        return t
    }
}

/// One entry of the transcript.
public struct TranscriptEntry: Equatable {
    /// `diff` is an entry of diff lines; `added`, `removed` and `hunk` are kinds of its lines
    /// on screen (coloured apart).
    public enum Kind: Equatable { case user, assistant, tool, result, error, notice, diff, added, removed, hunk }
    public var kind: Kind
    public var text: String

    /// A diff entry's lines wrapped to `width`, indented under the tool call, each tagged with
    /// its kind (a wrapped line keeps the kind of the diff line it belongs to).
    public static func diffLines(_ text: String, width: Int) -> [(String, Kind)] {
        text.split(separator: "\n", omittingEmptySubsequences: false).flatMap { line -> [(String, Kind)] in
            let kind: Kind = line.hasPrefix("+") ? .added : line.hasPrefix("-") ? .removed : line.hasPrefix("@@") ? .hunk : .diff
            return TextWrap.wrap(String(line), width: max(1, width - 4)).map { ("    " + $0, kind) }
        }
    }
}

/// Wraps text into lines of at most `width` terminal columns (wide characters count 2).
public enum TextWrap {
    /// libc's wcwidth (not exported by the Glibc module), found once.
    nonisolated(unsafe) static let libcWidth: (@convention(c) (wchar_t) -> Int32)? = {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "wcwidth") else { return nil }
        return unsafeBitCast(sym, to: (@convention(c) (wchar_t) -> Int32).self)
    }()

    /// Terminal columns of one scalar (the locale must be set for wide characters).
    public static func scalarColumns(_ v: UInt32) -> Int {
        if v < 32 || v == 127 { return 0 }
        if let f = libcWidth {
            let n = Int(f(wchar_t(bitPattern: v)))
            if n >= 0 { return n }
        }
        switch v {
        case 0x300...0x36F, 0x200B...0x200F, 0x20D0...0x20FF, 0xFE00...0xFE0F: return 0
        case 0x1100...0x115F, 0x2E80...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
             0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD: return 2
        default: return 1
        }
    }

    public static func columns(_ c: Character) -> Int {
        c.unicodeScalars.reduce(0) { $0 + scalarColumns($1.value) }
    }

    public static func wrap(_ text: String, width: Int) -> [String] {
        guard width > 0 else { return [] }
        var out: [String] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            var used = 0
            var lastSpace: String.Index?
            for c in raw.replacingTabs() {
                let w = columns(c)
                if used + w > width {
                    if let sp = lastSpace, sp > line.startIndex {
                        let head = String(line[..<sp])
                        let tail = String(line[line.index(after: sp)...])
                        out.append(head)
                        line = tail
                        used = tail.reduce(0) { $0 + columns($1) }
                    } else {
                        out.append(line)
                        line = ""
                        used = 0
                    }
                    lastSpace = nil
                }
                if c == " " { lastSpace = line.endIndex }
                line.append(c)
                used += w
            }
            out.append(line)
        }
        return out
    }
}

extension Substring {
    func replacingTabs() -> String {
        contains("\t") ? String(self).replacing("\t", with: "    ") : String(self)
    }
}
