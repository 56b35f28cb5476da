import Profile
import XCTest
@testable import Hosting

final class RestartPolicyTests: XCTestCase {
    let half: () -> Double = { 0.5 }
    let zero: () -> Double = { 0 }

    func delay(_ d: RestartDecision, file: StaticString = #filePath, line: UInt = #line) -> Double? {
        if case .restart(let after) = d { return after }
        XCTFail("expected restart, got \(d)", file: file, line: line)
        return nil
    }

    func testModes() {
        let ok = ExitStatus.exited(0), bad = ExitStatus.exited(3), sig = ExitStatus.signaled(9)
        var never = RestartTracker(policy: RestartPolicy(mode: .never))
        XCTAssertEqual(never.decide(exit: ok, now: 0, random: zero), .done)
        XCTAssertEqual(never.decide(exit: bad, now: 0, random: zero), .done)

        var onFailure = RestartTracker(policy: RestartPolicy(mode: .onFailure))
        XCTAssertEqual(onFailure.decide(exit: ok, now: 0, random: zero), .done)
        XCTAssertNotNil(delay(onFailure.decide(exit: bad, now: 0, random: zero)))
        XCTAssertNotNil(delay(onFailure.decide(exit: sig, now: 1, random: zero)))

        var always = RestartTracker(policy: RestartPolicy(mode: .always))
        XCTAssertNotNil(delay(always.decide(exit: ok, now: 0, random: zero)))
        XCTAssertNotNil(delay(always.decide(exit: bad, now: 1, random: zero)))
    }

    func testBackoffGrowsAndCaps() {
        var t = RestartTracker(policy: RestartPolicy(mode: .always, backoffInitial: 1, backoffMax: 8,
                                                     maxRestarts: 100, window: 60))
        var delays: [Double] = []
        var now = 0.0
        for _ in 0..<6 {
            let d = delay(t.decide(exit: .exited(1), now: now, random: { 1 }))!
            delays.append(d)
            now += d + 0.1  // each run dies quickly
        }
        XCTAssertEqual(delays, [1, 2, 4, 8, 8, 8])
    }

    func testJitter() {
        var t = RestartTracker(policy: RestartPolicy(mode: .always, backoffInitial: 4, backoffMax: 100))
        XCTAssertEqual(t.decide(exit: .exited(1), now: 0, random: zero), .restart(after: 4))      // never below backoff_initial
        XCTAssertEqual(t.decide(exit: .exited(1), now: 1, random: half), .restart(after: 6))      // 8/2 + 0.5*8/2
        XCTAssertEqual(t.decide(exit: .exited(1), now: 2, random: { 0.999 }), .restart(after: 8 + 0.999 * 8))
    }

    /// The jitter never waits less than backoff_initial, whatever the random draw.
    func testJitterNeverBelowInitial() {
        var t = RestartTracker(policy: RestartPolicy(mode: .always, backoffInitial: 3, backoffMax: 5, maxRestarts: 100, window: 60))
        for now in 0..<10 {
            XCTAssertGreaterThanOrEqual(delay(t.decide(exit: .exited(1), now: Double(now) * 100, random: zero)) ?? 0, 3)
        }
    }

    /// `max_restarts = 0` means no restart at all (it meant "unlimited").
    func testZeroMaxRestartsMeansNone() {
        var t = RestartTracker(policy: RestartPolicy(mode: .always, maxRestarts: 0, window: 60))
        guard case .giveUp = t.decide(exit: .exited(1), now: 0, random: zero) else { return XCTFail("restarted") }
    }

    func testLongRunResetsExponent() {
        var t = RestartTracker(policy: RestartPolicy(mode: .always, backoffInitial: 1, backoffMax: 10,
                                                     maxRestarts: 100, window: 60))
        _ = t.decide(exit: .exited(1), now: 0, random: { 1 })
        _ = t.decide(exit: .exited(1), now: 2, random: { 1 })
        XCTAssertEqual(t.decide(exit: .exited(1), now: 5, random: { 1 }), .restart(after: 4))
        // Started at 9, ran 20 s > backoffMax: back to the initial delay.
        t.runStarted(at: 9)
        XCTAssertEqual(t.decide(exit: .exited(1), now: 29, random: { 1 }), .restart(after: 1))
        // Without runStarted, the start is assumed at decision + delay (30); a quick death keeps growing.
        XCTAssertEqual(t.decide(exit: .exited(1), now: 31, random: { 1 }), .restart(after: 2))
        // ... and a long one (from 33 to 100) resets.
        XCTAssertEqual(t.decide(exit: .exited(1), now: 100, random: { 1 }), .restart(after: 1))
    }

