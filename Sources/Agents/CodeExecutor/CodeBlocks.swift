import Foundation

/// Finds the Python code the model wants run in its answer. Two forms, in the order they appear:
///
/// - a fenced block whose info string is `python`, `py` or `python3` (any case):
///   a line of three or more backticks plus the language, the code, a line of at least as many
///   backticks;
/// - a tag block: `<python>` code `</python>` (the tags may share lines with the code).
///
/// Other fences (```bash, ```text, an untagged ```) are shown, never run.
public struct CodeBlockScan: Equatable {
    public var blocks: [String]
    /// A python fence or `<python>` tag that never closed (the answer was cut off): not run.
    public var unterminated: Bool
}

public enum CodeBlocks {
    public static func scan(_ original: String) -> CodeBlockScan {
        let text = original.replacingOccurrences(of: "\r\n", with: "\n")
        var found: [(Int, String)] = []
        var unterminated = false

        // Fenced blocks, line by line (offsets in characters of `lines` order).
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var offset = 0
        var lineOffsets: [Int] = []
        for line in lines { lineOffsets.append(offset); offset += line.count + 1 }
        var fencedRanges: [Range<Int>] = []
        var i = 0
        while i < lines.count {
            let line = lines[i]
            let trimmed = line.drop { $0 == " " }
            guard line.count - trimmed.count <= 3 else { i += 1; continue }
            let ticks = trimmed.prefix { $0 == "`" }.count
            guard ticks >= 3 else { i += 1; continue }
            let info = trimmed.dropFirst(ticks).trimmingCharacters()
            let language = info.split(separator: " ").first.map { $0.lowercased() } ?? ""
            // Find the closing fence (any fence opens a region, so ``` inside ```bash is skipped).
            var j = i + 1
            var closed = false
            while j < lines.count {
                let t = lines[j].drop { $0 == " " }
                let closing = t.prefix { $0 == "`" }.count
                if closing >= ticks && t.dropFirst(closing).trimmingCharacters().isEmpty { closed = true; break }
                j += 1
            }
            let isPython = ["python", "py", "python3"].contains(language)
            if isPython {
                if closed {
                    found.append((lineOffsets[i], lines[(i + 1)..<j].joined(separator: "\n")))
                } else {
                    unterminated = true
                }
            }
            let end = closed ? j : lines.count - 1
            fencedRanges.append(lineOffsets[i]..<(lineOffsets[end] + lines[end].count + 1))
            i = closed ? j + 1 : lines.count
        }

        // Tag blocks outside fences.
        let chars = Array(text)
        let open = Array("<python>"), close = Array("</python>")
        var k = 0
        while k + open.count <= chars.count {
            if let r = fencedRanges.first(where: { $0.contains(k) }) { k = r.upperBound; continue }
            if chars[k] == "<" && Array(chars[k..<(k + open.count)]) == open {
                let bodyStart = k + open.count
                var m = bodyStart
                var end: Int?
                while m + close.count <= chars.count {
                    if chars[m] == "<" && Array(chars[m..<(m + close.count)]) == close { end = m; break }
                    m += 1
                }
                guard let end else { unterminated = true; break }
                var body = String(chars[bodyStart..<end])
                if body.hasPrefix("\n") { body.removeFirst() }
                if body.hasSuffix("\n") { body.removeLast() }
                found.append((k, body))
                k = end + close.count
                continue
            }
            k += 1
        }
        let blocks = found.sorted { $0.0 < $1.0 }.map(\.1).filter { !$0.trimmingCharacters().isEmpty }
        return CodeBlockScan(blocks: blocks, unterminated: unterminated)
    }
}

extension StringProtocol {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
