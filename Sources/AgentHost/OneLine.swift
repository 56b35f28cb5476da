/// A one-line summary of any text, for titles, tiles, timelines and tables: every run of
/// whitespace (spaces, tabs, line breaks, other control characters) becomes one space, so
/// "time\nfor" reads "time for" and never "timefor"; leading and trailing whitespace goes.
/// Longer than `width` characters, it is cut at the last word boundary that fits (or inside a
/// word longer than the room) and ends in "…", the whole still at most `width` characters.
/// Pure; widths count Characters (a wide character counts one: the screen clips by columns).
public func oneLine(_ text: String, width: Int = Int.max) -> String {
    var out = ""
    var pendingSpace = false
    for c in text {
        if c.unicodeScalars.allSatisfy({ $0.value <= 0x20 || $0.value == 0x7F || $0 == "\u{85}" || $0 == "\u{2028}" || $0 == "\u{2029}" }) {
            pendingSpace = !out.isEmpty
            continue
        }
        if pendingSpace { out.append(" "); pendingSpace = false }
        out.append(c)
    }
    guard width > 0 else { return "" }
    guard out.count > width else { return out }
    if width == 1 { return "…" }
    // Room for width - 1 characters and the ellipsis. A cut on a word boundary (a space, also
    // the one just past the room) when one is in the second half of the room; else mid-word.
    let reach = out.prefix(width)
    if let space = reach.lastIndex(of: " "), reach.distance(from: reach.startIndex, to: space) >= (width - 1) / 2 {
        return String(reach[..<space]) + "…"
    }
    var cut = String(out.prefix(width - 1))
    while cut.last == " " { cut.removeLast() }
    return cut + "…"
}
