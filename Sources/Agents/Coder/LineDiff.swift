/// A unified diff of two texts, line by line, for showing a change to a person (pure).
///
/// Lines common at the start and the end are skipped first; the rest is compared with a
/// longest-common-subsequence table, whose size is capped (`maxCells`): beyond it the change is
/// summarised as "N lines replaced by M lines". The output is `diff -u`'s hunks: `@@ -a,b +c,d @@`
/// headers, then ` ` (context), `-` and `+` lines, with `\ No newline at end of file` where a
/// text's last line has no line break; at most `maxLines` lines, then "... N more lines".
public enum LineDiff {
    /// Cells of the LCS table (lines left after trimming, old × new) compared at most.
    public static let maxCells = 4_000_000

    /// The diff's lines; empty when the texts are the same. With `path`, `--- a/PATH` and
    /// `+++ b/PATH` come first (`/dev/null` for the old side when `old` is nil: a new file).
    public static func unified(old: String?, new: String, path: String? = nil, context: Int = 3,
                               maxLines: Int = 40, maxCells: Int = LineDiff.maxCells) -> [String] {
        let a = lines(old ?? ""), b = lines(new)
        guard a != b else { return [] }
        var out: [String] = []
        if let path {
            out.append(old == nil ? "--- /dev/null" : "--- a/\(path)")
            out.append("+++ b/\(path)")
        }
        if let ops = script(a, b, maxCells: maxCells) {
            out += hunks(ops, a, b, context: max(0, context))
        } else {
            let common = commonEnds(a, b)
            let removed = a.count - common.prefix - common.suffix, added = b.count - common.prefix - common.suffix
            out.append("@@ \(range("-", common.prefix, removed)) \(range("+", common.prefix, added)) @@")
            out.append("(\(removed) line\(removed == 1 ? "" : "s") replaced by \(added) line\(added == 1 ? "" : "s"): too many to compare)")
        }
        guard out.count > maxLines else { return out }
        let rest = out.count - maxLines
        return Array(out.prefix(maxLines)) + ["... \(rest) more line\(rest == 1 ? "" : "s")"]
    }

    /// One line of a text: its characters, and whether a line break ends it.
    struct Line: Equatable, Hashable {
        var text: Substring
        var ended: Bool
    }

    static func lines(_ s: String) -> [Line] {
        guard !s.isEmpty else { return [] }
        var parts = s.split(separator: "\n", omittingEmptySubsequences: false)
        let ended = parts.last == ""
        if ended { parts.removeLast() }
        return parts.enumerated().map { Line(text: $0.element, ended: $0.offset < parts.count - 1 || ended) }
    }

    enum Op: Equatable { case same(Int, Int), removed(Int), added(Int) }

    static func commonEnds(_ a: [Line], _ b: [Line]) -> (prefix: Int, suffix: Int) {
        var p = 0
        while p < a.count && p < b.count && a[p] == b[p] { p += 1 }
        var s = 0
        while s < a.count - p && s < b.count - p && a[a.count - 1 - s] == b[b.count - 1 - s] { s += 1 }
        return (p, s)
    }

    /// The edit script from `a` to `b` (indices into them), or nil when the middle is too big.
    static func script(_ a: [Line], _ b: [Line], maxCells: Int) -> [Op]? {
        let (p, s) = commonEnds(a, b)
        let n = a.count - p - s, m = b.count - p - s
        guard n == 0 || m == 0 || n * m <= maxCells else { return nil }
        var ops: [Op] = (0..<p).map { .same($0, $0) }
        // Lines as numbers: comparing them in the table is then cheap.
        var ids: [Line: Int32] = [:]
        func id(_ l: Line) -> Int32 {
            if let known = ids[l] { return known }
            let new = Int32(ids.count)
            ids[l] = new
            return new
        }
        let x = a[p..<(p + n)].map(id), y = b[p..<(p + m)].map(id)
        // table[i][j]: LCS length of x[i...] and y[j...], row-major, (n+1) × (m+1).
        let w = m + 1
        var table = [Int32](repeating: 0, count: (n + 1) * w)
        if n > 0 && m > 0 {
            for i in stride(from: n - 1, through: 0, by: -1) {
                for j in stride(from: m - 1, through: 0, by: -1) {
                    table[i * w + j] = x[i] == y[j] ? table[(i + 1) * w + j + 1] + 1 : max(table[(i + 1) * w + j], table[i * w + j + 1])
                }
            }
        }
        var i = 0, j = 0
        while i < n || j < m {
            if i < n && j < m && x[i] == y[j] {
                ops.append(.same(p + i, p + j)); i += 1; j += 1
            } else if j < m && (i == n || table[i * w + j + 1] >= table[(i + 1) * w + j]) {
                ops.append(.added(p + j)); j += 1
            } else {
                ops.append(.removed(p + i)); i += 1
            }
        }
        // Within a run of changes, removals first (as diff prints them).
        var k = p
        var sorted = Array(ops[..<p])
        while k < ops.count {
            if case .same = ops[k] { sorted.append(ops[k]); k += 1; continue }
            var removed: [Op] = [], added: [Op] = []
            while k < ops.count {
                if case .same = ops[k] { break }
                if case .added = ops[k] { added.append(ops[k]) } else { removed.append(ops[k]) }
                k += 1
            }
            sorted += removed + added
        }
        for t in 0..<s { sorted.append(.same(a.count - s + t, b.count - s + t)) }
        return sorted
    }

    /// Groups the script into hunks with `context` lines around each change; changes closer
    /// than twice the context share a hunk.
    static func hunks(_ ops: [Op], _ a: [Line], _ b: [Line], context: Int) -> [String] {
        let changed = ops.indices.filter { if case .same = ops[$0] { return false } else { return true } }
        guard !changed.isEmpty else { return [] }
        var groups: [(Int, Int)] = []
        for c in changed {
            if let last = groups.last, c - last.1 - 1 <= 2 * context {
                groups[groups.count - 1].1 = c
            } else {
                groups.append((c, c))
            }
        }
        var out: [String] = []
        for (first, last) in groups {
            let start = max(0, first - context), end = min(ops.count - 1, last + context)
            // The hunk's first line in each text (0-based), and its counts.
            var oldStart = 0, newStart = 0
            for op in ops[..<start] {
                switch op {
                case .same: oldStart += 1; newStart += 1
                case .removed: oldStart += 1
                case .added: newStart += 1
                }
            }
            var body: [String] = []
            var oldCount = 0, newCount = 0
            func emit(_ mark: String, _ line: Line) {
                body.append(mark + line.text)
                if !line.ended { body.append("\\ No newline at end of file") }
            }
            for op in ops[start...end] {
                switch op {
                case .same(let i, _): emit(" ", a[i]); oldCount += 1; newCount += 1
                case .removed(let i): emit("-", a[i]); oldCount += 1
                case .added(let j): emit("+", b[j]); newCount += 1
                }
            }
            out.append("@@ \(range("-", oldStart, oldCount)) \(range("+", newStart, newCount)) @@")
            out += body
        }
        return out
    }

    /// `-a,b` as diff writes it: 1-based start, `,1` left out, an empty range starts at the line before.
    static func range(_ sign: String, _ start: Int, _ count: Int) -> String {
        switch count {
        case 0: return "\(sign)\(start),0"
        case 1: return "\(sign)\(start + 1)"
        default: return "\(sign)\(start + 1),\(count)"
        }
    }
}
