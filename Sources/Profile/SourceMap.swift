// SourceMap: where each key of a TOML document is.
//
// TOMLKit (toml++) reports positions for syntax errors only; its tables do
// not expose where a key was written. SourceMap is a small scanner run over
// text that has already parsed, so it can be lenient: it does not validate,
// it only tracks table headers, arrays of tables, dotted and quoted keys,
// every string form, arrays (also across lines), inline tables and comments,
// and records the line:column of each key and of its value.
//
// Paths are rendered like `agents[1].llm.model`: bare-safe keys as they are,
// other keys quoted (`llm.prices."gpt-4.1"`), array elements (of arrays of
// tables and of plain arrays) as `[index]`.

/// A 1-based line and column (columns count Unicode scalars).
public struct SourcePosition: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public static func < (a: SourcePosition, b: SourcePosition) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }
    public var description: String { "\(line):\(column)" }
    public static let start = SourcePosition(line: 1, column: 1)
}

/// One component of a key path.
public enum PathComponent: Hashable, Sendable {
    case key(String)
    case index(Int)
}

public struct SourceMap: Sendable {
    public struct Entry: Equatable, Sendable {
        /// Where the key (or the table header's `[`) starts.
        public let key: SourcePosition
        /// Where the value starts; nil for tables opened by a header or implied by a dotted key.
        public let value: SourcePosition?
    }

    public private(set) var entries: [String: Entry] = [:]
    /// Paths in the order they first appear in the text.
    public private(set) var order: [String] = []

    public init(text: String) {
        var scanner = Scanner(text: text)
        scanner.run()
        entries = scanner.entries
        order = scanner.order
    }

    public func entry(_ path: String) -> Entry? { entries[path] }
    /// The position of the key (or table header) at `path`.
    public func keyPosition(_ path: String) -> SourcePosition? { entries[path]?.key }
    /// The position of the value at `path`, else of its key.
    public func valuePosition(_ path: String) -> SourcePosition? { entries[path].map { $0.value ?? $0.key } }

    /// Renders a path: `agents[1].llm."odd key"`.
    public static func render(_ components: [PathComponent]) -> String {
        var out = ""
        for c in components {
            switch c {
            case .index(let i): out += "[\(i)]"
            case .key(let k):
                if !out.isEmpty { out += "." }
                out += renderKey(k)
            }
        }
        return out
    }

    static func renderKey(_ k: String) -> String {
        let bare = !k.isEmpty && k.unicodeScalars.allSatisfy { Text.isAlnum($0) || $0 == "_" || $0 == "-" }
        return bare ? k : Text.quote(k, limit: Int.max)
    }
}

private struct Scanner {
    let s: [Unicode.Scalar]
    var i = 0
    var line = 1
    var column = 1
    var entries: [String: SourceMap.Entry] = [:]
    var order: [String] = []
    /// Paths declared by header (explicit), which an implicit mention must not move.
    var explicit: Set<String> = []
    /// Number of elements so far of each array of tables, by rendered path.
    var arrayCounts: [String: Int] = [:]
    var current: [PathComponent] = []

    init(text: String) { s = Array(text.unicodeScalars) }

    var pos: SourcePosition { SourcePosition(line: line, column: column) }
    func peek(_ k: Int = 0) -> Unicode.Scalar? { i + k < s.count ? s[i + k] : nil }

    mutating func advance(_ n: Int = 1) {
        for _ in 0..<n where i < s.count {
            if s[i] == "\n" { line += 1; column = 1 } else { column += 1 }
            i += 1
        }
    }

    mutating func record(_ path: [PathComponent], key: SourcePosition, value: SourcePosition?, explicit isExplicit: Bool) {
        let r = SourceMap.render(path)
        if entries[r] == nil { order.append(r) }
        if entries[r] == nil || (isExplicit && !explicit.contains(r)) {
            entries[r] = SourceMap.Entry(key: key, value: value)
        }
        if isExplicit { explicit.insert(r) }
    }

