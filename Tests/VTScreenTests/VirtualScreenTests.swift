import XCTest
import VTScreen

let ESC = "\u{1B}"

func screen(_ rows: Int = 5, _ cols: Int = 20, _ input: String = "", scrollback: Int = 1000) -> VirtualScreen {
    let s = VirtualScreen(rows: rows, cols: cols, scrollback: scrollback)
    s.feed(input)
    return s
}

func assertSameScreen(_ a: VirtualScreen, _ b: VirtualScreen, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.rows, b.rows, "rows", file: file, line: line)
    XCTAssertEqual(a.cols, b.cols, "cols", file: file, line: line)
    XCTAssertEqual(a.isAltScreen, b.isAltScreen, "alt screen", file: file, line: line)
    let ca = a.cursor, cb = b.cursor
    XCTAssertEqual([ca.row, ca.col], [cb.row, cb.col], "cursor position", file: file, line: line)
    XCTAssertEqual(ca.visible, cb.visible, "cursor visibility", file: file, line: line)
    var mismatches = 0
    for r in 0..<a.rows {
        for c in 0..<a.cols {
            let x = a.cell(row: r, col: c), y = b.cell(row: r, col: c)
            if x != y {
                mismatches += 1
                if mismatches <= 5 { XCTFail("cell \(r),\(c): \(x) != \(y)", file: file, line: line) }
            }
        }
    }
    XCTAssertEqual(mismatches, 0, "mismatching cells", file: file, line: line)
}

/// Feeds `input` to A, A's repaint to a fresh B, checks they match; then
/// feeds `after` to both and checks again (modes and pen carried over).
@discardableResult
func assertRepaintRoundTrip(rows: Int = 6, cols: Int = 24, _ input: String, after: String = "",
                            file: StaticString = #filePath, line: UInt = #line) -> (VirtualScreen, VirtualScreen) {
    let a = screen(rows, cols, input)
    let b = VirtualScreen(rows: rows, cols: cols)
    b.feed(a.renderRepaint())
    assertSameScreen(a, b, file: file, line: line)
    if !after.isEmpty {
        a.feed(after)
        b.feed(after)
        assertSameScreen(a, b, file: file, line: line)
    }
    return (a, b)
}

final class VirtualScreenTests: XCTestCase {
    /// A reset screen is a new screen: whatever state the old output left (colours, the
    /// alternate screen, hidden cursor, modes, a title, a sequence or a character cut in half),
    /// the same output afterwards gives the same cells, modes and repaint.
    func testResetIsANewScreen() {
        let histories = [
            "plain\r\ntext",
            "\(ESC)[31;1mred\(ESC)[?25l\(ESC)]0;title\u{07}\(ESC)[?2004h\(ESC)[?1000h\(ESC)[?1006h\(ESC)[2;4r",
            "primary\(ESC)[?1049h\(ESC)[Halt screen\(ESC)[?1h",
            "cut in half \(ESC)[38;5;",
            "cut \u{E6}\u{97}",
            "\(ESC)P$q",
        ]
        let after = "after\r\n\(ESC)[32mgreen\(ESC)[0m \u{65E5}\u{672C}"
        for history in histories {
            let reused = screen(6, 24, history, scrollback: 0)
            reused.reset()
            reused.feed(after)
            let fresh = screen(6, 24, after, scrollback: 0)
            assertSameScreen(reused, fresh)
            XCTAssertEqual(reused.modes(), fresh.modes(), "modes after \(history.debugDescription)")
            XCTAssertEqual(reused.renderRepaint(), fresh.renderRepaint(), "repaint after \(history.debugDescription)")
        }
    }

    func testPlainTextAndWrapping() {
        let s = screen(3, 10, "hello\r\n0123456789abc")
        XCTAssertEqual(s.text(), ["hello", "0123456789", "abc"])
        XCTAssertEqual(s.cell(row: 0, col: 1).text, "e")
        XCTAssertEqual(s.cell(row: 0, col: 7).text, "", "never-written cell is empty")
        XCTAssertEqual(s.cursor.row, 2)
        XCTAssertEqual(s.cursor.col, 3)
    }

    func testCarriageReturnAndLineFeed() {
        let s = screen(3, 10, "abcdef\rXY\nZ")
        XCTAssertEqual(s.text(), ["XYcdef", "  Z", ""])
    }

    func testCursorMovementAndErase() {
        let s = screen(4, 10, "\(ESC)[3;5HX\(ESC)[1;1Habcdef\(ESC)[1;3H\(ESC)[K")
        XCTAssertEqual(s.text(), ["ab", "", "    X", ""])
        s.feed("\(ESC)[2J")
        XCTAssertEqual(s.text(), ["", "", "", ""])
        XCTAssertEqual(s.cursor.row, 0)
        XCTAssertEqual(s.cursor.col, 2)
    }

