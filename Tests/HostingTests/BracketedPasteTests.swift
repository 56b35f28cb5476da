import XCTest
@testable import Hosting

final class BracketedPasteTests: XCTestCase {
    func testSetAndReset() {
        var t = BracketedPasteTracker()
        XCTAssertFalse(t.enabled)
        t.feed([UInt8]("hello\(ESC)[?2004hprompt> "))
        XCTAssertTrue(t.enabled)
        t.feed([UInt8]("\(ESC)[?2004l"))
        XCTAssertFalse(t.enabled)
    }

    func testCombinedModes() {
        var t = BracketedPasteTracker()
        t.feed([UInt8]("\(ESC)[?1049;2004;1h"))
        XCTAssertTrue(t.enabled)
        t.feed([UInt8]("\(ESC)[?1;2004l"))
        XCTAssertFalse(t.enabled)
        t.feed([UInt8]("\(ESC)[?2004;1049h"))
        XCTAssertTrue(t.enabled)
    }

    func testOtherModesAndLookalikesIgnored() {
        var t = BracketedPasteTracker()
        t.feed([UInt8]("\(ESC)[?1049h\(ESC)[?20040h\(ESC)[?200h\(ESC)[2004h\(ESC)[?2004$p 2004h ?2004h"))
        XCTAssertFalse(t.enabled)
        t.feed([UInt8]("\(ESC)[?2004h\(ESC)[?25l\(ESC)[?12004l"))
        XCTAssertTrue(t.enabled)
    }

    /// `stream` turns bracketed paste on however it is cut in two.
    private func assertEnabledWhereverCut(_ stream: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        for cut in 0...stream.count {
            var t = BracketedPasteTracker()
            t.feed(Array(stream[..<cut]))
            t.feed(Array(stream[cut...]))
            XCTAssertTrue(t.enabled, "cut \(cut)", file: file, line: line)
        }
    }

    func testSplitAtEveryByte() {
        let stream = [UInt8]("xx\(ESC)[?1049;2004hyy")
        assertEnabledWhereverCut(stream)
        var t = BracketedPasteTracker()
        for b in stream { t.feed([b]) }
        XCTAssertTrue(t.enabled)
    }

    /// Colour and cursor sequences are skipped whole; a mode change right after one, cut
    /// anywhere, is still seen.
    func testModeAfterColoursSplitAtEveryByte() {
        assertEnabledWhereverCut([UInt8]("\(ESC)[32mok\(ESC)[0m\(ESC)[\(ESC)[?2004h\(ESC)[1;1H"))
    }

    func testFullResetAndManualReset() {
        var t = BracketedPasteTracker()
        t.feed([UInt8]("\(ESC)[?2004h"))
        t.feed([UInt8]("\(ESC)c"))
        XCTAssertFalse(t.enabled)
        t.feed([UInt8]("\(ESC)[?2004h"))
        t.reset()
        XCTAssertFalse(t.enabled)
    }

    func testPasteBytesBracketed() {
        XCTAssertEqual(BracketedPasteTracker.pasteBytes(text: "a\nb", bracketed: true),
                       [UInt8]("\(ESC)[200~a\nb\(ESC)[201~\r"))
    }

    func testPasteCannotEndEarly() {
        let evil = "x\(ESC)[201~rm -rf /\n"
        XCTAssertEqual(BracketedPasteTracker.pasteBytes(text: evil, bracketed: true),
                       [UInt8]("\(ESC)[200~xrm -rf /\n\(ESC)[201~\r"))
        // Removing one marker must not leave a new one behind.
        let nested = "\(ESC)[20\(ESC)[201~1~"
        XCTAssertEqual(BracketedPasteTracker.pasteBytes(text: nested, bracketed: true),
                       [UInt8]("\(ESC)[200~\(ESC)[201~\r"))
    }

    func testPasteBytesUnbracketed() {
        XCTAssertEqual(BracketedPasteTracker.pasteBytes(text: "one\ntwo\r\nthree", bracketed: false),
                       [UInt8]("one\rtwo\rthree\r"))
        XCTAssertEqual(BracketedPasteTracker.pasteBytes(text: "", bracketed: false), [0x0D])
        XCTAssertEqual(BracketedPasteTracker.pasteBytes(text: "✓", bracketed: false), [UInt8]("✓\r"))
    }
}
