import XCTest
@testable import Hosting

final class TerminalTextTests: XCTestCase {
    func strip(_ s: String) -> String { TerminalTextStripper.strip(s) }

    /// Feeds `s` split at every byte position and checks the result is always `expected`.
    func assertAllSplits(_ s: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        let bytes = [UInt8](s)
        for cut in 0...bytes.count {
            var t = TerminalTextStripper()
            let out = t.feed(Array(bytes[..<cut])) + t.feed(Array(bytes[cut...])) + t.finish()
            XCTAssertEqual(String(decoding: out, as: UTF8.self), expected, "cut at \(cut)", file: file, line: line)
        }
        var t = TerminalTextStripper()
        var out: [UInt8] = []
        for b in bytes { out += t.feed([b]) }
        out += t.finish()
        XCTAssertEqual(String(decoding: out, as: UTF8.self), expected, "byte at a time", file: file, line: line)
    }

    func testColours() {
        XCTAssertEqual(strip("\(ESC)[1;31mred\(ESC)[0m plain \(ESC)[38;2;10;20;30mrgb\(ESC)[m"), "red plain rgb")
    }

    func testCursorMovesAndErase() {
        XCTAssertEqual(strip("\(ESC)[2J\(ESC)[H\(ESC)[10;5Hxy\(ESC)[K\(ESC)[?25l\(ESC)[?1049h!"), "xy!")
    }

    func testOSCWithBELAndST() {
        XCTAssertEqual(strip("a\(ESC)]0;window title\u{07}b"), "ab")
        XCTAssertEqual(strip("a\(ESC)]8;;http://x\(ESC)\\link\(ESC)]8;;\(ESC)\\b"), "alinkb")
    }

    func testDCSAndAPCStrings() {
        XCTAssertEqual(strip("a\(ESC)P1$r0m\(ESC)\\b\(ESC)_apc data\(ESC)\\c\(ESC)^pm\(ESC)\\d\(ESC)Xsos\(ESC)\\e"), "abcde")
    }

    func testTwoCharEscapes() {
        XCTAssertEqual(strip("\(ESC)(Babc\(ESC)7\(ESC)8\(ESC)=\(ESC)>\(ESC)M\(ESC)#8d"), "abcd")
    }

    func testC0AndBackspace() {
        XCTAssertEqual(strip("a\u{08}b\u{07}c\u{00}d\te\u{7F}f"), "abcd\tef")
    }

    func testLineEndings() {
        XCTAssertEqual(strip("a\r\nb\nc\rd"), "a\nb\nc\nd")
        XCTAssertEqual(strip("x\r"), "x\n")
        XCTAssertEqual(strip("p 1\r\r\np 2"), "p 1\np 2")
        // \r, a removed sequence, then \n is still one line break.
        XCTAssertEqual(strip("a\r\(ESC)[K\nb"), "a\nb")
    }

    func testSplitSequences() {
        assertAllSplits("\(ESC)[1;31mred\(ESC)[0m\r\nnext\(ESC)]0;title\(ESC)\\ok\(ESC)(B!\(ESC)]2;t\u{07}", "red\nnextok!")
    }

    func testSplitUTF8() {
        assertAllSplits("é ✓ 🎉 \(ESC)[32mgrün\(ESC)[0m\r\n", "é ✓ 🎉 grün\n")
    }

    func testUTF8ContinuationLooksLikeC1() {
        // U+011C is C4 9C: 0x9C is 8-bit ST but here part of a character; must survive.
        // U+0085 (NEL) encodes as C2 85.
        assertAllSplits("Ĝ\u{85}x", "Ĝ\u{85}x")
        // ...including inside an OSC string, where 0x9C must not end it.
        XCTAssertEqual(strip("\(ESC)]0;Ĝ title\u{07}after"), "after")
    }

    func testStrayC1IsDropped() {
        let out = TerminalTextStripper.strip([0x61, 0x9B, 0x85, 0x62])
        XCTAssertEqual(out, [0x61, 0x62])
    }

    func testIncrementalHoldsCRUntilNextByte() {
        var t = TerminalTextStripper()
        XCTAssertEqual(t.feed([UInt8]("a\r")), [UInt8]("a"))
        XCTAssertEqual(t.feed([UInt8]("\nb")), [UInt8]("\nb"))
        XCTAssertEqual(t.feed([UInt8]("\r")), [])
        XCTAssertEqual(t.finish(), [UInt8]("\n"))
    }

    func testCancelledSequence() {
        XCTAssertEqual(strip("a\(ESC)[12\u{18}b"), "ab")
        XCTAssertEqual(strip("a\(ESC)]0;x\(ESC)[31mb"), "ab")  // ESC aborts OSC, starts CSI
    }
}
