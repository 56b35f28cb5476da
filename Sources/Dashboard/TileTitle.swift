import TerminalUI

/// One piece of a tile's title, drawn in its role's colour; a `chip` is drawn reversed (the
/// coloured state badge).
public struct TitlePiece: Equatable, Sendable {
    public var text: String
    public var role: Theme.Role
    public var chip: Bool
    public init(_ text: String, _ role: Theme.Role, chip: Bool = false) { self.text = text; self.role = role; self.chip = chip }
}

/// The title in a tile's top border: number and name, kind, a coloured state chip, then the
/// figures that fit, most useful first (step, tokens, cost, uptime, restarts). Pure. A figure
/// that does not fit whole is left out, never cut; only a name too long for the tile is cut,
/// and then it ends in "…".
public enum TileTitle {
    /// Pieces to draw in `width` columns, separated by one blank (the caller draws them in order).
    public static func compose(_ model: AgentTileModel, width: Int) -> [TitlePiece] {
        guard width > 0 else { return [] }
        let number = model.index + 1 <= 9 ? "\(model.index + 1) " : ""
        let chip = TitlePiece(" \(model.state.label) ", model.state.role, chip: true)
        var pieces = [TitlePiece(number + model.name, .header), TitlePiece(model.kind, .muted), chip]
        if TileTitle.width(pieces) > width {
            // Drop the kind, then cut the name; the chip stays whenever it fits at all.
            pieces.remove(at: 1)
            let room = width - TextWidth.columns(chip.text) - 1
            if room >= 2 {
                pieces[0].text = TextWidth.prefix(pieces[0].text, columns: room)
            } else {
                return [TitlePiece(TextWidth.prefix(chip.text, columns: width), chip.role, chip: true)]
            }
            return pieces
        }
        for figure in figures(model) where TileTitle.width(pieces + [figure]) <= width {
            pieces.append(figure)
        }
        return pieces
    }

    /// The figures in order of usefulness.
    static func figures(_ model: AgentTileModel) -> [TitlePiece] {
        var list: [TitlePiece] = []
        if let attention = model.attention { list.append(TitlePiece(" ! \(attention) ", .waiting, chip: true)) }
        if let step = model.step { list.append(TitlePiece(step, .text)) }
        if let tokens = model.tokens { list.append(TitlePiece(tokens, .text)) }
        if let cost = model.cost { list.append(TitlePiece(cost, .text)) }
        if let uptime = model.uptime { list.append(TitlePiece(uptime, .muted)) }
        if model.restarts > 0 { list.append(TitlePiece("↻\(model.restarts)", .waiting)) }
        return list
    }

    /// Columns the pieces take, one blank between each.
    public static func width(_ pieces: [TitlePiece]) -> Int {
        pieces.reduce(0) { $0 + TextWidth.columns($1.text) } + max(0, pieces.count - 1)
    }

    /// The pieces as plain text (tests, and the list view's first column).
    public static func text(_ pieces: [TitlePiece]) -> String { pieces.map(\.text).joined(separator: " ") }
}

/// Terminal columns of text, without a terminal: East Asian wide and emoji ranges take 2,
/// combining marks and controls 0. Pure (the renderer's wcwidth agrees on what the dashboard
/// writes itself: names, figures, labels).
public enum TextWidth {
    public static func columns(_ scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v < 0x20 || (v >= 0x7F && v < 0xA0) { return 0 }
        if (0x0300...0x036F).contains(v) || (0x200B...0x200F).contains(v) || (0xFE00...0xFE0F).contains(v) { return 0 }
        if (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
            || (0xFFE0...0xFFE6).contains(v) || (0x1F300...0x1F64F).contains(v) || (0x1F900...0x1F9FF).contains(v)
            || (0x20000...0x3FFFD).contains(v) { return 2 }
        return 1
    }

    public static func columns(_ text: String) -> Int { text.unicodeScalars.reduce(0) { $0 + columns($1) } }

    /// `text` cut to `columns`, ending in "…" when cut.
    public static func prefix(_ text: String, columns limit: Int) -> String {
        guard limit > 0 else { return "" }
        if columns(text) <= limit { return text }
        var out = String.UnicodeScalarView()
        var used = 0
        for scalar in text.unicodeScalars {
            let w = columns(scalar)
            if used + w > limit - 1 { break }
            out.append(scalar)
            used += w
        }
        return String(out) + "…"
    }

    /// `text` padded with blanks (or cut with "…") to exactly `columns`.
    public static func pad(_ text: String, columns limit: Int) -> String {
        let cut = prefix(text, columns: limit)
        return cut + String(repeating: " ", count: max(0, limit - columns(cut)))
    }
}