    func testGiveUpWithinWindow() {
        var t = RestartTracker(policy: RestartPolicy(mode: .onFailure, backoffInitial: 1, backoffMax: 2,
                                                     maxRestarts: 3, window: 10))
        for now in [0.0, 1, 2] {
            XCTAssertNotNil(delay(t.decide(exit: .exited(1), now: now, random: zero)))
        }
        guard case .giveUp(let reason) = t.decide(exit: .exited(1), now: 3, random: zero) else {
            return XCTFail("expected giveUp")
        }
        XCTAssertTrue(reason.contains("3 times"), reason)
        XCTAssertTrue(reason.contains("exit code 1"), reason)
        XCTAssertEqual(t.totalRestarts, 3)
    }

    func testWindowExpiry() {
        var t = RestartTracker(policy: RestartPolicy(mode: .always, backoffInitial: 1, backoffMax: 2,
                                                     maxRestarts: 2, window: 10))
        XCTAssertNotNil(delay(t.decide(exit: .exited(1), now: 0, random: zero)))
        XCTAssertNotNil(delay(t.decide(exit: .exited(1), now: 5, random: zero)))
        // At 10 the restart at 0 is out of the window: one slot free.
        XCTAssertNotNil(delay(t.decide(exit: .exited(1), now: 10, random: zero)))
        XCTAssertEqual(t.recentRestarts, [5, 10])
        if case .giveUp = t.decide(exit: .exited(1), now: 11, random: zero) {} else { XCTFail("expected giveUp") }
        XCTAssertNotNil(delay(t.decide(exit: .exited(1), now: 30, random: zero)))
    }

    func testManualResetClearsHistory() {
        var t = RestartTracker(policy: RestartPolicy(mode: .always, maxRestarts: 1, window: 100))
        _ = t.decide(exit: .exited(1), now: 0, random: zero)
        if case .giveUp = t.decide(exit: .exited(1), now: 1, random: zero) {} else { XCTFail() }
        t.reset()
        XCTAssertNotNil(delay(t.decide(exit: .exited(1), now: 2, random: zero)))
    }

    func testExitStatus() throws {
        XCTAssertFalse(ExitStatus.exited(0).isFailure)
        XCTAssertTrue(ExitStatus.exited(2).isFailure)
        XCTAssertTrue(ExitStatus.signaled(15).isFailure)
        XCTAssertEqual(ExitStatus(waitStatus: 0x0300), .exited(3))
        XCTAssertEqual(ExitStatus(waitStatus: 9), .signaled(9))
        XCTAssertEqual(ExitStatus(waitStatus: 0x80 | 11), .signaled(11))  // core dumped
        XCTAssertEqual(ExitStatus.signaled(9).shellCode, 137)

        let enc = JSONEncoder()
        XCTAssertEqual(String(decoding: try enc.encode(ExitStatus.exited(1)), as: UTF8.self), #"{"code":1}"#)
        XCTAssertEqual(String(decoding: try enc.encode(ExitStatus.signaled(9)), as: UTF8.self), #"{"signal":9}"#)
        XCTAssertEqual(try JSONDecoder().decode(ExitStatus.self, from: Data(#"{"signal":15}"#.utf8)), .signaled(15))
        XCTAssertThrowsError(try JSONDecoder().decode(ExitStatus.self, from: Data("{}".utf8)))
    }

    func testRestartModeNames() {
        XCTAssertEqual(RestartMode(rawValue: "on-failure"), .onFailure)
        XCTAssertEqual(RestartMode(rawValue: "always"), .always)
        XCTAssertNil(RestartMode(rawValue: "sometimes"))
        // The profile's values and the shim's (a separate enum: the shim cannot see Profile) agree.
        XCTAssertEqual(RestartMode.allCases.map(\.rawValue), ["never", "on-failure", "always"])
        XCTAssertEqual(RestartPolicy.Mode.allCases.map(\.rawValue), RestartMode.allCases.map(\.rawValue))
    }
}
