import AgentProtocol
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

    /// Colours and attributes come as runs of cells that look the same, each look sent once;
    /// a plain row has no runs, a reverse-video fill keeps its blanks.
    func testColoursAndAttributesComeAsRuns() {
        let bytes = Array("plain \u{1b}[31mred\u{1b}[0m \u{1b}[1;4;44mbold\u{1b}[0m\r\n\u{1b}[7m bar \u{1b}[0m\r\nno colour\r\n\u{1b}[38;2;1;2;3mrgb\u{1b}[38;5;196m!\u{1b}[31m.".utf8)
        let s = TerminalRows.styled(bytes, rows: 6, cols: 30)
        XCTAssertEqual(s.rows, ["plain red bold", " bar", "no colour", "rgb!."])
        XCTAssertEqual(s.spans.count, 4)
        XCTAssertEqual(s.spans[0]?.map(\.text), ["plain ", "red", " ", "bold"])
        XCTAssertEqual(s.spans[0]?.map(\.style), [0, 1, 0, 2])
        XCTAssertEqual(s.styles[1], TerminalRows.Style(fg: "#cd0000"))
        XCTAssertEqual(s.styles[2].bg, "#0000ee")
        XCTAssertTrue(s.styles[2].bold && s.styles[2].underline && !s.styles[2].reverse)
        XCTAssertEqual(s.spans[1]?.map(\.text), [" bar "])
        XCTAssertTrue(s.styles[s.spans[1]![0].style].reverse)
        XCTAssertNil(s.spans[2], "a plain row has no runs")
        XCTAssertEqual(s.spans[3]?.map(\.text), ["rgb", "!", "."])
        XCTAssertEqual(s.spans[3]?.map { s.styles[$0.style].fg }, ["#010203", "#ff0000", "#cd0000"])
        XCTAssertEqual(s.spans[3]?[2].style, 1, "a look is sent once")
        let json = OrderedJSON.object(s.jsonFields).serialized()
        XCTAssertTrue(json.contains(##""styles":[{},{"fg":"#cd0000"},{"bg":"#0000ee","b":1,"u":1}"##), json)
        XCTAssertTrue(json.contains(#""spans":[[["plain ",0],["red",1],[" ",0],["bold",2]],[[" bar ",3]],null,"#), json)
    }
}