    func testSGRColoursAndAttributes() {
        let s = screen(2, 40, "\(ESC)[31mr\(ESC)[92mg\(ESC)[38;5;200mx\(ESC)[38;2;1;2;3my\(ESC)[0m" +
                              "\(ESC)[44mb\(ESC)[48;5;17mc\(ESC)[48;2;9;8;7md\(ESC)[0m" +
                              "\(ESC)[1;3;4;7;9mA\(ESC)[0mN\(ESC)[4:3mC")
        XCTAssertEqual(s.cell(row: 0, col: 0).foreground, .indexed(1))
        XCTAssertEqual(s.cell(row: 0, col: 1).foreground, .indexed(10))
        XCTAssertEqual(s.cell(row: 0, col: 2).foreground, .indexed(200))
        XCTAssertEqual(s.cell(row: 0, col: 3).foreground, .rgb(1, 2, 3))
        XCTAssertEqual(s.cell(row: 0, col: 3).background, .default)
        XCTAssertEqual(s.cell(row: 0, col: 4).background, .indexed(4))
        XCTAssertEqual(s.cell(row: 0, col: 4).foreground, .default)
        XCTAssertEqual(s.cell(row: 0, col: 5).background, .indexed(17))
        XCTAssertEqual(s.cell(row: 0, col: 6).background, .rgb(9, 8, 7))
        XCTAssertEqual(s.cell(row: 0, col: 7).attributes,
                       Attributes(bold: true, italic: true, underline: .single, reverse: true, strike: true))
        XCTAssertEqual(s.cell(row: 0, col: 8).attributes, .none)
        XCTAssertEqual(s.cell(row: 0, col: 9).attributes.underline, .curly)
    }

    func testWideCharacters() {
        let s = screen(2, 10, "a漢字b😀")
        XCTAssertEqual(s.text(), ["a漢字b😀", ""])
        XCTAssertEqual(s.cell(row: 0, col: 1), Cell(text: "漢", width: 2))
        XCTAssertEqual(s.cell(row: 0, col: 2).width, 0)
        XCTAssertTrue(s.cell(row: 0, col: 2).isContinuation)
        XCTAssertEqual(s.cell(row: 0, col: 3).text, "字")
        XCTAssertEqual(s.cell(row: 0, col: 5).text, "b")
        XCTAssertEqual(s.cell(row: 0, col: 6).text, "😀")
        XCTAssertEqual(s.cell(row: 0, col: 6).width, 2)
        XCTAssertEqual(s.cursor.col, 8)
    }

    func testCombiningCharacter() {
        let s = screen(1, 10, "e\u{301}x")
        XCTAssertEqual(s.cell(row: 0, col: 0).text, "e\u{301}")
        XCTAssertEqual(s.cell(row: 0, col: 1).text, "x")
    }

    func testUTF8SplitAcrossFeeds() {
        let s = VirtualScreen(rows: 1, cols: 10)
        let bytes = Array("é漢😀".utf8)
        for b in bytes { s.feed([b]) }
        XCTAssertEqual(s.text(), ["é漢😀"])
        XCTAssertEqual(s.cell(row: 0, col: 1).text, "漢")
    }

    func testEscapeSequenceSplitAcrossFeeds() {
        let s = VirtualScreen(rows: 1, cols: 10)
        for b in Array("\(ESC)[31mR".utf8) { s.feed([b]) }
        XCTAssertEqual(s.cell(row: 0, col: 0), Cell(text: "R", width: 1, foreground: .indexed(1)))
    }

    func testAlternateScreenRestoresMain() {
        let s = screen(3, 10, "main 1\r\nmain 2")
        XCTAssertFalse(s.isAltScreen)
        s.feed("\(ESC)[?1049h\(ESC)[Halt!")
        XCTAssertTrue(s.isAltScreen)
        XCTAssertEqual(s.text(), ["alt!", "", ""])
        s.feed("\(ESC)[?1049l")
        XCTAssertFalse(s.isAltScreen)
        XCTAssertEqual(s.text(), ["main 1", "main 2", ""])
        XCTAssertEqual(s.cursor.row, 1)
        XCTAssertEqual(s.cursor.col, 6)
    }

    func testScrollbackCapturesScrolledLinesBounded() {
        let s = screen(2, 10, "l1\r\nl2\r\nl3\r\nl4\r\nl5", scrollback: 2)
        XCTAssertEqual(s.text(), ["l4", "l5"])
        XCTAssertEqual(s.scrollbackLines(), ["l2", "l3"])
        let t = screen(2, 10, "\(ESC)[31ma\r\nb\r\nc")
        XCTAssertEqual(t.scrollbackLines(), ["a"])
        XCTAssertEqual(t.scrollbackCells()[0][0].foreground, .indexed(1))
    }

