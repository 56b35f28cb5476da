import XCTest
@testable import AgentHost

/// The shim's lifecycle, transition by transition: time and randomness are inputs, so each
/// case is exact (no processes, no clock).
final class ShimLifecycleTests: XCTestCase {
    typealias L = ShimLifecycle
    let policy = RestartPolicy(mode: .onFailure, backoffInitial: 1, backoffMax: 8, maxRestarts: 2, window: 100)

    func machine(container: Bool = false) -> L { L(agent: "a", policy: policy, usesContainer: container) }

    /// A machine with its agent running (spawned at t=0).
    func running(container: Bool = false) -> L {
        var m = machine(container: container)
        _ = m.handle(.start(byPerson: false))
        if container { _ = m.handle(.prepared(error: nil)) }
        _ = m.handle(.spawned(at: 0, error: nil))
        XCTAssertEqual(m.state, .running)
        return m
    }

    func exit(_ code: Int32, at t: Double = 1, strays: Bool = false, final: String? = nil) -> L.Input {
        .exited(.exited(code), at: t, random: 0, strays: strays, final: final)
    }

    func testFirstStartSpawnsAndTellsUpOnce() {
        var m = machine()
        XCTAssertEqual(m.handle(.start(byPerson: false)), [.spawn])
        XCTAssertEqual(m.state, .spawning)
        XCTAssertEqual(m.handle(.spawned(at: 0, error: nil)), [.phase(.running, error: nil), .notifyUp(error: nil)])
        // A later run is not announced to `up` again.
        _ = m.handle(exit(1))
        _ = m.handle(.backoffOver)
        XCTAssertEqual(m.handle(.spawned(at: 3, error: nil)), [.phase(.running, error: nil)])
    }

    func testSpawnFailureTellsUpAndGoesThroughTheRestartPolicy() {
        var m = machine()
        _ = m.handle(.start(byPerson: false))
        let effects = m.handle(.spawned(at: 0, error: "ENOENT"))
        XCTAssertEqual(effects.first, .notifyUp(error: "ENOENT"))
        XCTAssertTrue(effects.contains(.phase(.restarting, error: "ENOENT")))
        XCTAssertTrue(effects.contains(.scheduleRestart(after: 1)))
        XCTAssertEqual(m.state, .backingOff(straysLeft: false))
    }

    func testExitRestartsWithBackoffThenFails() {
        var m = running()
        XCTAssertEqual(m.handle(exit(1, at: 1)), [.countRestart, .phase(.restarting, error: nil), .announce("a ended (exit code 1); restart in 1s"),
                                                 .scheduleRestart(after: 1)])
        XCTAssertEqual(m.handle(.backoffOver), [.spawn])
        _ = m.handle(.spawned(at: 2, error: nil))
        XCTAssertEqual(m.handle(exit(1, at: 2.5)).last, .scheduleRestart(after: 1), "base 2, jitter 0: half, but never below 1")
        _ = m.handle(.backoffOver)
        _ = m.handle(.spawned(at: 5, error: nil))
        let effects = m.handle(exit(1, at: 5.5))
        XCTAssertEqual(m.state, .idle)
        XCTAssertTrue(effects.contains { if case .phase(.failed, let error?) = $0 { return error.contains("2 times") }; return false }, "\(effects)")
    }

    func testCleanExitUnderOnFailureIsDone() {
        var m = running()
        XCTAssertEqual(m.handle(exit(0)), [.phase(.exited, error: nil), .announce("a ended (exit code 0)")])
        XCTAssertEqual(m.state, .idle)
    }

    func testFinalEndIsNeverRestarted() {
        var m = running()
        let effects = m.handle(exit(3, final: "budget spent"))
        XCTAssertEqual(m.state, .idle)
        XCTAssertEqual(effects.first, .phase(.failed, error: "budget spent; not restarted (the agent ended for good)"))
    }

    /// A person's start of a failed agent gives back the whole restart budget.
    func testPersonsStartResetsTheBudget() {
        var m = running()
        for t in [1.0, 3, 7] { _ = m.handle(exit(1, at: t)); _ = m.handle(.backoffOver); _ = m.handle(.spawned(at: t + 0.5, error: nil)) }
        XCTAssertEqual(m.phase, .failed)
        XCTAssertEqual(m.handle(.start(byPerson: true)), [.resetRestartCount, .spawn])
        _ = m.handle(.spawned(at: 10, error: nil))
        XCTAssertEqual(m.handle(exit(1, at: 11)).first, .countRestart, "restarts again instead of failing at once")
    }