    /// Records every proper prefix of `path` beyond `base` as an implied table.
    mutating func recordPrefixes(_ path: [PathComponent], from base: Int, at p: SourcePosition) {
        guard path.count - 1 > base else { return }
        for n in (base + 1)..<path.count {
            record(Array(path[..<n]), key: p, value: nil, explicit: false)
        }
    }

    mutating func skipBlanks() { while let c = peek(), c == " " || c == "\t" || c == "\r" { advance() } }

    mutating func skipToEndOfLine() { while let c = peek(), c != "\n" { advance() } }

    /// Blanks, newlines and comments (inside arrays and inline tables).
    mutating func skipSpaceAndComments() {
        while let c = peek() {
            if c == " " || c == "\t" || c == "\r" || c == "\n" { advance() }
            else if c == "#" { skipToEndOfLine() }
            else { break }
        }
    }

    mutating func run() {
        while i < s.count {
            skipBlanks()
            guard let c = peek() else { break }
            if c == "\n" { advance(); continue }
            if c == "#" { skipToEndOfLine(); continue }
            if c == "[" { header(); skipToEndOfLine(); continue }
            keyValue(base: current)
            skipToEndOfLine()
        }
    }

    /// Maps header keys to a path, entering the latest element of each array of tables.
    func resolve(_ keys: [String]) -> [PathComponent] {
        var out: [PathComponent] = []
        for k in keys {
            out.append(.key(k))
            if let n = arrayCounts[SourceMap.render(out)], n > 0 { out.append(.index(n - 1)) }
        }
        return out
    }

    mutating func header() {
        let start = pos
        if peek(1) == "[" {
            advance(2)
            let keys = parseKey()
            guard !keys.isEmpty else { return }
            var full = resolve(Array(keys.dropLast()))
            full.append(.key(keys[keys.count - 1]))
            recordPrefixes(full, from: 0, at: start)
            let r = SourceMap.render(full)
            let n = arrayCounts[r, default: 0]
            arrayCounts[r] = n + 1
            record(full, key: start, value: nil, explicit: false)
            current = full + [.index(n)]
            record(current, key: start, value: nil, explicit: true)
        } else {
            advance()
            let keys = parseKey()
            current = resolve(keys)
            recordPrefixes(current, from: 0, at: start)
            record(current, key: start, value: nil, explicit: true)
        }
    }

    mutating func keyValue(base: [PathComponent]) {
        let keyStart = pos
        let keys = parseKey()
        if keys.isEmpty { advance(); return }  // not a key: step over (cannot happen in valid TOML)
        skipBlanks()
        if peek() == "=" { advance() }
        skipBlanks()
        let valueStart = pos
        let full = base + keys.map { PathComponent.key($0) }
        recordPrefixes(full, from: base.count, at: keyStart)
        record(full, key: keyStart, value: valueStart, explicit: true)
        value(full)
    }

    /// Dotted key: bare, "basic" or 'literal' parts separated by dots.
    mutating func parseKey() -> [String] {
        var parts: [String] = []
        while true {
            skipBlanks()
            guard let c = peek() else { break }
            if c == "\"" { advance(); parts.append(basicString(multiline: false)) }
            else if c == "'" { advance(); parts.append(literalString(multiline: false)) }
            else {
                var k = ""
                while let c = peek(), Text.isAlnum(c) || c == "_" || c == "-" { k.unicodeScalars.append(c); advance() }
                if k.isEmpty { break }
                parts.append(k)
            }
            skipBlanks()
            if peek() == "." { advance() } else { break }
        }
        return parts
    }