    func testAltScreenDoesNotFeedScrollback() {
        let s = screen(2, 10, "\(ESC)[?1049ha\r\nb\r\nc\r\nd")
        XCTAssertEqual(s.scrollbackLines(), [])
    }

    func testResize() {
        let s = screen(3, 10, "one\r\ntwo\r\nthree\r\nfour")
        XCTAssertEqual(s.scrollbackLines(), ["one"])
        s.resize(rows: 2, cols: 6)
        XCTAssertEqual(s.rows, 2)
        XCTAssertEqual(s.cols, 6)
        XCTAssertEqual(s.text(), ["three", "four"])
        XCTAssertEqual(s.scrollbackLines(), ["one", "two"])
        s.resize(rows: 4, cols: 12)
        XCTAssertEqual(s.text(), ["one", "two", "three", "four"], "growing pulls lines back from scrollback")
        XCTAssertEqual(s.scrollbackLines(), [])
        s.feed("\r\n0123456789AB")
        XCTAssertEqual(s.text().last, "0123456789AB")
        XCTAssertEqual(s.takeDamage(), 0...3)
    }

    func testDamageRanges() {
        let s = screen(6, 10)
        _ = s.takeDamage()
        XCTAssertNil(s.takeDamage())
        s.feed("\(ESC)[3;1Hx")
        XCTAssertEqual(s.takeDamage(), 2...2)
        XCTAssertNil(s.takeDamage())
        s.feed("\(ESC)[2;1Hy\(ESC)[5;1Hz")
        XCTAssertEqual(s.takeDamage(), 1...4)
        s.feed("\(ESC)[6;1H\n")  // scroll the whole screen
        XCTAssertEqual(s.takeDamage(), 0...5)
        s.feed("\(ESC)[1;1H")  // cursor movement only
        XCTAssertNil(s.takeDamage())
    }

    func testCursorPositionReportGoesToOutput() {
        let s = screen(5, 20, "ab\r\ncd")
        XCTAssertTrue(s.takeOutput().isEmpty)
        s.feed("\(ESC)[6n")
        XCTAssertEqual(String(decoding: s.takeOutput(), as: UTF8.self), "\(ESC)[2;3R")
        XCTAssertTrue(s.takeOutput().isEmpty, "takeOutput drains")
        s.feed("\(ESC)[c")
        XCTAssertTrue(String(decoding: s.takeOutput(), as: UTF8.self).hasPrefix("\(ESC)[?"), "DA answered")
    }

    func testRepaintDoesNotLeakQueryAnswers() {
        let s = screen(5, 20, "x\(ESC)[6n")
        _ = s.renderRepaint()
        XCTAssertEqual(String(decoding: s.takeOutput(), as: UTF8.self), "\(ESC)[1;2R")
    }

    func testModesReadBack() {
        let s = screen(10, 20, "\(ESC)[?1h\(ESC)[?2004h\(ESC)[?1002h\(ESC)[?1006h\(ESC)[3;8r\(ESC)[?7l")
        let m = s.modes()
        XCTAssertTrue(m.applicationCursorKeys)
        XCTAssertTrue(m.bracketedPaste)
        XCTAssertTrue(m.mouseDrag)
        XCTAssertFalse(m.mouseClick)
        XCTAssertTrue(m.mouseSGR)
        XCTAssertFalse(m.autowrap)
        XCTAssertEqual(m.scrollRegion, 2..<8)
        XCTAssertEqual(screen().modes(), TerminalModes())
    }

    func testModesNotQueriedInsideASequence() {
        let s = screen(5, 20, "\(ESC)[?2004h")
        XCTAssertTrue(s.modes().bracketedPaste)
        s.feed("\(ESC)[?2004l\(ESC)[3")  // ends inside CSI
        XCTAssertTrue(s.modes().bracketedPaste, "stale modes used rather than corrupting the sequence")
        s.feed("1mR")
        XCTAssertEqual(s.cell(row: 0, col: 0), Cell(text: "R", width: 1, foreground: .indexed(1)))
        XCTAssertFalse(s.modes().bracketedPaste)
    }
}

final class RepaintTests: XCTestCase {
    func testPlain() {
        assertRepaintRoundTrip("hello world\r\nsecond line\r\n\r\n   indented", after: " more\r\nnext")
    }

    func testScrolledAndWrapped() {
        var s = ""
        for i in 0..<20 { s += "line \(i) with some text that wraps around\r\n" }
        assertRepaintRoundTrip(s + "tail", after: "+\r\nafter")
    }