    func testStopSendsOneStopAndASecondStopKeepsTheDeadline() {
        var m = running()
        XCTAssertEqual(m.handle(.stop), [.phase(.stopping, error: nil), .sendStop])
        XCTAssertEqual(m.handle(.stop), [], "a second stop must not postpone SIGKILL")
        XCTAssertEqual(m.handle(.exited(.signaled(15), at: 2, random: 0, strays: false, final: nil)),
                       [.phase(.stopped, error: nil), .announce("a stopped (signal 15)")])
        XCTAssertEqual(m.state, .idle)
    }

    func testAgentExitDuringStopIsNotRestarted() {
        var m = running()
        _ = m.handle(.stop)
        let effects = m.handle(exit(1))
        XCTAssertFalse(effects.contains(.countRestart))
        XCTAssertEqual(m.phase, .stopped)
    }

    func testRestartStopsThenStartsWithAFreshBudget() {
        var m = running()
        XCTAssertEqual(m.handle(.restart), [.phase(.stopping, error: nil), .sendStop])
        XCTAssertEqual(m.state, .stopping(then: .start))
        XCTAssertEqual(m.handle(.exited(.signaled(15), at: 2, random: 0, strays: false, final: nil)),
                       [.phase(.stopped, error: nil), .announce("a stopped (signal 15)"), .resetRestartCount, .spawn])
    }

    func testShutdownWhileStoppingExitsAfterTheAgent() {
        var m = running()
        _ = m.handle(.restart)
        XCTAssertEqual(m.handle(.shutdown), [])
        XCTAssertEqual(m.handle(.start(byPerson: true)), [], "nothing starts once the shim is exiting")
        XCTAssertEqual(m.handle(.exited(.signaled(15), at: 2, random: 0, strays: false, final: nil)).last, .exit)
        XCTAssertEqual(m.state, .finished)
        XCTAssertEqual(m.handle(.start(byPerson: true)), [])
    }

    func testShutdownDuringBackoffCancelsTheRestartAndExits() {
        var m = running()
        _ = m.handle(exit(1))
        XCTAssertEqual(m.handle(.shutdown), [.cancelRestart, .exit])
        XCTAssertEqual(m.handle(.backoffOver), [], "a late timer does nothing")
    }

    func testStopDuringBackoffCancelsTheRestart() {
        var m = running()
        _ = m.handle(exit(1))
        XCTAssertEqual(m.handle(.stop), [.cancelRestart, .phase(.stopped, error: nil)])
        XCTAssertEqual(m.state, .idle)
    }

    func testStartDuringBackoffStartsAtOnce() {
        var m = running()
        _ = m.handle(exit(1))
        XCTAssertEqual(m.handle(.start(byPerson: true)), [.cancelRestart, .resetRestartCount, .spawn])
    }

    // MARK: container preparation

    func testContainerIsPreparedBeforeEveryStart() {
        var m = machine(container: true)
        XCTAssertEqual(m.handle(.start(byPerson: false)), [.prepareContainer])
        XCTAssertEqual(m.handle(.prepared(error: nil)), [.spawn])
        _ = m.handle(.spawned(at: 0, error: nil))
        _ = m.handle(exit(1))
        XCTAssertEqual(m.handle(.backoffOver), [.phase(.starting, error: nil), .prepareContainer])
    }

    func testStopDuringPreparationCancelsTheStart() {
        var m = machine(container: true)
        _ = m.handle(.start(byPerson: false))
        XCTAssertEqual(m.handle(.stop), [])
        XCTAssertEqual(m.handle(.prepared(error: nil)), [.phase(.stopped, error: nil)])
        XCTAssertEqual(m.state, .idle)
    }

    func testRestartDuringPreparationKeepsTheStart() {
        var m = machine(container: true)
        _ = m.handle(.start(byPerson: false))
        _ = m.handle(.stop)
        _ = m.handle(.restart)
        XCTAssertEqual(m.handle(.prepared(error: nil)), [.spawn])
    }

