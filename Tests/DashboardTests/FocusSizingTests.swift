@testable import Dashboard
import XCTest

final class FocusSizingTests: XCTestCase {
    let sizes: [Int: PaneSize] = [0: PaneSize(rows: 50, cols: 200), 1: PaneSize(rows: 50, cols: 200)]

    func testTheFocusedPaneTakesTheFocusAreaAndGetsItsSizeBack() {
        let area = FocusSizing.area(width: 80, height: 24)
        XCTAssertEqual(area, PaneSize(rows: 20, cols: 78), "between the bars, inside the border")
        var s = FocusSizing.idle
        var effects: [SizeEffect]
        (s, effects) = s.next(focused: 0, area: area) { self.sizes[$0] }
        XCTAssertEqual(effects, [.resize(agent: 0, to: area)])
        (s, effects) = s.next(focused: 0, area: area) { _ in XCTFail("no need to ask"); return nil }
        XCTAssertEqual(effects, [], "already sized")
        // The terminal grows: the same agent follows, its original size is remembered.
        let bigger = FocusSizing.area(width: 200, height: 50)
        (s, effects) = s.next(focused: 0, area: bigger) { _ in PaneSize(rows: 20, cols: 78) }
        XCTAssertEqual(effects, [.resize(agent: 0, to: bigger)])
        XCTAssertEqual(s, .sized(agent: 0, original: PaneSize(rows: 50, cols: 200), applied: bigger))
        // Tab to the next agent: the first gets its size back, the second is sized.
        (s, effects) = s.next(focused: 1, area: bigger) { self.sizes[$0] }
        XCTAssertEqual(effects, [.restore(agent: 0, to: PaneSize(rows: 50, cols: 200)), .resize(agent: 1, to: bigger)])
        // Leaving the focus view.
        (s, effects) = s.next(focused: nil, area: bigger) { self.sizes[$0] }
        XCTAssertEqual(effects, [.restore(agent: 1, to: PaneSize(rows: 50, cols: 200))])
        XCTAssertEqual(s, .idle)
        // An agent whose size is unknown is left alone.
        (s, effects) = s.next(focused: 3, area: bigger) { _ in nil }
        XCTAssertEqual(effects, [])
    }
}
