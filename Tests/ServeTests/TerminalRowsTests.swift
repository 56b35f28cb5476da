import XCTest
@testable import Serve

final class TerminalRowsTests: XCTestCase {
    /// A redraw (clear, home) leaves only the last frame; bare newlines start at column 0;
    /// only the last `rows` rows stay, and long lines wrap at `cols`.
    func testRowsAreWhatATerminalShows() {
        let frames = Array("\u{1b}[H\u{1b}[2Jframe 1\r\ncpu 10%\r\n\u{1b}[H\u{1b}[2J\u{1b}[1mframe 2\u{1b}[0m\r\ncpu 20%\r\n".utf8)
        XCTAssertEqual(TerminalRows.render(frames, rows: 5, cols: 20), ["frame 2", "cpu 20%"])
        XCTAssertEqual(TerminalRows.render(Array("one\ntwo\nthree\n".utf8), rows: 2, cols: 20), ["three"])
        XCTAssertEqual(TerminalRows.render(Array("abcdefghij".utf8), rows: 3, cols: 4), ["abcd", "efgh", "ij"])
        XCTAssertEqual(TerminalRows.render(Array("progress 10%\rprogress 99%".utf8), rows: 2, cols: 20), ["progress 99%"])
    }
}
