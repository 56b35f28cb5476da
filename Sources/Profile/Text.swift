// Small pure helpers shared by the loader and the settings validator:
// name checks, "did you mean" suggestions, quoting of untrusted values for
// messages, and lexical path resolution (no file system access).

enum Text {
    /// `[a-z0-9][a-z0-9_-]*`, at most 32 characters (agent and profile names).
    static func isValidName(_ s: String) -> Bool {
        let scalars = Array(s.unicodeScalars)
        guard !scalars.isEmpty, scalars.count <= 32 else { return false }
        for (i, c) in scalars.enumerated() {
            let lowerOrDigit = ("a"..."z").contains(c) || ("0"..."9").contains(c)
            if i == 0 { if !lowerOrDigit { return false } }
            else if !(lowerOrDigit || c == "_" || c == "-") { return false }
        }
        return true
    }

    /// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
    static func isValidVariableName(_ s: String) -> Bool {
        let scalars = Array(s.unicodeScalars)
        guard let first = scalars.first else { return false }
        func letter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" }
        guard letter(first) else { return false }
        return scalars.dropFirst().allSatisfy { letter($0) || ("0"..."9").contains($0) }
    }

    /// Every scalar is ASCII and in `allowed`, and the first is alphanumeric
    /// (so a value can never be taken for a command-line option).
    static func isToken(_ s: String, extra: String) -> Bool {
        let scalars = Array(s.unicodeScalars)
        guard let first = scalars.first, isAlnum(first) else { return false }
        let extraSet = Set(extra.unicodeScalars)
        return scalars.allSatisfy { isAlnum($0) || extraSet.contains($0) }
    }

    static func isAlnum(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
    }

    /// A docker-style size: digits and an optional unit b, k, m or g ("2g", "512m").
    static func isSize(_ s: String) -> Bool {
        var scalars = Array(s.lowercased().unicodeScalars)
        guard !scalars.isEmpty else { return false }
        if let last = scalars.last, "bkmg".unicodeScalars.contains(last) { scalars.removeLast() }
        guard let first = scalars.first, first != "0" else { return false }
        return scalars.allSatisfy { ("0"..."9").contains($0) }
    }

    /// Quotes an untrusted value for an error message: one line, escaped, bounded.
    static func quote(_ s: String, limit: Int = 60) -> String {
        var out = "\""
        var count = 0
        for c in s.unicodeScalars {
            if count >= limit { out += "…"; break }
            count += 1
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 || c.value == 0x7f || (0x80..<0xa0).contains(c.value)
                    || c.properties.generalCategory == .format || c.properties.generalCategory == .lineSeparator
                    || c.properties.generalCategory == .paragraphSeparator
                {
                    out += "\\u{" + String(c.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }

    /// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var d = Array(repeating: Array(repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }

    /// The closest candidate, when it is close enough to be a plausible typo.
    static func suggestion(for input: String, among candidates: [String]) -> String? {
        let lowered = input.lowercased()
        var best: (String, Int)?
        for c in candidates {
            let d = editDistance(lowered, c.lowercased())
            let threshold = c.unicodeScalars.count >= 4 ? 2 : 1
            guard d <= threshold, d < (best?.1 ?? Int.max) else { continue }
            best = (c, d)
        }
        return best?.0
    }

    /// ` (did you mean "x"?)` or the empty string.
    static func didYouMean(_ input: String, _ candidates: [String]) -> String {
        guard let s = suggestion(for: input, among: candidates), s != input else { return "" }
        return " (did you mean \"\(s)\"?)"
    }

    /// Formats a number for a message without noise ("2", "0.5").
    static func number(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return String(d)
    }
}

/// Lexical path handling: resolves and normalizes POSIX paths without
/// touching the file system (symlinks are left alone).
public enum PathResolver {
    /// `path` made absolute against `base` (itself absolute), with `.`, `..`
    /// and repeated slashes removed.
    public static func resolve(_ path: String, against base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        return normalize(joined)
    }

    public static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    public static func directory(of path: String) -> String {
        let n = normalize(path)
        guard let slash = n.lastIndex(of: "/"), slash != n.startIndex else { return "/" }
        return String(n[..<slash])
    }

    public static func lastComponent(of path: String) -> String {
        String(path.split(separator: "/").last ?? "")
    }
}
