import AgentProtocol
@testable import AgentHost
import XCTest

final class AttentionTests: XCTestCase {
    typealias T = AttentionTracker

    func testANeedIsRaisedAfterItSettlesAndClearedWhenTheAgentGoesOn() {
        var t = T(kind: .coder, minInterval: 30)
        XCTAssertEqual(t.observe(.state(.waiting), now: 100), [])
        XCTAssertEqual(t.dueAt, 100 + T.settle)
        XCTAssertEqual(t.tick(now: 100.5), [], "not yet")
        XCTAssertEqual(t.tick(now: 102), [.raise(Attention(.permission, "asks for permission"), notify: true)])
        XCTAssertEqual(t.observe(.state(.runningTool), now: 103), [.clear])
        // Waiting again soon after: shown, but no second notification within min_interval.
        _ = t.observe(.state(.waiting), now: 110)
        XCTAssertEqual(t.tick(now: 112), [.raise(Attention(.permission, "asks for permission"), notify: false)])
        _ = t.observe(.state(.thinking), now: 113)
        _ = t.observe(.state(.waiting), now: 140)
        XCTAssertEqual(t.tick(now: 142), [.raise(Attention(.permission, "asks for permission"), notify: true)])
    }

    /// The coder's typed question says what it asks, after its "waiting"; the answer clears it.
    func testAPermissionQuestionNeedsAPersonUntilAnswered() {
        var t = T(kind: .coder, minInterval: 30)
        _ = t.observe(.state(.waiting), now: 100)
        _ = t.observe(.permission(id: "q1", tool: "Bash", summary: "rm -rf\nbuild", diff: nil, choices: PermissionChoice.all, truncated: false), now: 100)
        XCTAssertEqual(t.tick(now: 102), [.raise(Attention(.permission, "asks permission to run Bash: rm -rf build"), notify: true)])
        XCTAssertEqual(t.observe(.permissionAnswer(id: "q1", tool: "Bash", answer: .yes), now: 103), [.clear])
        // A question alone (a coder that says no state) is a need too.
        var u = T(kind: .coder, minInterval: 30)
        _ = u.observe(.permission(id: "q2", tool: "Edit", summary: "a.py", diff: "-x\n+y", choices: PermissionChoice.all, truncated: false), now: 10)
        XCTAssertEqual(u.tick(now: 12), [.raise(Attention(.permission, "asks permission to run Edit: a.py"), notify: true)])
    }

    func testAPassingStateIsNotAnnounced() {
        var t = T(kind: .goal, minInterval: 30)
        _ = t.observe(.state(.waiting), now: 100)
        XCTAssertEqual(t.observe(.state(.thinking), now: 100.1), [])
        XCTAssertNil(t.dueAt)
        XCTAssertEqual(t.tick(now: 105), [])
    }

    /// An exec agent waits for its next prompt, then its run ends: the end replaces the wait.
    func testAnEndReplacesAWait() {
        var t = T(kind: .exec, minInterval: 0)
        _ = t.observe(.state(.waiting), now: 100)
        _ = t.tick(now: 102)
        _ = t.observe(.exit(status: .code(0), restarts: 0), now: 103)
        _ = t.observe(.state(.exited), now: 103)
        XCTAssertEqual(t.tick(now: 105), [.raise(Attention(.finished, "finished"), notify: true)])
        // ... also when it ends before the wait settled.
        var u = T(kind: .exec, minInterval: 0)
        _ = u.observe(.state(.waiting), now: 100)
        _ = u.observe(.exit(status: .code(0), restarts: 0), now: 100.2)
        _ = u.observe(.state(.exited), now: 100.2)
        XCTAssertEqual(u.tick(now: 102), [.raise(Attention(.finished, "finished"), notify: true)])
    }

    func testEndsLimitsAndGoals() {
        var t = T(kind: .command, minInterval: 30)
        _ = t.observe(.exit(status: .code(3), restarts: 0), now: 100)
        _ = t.observe(.state(.exited), now: 100)
        XCTAssertEqual(t.tick(now: 102), [.raise(Attention(.failed, "exited with code 3"), notify: true)])
        var e = T(kind: .exec, minInterval: 30)
        _ = e.observe(.final(reason: "the token budget is spent"), now: 100)
        _ = e.observe(.exit(status: .code(0), restarts: 0), now: 100.1)
        _ = e.observe(.state(.exited), now: 100.1)
        XCTAssertEqual(e.tick(now: 102), [.raise(Attention(.limit, "stopped at a limit: the token budget is spent"), notify: true)])
        var g = T(kind: .goal, minInterval: 30)
        _ = g.observe(.state(.staying), now: 100)
        XCTAssertEqual(g.tick(now: 102), [.raise(Attention(.goal, "reached its goal"), notify: true)])
        var b = T(kind: .goal, minInterval: 30)
        _ = b.observe(.budget(.init(budget: .cost, spent: 1.01, limit: 1)), now: 100)
        XCTAssertEqual(b.tick(now: 102), [.raise(Attention(.limit, "spent its cost budget"), notify: true)])
    }

