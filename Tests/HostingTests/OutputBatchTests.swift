import XCTest
@testable import AgentHost

final class OutputBatchTests: XCTestCase {
    private func add(_ batch: inout OutputBatch, _ offset: UInt64, _ count: Int, read: Int? = nil) -> OutputBatch.Decision {
        let chunk = [UInt8](repeating: UInt8(truncatingIfNeeded: offset), count: count)
        return chunk.withUnsafeBytes { batch.add(offset: offset, $0, readCount: read ?? count) }
    }

    /// An echo or a prompt (a short read) goes at once: interactive output never waits.
    func testShortReadGoesAtOnce() {
        var batch = OutputBatch()
        XCTAssertEqual(add(&batch, 100, 5), .send)
        let sent = batch.take()
        XCTAssertEqual(sent?.offset, 100)
        XCTAssertEqual(sent?.bytes.count, 5)
        XCTAssertNil(batch.take())
    }

    /// A 16 KB write arrives as four reads, three of them full: one frame, sent with the last.
    func testBurstInPiecesIsOneFrame() {
        var batch = OutputBatch()
        XCTAssertEqual(add(&batch, 0, 4095), .wait(startTimer: true))
        XCTAssertEqual(add(&batch, 4095, 4095), .wait(startTimer: false))
        XCTAssertEqual(add(&batch, 8190, 4095), .wait(startTimer: false))
        XCTAssertEqual(add(&batch, 12285, 7), .send)
        let sent = batch.take()!
        XCTAssertEqual(sent.offset, 0)
        XCTAssertEqual(sent.bytes.count, 3 * 4095 + 7)
        XCTAssertEqual(Array(sent.bytes[4094...4095]), [0, 255]) // 4095 truncated to UInt8: pieces in order
    }

    /// A flood of full reads goes out every `maxBytes`; the timer bounds the wait otherwise.
    func testFloodIsCutAtMaxBytes() {
        var batch = OutputBatch(maxBytes: 10000)
        XCTAssertEqual(add(&batch, 0, 4095), .wait(startTimer: true))
        XCTAssertEqual(add(&batch, 4095, 4095), .wait(startTimer: false))
        XCTAssertEqual(add(&batch, 8190, 4095), .send)
        XCTAssertEqual(batch.take()?.bytes.count, 12285)
        XCTAssertEqual(add(&batch, 12285, 4095), .wait(startTimer: true))
    }

    /// Only the bytes the log took are gathered, but the read's length decides.
    func testPartlyLoggedFullReadStillWaits() {
        var batch = OutputBatch()
        XCTAssertEqual(add(&batch, 0, 100, read: 4095), .wait(startTimer: true))
        XCTAssertEqual(batch.take()?.bytes.count, 100)
    }

    /// Output after a gap record (or anything not contiguous) must not be merged.
    func testContinuity() {
        var batch = OutputBatch()
        XCTAssertTrue(batch.continues(at: 7))
        _ = add(&batch, 10, 4095)
        XCTAssertTrue(batch.continues(at: 4105))
        XCTAssertFalse(batch.continues(at: 4200))
        _ = batch.take()
        XCTAssertTrue(batch.continues(at: 4200))
    }
}
