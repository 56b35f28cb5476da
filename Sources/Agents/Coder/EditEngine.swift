import Glibc

/// The text of a file split into what an edit must keep (a UTF-8 byte order mark, the line
/// ending style) and the content the model sees and edits (LF line endings, no BOM).
public struct FileText: Equatable {
    public var hasBOM: Bool
    /// True when every line break in the file is CRLF (mixed files are edited as they are).
    public var crlf: Bool
    /// The content without BOM, with CRLF turned into LF when `crlf`.
    public var content: [UInt8]

    static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    public init(bytes: [UInt8]) {
        var b = bytes[...]
        hasBOM = b.starts(with: FileText.bom)
        if hasBOM { b = b.dropFirst(3) }
        var lf = 0, crlfCount = 0
        var previous: UInt8 = 0
        for byte in b {
            if byte == 10 { if previous == 13 { crlfCount += 1 } else { lf += 1 } }
            previous = byte
        }
        crlf = crlfCount > 0 && lf == 0
        content = crlf ? FileText.toLF(Array(b)) : Array(b)
    }

    public init(content: [UInt8], hasBOM: Bool, crlf: Bool) {
        self.content = content; self.hasBOM = hasBOM; self.crlf = crlf
    }

    /// Lines as an editor (and `cat -n`, and Read) counts them: every line break ends a line and
    /// text after the last break is one more, so "a\nb" and "a\nb\n" are 2 lines, "" is 0. The
    /// empty piece after a final break is not a line; CRLF counts once (it ends in LF).
    public static func lineCount<C: BidirectionalCollection>(_ bytes: C) -> Int where C.Element == UInt8 {
        var breaks = 0
        for byte in bytes where byte == 10 { breaks += 1 }
        guard let last = bytes.last else { return 0 }
        return last == 10 ? breaks : breaks + 1
    }

    /// The bytes to write back: BOM and line endings as the file had them.
    public var bytes: [UInt8] {
        (hasBOM ? FileText.bom : []) + (crlf ? FileText.toCRLF(content) : content)
    }

    static func toLF(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if b[i] == 13, i + 1 < b.count, b[i + 1] == 10 { out.append(10); i += 2; continue }
            out.append(b[i]); i += 1
        }
        return out
    }

    static func toCRLF(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count + b.count / 16)
        for byte in b {
            if byte == 10 { out.append(13) }
            out.append(byte)
        }
        return out
    }
}

/// The Edit tool's replacement, on bytes (exact UTF-8 matching: no normalisation surprises).
public enum EditEngine {
    public struct Outcome: Equatable {
        public var content: [UInt8]
        public var replacements: Int
    }

    /// Replaces `old` by `new` in `content`: every occurrence with `replaceAll`, else exactly one
    /// (absent or ambiguous is an error). With `regex`, `old` is a POSIX extended regular
    /// expression and `new` may refer to groups as \1..\9 (\0 the whole match, \\ a backslash).
    public static func apply(content: [UInt8], old: String, new: String, replaceAll: Bool, regex: Bool) throws -> Outcome {
        guard !old.isEmpty else { throw ToolError("old_string is empty; to create or replace a whole file use Write") }
        let matches: [[Range<Int>?]]
        if regex {
            matches = try regexMatches(content, pattern: old)
        } else {
            matches = literalMatches(content, Array(old.utf8)).map { [$0] }
        }
        if matches.isEmpty {
            throw ToolError(regex ? "the pattern \(quoted(old)) matches nothing in the file"
                                  : "old_string was not found in the file (it must match exactly, including whitespace and indentation)")
        }
        if matches.count > 1 && !replaceAll {
            throw ToolError("old_string matches \(matches.count) times; give more surrounding context to make it unique, or set replace_all to true")
        }
        let newBytes = Array(new.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(content.count)
        var position = 0
        for groups in matches {
            let whole = groups[0]!
            out.append(contentsOf: content[position..<whole.lowerBound])
            if regex { out.append(contentsOf: expand(newBytes, groups: groups, in: content)) } else { out.append(contentsOf: newBytes) }
            position = whole.upperBound
        }
        out.append(contentsOf: content[position...])
        return Outcome(content: out, replacements: matches.count)
    }

    static func quoted(_ s: String) -> String { "\"" + (s.count > 80 ? String(s.prefix(80)) + "…" : s) + "\"" }

    /// Non-overlapping occurrences, left to right.
    static func literalMatches(_ haystack: [UInt8], _ needle: [UInt8]) -> [Range<Int>] {
        guard !needle.isEmpty, haystack.count >= needle.count else { return [] }
        var out: [Range<Int>] = []
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                while i <= last {
                    if h[i] == first && memcmp(h.baseAddress! + i, n.baseAddress!, n.count) == 0 {
                        out.append(i..<(i + n.count))
                        i += n.count
                    } else {
                        i += 1
                    }
                }
            }
        }
        return out
    }

    /// Every match of an ERE with its groups (index 0 = the whole match; nil = group unused).
    static func regexMatches(_ content: [UInt8], pattern: String) throws -> [[Range<Int>?]] {
        var re = regex_t()
        let rc = regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE)
        guard rc == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(rc, &re, &buffer, buffer.count)
            throw ToolError("invalid regular expression \(quoted(pattern)): \(String(cString: buffer))")
        }
        defer { regfree(&re) }
        guard !content.contains(0) else { throw ToolError("the file contains NUL bytes; regular expressions cannot be used on it") }
        var text = content.map { CChar(bitPattern: $0) }
        text.append(0)
        var out: [[Range<Int>?]] = []
        let groupCount = 10
        var matches = [regmatch_t](repeating: regmatch_t(), count: groupCount)
        var start = 0
        while start <= content.count {
            let flags: Int32 = start > 0 && content[start - 1] != 10 ? REG_NOTBOL : 0
            let r = text.withUnsafeBufferPointer { t in
                regexec(&re, t.baseAddress! + start, groupCount, &matches, flags)
            }
            guard r == 0 else { break }
            var groups: [Range<Int>?] = []
            for m in matches {
                if m.rm_so < 0 { groups.append(nil) } else { groups.append((start + Int(m.rm_so))..<(start + Int(m.rm_eo))) }
            }
            let whole = groups[0]!
            out.append(groups)
            start = whole.isEmpty ? whole.upperBound + 1 : whole.upperBound
        }
        return out
    }

    /// `\1`..`\9` (and `\0`) replaced by the groups' text; `\\` is one backslash.
    static func expand(_ replacement: [UInt8], groups: [Range<Int>?], in content: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < replacement.count {
            let c = replacement[i]
            if c == UInt8(ascii: "\\"), i + 1 < replacement.count {
                let d = replacement[i + 1]
                if d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") {
                    let n = Int(d - UInt8(ascii: "0"))
                    if n < groups.count, let g = groups[n] { out.append(contentsOf: content[g]) }
                    i += 2
                    continue
                }
                if d == UInt8(ascii: "\\") { out.append(d); i += 2; continue }
            }
            out.append(c)
            i += 1
        }
        return out
    }
}
