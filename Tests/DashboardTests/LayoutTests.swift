@testable import Dashboard
@testable import TerminalUI
import XCTest

final class LayoutTests: XCTestCase {
    func assertTiles(_ rects: [Rect], inside width: Int, _ height: Int, file: StaticString = #filePath, line: UInt = #line) {
        for (i, r) in rects.enumerated() {
            XCTAssertGreaterThanOrEqual(r.width, TileLayout.minTileWidth, "\(r)", file: file, line: line)
            XCTAssertGreaterThanOrEqual(r.height, TileLayout.minTileHeight, "\(r)", file: file, line: line)
            XCTAssertTrue(r.x >= 0 && r.y >= 0 && r.maxX <= width && r.maxY <= height, "\(r) outside \(width)x\(height)", file: file, line: line)
            for other in rects[(i + 1)...] {
                let overlap = r.x < other.maxX && other.x < r.maxX && r.y < other.maxY && other.y < r.maxY
                XCTAssertFalse(overlap, "\(r) overlaps \(other)", file: file, line: line)
            }
        }
    }

    func testOneAgentFillsTheArea() {
        XCTAssertEqual(TileLayout.compute(count: 1, width: 120, height: 40), [Rect(x: 0, y: 0, width: 120, height: 40)])
    }

    func testSeveralAgentsFitWithoutOverlap() {
        for count in 1...12 {
            let rects = TileLayout.compute(count: count, width: 200, height: 48)
            XCTAssertEqual(rects.count, count)
            assertTiles(rects, inside: 200, 48)
        }
    }

    func testThreeAgentsOnAWideTerminalSitSideBySide() {
        let rects = TileLayout.compute(count: 3, width: 160, height: 38)
        XCTAssertEqual(Set(rects.map(\.y)), [0])
        XCTAssertEqual(rects.map(\.height), [38, 38, 38])
    }

    func testTinyTerminalHasNoTiles() {
        XCTAssertEqual(TileLayout.compute(count: 3, width: 10, height: 3), [])
        XCTAssertEqual(TileLayout.compute(count: 0, width: 100, height: 30), [])
        XCTAssertFalse(ScreenLayout(width: 39, height: 30).fits)
        XCTAssertFalse(ScreenLayout(width: 80, height: 7).fits)
        XCTAssertTrue(ScreenLayout(width: 40, height: 8).fits)
    }

    func testTooManyAgentsArePaged() {
        let rects = TileLayout.compute(count: 50, width: 80, height: 22)
        XCTAssertEqual(rects.count, TileLayout.capacity(width: 80, height: 22))
        XCTAssertLessThan(rects.count, 50)
        assertTiles(rects, inside: 80, 22)
        let perPage = rects.count
        XCTAssertEqual(TileLayout.page(count: 50, perPage: perPage, selected: 0).first, 0)
        XCTAssertEqual(TileLayout.page(count: 50, perPage: perPage, selected: perPage).first, perPage)
        let last = TileLayout.page(count: 50, perPage: perPage, selected: 49)
        XCTAssertEqual(last.first + last.count, 50)
    }

    func testHugeTerminal() {
        let rects = TileLayout.compute(count: 20, width: 1000, height: 400)
        XCTAssertEqual(rects.count, 20)
        assertTiles(rects, inside: 1000, 400)
        let area = rects.reduce(0) { $0 + $1.width * $1.height }
        XCTAssertGreaterThan(area, 1000 * 400 * 8 / 10, "tiles should use most of the screen")
    }

    func testScreenLayoutPutsTilesBetweenBars() {
        let layout = ScreenLayout(width: 100, height: 30)
        let tiles = layout.tiles(count: 4)
        XCTAssertTrue(tiles.allSatisfy { $0.y >= 1 && $0.maxY <= 29 })
        XCTAssertEqual(layout.helpLine.y, 29)
    }

    func testCropFollowsTheCursor() {
        XCTAssertEqual(Crop.firstRow(screenRows: 50, areaHeight: 10, cursorRow: 3, lastUsedRow: 3), 0)
        XCTAssertEqual(Crop.firstRow(screenRows: 50, areaHeight: 10, cursorRow: 49, lastUsedRow: 49), 40)
        XCTAssertEqual(Crop.firstRow(screenRows: 50, areaHeight: 10, cursorRow: 20, lastUsedRow: 20), 11)
        XCTAssertEqual(Crop.firstRow(screenRows: 8, areaHeight: 10, cursorRow: 7, lastUsedRow: 7), 0)
    }
}
