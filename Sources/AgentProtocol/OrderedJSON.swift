// Standard library only: the shim, the agents, the dashboard, the CLI and any network client
// read and write events and files through this one JSON value.

/// A JSON value that keeps object keys in their original order and numbers as
/// their original text, so re-serializing an agent's event changes nothing
/// but whitespace.
public enum OrderedJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's literal text, validated against the JSON grammar.
    case number(String)
    case string(String)
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    public static func == (a: OrderedJSON, b: OrderedJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public struct ParseError: Error, Equatable {
        public let offset: Int
        public let reason: String
    }

    /// Parses exactly one JSON value (surrounding whitespace allowed). `maxDepth` bounds the
    /// nesting (the recursion's stack); invalid UTF-8 in a string is an error unless
    /// `replacingInvalidUTF8` (then U+FFFD, as a model's stream may need).
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64, replacingInvalidUTF8: Bool = false) throws -> OrderedJSON {
        var p = JSONParser(bytes: bytes, maxDepth: maxDepth, replacingInvalidUTF8: replacingInvalidUTF8)
        p.skipWhitespace()
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        if p.i != bytes.count { throw p.fail("trailing characters") }
        return v
    }

    /// Looks up a key in an object.
    public subscript(key: String) -> OrderedJSON? {
        if case .object(let f) = self { return f.first { $0.0 == key }?.1 }
        return nil
    }

    /// Compact JSON text on one line (non-ASCII kept as UTF-8).
    public func serialized() -> String {
        var out: [UInt8] = []
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func write(to out: inout [UInt8]) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .number(let n): out += Array(n.utf8)
        case .string(let s): OrderedJSON.writeString(s, to: &out)
        case .array(let items):
            out.append(0x5B)
            for (i, v) in items.enumerated() {
                if i > 0 { out.append(0x2C) }
                v.write(to: &out)
            }
            out.append(0x5D)
        case .object(let fields):
            out.append(0x7B)
            for (i, (k, v)) in fields.enumerated() {
                if i > 0 { out.append(0x2C) }
                OrderedJSON.writeString(k, to: &out)
                out.append(0x3A)
                v.write(to: &out)
            }
            out.append(0x7D)
        }
    }

    /// The one JSON string writer: `"`, `\\`, newline, return, tab, backspace and form feed
    /// as their short escapes, other control characters and DEL as `\u00xx`, U+2028 and U+2029
    /// (line breaks to JavaScript) as `\u2028`/`\u2029`; everything else as UTF-8.
    static func writeString(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(0x22)
        var utf8 = s.utf8.makeIterator()
        var pending: UInt8? = nil
        while let b = pending ?? utf8.next() {
            pending = nil
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0x08: out += [0x5C, 0x62]
            case 0x0C: out += [0x5C, 0x66]
            case 0x00...0x1F, 0x7F:
                out += [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            case 0xE2:
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
                guard let b1 = utf8.next() else { out.append(b); continue }
                guard b1 == 0x80, let b2 = utf8.next() else { out.append(b); pending = b1; continue }
                if b2 == 0xA8 || b2 == 0xA9 {
                    out += Array((b2 == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                } else {
                    out += [b, b1]
                    pending = b2
                }
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    let maxDepth: Int
    let replacingInvalidUTF8: Bool

    init(bytes: [UInt8], maxDepth: Int, replacingInvalidUTF8: Bool) {
        self.bytes = bytes; self.maxDepth = maxDepth; self.replacingInvalidUTF8 = replacingInvalidUTF8
    }

    func fail(_ reason: String) -> OrderedJSON.ParseError { .init(offset: i, reason: reason) }

    mutating func skipWhitespace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func literal(_ word: String, _ v: OrderedJSON) throws -> OrderedJSON {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw fail("bad literal") }
        i += w.count
        return v
    }

    mutating func value(depth: Int) throws -> OrderedJSON {
        guard depth < maxDepth else { throw fail("nested too deeply") }
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case 0x7B: return try object(depth: depth)
        case 0x5B: return try array(depth: depth)
        case 0x22: return .string(try string())
        case 0x74: return try literal("true", .bool(true))
        case 0x66: return try literal("false", .bool(false))
        case 0x6E: return try literal("null", .null)
        case 0x2D, 0x30...0x39: return .number(try number())
        default: throw fail("unexpected character")
        }
    }

    mutating func object(depth: Int) throws -> OrderedJSON {
        i += 1
        var fields: [(String, OrderedJSON)] = []
        skipWhitespace()
        if i < bytes.count && bytes[i] == 0x7D { i += 1; return .object(fields) }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == 0x22 else { throw fail("expected key") }
            let k = try string()
            skipWhitespace()
            guard i < bytes.count, bytes[i] == 0x3A else { throw fail("expected ':'") }
            i += 1
            skipWhitespace()
            fields.append((k, try value(depth: depth + 1)))
            skipWhitespace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == 0x2C { i += 1; continue }
            if bytes[i] == 0x7D { i += 1; return .object(fields) }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws -> OrderedJSON {
        i += 1
        var items: [OrderedJSON] = []
        skipWhitespace()
        if i < bytes.count && bytes[i] == 0x5D { i += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == 0x2C { i += 1; continue }
            if bytes[i] == 0x5D { i += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func digits() -> Int {
        let s = i
        while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        return i - s
    }

    mutating func number() throws -> String {
        let s = i
        if bytes[i] == 0x2D { i += 1 }
        guard i < bytes.count else { throw fail("bad number") }
        if bytes[i] == 0x30 { i += 1 } else if digits() == 0 { throw fail("bad number") }
        if i < bytes.count && bytes[i] == 0x2E {
            i += 1
            if digits() == 0 { throw fail("bad number") }
        }
        if i < bytes.count && (bytes[i] == 0x65 || bytes[i] == 0x45) {
            i += 1
            if i < bytes.count && (bytes[i] == 0x2B || bytes[i] == 0x2D) { i += 1 }
            if digits() == 0 { throw fail("bad number") }
        }
        return String(decoding: bytes[s..<i], as: UTF8.self)
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("bad \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("bad \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let b = bytes[i]
            switch b {
            case 0x22:
                i += 1
                if replacingInvalidUTF8 { return String(decoding: out, as: UTF8.self) }
                guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8") }
                return s
            case 0x5C:
                i += 1
                guard i < bytes.count else { throw fail("unterminated string") }
                let e = bytes[i]
                i += 1
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar), i + 1 < bytes.count, bytes[i] == 0x5C, bytes[i + 1] == 0x75 {
                        let save = i
                        i += 2
                        let low = try hex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            i = save
                        }
                    }
                    let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    out += Array(String(Character(u)).utf8)
                default: throw fail("bad escape")
                }
            case 0x00...0x1F:
                throw fail("control character in string")
            default:
                out.append(b)
                i += 1
            }
        }
    }
}
