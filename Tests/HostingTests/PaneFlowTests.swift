import XCTest
@testable import AgentHost

/// The pane's flow driven with a fake clock; writes complete at once (as `uv_try_write` does
/// when the pane reads fast) unless a test says what is queued.
final class PaneFlowTests: XCTestCase {
    private struct Pane {
        var flow = PaneFlow(interval: 0.05, burst: 16 * 1024, highWater: 256 * 1024)
        var now = 0.0
        var timerAt: Double?
        var rawBytes = 0
        var repaints: [Double] = []

        mutating func output(_ count: Int, queued: Int = 0) {
            apply(flow.output(count: count, queued: queued, now: now), count)
        }

        mutating func advance(to time: Double) {
            now = time
            if let at = timerAt, at <= now {
                timerAt = nil
                apply(flow.timerFired(now: now), 0)
            }
        }

        mutating func apply(_ effect: PaneFlow.Effect?, _ count: Int) {
            switch effect {
            case .write?:
                rawBytes += count
                apply(flow.drained(queued: 0, now: now), 0)
            case .repaint?:
                repaints.append(now)
                apply(flow.drained(queued: 0, now: now), 0)
            case .scheduleRepaint(let after)?:
                XCTAssertNil(timerAt, "one repaint timer at a time")
                XCTAssertGreaterThan(after, 0)
                timerAt = now + after
            case nil:
                break
            }
        }
    }

    func testOutputBelowTheBurstGoesAsItIs() {
        var pane = Pane()
        for step in 0..<1000 {
            pane.advance(to: Double(step) * 0.01)
            pane.output(1024) // 100 KiB/s: an agent's ordinary output
        }
        XCTAssertEqual(pane.rawBytes, 1000 * 1024)
        XCTAssertEqual(pane.repaints, [])
    }

    /// A flood (here 4 MB/s for a second) reaches the pane as at most one repaint per interval
    /// after its first burst: the pane's terminal never has to parse it.
    func testAFloodBecomesRepaintsAtMostOnePerInterval() {
        var pane = Pane()
        for step in 0..<1000 {
            pane.advance(to: Double(step) * 0.001)
            pane.output(4096)
        }
        XCTAssertLessThanOrEqual(pane.rawBytes, 16 * 1024, "only the first burst goes as it is")
        XCTAssertGreaterThanOrEqual(pane.repaints.count, 18)
        XCTAssertLessThanOrEqual(pane.repaints.count, 21)
        for (earlier, later) in zip(pane.repaints, pane.repaints.dropFirst()) {
            XCTAssertGreaterThanOrEqual(later - earlier, 0.05 - 1e-9, "repaints at most one per interval")
        }
    }

    /// When the flood stops, the pane gets a last repaint (the final picture) and then output as
    /// it is again.
    func testAfterAFloodTheLastRepaintShowsTheEndAndOutputFlowsAgain() {
        var pane = Pane()
        for step in 0..<200 {
            pane.advance(to: Double(step) * 0.001)
            pane.output(4096)
        }
        let repaintsDuringFlood = pane.repaints.count
        for step in 1...10 { pane.advance(to: 0.2 + Double(step) * 0.05) }
        XCTAssertEqual(pane.repaints.count, repaintsDuringFlood + 1, "one repaint with the flood's end, then none")
        XCTAssertNil(pane.timerAt)
        let raw = pane.rawBytes
        pane.output(100)
        XCTAssertEqual(pane.rawBytes, raw + 100)
    }

    /// A few bytes written just after a flood (a prompt, a last line) arrive while the pane still
    /// gets repaints: the next repaint carries them, then output flows as it is.
    func testOutputJustAfterAFloodIsRepainted() {
        var pane = Pane()
        for step in 0..<200 {
            pane.advance(to: Double(step) * 0.001)
            pane.output(4096)
        }
        pane.advance(to: 0.25) // the repaint with the flood's last bytes
        let repaints = pane.repaints.count
        XCTAssertEqual(pane.repaints.last, 0.25)
        pane.advance(to: 0.26)
        pane.output(20) // while behind: skipped, for the next repaint
        pane.advance(to: 0.3)
        XCTAssertEqual(pane.repaints.count, repaints + 1)
        XCTAssertEqual(pane.flow.state, .live(windowStart: 0.3, windowBytes: 0))
        pane.output(20)
        XCTAssertEqual(pane.rawBytes, 16 * 1024 + 20)
    }

    /// A pane that does not read (no client, a stopped terminal) is repainted only once its
    /// queue has drained, whatever the rate.
    func testASlowPaneIsRepaintedOnceItsQueueDrains() {
        var flow = PaneFlow(interval: 0.05, burst: 16 * 1024, highWater: 256 * 1024)
        XCTAssertEqual(flow.output(count: 100, queued: 300 * 1024, now: 1), nil)
        XCTAssertEqual(flow.output(count: 100, queued: 300 * 1024, now: 2), nil)
        XCTAssertEqual(flow.drained(queued: 10, now: 3), nil)
        XCTAssertEqual(flow.drained(queued: 0, now: 3), .repaint)
        XCTAssertEqual(flow.state, .live(windowStart: 3, windowBytes: 0))
        XCTAssertEqual(flow.output(count: 100, queued: 0, now: 3.01), .write)
    }
}
