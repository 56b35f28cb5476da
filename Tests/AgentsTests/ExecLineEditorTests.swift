import XCTest
import Glibc
import Loop
@testable import Agents
import _TestSupport

/// The exec agent's line input on a real pseudo-terminal: editing keys, history, a bracketed
/// paste (what `supervisor send` types) and Ctrl-D.
final class ExecLineEditorTests: XCTestCase {
    func testEditingPasteHistoryAndEndOfInput() throws {
        let loop = EventLoop()
        let pty = try PseudoTerminal(rows: 24, cols: 80)
        let slave = open(pty.slavePath, O_RDWR | O_NOCTTY)
        XCTAssertGreaterThanOrEqual(slave, 0)
        let editor = try LineEditor(loop: loop, inputFD: slave, outputFD: slave)
        XCTAssertTrue(editor.isTerminal)
        // Drain what the editor draws so the terminal never fills up.
        let screen = try PipeStream(loop: loop, fd: dup(pty.masterFD))
        var drawn = ""
        try screen.startReading { r in if case .data(let b) = r { drawn += String(decoding: b, as: UTF8.self) } }
        defer {
            editor.close()
            screen.close()
            loop.close()
            close(slave)
            pty.closeMaster()
        }
        func type(_ s: String) { _ = s.utf8CString.withUnsafeBufferPointer { write(pty.masterFD, $0.baseAddress!, $0.count - 1) } }
        func line(_ keys: String) throws -> String? {
            var result: String??
            editor.readLine(prompt: "you> ") { result = .some($0) }
            type(keys)
            try runLoop(loop, until: "a line", seconds: 10) { result != nil }
            return result!
        }
        XCTAssertEqual(try line("say hx\u{1b}[Di\u{1b}[C!\r"), "say hix!")
        XCTAssertEqual(try line("abc def\u{17}\u{01}X\u{05}Y\r"), "Xabc Y")
        XCTAssertEqual(try line("junk\u{03}\u{1b}[200~first\nsecond ünï\u{1b}[201~\r"), "first\nsecond ünï")
        XCTAssertEqual(try line("\u{1b}[A\u{1b}[A\r"), "Xabc Y", "two steps back in history")
        XCTAssertEqual(try line("\u{04}"), nil)
        XCTAssertTrue(drawn.contains("you> say hix!"), drawn)
        XCTAssertTrue(drawn.contains("\u{1b}[?2004h"), "bracketed paste enabled while reading")
    }
}
