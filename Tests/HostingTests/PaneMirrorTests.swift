import XCTest
@testable import AgentHost
@testable import Hosting
import VTScreen

final class PaneMirrorTests: XCTestCase {
    private func feed(_ mirror: inout PaneMirror, _ text: String, at ms: UInt64) {
        Array(text.utf8).withUnsafeBytes { mirror.append($0, nowMilliseconds: ms) }
    }

    func testSmallOutputRepaintsExactly() {
        var mirror = PaneMirror(rows: 5, cols: 20, capacity: 1024, budgetBytesPerSecond: 1 << 20)
        feed(&mirror, "\u{1b}[31mred\u{1b}[0m line\r\nsecond\r\n", at: 0)
        var check = VirtualScreen(rows: 5, cols: 20, scrollback: 0)
        check.feed(mirror.repaint())
        XCTAssertEqual(check.text().prefix(2), ["red line", "second"])
        XCTAssertEqual(check.cell(row: 0, col: 0).foreground, .indexed(1))
    }

    func testOverflowWithinBudgetKeepsEveryByte() {
        var mirror = PaneMirror(rows: 3, cols: 20, capacity: 64, budgetBytesPerSecond: 1 << 20)
        for i in 0..<100 { feed(&mirror, "line \(i)\r\n", at: 0) }
        var check = VirtualScreen(rows: 3, cols: 20, scrollback: 0)
        check.feed(mirror.repaint())
        XCTAssertEqual(check.text(), ["line 98", "line 99", ""])
    }

    /// Past the budget the screen restarts from the newest output: the last lines still show.
    func testOverflowPastBudgetRebuildsFromNewestOutput() {
        var mirror = PaneMirror(rows: 3, cols: 20, capacity: 64, budgetBytesPerSecond: 16)
        feed(&mirror, "\u{1b}[2Jgarbage that will be skipped\r\n", at: 0)
        for i in 0..<1000 { feed(&mirror, "line \(i)\r\n", at: 0) }
        var check = VirtualScreen(rows: 3, cols: 20, scrollback: 0)
        check.feed(mirror.repaint())
        XCTAssertEqual(check.text(), ["line 998", "line 999", ""])
    }

    func testByteQueueMatchesAnArrayModel() {
        var queue = ByteQueue()
        var model: [UInt8] = []
        for chunk in 0..<1000 {
            let bytes = (0..<200).map { UInt8(truncatingIfNeeded: chunk &+ $0) }
            bytes.withUnsafeBytes { queue.append($0) }
            model += bytes
            if queue.count > 100_000 {
                queue.drop(queue.count - 500)
                model.removeFirst(model.count - 500)
            }
        }
        XCTAssertEqual(queue.count, model.count)
        queue.withFront(queue.count) { XCTAssertEqual(Array($0), model) }
        XCTAssertEqual(queue.firstIndex(of: model[10]), model.firstIndex(of: model[10]))
    }
}
