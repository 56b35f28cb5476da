import VTScreen

/// An agent's terminal as text rows for the web page (pure): log bytes through a libvterm
/// screen, so cursor moves, clears and redraws land where a terminal puts them.
public enum TerminalRows {
    /// The screen's rows after `bytes`, trailing blank rows dropped.
    public static func render(_ bytes: [UInt8], rows: Int, cols: Int) -> [String] {
        let screen = VirtualScreen(rows: rows, cols: cols, scrollback: 0)
        // Output written for a newline-only terminal (a bare `\n`) still starts each line at
        // column 0, as the pane's terminal does with its default `onlcr`.
        var cooked: [UInt8] = []
        cooked.reserveCapacity(bytes.count + bytes.count / 16)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 0x0A && previous != 0x0D { cooked.append(0x0D) }
            cooked.append(byte)
            previous = byte
        }
        screen.feed(cooked)
        var lines = screen.text()
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }
}
