@testable import Dashboard
import XCTest

/// The dashboard's frame timing, driven by a fake clock (seconds as plain numbers).
final class FrameSchedulerTests: XCTestCase {
    /// A key after a pause in the output, with output waiting: its frame is light at once (it
    /// used to feed first, before the key showed), and the output frame that follows at once
    /// feeds for the pause (up to `maxFeedSeconds`).
    func testAKeyWhenOutputIsDueDrawsALightFrameAndTheOutputFrameFollows() {
        var frames = FrameScheduler()
        XCTAssertEqual(frames.outputFrame(now: 100), .output(feedSeconds: FrameScheduler.minInterval))
        frames.outputFrameEnded(cost: 0.002)
        XCTAssertEqual(frames.outputDelay(now: 100.125), 0, "output is due")
        XCTAssertEqual(frames.keyFrame(now: 100.125), .key)
        XCTAssertEqual(frames.outputDelay(now: 100.125), 0, "the key's frame does not push the output frame back")
        XCTAssertEqual(frames.outputFrame(now: 100.125), .output(feedSeconds: 0.125))
    }

    /// A key between output frames is drawn at once; the output frames keep their cap.
    func testKeysDoNotWaitForTheFrameCapAndDoNotMoveIt() {
        var frames = FrameScheduler()
        _ = frames.outputFrame(now: 10)
        frames.outputFrameEnded(cost: 0.001)
        XCTAssertEqual(frames.keyFrame(now: 10.01), .key)
        XCTAssertEqual(frames.outputDelay(now: 10.01), 10 + FrameScheduler.minInterval - 10.01, accuracy: 1e-9)
        XCTAssertEqual(frames.keyFrame(now: 10.02), .key)
        XCTAssertEqual(frames.outputDelay(now: 10.02), 10 + FrameScheduler.minInterval - 10.02, accuracy: 1e-9)
    }

    /// Expensive output frames space out (at least 4x their cost apart); after a long pause an
    /// output frame feeds at most 0.15 s worth (a burst after a pause once fed up to 1 s worth,
    /// ~120 ms of emulation, in one frame).
    func testExpensiveFramesSpaceOutAndFeedingIsBounded() {
        var frames = FrameScheduler()
        _ = frames.outputFrame(now: 0)
        frames.outputFrameEnded(cost: 0.05)
        XCTAssertEqual(frames.interval, 0.2, accuracy: 1e-9)
        XCTAssertEqual(frames.outputDelay(now: 0.05), 0.15, accuracy: 1e-9)
        frames.outputFrameEnded(cost: 0.0)
        XCTAssertEqual(frames.interval, 0.14, accuracy: 1e-9, "a moving average: 0.7 of the last")
        XCTAssertEqual(frames.outputFrame(now: 30), .output(feedSeconds: 0.15))
    }
}