    func testShutdownDuringPreparationExitsWhenItEnds() {
        var m = machine(container: true)
        _ = m.handle(.start(byPerson: false))
        XCTAssertEqual(m.handle(.shutdown), [])
        XCTAssertEqual(m.handle(.restart), [])
        XCTAssertEqual(m.handle(.prepared(error: "engine gone")), [.exit])
    }

    func testContainerFailureTellsUpAndCountsAsAFailedRun() {
        var m = machine(container: true)
        _ = m.handle(.start(byPerson: false))
        let effects = m.handle(.prepared(error: "no image"))
        XCTAssertEqual(effects.prefix(2), [.notifyUp(error: "no image"), .announce("no image")])
        XCTAssertTrue(effects.contains(.scheduleRestart(after: 1)))
    }

    // MARK: an engine that does not answer (engine = "auto" moves, a fixed engine does not)

    /// The restart policy's next start finds the engine gone: an `auto` agent is placed again,
    /// then prepared and started on the new engine; the restart is still counted.
    func testAutoAgentWhoseEngineIsGoneIsPlacedAgainAtItsNextStart() {
        var m = L(agent: "a", policy: policy, usesContainer: true, movable: true)
        _ = m.handle(.start(byPerson: false)); _ = m.handle(.prepared(error: nil)); _ = m.handle(.spawned(at: 0, error: nil))
        XCTAssertEqual(m.handle(exit(1, at: 5)).last, .scheduleRestart(after: 1))
        XCTAssertEqual(m.handle(.backoffOver), [.phase(.starting, error: nil), .prepareContainer])
        let down = "engine 'far' (tcp://10.0.0.2:2376) does not answer: connection refused"
        XCTAssertEqual(m.handle(.engineDown(error: down)),
                       [.announce(down + "; placing a on an engine that answers (engine = \"auto\")"), .placeAgain])
        XCTAssertEqual(m.state, .placing(then: .start))
        XCTAssertEqual(m.handle(.placed(error: nil)), [.prepareContainer])
        XCTAssertEqual(m.state, .preparing(then: .start))
        XCTAssertEqual(m.handle(.prepared(error: nil)), [.spawn])
        XCTAssertEqual(m.handle(.spawned(at: 7, error: nil)), [.phase(.running, error: nil)])
    }

    /// A fixed engine (`engine = "NAME"`): no move; the failure goes through the restart policy
    /// with its backoff, and the policy gives up in the end.
    func testFixedAgentWhoseEngineIsGoneFailsThroughTheRestartPolicy() {
        var m = L(agent: "a", policy: policy, usesContainer: true, movable: false)
        _ = m.handle(.start(byPerson: false))
        let down = "engine 'far' (tcp://10.0.0.2:2376) does not answer: connection refused"
        let first = m.handle(.engineDown(error: down))
        XCTAssertFalse(first.contains(.placeAgain))
        XCTAssertEqual(first.prefix(2), [.notifyUp(error: down), .announce(down)])
        XCTAssertTrue(first.contains(.phase(.restarting, error: down)), "\(first)")
        XCTAssertTrue(first.contains(.scheduleRestart(after: 1)))
        _ = m.handle(.backoffOver)
        let second = m.handle(.engineDown(error: down))
        XCTAssertTrue(second.contains(.countRestart) && second.contains(.scheduleRestart(after: 1)), "\(second)")
        _ = m.handle(.backoffOver)
        let last = m.handle(.engineDown(error: down))
        XCTAssertTrue(last.contains { if case .phase(.failed, let error?) = $0 { return error.hasSuffix(": " + down) }; return false },
                      "the last error names the engine: \(last)")
        XCTAssertEqual(m.state, .idle)
    }

    /// No engine to go to: the placement's error is the start's failure (restart policy).
    func testPlacementFailureCountsAsAFailedStart() {
        var m = L(agent: "a", policy: policy, usesContainer: true, movable: true)
        _ = m.handle(.start(byPerson: false))
        _ = m.handle(.engineDown(error: "engine 'far' (x) does not answer: gone"))
        let effects = m.handle(.placed(error: "cannot place a again: no engine of the profile answers"))
        XCTAssertEqual(effects.first, .notifyUp(error: "cannot place a again: no engine of the profile answers"))
        XCTAssertTrue(effects.contains(.scheduleRestart(after: 1)), "\(effects)")
        XCTAssertEqual(m.state, .backingOff(straysLeft: false))
    }

