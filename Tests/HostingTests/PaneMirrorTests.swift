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

    /// A flood of short lines is replayed from its last lines only: each line that scrolls
    /// costs libvterm a move of the whole screen.
    func testReplayKeepsAtMostTheLastLines() {
        let flood = Array(String(repeating: "y\n", count: 1000).utf8)
        let start = flood.withUnsafeBytes { PaneMirror.replayStart($0, maxBytes: 16384, maxLineFeeds: 10) }
        XCTAssertEqual(start, 2000 - 20)
        XCTAssertNil(flood.withUnsafeBytes { PaneMirror.replayStart($0, maxBytes: 16384, maxLineFeeds: 1000) })
    }

    /// Cut by size, a replay starts at an escape sequence or a line, never inside one (nor
    /// inside a UTF-8 character when there is neither).
    func testReplayStartsWhereNothingIsCutInHalf() {
        let frames = Array(String(repeating: "\u{1b}[1;1Hcpu 12%\u{1b}[K", count: 100).utf8)
        let start = frames.withUnsafeBytes { PaneMirror.replayStart($0, maxBytes: 100, maxLineFeeds: 10) }!
        XCTAssertEqual(frames[start], 0x1b)
        XCTAssertLessThanOrEqual(frames.count - start, 100)
        let text = Array(String(repeating: "日本語", count: 100).utf8)
        let cut = text.withUnsafeBytes { PaneMirror.replayStart($0, maxBytes: 100, maxLineFeeds: 10) }!
        let kept = String(decoding: text[cut...], as: UTF8.self)
        XCTAssertEqual(kept, String(String(repeating: "日本語", count: 100).suffix(33)))
    }

    func testCostCountsLinesOnlyUpToTheLimit() {
        let flood = Array(String(repeating: "y\n", count: 1000).utf8)
        XCTAssertEqual(flood.withUnsafeBytes { PaneMirror.cost(of: $0, lineFeedCost: 10, limit: 1 << 20) }, 2000 + 10 * 1000)
        let capped = flood.withUnsafeBytes { PaneMirror.cost(of: $0, lineFeedCost: 10, limit: 3000) }
        XCTAssertGreaterThan(capped, 3000)
        XCTAssertLessThanOrEqual(capped, 3010)
    }

    /// A flood of short lines on a big screen: the repaint still shows its last lines.
    func testRepaintAfterAFloodOfShortLinesShowsTheLastLines() {
        var mirror = PaneMirror(rows: 50, cols: 200)
        for i in 0..<100_000 { feed(&mirror, "y \(i)\n\r", at: UInt64(i / 1000)) }
        let check = VirtualScreen(rows: 50, cols: 200, scrollback: 0)
        check.feed(mirror.repaint())
        XCTAssertEqual(check.text()[48], "y 99999")
        XCTAssertEqual(check.text()[0], "y 99951")
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
    }
}
