import TerminalUI

/// Where the tiles go. Pure: a function of the agent count and the area.
public enum TileLayout {
    /// Smallest useful tile: its border (the title in the top edge) around three lines of the
    /// agent's screen.
    public static let minTileWidth = 24
    public static let minTileHeight = 5

    /// Tiles for up to `count` agents filling `width` x `height` (the area below the status bar
    /// and above the help line, origin 0,0). Tiles in one row are separated by one blank column.
    /// When all `count` do not fit at the minimum tile size, returns as many as fit (a page);
    /// the caller pages through the rest. Never returns a tile smaller than the minimum; returns
    /// no tile at all when not even one fits.
    public static func compute(count: Int, width: Int, height: Int) -> [Rect] {
        guard count > 0, width >= minTileWidth, height >= minTileHeight else { return [] }
        let n = min(count, capacity(width: width, height: height))
        var best: (score: Double, columns: Int)? = nil
        for columns in 1...n {
            let rows = (n + columns - 1) / columns
            let w = (width - (columns - 1)) / columns
            let h = height / rows
            guard w >= minTileWidth, h >= minTileHeight else { continue }
            // Terminal cells are about twice as tall as wide: weigh a column of text as 1/2.5
            // of a line, and prefer the arrangement whose smallest side is largest.
            let score = min(Double(w) / 2.5, Double(h - 1)) * 1000 - Double(rows * columns - n)
            if best == nil || score > best!.score { best = (score, columns) }
        }
        guard let columns = best?.columns else { return [] }
        let rows = (n + columns - 1) / columns
        var rects: [Rect] = []
        rects.reserveCapacity(n)
        for index in 0..<n {
            let row = index / columns, column = index % columns
            // Spread the remainder so the grid fills the area exactly.
            let x0 = column * (width + 1) / columns
            let x1 = (column + 1) * (width + 1) / columns - 1
            let y0 = row * height / rows
            let y1 = (row + 1) * height / rows
            // The last row may hold fewer tiles: they share its width.
            if row == rows - 1, n % columns != 0 {
                let inLast = n - row * columns
                let lx0 = column * (width + 1) / inLast
                let lx1 = (column + 1) * (width + 1) / inLast - 1
                rects.append(Rect(x: lx0, y: y0, width: lx1 - lx0, height: y1 - y0))
            } else {
                rects.append(Rect(x: x0, y: y0, width: x1 - x0, height: y1 - y0))
            }
        }
        return rects
    }

    /// How many minimum-size tiles fit.
    public static func capacity(width: Int, height: Int) -> Int {
        guard width >= minTileWidth, height >= minTileHeight else { return 0 }
        return ((width + 1) / (minTileWidth + 1)) * (height / minTileHeight)
    }

    /// The page of tiles holding `selected`, when only `perPage` fit: (first index, count).
    public static func page(count: Int, perPage: Int, selected: Int) -> (first: Int, count: Int) {
        guard perPage > 0, count > 0 else { return (0, 0) }
        let first = (max(0, min(selected, count - 1)) / perPage) * perPage
        return (first, min(perPage, count - first))
    }
}

/// The whole screen: status bar on top, help line at the bottom, content between.
public struct ScreenLayout: Equatable {
    public static let minWidth = 40
    public static let minHeight = 8

    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }

    /// False when the terminal is too small to draw anything but a notice.
    public var fits: Bool { width >= ScreenLayout.minWidth && height >= ScreenLayout.minHeight }
    public var statusBar: Rect { Rect(x: 0, y: 0, width: width, height: 1) }
    public var helpLine: Rect { Rect(x: 0, y: height - 1, width: width, height: 1) }
    public var content: Rect { Rect(x: 0, y: 1, width: width, height: max(0, height - 2)) }

    /// Tile rectangles in screen coordinates.
    public func tiles(count: Int) -> [Rect] {
        let c = content
        return TileLayout.compute(count: count, width: c.width, height: c.height).map {
            Rect(x: $0.x + c.x, y: $0.y + c.y, width: $0.width, height: $0.height)
        }
    }
}

/// How an agent's screen (its real pane size) is shown in a smaller (or larger) area: cropped,
/// never squeezed. A full-screen program (alternate screen) shows its top rows, where such
/// programs put their headers, so a tile never shows a misleading slice of the middle. Text
/// keeps the cursor in view: when the cursor row is below the area, the view scrolls down so
/// the bottom of what the agent wrote is visible.
public enum Crop {
    /// The first screen row to show for an area of `height` rows.
    public static func firstRow(screenRows: Int, areaHeight: Int, cursorRow: Int, lastUsedRow: Int, fullScreen: Bool = false) -> Int {
        guard screenRows > areaHeight, areaHeight > 0, !fullScreen else { return 0 }
        let bottom = max(cursorRow, lastUsedRow)
        let first = bottom - areaHeight + 1
        return max(0, min(first, screenRows - areaHeight))
    }
}
