import Hosting
import XCTest

final class OneLineTests: XCTestCase {
    /// Line breaks become spaces: "time\nfor" never reads "timefor".
    func testWhitespaceRunsBecomeOneSpace() {
        XCTAssertEqual(oneLine("the current time\nfor the log"), "the current time for the log")
        XCTAssertEqual(oneLine("  a \t\r\n\n  b  \n"), "a b")
        XCTAssertEqual(oneLine("after step 6\n6 commands"), "after step 6 6 commands")
        XCTAssertEqual(oneLine("crlf\r\nline"), "crlf line")
        XCTAssertEqual(oneLine("\n \t"), "")
        XCTAssertEqual(oneLine("café 日本\u{2028}x"), "café 日本 x")
    }

    func testCutAtAWordBoundaryWithAnEllipsis() {
        XCTAssertEqual(oneLine("hello brave new world", width: 12), "hello brave…")
        XCTAssertEqual(oneLine("hello brave new world", width: 11), "hello…")
        XCTAssertEqual(oneLine("hello world", width: 11), "hello world")
        // No boundary in the second half of the room: cut inside the word.
        XCTAssertEqual(oneLine("a supercalifragilistic", width: 10), "a superca…")
        XCTAssertEqual(oneLine("abc", width: 1), "…")
        XCTAssertEqual(oneLine("abc", width: 0), "")
        for width in 1...30 {
            XCTAssertLessThanOrEqual(oneLine("one two three four five six seven", width: width).count, width)
        }
    }
}
