import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// Processes an agent detaches from itself (setsid, a double fork) end with the agent: the
/// shim is their child subreaper, so they cannot slip away to pid 1 and outlive `stop`,
/// `restart` or `down`.
final class StrayProcessTests: EndToEndTestCase {
    /// A daemon in its own session that ignores SIGTERM, started by a still-running agent.
    func testStopEndsADetachedDaemonThatIgnoresSigterm() throws {
        let pidFile = sv.home.file("daemon.pid")
        let path = sv.writeProfile("strays", agent("a", sh(
            // The daemon writes its own pid once it has its own session (setsid ran).
            "setsid sh -c 'trap \"\" TERM; echo $$ > \(pidFile); exec sleep 1000' & echo a-up; exec sleep 600"),
            extra: "stop_timeout = 1"))
        try upDetached(path)
        try sv.waitForLog("strays", "a", containing: "a-up")
        let daemon = try readPid(pidFile)
        let agentPid = try XCTUnwrap(sv.state("strays", "a")?.agentPid)
        XCTAssertNotEqual(getsid(daemon), agentPid, "the daemon should have left the agent's session")

        let stop = try ok(["stop", "strays", "a"])
        XCTAssertTrue(stop.stdout.hasPrefix("a: stopped"), stop.stdout)
        try waitFor("the detached daemon \(daemon) to end with its agent") { !isRunningProcess(daemon) }
        // It got SIGTERM with the agent; it ignored it, outlived the agent, and an event says so.
        let events = try String(contentsOfFile: sv.eventsPath("strays", "a"), encoding: .utf8)
        XCTAssertTrue(events.contains(#""type":"strays","pids":[\#(daemon)]"#), events)
    }

    /// A double fork: the middle process exits at once, so the daemon is an orphan while the
    /// agent still runs. It is adopted by the shim (not pid 1), and ends with the agent.
    func testAnOrphanedDaemonIsAdoptedByTheShimAndEndsAtDown() throws {
        let pidFile = sv.home.file("orphan.pid")
        let path = sv.writeProfile("orphans", agent("a", sh(
            "(setsid sleep 1000 & echo $! > \(pidFile)) ; echo a-up; exec sleep 600")))
        try upDetached(path)
        try sv.waitForLog("orphans", "a", containing: "a-up")
        let orphan = try readPid(pidFile)
        let shimPid = try XCTUnwrap(sv.state("orphans", "a")?.shimPid)
        try waitFor("the orphan to be adopted by the shim") { parent(of: orphan) == shimPid }

        try ok(["down", "orphans"])
        try waitFor("the orphan \(orphan) to end at down") { !isRunningProcess(orphan) }
        XCTAssertFalse(isRunningProcess(shimPid))
    }

    /// The agent exits by itself and leaves a daemon behind: the daemon is ended (SIGTERM, then
    /// SIGKILL after stop_timeout), an event names it, and the restart waits until it is gone.
    func testLeftoversOfAnAgentThatExitedEndBeforeItsRestart() throws {
        let pidFile = sv.home.file("left.pid")
        let path = sv.writeProfile("left", agent("a", sh(
            // The daemon ignores SIGHUP too (the agent's exit hangs up its terminal); the agent
            // waits until the daemon has written its pid, then fails.
            "n=$(cat \(pidFile) 2>/dev/null | wc -l); setsid sh -c 'trap \"\" TERM HUP; echo $$ >> \(pidFile); exec sleep 1000' & "
                + "while [ \"$(cat \(pidFile) | wc -l)\" -le $n ]; do sleep 0.05; done; echo run-done; exit 3"),
            extra: "restart = \"on-failure\"\nmax_restarts = 1\nbackoff_initial = 0.1\nstop_timeout = 1"))
        try upDetached(path)
        try waitFor("two runs, each leaving a daemon") {
            ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").split(separator: "\n").count == 2
        }
        let daemons = try String(contentsOfFile: pidFile, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        try waitFor("both leftovers to end") { daemons.allSatisfy { !isRunningProcess($0) } }
        try waitFor("the agent to fail after its one restart") { sv.state("left", "a")?.state == .failed }

        let lines = try String(contentsOfFile: sv.eventsPath("left", "a"), encoding: .utf8).split(separator: "\n")
        let strays = lines.filter { $0.contains(#""type":"strays""#) }
        XCTAssertEqual(strays.count, 2, lines.joined(separator: "\n"))
        XCTAssertTrue(strays.first?.contains("\(daemons[0])") ?? false, "\(strays)")
        // The second run started only after the first run's daemon had ended (it ignored
        // SIGTERM, so that took the 1 s stop_timeout).
        let starts = lines.filter { $0.contains(#""type":"start""#) }.map(timestamp)
        let firstStrays = try XCTUnwrap(strays.first.map(timestamp))
        XCTAssertEqual(starts.count, 2)
        XCTAssertGreaterThanOrEqual(starts[1] - firstStrays, 0.9, lines.joined(separator: "\n"))
    }

    /// kill -9 of a shim leaves no subreaper: what its agent detached goes to pid 1 and lives
    /// on. It still carries the agent's mark, so the next start (a new shim) and `down` end it.
    func testDetachedProcessesOfAKilledShimEndAtTheNextStartAndAtDown() throws {
        for ending in ["restart", "down"] {
            let pidFile = sv.home.file("crash-\(ending).pid")
            let profile = "crash-\(ending)"
            let path = sv.writeProfile(profile, agent("a", sh(
                "setsid sh -c 'trap \"\" HUP; echo $$ > \(pidFile); exec sleep 1000' & echo a-up; exec sleep 600")))
            try upDetached(path)
            try sv.waitForLog(profile, "a", containing: "a-up")
            let daemon = try readPid(pidFile)
            let shimPid = try XCTUnwrap(sv.state(profile, "a")?.shimPid)
            kill(shimPid, SIGKILL)
            try waitFor("the shim to be gone") { !isRunningProcess(shimPid) }
            XCTAssertTrue(isRunningProcess(daemon), "the daemon should outlive its shim for this test to mean anything")
            try ok([ending, profile] + (ending == "restart" ? ["a"] : []))
            try waitFor("the daemon \(daemon) to end at \(ending)") { !isRunningProcess(daemon) }
            if ending == "restart" { try ok(["down", profile]) }
        }
    }

    private func readPid(_ file: String) throws -> Int32 {
        var pid: Int32?
        try waitFor("\(file) to hold a pid") {
            pid = (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return pid != nil
        }
        return pid!
    }

    private func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// Seconds since the epoch of an event line's `ts`.
    private func timestamp(_ line: Substring) -> Double {
        guard let data = line.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let ts = object["ts"] as? String else { return 0 }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: ts)?.timeIntervalSince1970 ?? 0
    }
}