    /// A stop or shutdown while placing wins once the placement is over; a start meanwhile keeps it.
    func testStopAndShutdownWhilePlacing() {
        var m = L(agent: "a", policy: policy, usesContainer: true, movable: true)
        _ = m.handle(.start(byPerson: false))
        _ = m.handle(.engineDown(error: "down"))
        XCTAssertEqual(m.handle(.stop), [])
        XCTAssertEqual(m.handle(.placed(error: nil)), [.phase(.stopped, error: nil)])
        XCTAssertEqual(m.state, .idle)

        _ = m.handle(.start(byPerson: true))
        _ = m.handle(.engineDown(error: "down"))
        _ = m.handle(.stop)
        _ = m.handle(.restart)
        XCTAssertEqual(m.handle(.placed(error: nil)), [.prepareContainer], "the restart after the stop starts it")

        var n = L(agent: "a", policy: policy, usesContainer: true, movable: true)
        _ = n.handle(.start(byPerson: false))
        _ = n.handle(.engineDown(error: "down"))
        XCTAssertEqual(n.handle(.shutdown), [])
        XCTAssertEqual(n.handle(.start(byPerson: true)), [])
        XCTAssertEqual(n.handle(.placed(error: nil)), [.exit])
    }

    /// An engine failure while preparing after a stop was asked ends the preparation; no move.
    func testEngineDownAfterAStopDoesNotMove() {
        var m = L(agent: "a", policy: policy, usesContainer: true, movable: true)
        _ = m.handle(.start(byPerson: false))
        _ = m.handle(.stop)
        XCTAssertEqual(m.handle(.engineDown(error: "down")), [.phase(.stopped, error: nil)])
    }

    // MARK: what the agent left behind

    func testRestartWaitsForStraysAndTheBackoff() {
        var m = running()
        XCTAssertEqual(m.handle(exit(1, strays: true)).first, .endStrays)
        XCTAssertEqual(m.state, .backingOff(straysLeft: true))
        XCTAssertEqual(m.handle(.backoffOver), [], "strays still there")
        XCTAssertEqual(m.state, .endingStrays(then: .resume))
        XCTAssertEqual(m.handle(.straysGone), [.spawn], "the policy's restart keeps the budget it used")
    }

    func testStraysGoneBeforeTheBackoffEnds() {
        var m = running()
        _ = m.handle(exit(1, strays: true))
        XCTAssertEqual(m.handle(.straysGone), [])
        XCTAssertEqual(m.handle(.backoffOver), [.spawn], "the policy's restart keeps its count")
    }

    func testRestartWhileStraysAreEndingStartsWhenTheyAreGone() {
        var m = running()
        _ = m.handle(exit(0, strays: true))
        XCTAssertEqual(m.state, .endingStrays(then: .rest))
        XCTAssertEqual(m.handle(.restart), [])
        XCTAssertEqual(m.handle(.straysGone), [.resetRestartCount, .spawn])
    }

    func testStopWhileStraysAreEndingCancelsAPendingStart() {
        var m = running()
        _ = m.handle(exit(0, strays: true))
        _ = m.handle(.start(byPerson: true))
        _ = m.handle(.stop)
        XCTAssertEqual(m.handle(.straysGone), [])
        XCTAssertEqual(m.state, .idle)
    }

    func testTheShimExitsLastAfterStrays() {
        var m = running()
        _ = m.handle(.shutdown)
        XCTAssertEqual(m.handle(.exited(.signaled(15), at: 1, random: 0, strays: true, final: nil)).last, .endStrays)
        XCTAssertEqual(m.state, .endingStrays(then: .exit))
        XCTAssertEqual(m.handle(.straysGone), [.exit])
    }

    func testStopWithNothingRunning() {
        var m = machine()
        XCTAssertEqual(m.handle(.stop), [.phase(.stopped, error: nil)])
        XCTAssertEqual(m.handle(.stop), [], "already stopped")
        XCTAssertEqual(m.handle(.shutdown), [.exit])
    }
}