    func testTheEventReadsBack() {
        let a = Attention(.input, "waits for input")
        XCTAssertEqual(Attention(a.event(profile: "p", agent: "x", kind: .exec)), a)
        let line = EventCodec.line(a.event(profile: "p", agent: "x", kind: .exec), agent: "x", now: 0)
        XCTAssertTrue(line.contains(#""type":"attention""#) && line.contains(#""reason":"waiting_for_input""#), line)
    }

    /// A command agent found reading its terminal: raised after the settle time, cleared when
    /// it no longer reads; a need of another reason is not cleared by that.
    func testATerminalWaitRaisesAndClears() {
        var t = T(kind: .command, minInterval: 30)
        XCTAssertEqual(t.terminal(waiting: true, now: 100), [])
        XCTAssertEqual(t.tick(now: 102), [.raise(Attention(.input, "waits for input"), notify: true)])
        XCTAssertEqual(t.terminal(waiting: false, now: 103), [.clear])
        XCTAssertEqual(t.phase, .quiet)
        _ = t.observe(.state(.failed), now: 110)
        _ = t.tick(now: 112)
        XCTAssertEqual(t.terminal(waiting: false, now: 113), [], "a failure is not cleared by output")
    }

    typealias W = TerminalWaitSchedule

    /// Probes only after a quiet spell, backs off, then stops until output; output while
    /// watching arms nothing.
    func testTheTerminalWaitScheduleProbesOnlyWhenQuietAndBacksOff() {
        var w = W()
        XCTAssertEqual(w.output(now: 0), [], "no agent: nothing")
        XCTAssertEqual(w.started(now: 10), [.arm(at: 12)])
        for i in 0..<100 { XCTAssertEqual(w.output(now: 10 + Double(i) * 0.01), [], "flowing output costs no timer") }
        let last = 10 + 99 * 0.01
        XCTAssertEqual(w.timer(now: 12), [.arm(at: last + W.quiet)], "output came: look again once it has been quiet")
        XCTAssertEqual(w.timer(now: last + W.quiet), [.probe])
        XCTAssertEqual(w.probed(waiting: false, now: 15), [.arm(at: 19)])
        XCTAssertEqual(w.timer(now: 19), [.probe])
        XCTAssertEqual(w.probed(waiting: false, now: 19), [.arm(at: 27)])
        XCTAssertEqual(w.output(now: 20), [.arm(at: 22)], "output after a backoff: look soon after it stops")
        var probes = 0
        var now = 22.0
        while probes < 20 {
            guard w.timer(now: now) == [.probe] else { break }
            probes += 1
            let effects = w.probed(waiting: false, now: now)
            guard case .arm(let at)? = effects.first else { break }
            now = at
        }
        XCTAssertEqual(probes, 5, "2, 4, 8, 16, 32 s, then no more")
        XCTAssertEqual(w.phase, .dormant)
        XCTAssertEqual(w.timer(now: 1000), [])
        XCTAssertEqual(w.output(now: 1000), [.arm(at: 1002)])
        XCTAssertEqual(w.timer(now: 1002), [.probe])
        XCTAssertEqual(w.probed(waiting: true, now: 1002), [.waiting(true)])
        XCTAssertEqual(w.output(now: 1003), [.waiting(false), .arm(at: 1005)])
        _ = w.timer(now: 1005)
        _ = w.probed(waiting: true, now: 1005)
        XCTAssertEqual(w.stopped(), [.disarm, .waiting(false)])
        XCTAssertEqual(w.output(now: 1006), [])
    }

    /// `[notify] on`: by default a command agent's clean end does not ring; a list decides for every kind.
    func testWhichReasonsNotify() {
        let byDefault = NotifySettings()
        XCTAssertFalse(byDefault.notifies(.finished, kind: .command))
        XCTAssertTrue(byDefault.notifies(.finished, kind: .coder))
        XCTAssertTrue(byDefault.notifies(.failed, kind: .command))
        XCTAssertTrue(byDefault.notifies(.input, kind: .command))
        let listed = NotifySettings(on: ["failed", "finished"])
        XCTAssertTrue(listed.notifies(.finished, kind: .command))
        XCTAssertFalse(listed.notifies(.input, kind: .command))
        XCTAssertFalse(listed.notifies(.permission, kind: .coder))
    }
}