    /// After the opening quote(s); consumes the closing ones; returns the decoded text.
    mutating func basicString(multiline: Bool) -> String {
        var out = ""
        while let c = peek() {
            if c == "\\" {
                advance()
                guard let e = peek() else { break }
                switch e {
                case "n": out += "\n"; advance()
                case "t": out += "\t"; advance()
                case "r": out += "\r"; advance()
                case "b": out += "\u{8}"; advance()
                case "f": out += "\u{c}"; advance()
                case "e": out += "\u{1b}"; advance()
                case "\"": out += "\""; advance()
                case "\\": out += "\\"; advance()
                case "u", "U":
                    let n = e == "u" ? 4 : 8
                    advance()
                    var hex = ""
                    for _ in 0..<n { if let h = peek() { hex.unicodeScalars.append(h); advance() } }
                    if let v = UInt32(hex, radix: 16), let u = Unicode.Scalar(v) { out.unicodeScalars.append(u) }
                default:
                    // Line-ending backslash (multi-line only): drop the newline and following whitespace.
                    while let w = peek(), w == " " || w == "\t" || w == "\r" || w == "\n" { advance() }
                }
                continue
            }
            if c == "\"" {
                if !multiline { advance(); return out }
                if peek(1) == "\"" && peek(2) == "\"" {
                    // Up to two extra quotes right before the closing delimiter belong to the content.
                    var extra = 0
                    while extra < 2, peek(3) == "\"" { out += "\""; advance(); extra += 1 }
                    advance(3)
                    return out
                }
            }
            if c == "\n" && !multiline { return out }
            out.unicodeScalars.append(c)
            advance()
        }
        return out
    }

    mutating func literalString(multiline: Bool) -> String {
        var out = ""
        while let c = peek() {
            if c == "'" {
                if !multiline { advance(); return out }
                if peek(1) == "'" && peek(2) == "'" {
                    var extra = 0
                    while extra < 2, peek(3) == "'" { out += "'"; advance(); extra += 1 }
                    advance(3)
                    return out
                }
            }
            if c == "\n" && !multiline { return out }
            out.unicodeScalars.append(c)
            advance()
        }
        return out
    }

    mutating func value(_ path: [PathComponent]) {
        guard let c = peek() else { return }
        switch c {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" {
                advance(3)
                if peek() == "\n" { advance() } else if peek() == "\r" && peek(1) == "\n" { advance(2) }
                _ = basicString(multiline: true)
            } else { advance(); _ = basicString(multiline: false) }
        case "'":
            if peek(1) == "'" && peek(2) == "'" {
                advance(3)
                _ = literalString(multiline: true)
            } else { advance(); _ = literalString(multiline: false) }
        case "[":
            advance()
            var index = 0
            while true {
                skipSpaceAndComments()
                guard let d = peek() else { return }
                if d == "]" { advance(); return }
                if d == "," { advance(); continue }
                let p = pos
                let element = path + [.index(index)]
                record(element, key: p, value: p, explicit: true)
                let before = i
                value(element)
                if i == before { advance() }  // never loop on unexpected input
                index += 1
            }
        case "{":
            advance()
            while true {
                skipSpaceAndComments()
                guard let d = peek() else { return }
                if d == "}" { advance(); return }
                if d == "," { advance(); continue }
                let before = i
                keyValue(base: path)
                if i == before { advance() }
            }
        default:
            scalar()
        }
    }

    /// Numbers, booleans, dates and times; a local date followed by a space and
    /// a digit continues as a date-time.
    mutating func scalar() {
        var token = ""
        while true {
            while let c = peek(), !(c == " " || c == "\t" || c == "\r" || c == "\n" || c == "," || c == "]" || c == "}" || c == "#") {
                token.unicodeScalars.append(c)
                advance()
            }
            if peek() == " ", let d = peek(1), ("0"..."9").contains(d), isDate(token) {
                token += " "
                advance()
                continue
            }
            break
        }
    }

    func isDate(_ t: String) -> Bool {
        let u = Array(t.unicodeScalars)
        guard u.count == 10, u[4] == "-", u[7] == "-" else { return false }
        return [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { ("0"..."9").contains(u[$0]) }
    }
}