    func testColoured() {
        assertRepaintRoundTrip(
            "\(ESC)[31mred \(ESC)[1;44mbold-on-blue\(ESC)[0m \(ESC)[38;5;123m256\(ESC)[48;2;10;20;30m rgb \(ESC)[0m\r\n" +
            "\(ESC)[3;4;9mital-under-strike\(ESC)[0m \(ESC)[7mrev\(ESC)[27m \(ESC)[4:2mdbl\(ESC)[0m\r\n" +
            "\(ESC)[95;100mbright\(ESC)[0m\r\n" +
            "\(ESC)[42m\(ESC)[Kgreen line erased\(ESC)[0m\r\n" +
            "\(ESC)[45m\(ESC)[5X\(ESC)[0m\(ESC)[6Cafter-ech\(ESC)[33m",
            after: "still yellow")
    }

    func testWideCharacters() {
        assertRepaintRoundTrip("漢字かな\r\n😀 emoji 🎉\r\n\(ESC)[31m中文\(ESC)[0mx\r\ne\u{301}",
                               after: "更多")
    }

    func testAltScreenWithBoxAndMainUnderneath() {
        let (a, b) = assertRepaintRoundTrip(
            rows: 6, cols: 20,
            "shell prompt $ vim\r\nmore main text" +
            "\(ESC)[?1049h\(ESC)[H\(ESC)[2J" +
            "\(ESC)[2;3H┌──────┐\(ESC)[3;3H│\(ESC)[1mbox\(ESC)[0m   │\(ESC)[4;3H└──────┘" +
            "\(ESC)(0\(ESC)[6;1Hlqqk\(ESC)(B\(ESC)[3;7H",
            after: "X")
        XCTAssertTrue(a.isAltScreen)
        a.feed("\(ESC)[?1049l")
        b.feed("\(ESC)[?1049l")
        XCTAssertEqual(a.text()[0], "shell prompt $ vim")
        assertSameScreen(a, b)
    }

    func testCursorHidden() {
        let (_, b) = assertRepaintRoundTrip("\(ESC)[?25lhidden cursor\(ESC)[3;4H")
        XCTAssertFalse(b.cursor.visible)
    }

    func testScrollRegionAndOriginModeCarryOver() {
        assertRepaintRoundTrip(
            rows: 8, cols: 20,
            "top\r\n\(ESC)[2;6r\(ESC)[?6h\(ESC)[3;1Hin region",
            after: "\(ESC)[5;1H\n\n\nscrolled\(ESC)[1;1Horigin")
    }

    func testModesCarryOver() {
        let (a, b) = assertRepaintRoundTrip("\(ESC)[?1h\(ESC)[?2004h\(ESC)[?1000h\(ESC)[?1006habc\(ESC)[1;1H",
                                            after: "XY")
        XCTAssertEqual(a.modes(), b.modes())
        XCTAssertEqual(a.text()[0], "XYc")
    }

    func testRepaintOverDirtyTerminal() {
        // The target is not fresh: it shows other content, another pen, the
        // alternate screen and odd modes; the repaint must still win.
        let a = screen(5, 20, "\(ESC)[32mgreen\(ESC)[0m text\r\nline two")
        let b = screen(5, 20, "\(ESC)[?1049h\(ESC)[41mjunk junk junk\(ESC)[3;4r\(ESC)[?6h\(ESC)[4h\(ESC)(0qqq\(ESC)[?7l")
        b.feed(a.renderRepaint())
        assertSameScreen(a, b)
        a.feed(" and more")
        b.feed(" and more")
        assertSameScreen(a, b)
    }

    func testEmptyScreen() {
        let a = screen(4, 10)
        let out = a.renderRepaint()
        XCTAssertLessThan(out.count, 200)
        assertRepaintRoundTrip(rows: 4, cols: 10, "")
    }

    func testTitle() {
        let a = screen(3, 10, "\(ESC)]2;my title\u{07}x")
        let text = String(decoding: a.renderRepaint(), as: UTF8.self)
        XCTAssertTrue(text.contains("\(ESC)]2;my title\u{07}"))
    }

    /// A randomised screen of mixed output must round-trip too.
    func testRandomisedOutput() {
        var rng = SystemRandomNumberGenerator()
        var seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        let pieces = ["abc", "漢", "😀", " ", "\r\n", "\(ESC)[31m", "\(ESC)[0m", "\(ESC)[1;4m", "\(ESC)[48;5;33m",
                      "\(ESC)[38;2;200;100;50m", "\(ESC)[K", "\(ESC)[2;5H", "\(ESC)[3X", "\(ESC)[7m", "e\u{301}",
                      "\(ESC)[?25l", "\(ESC)[?25h", "\(ESC)[A", "\(ESC)[10C", "\t", "\(ESC)[L", "\(ESC)[P"]
        for _ in 0..<20 {
            var s = ""
            for _ in 0..<200 { s += pieces[Int(next() % UInt64(pieces.count))] }
            // "\r\n" first: a cursor left in the pending-wrap state at the last
            // column is not reproduced (libvterm does not expose it).
            assertRepaintRoundTrip(rows: 8, cols: 30, s, after: "\r\ntail text")
        }
    }
}
