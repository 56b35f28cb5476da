import XCTest
@testable import Serve

/// The resume logic, driven directly: what a client gets is the log from its offset, each byte
/// once, whatever order replay and live frames come in.
final class StreamCursorTests: XCTestCase {
    /// Replays the log until its end, then goes live; a live frame the replay already covered
    /// is trimmed, not sent twice.
    func testReplayThenLiveWithOverlap() {
        var cursor = StreamCursor(from: 10)
        XCTAssertNil(cursor.live(offset: 100, count: 10, canQueue: true), "live output is ignored while catching up")
        XCTAssertNil(cursor.read(offset: 10, count: 95, reachedEnd: true))  // the log had 10..<105
        XCTAssertEqual(cursor.mode, .live)
        let sent = cursor.live(offset: 100, count: 10, canQueue: true)
        XCTAssertEqual(sent?.offset, 105)
        XCTAssertEqual(sent?.skip, 5)
        XCTAssertEqual(cursor.next, 110)
        XCTAssertNil(cursor.live(offset: 90, count: 20, canQueue: true), "entirely old: nothing")
    }

    /// A subscription that begins only now: a live client reads the log again first, since
    /// bytes written before the shim took the subscription come in no frame.
    func testRecheckReadsTheLogAgain() {
        var cursor = StreamCursor(from: 0)
        _ = cursor.read(offset: 0, count: 50, reachedEnd: true)
        cursor.recheck()
        XCTAssertEqual(cursor.mode, .catchingUp)
        XCTAssertNil(cursor.live(offset: 80, count: 5, canQueue: true), "live frames wait for the log")
        XCTAssertNil(cursor.read(offset: 50, count: 30, reachedEnd: true))
        XCTAssertEqual(cursor.live(offset: 80, count: 5, canQueue: true)?.offset, 80)
    }

    /// A live frame past what the client has (bytes it never saw) sends it back to the log.
    func testGapGoesBackToTheLog() {
        var cursor = StreamCursor(from: 0)
        _ = cursor.read(offset: 0, count: 50, reachedEnd: true)
        XCTAssertNil(cursor.live(offset: 60, count: 5, canQueue: true))
        XCTAssertEqual(cursor.mode, .catchingUp)
        XCTAssertEqual(cursor.next, 50)
    }

    /// A slow client is not sent more; it reads the log when it has drained.
    func testSlowClientCatchesUpFromTheLog() {
        var cursor = StreamCursor(from: 0)
        _ = cursor.read(offset: 0, count: 0, reachedEnd: true)
        XCTAssertNotNil(cursor.live(offset: 0, count: 5, canQueue: true))
        XCTAssertNil(cursor.live(offset: 5, count: 5, canQueue: false))
        XCTAssertEqual(cursor.mode, .catchingUp)
        XCTAssertEqual(cursor.next, 5)
    }

    /// Bytes rotated out of the log are reported as a gap, and the cursor moves past them.
    func testRotatedAwayIsAGap() {
        var cursor = StreamCursor(from: 0)
        let gap = cursor.read(offset: 1000, count: 10, reachedEnd: false)
        XCTAssertEqual(gap?.gapFrom, 0)
        XCTAssertEqual(gap?.gapTo, 1000)
        XCTAssertEqual(cursor.next, 1010)
        XCTAssertEqual(cursor.mode, .catchingUp)
    }
}
