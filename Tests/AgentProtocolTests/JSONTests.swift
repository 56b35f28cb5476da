import AgentProtocol
import XCTest

/// The one JSON writer and parser (events, state files, model requests through `JSONValue`).
final class JSONTests: XCTestCase {
    func testStringEscapes() {
        let s = "q\" b\\ n\n r\r t\t bs\u{8} ff\u{C} nul\u{0} del\u{7F} ls\u{2028} ps\u{2029} é ✓ \u{E2}"
        let text = OrderedJSON.string(s).serialized()
        XCTAssertEqual(text, #""q\" b\\ n\n r\r t\t bs\b ff\f nul\u0000 del\u007f ls\u2028 ps\u2029 é ✓ â""#)
        XCTAssertEqual(try OrderedJSON.parse(Array(text.utf8)), .string(s))
        // The caps count escapes as written.
        for ch in ["\u{8}", "\u{2028}", "\u{7F}", "é"] {
            let long = String(repeating: ch, count: 1000)
            let (kept, cut) = EventCaps.capped(long, jsonBytes: 600)
            XCTAssertTrue(cut)
            XCTAssertLessThanOrEqual(OrderedJSON.string(kept).serialized().utf8.count - 2, 600, ch.debugDescription)
            XCTAssertGreaterThan(OrderedJSON.string(kept).serialized().utf8.count - 2, 590, ch.debugDescription)
        }
    }

    func testParserLimitsAndInvalidUTF8() {
        let deep = Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8)
        XCTAssertThrowsError(try OrderedJSON.parse(deep))
        XCTAssertNoThrow(try OrderedJSON.parse(deep, maxDepth: 512))
        let bad: [UInt8] = [0x22, 0x61, 0xFF, 0x22]
        XCTAssertThrowsError(try OrderedJSON.parse(bad))
        XCTAssertEqual(try OrderedJSON.parse(bad, replacingInvalidUTF8: true), .string("a\u{FFFD}"))
    }
}
