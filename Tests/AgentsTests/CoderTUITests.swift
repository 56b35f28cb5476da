import TerminalUI
import XCTest
@testable import Agents

final class CoderTUIModelTests: XCTestCase {
    func testAltEnterAndCtrlJAreNewlines() {
        var d = KeyDecoder()
        XCTAssertEqual(d.decode([.char("a"), .escape, .enter, .char("b"), .control("j"), .enter]),
                       [.key(.char("a")), .newline, .key(.char("b")), .newline, .key(.enter)])
    }

    func testBracketedPasteIsOneAction() {
        var d = KeyDecoder()
        let start: [Key] = [.escape, .char("["), .char("2"), .char("0"), .char("0"), .char("~")]
        let end: [Key] = [.escape, .char("["), .char("2"), .char("0"), .char("1"), .char("~")]
        let body: [Key] = [.char("x"), .enter, .char("y"), .escape, .char("q")]
        // Split across two reads.
        var actions = d.decode(start + body.prefix(2))
        actions += d.decode(Array(body.dropFirst(2)) + end + [.enter])
        XCTAssertEqual(actions, [.paste("x\nyq"), .key(.enter)])
    }

    func testLoneEscapeAndAltKey() {
        var d = KeyDecoder()
        XCTAssertEqual(d.decode([.escape]), [.escape])
        XCTAssertEqual(d.decode([.escape, .char("x")]), [.escape, .key(.char("x"))])
    }

    func testEditorMultilineAndHistory() {
        var e = InputEditor()
        e.insert("hello")
        e.newline()
        e.insert("world")
        XCTAssertEqual(e.text, "hello\nworld")
        e.up()
        XCTAssertEqual(e.row, 0)
        e.end()
        e.backspace()
        XCTAssertEqual(e.text, "hell\nworld")
        e.down(); e.home(); e.backspace()
        XCTAssertEqual(e.text, "hellworld")
        XCTAssertEqual(e.submit(), "hellworld")
        XCTAssertTrue(e.isEmpty)
        e.insert("second")
        _ = e.submit()
        e.insert("draft")
        e.up()
        XCTAssertEqual(e.text, "second")
        e.up()
        XCTAssertEqual(e.text, "hellworld")
        e.down(); e.down()
        XCTAssertEqual(e.text, "draft")
        e.deleteWordBack()
        XCTAssertTrue(e.isEmpty)
        e.insert("a\r\nb")
        XCTAssertEqual(e.text, "a\nb")
    }

    func testDiffLinesAreIndentedAndTaggedForColour() {
        let lines = TranscriptEntry.diffLines("@@ -1 +1 @@\n-old\n+new text here\n ctx", width: 12)
        XCTAssertEqual(lines.map(\.0), ["    @@ -1", "    +1 @@", "    -old", "    +new", "    text", "    here", "     ctx"])
        XCTAssertEqual(lines.map(\.1), [.hunk, .hunk, .removed, .added, .added, .added, .diff])
    }

    func testWrapKeepsWordsAndWideCharacters() {
        XCTAssertEqual(TextWrap.wrap("the quick brown fox", width: 10), ["the quick", "brown fox"])
        XCTAssertEqual(TextWrap.wrap("abcdefghij12", width: 5), ["abcde", "fghij", "12"])
        XCTAssertEqual(TextWrap.wrap("a\n\nb", width: 5), ["a", "", "b"])
        XCTAssertEqual(TextWrap.columns("日"), 2)
        XCTAssertEqual(TextWrap.wrap("日本語日本語", width: 5), ["日本", "語日", "本語"])
    }
}
