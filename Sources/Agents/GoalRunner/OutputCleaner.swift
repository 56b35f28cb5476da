import Hosting

/// Turns what a command wrote to its terminal into what the model reads. Pure.
///
/// | rule | what it does |
/// | --- | --- |
/// | `\r` | a carriage return (progress bars redrawing a line) becomes a line break; `\r\n` is one break |
/// | escapes | terminal control sequences (colours, cursor moves, titles) and other control bytes go (`TerminalTextStripper`) |
/// | trailing space | spaces and tabs at line ends go |
/// | blank lines | lines that are empty or only whitespace go |
/// | duplicates | a line equal to the line before it goes (progress bars, spinners, repeated warnings) |
public enum OutputCleaner {
    public static func clean(_ text: String) -> String {
        cleanStripped(TerminalTextStripper.strip(text))
    }

    public static func clean(bytes: [UInt8]) -> String {
        cleanStripped(String(decoding: TerminalTextStripper.strip(bytes), as: UTF8.self))
    }

    /// Cleans text that has already been through `TerminalTextStripper`.
    public static func cleanStripped(_ text: String) -> String {
        var out: [Substring] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            var line = raw
            while let last = line.last, last == " " || last == "\t" { line = line.dropLast() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            if let previous = out.last, previous == line { continue }
            out.append(line)
        }
        return out.joined(separator: "\n")
    }

    /// The last `n` lines of cleaned text, with a note of how many were left out (the empty
    /// piece after a final line break is not a line).
    public static func lastLines(_ text: String, _ n: Int) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.count > 1 && lines.last == "" { lines.removeLast() }
        guard lines.count > n else { return text }
        return "[\(lines.count - n) earlier lines not shown]\n" + lines.suffix(n).joined(separator: "\n")
    }
}
