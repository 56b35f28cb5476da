import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

final class LifecycleTests: EndToEndTestCase {
    /// 1. up --detach, windows, status, second up, down.
    func testUpDetachStatusSecondUpAndDown() throws {
        let path = sv.writeProfile("team",
            agent("alpha", sh("echo alpha-up; exec sleep 600")) +
            agent("beta", sh("echo beta-up; exec sleep 600")) +
            agent("gamma", sh("echo gamma-up; exec sleep 600")))
        try upDetached(path)

        XCTAssertEqual(try sv.windows("team"), ["alpha", "beta", "gamma"])
        let statuses = try sv.status("team")
        XCTAssertEqual(statuses.map(\.agent), ["alpha", "beta", "gamma"])
        XCTAssertEqual(statuses.map(\.state), ["running", "running", "running"])
        XCTAssertEqual(statuses.map(\.shimAlive), [true, true, true])
        for status in statuses {
            XCTAssertEqual(status.kind, "command")
            XCTAssertEqual(status.restarts, 0)
            let pid = try XCTUnwrap(status.pid, "\(status.agent) has no pid")
            XCTAssertTrue(isRunningProcess(pid))
            XCTAssertEqual(status.logPath, sv.logPath("team", status.agent))
        }
        for name in ["alpha", "beta", "gamma"] { try sv.waitForLog("team", name, containing: "\(name)-up") }

        // `up` (headless, since stdout is not a terminal) of a profile that is up: one-line error.
        let again = try sv.run(["up", path], timeout: 30)
        assertOneLineError(again, ["already up", "supervisor status team"])
        XCTAssertEqual(again.stdout, "")
        // `up --detach` of a healthy profile is fine and changes nothing.
        let pidsBefore = statuses.map(\.pid)
        let detachedAgain = try ok(["up", path, "--detach"])
        XCTAssertTrue(detachedAgain.stdout.contains("profile team is already up and healthy"), detachedAgain.stdout)
        XCTAssertEqual(try sv.status("team").map(\.pid), pidsBefore)
        XCTAssertEqual(try sv.windows("team"), ["alpha", "beta", "gamma"])

        let shimPids = statuses.compactMap(\.shimPid)
        XCTAssertEqual(shimPids.count, 3)
        let down = try ok(["down", "team"])
        XCTAssertEqual(down.stdout, "profile team is down; logs are in \(sv.logsDir)/team\n", "down warned")
        XCTAssertFalse(fileExists(sv.tmuxSocket("team")), "tmux socket left behind")
        XCTAssertNotEqual(try sv.tmux("team", ["list-sessions"]).status, 0, "the tmux server still answers")
        for name in ["alpha", "beta", "gamma"] {
            XCTAssertFalse(fileExists(sv.shimSocket("team", name)), "\(name)'s shim socket left behind")
            XCTAssertTrue(String(decoding: sv.log("team", name), as: UTF8.self).contains("\(name)-up"), "\(name)'s log is gone")
            XCTAssertTrue(fileExists(sv.eventsPath("team", name)))
            XCTAssertEqual(sv.state("team", name)?.state, .stopped)
        }
        for pid in shimPids + pidsBefore.compactMap({ $0 }) {
            try waitFor("pid \(pid) to end after down") { !isRunningProcess(pid) }
        }
        // status still works after down.
        let all = try ok(["status"])
        XCTAssertEqual(all.stdout, "no profile is up\n")
        XCTAssertEqual(try JSONDecoder().decode(StatusDocument.self, from: ok(["status", "--json"]).stdoutData), StatusDocument(agents: []))
        // The named profile still reports its agents, as they ended.
        let afterDown = try sv.status("team")
        XCTAssertEqual(afterDown.map(\.agent), ["alpha", "beta", "gamma"])
        XCTAssertEqual(afterDown.map(\.state), ["stopped", "stopped", "stopped"])
        XCTAssertEqual(afterDown.map(\.pid), [nil, nil, nil])
        XCTAssertEqual(afterDown.map(\.lastExit), Array(repeating: .signaled(15), count: 3))
        let table = try ok(["status", "team"])
        XCTAssertTrue(table.stdout.hasPrefix("team  (down)\nAGENT"), table.stdout)
        // Logs stay readable through the profile file.
        XCTAssertEqual(try ok(["logs", path, "beta"]).stdout, "beta-up\n")
        XCTAssertEqual(try ok(["logs", path, "beta", "--follow"]).stdout, "beta-up\n")
        // ... and through the profile's name: every read-only command takes the name of a
        // profile that was up before.
        XCTAssertEqual(try ok(["logs", "team", "beta"]).stdout, "beta-up\n")
        XCTAssertEqual(try ok(["logs", "team", "beta", "--follow"]).stdout, "beta-up\n")
        assertOneLineError(try sv.run(["logs", "team", "nobody"]), ["profile team has no agent \"nobody\""])
        XCTAssertTrue(try ok(["sessions", "list", "team", "beta"]).stdout.hasPrefix("no sessions for team/beta"))
        XCTAssertTrue(try ok(["conversations", "list", "team", "beta"]).stdout.hasPrefix("no conversations in"))
        // What down leaves: the state files and the lock, nothing live.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sv.profileDir("team")).sorted(), ["agents", "up.lock"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sv.profileDir("team") + "/agents/alpha"), ["state.json"])
        let never = try sv.run(["status", "never-was-up"])
        assertOneLineError(never, ["profile never-was-up is not up"])
    }

    /// 2. Headless `up`: waits for every agent, prints a summary, exit status says whether all succeeded.
    func testHeadlessUpWaitsAndSummarises() throws {
        let path = sv.writeProfile("ok",
            agent("first", sh("echo first-done"), extra: "restart = \"never\"") +
            agent("second", sh("exit 0"), extra: "restart = \"never\""))
        let result = try sv.run(["up", path], timeout: 60)
        XCTAssertEqual(result.status, 0, "\(result)")
        let rows = result.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        XCTAssertTrue(rows.contains(["AGENT", "STATE", "EXIT", "RESTARTS", "DURATION"]), result.stdout)
        let first = try XCTUnwrap(rows.first { $0.first == "first" }, result.stdout)
        XCTAssertEqual(Array(first.prefix(6)), ["first", "exited", "exit", "code", "0", "0"])
        let second = try XCTUnwrap(rows.first { $0.first == "second" }, result.stdout)
        XCTAssertEqual(Array(second.prefix(6)), ["second", "exited", "exit", "code", "0", "0"])
        XCTAssertEqual(sv.state("ok", "first")?.state, .exited)
        XCTAssertEqual(sv.state("ok", "second")?.state, .exited)

        let failing = sv.writeProfile("bad",
            agent("good", sh("exit 0"), extra: "restart = \"never\"") +
            agent("three", sh("echo failing; exit 3"), extra: "restart = \"never\""))
        let failed = try sv.run(["up", failing], timeout: 60)
        XCTAssertNotEqual(failed.status, 0, "\(failed)")
        XCTAssertEqual(failed.status, 1, "\(failed)")
        let failedRows = failed.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let three = try XCTUnwrap(failedRows.first { $0.first == "three" }, failed.stdout)
        XCTAssertEqual(Array(three.prefix(6)), ["three", "exited", "exit", "code", "3", "0"])
        let good = try XCTUnwrap(failedRows.first { $0.first == "good" }, failed.stdout)
        XCTAssertEqual(Array(good.prefix(6)), ["good", "exited", "exit", "code", "0", "0"])
        XCTAssertEqual(sv.state("bad", "three")?.runs.map(\.exit), [.exited(3)])
    }

    /// 4. kill -9 of a shim: the agent goes too, the window stays (dead), status says lost, restart revives.
    func testKilledShimLeavesNoOrphanAndRestartRevives() throws {
        let childFile = sv.home.file("victim-child.pid")
        let path = sv.writeProfile("crash", agent("victim", sh("sleep 600 & echo $! > \(childFile); echo victim-up; exec sleep 600")) +
                                            agent("bystander", ["sleep", "600"]))
        try upDetached(path)
        try sv.waitForLog("crash", "victim", containing: "victim-up")
        let before = try sv.waitForState("crash", "victim", "running") { $0.state == .running && $0.agentPid != nil }
        let agentPid = try XCTUnwrap(before.agentPid)
        let childPid = try XCTUnwrap(Int32(String(decoding: FileManager.default.contents(atPath: childFile) ?? Data(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertTrue(isRunningProcess(childPid))
        XCTAssertTrue(isRunningProcess(agentPid))
        XCTAssertTrue(isRunningProcess(before.shimPid))
        XCTAssertEqual(try sv.paneDead("crash", "victim"), "0")

        XCTAssertEqual(kill(before.shimPid, SIGKILL), 0)
        try waitFor("the orphaned agent \(agentPid) to be gone") { !isRunningProcess(agentPid) }
        try waitFor("the shim \(before.shimPid) to be gone") { !isRunningProcess(before.shimPid) }
        try waitFor("the agent's background child \(childPid) to be gone") { !isRunningProcess(childPid) }
        try waitFor("the victim's pane to be dead") { try sv.paneDead("crash", "victim") == "1" }
        XCTAssertEqual(try sv.windows("crash"), ["victim", "bystander"])

        let statuses = try sv.status("crash")
        XCTAssertEqual(statuses.first { $0.agent == "victim" }?.state, "lost")
        XCTAssertEqual(statuses.first { $0.agent == "victim" }?.shimAlive, false)
        XCTAssertEqual(statuses.first { $0.agent == "bystander" }?.state, "running")

        let restart = try ok(["restart", "crash", "victim"])
        XCTAssertTrue(restart.stdout.hasPrefix("victim: running"), restart.stdout)
        let after = try XCTUnwrap(sv.state("crash", "victim"))
        XCTAssertEqual(after.state, .running)
        let newPid = try XCTUnwrap(after.agentPid)
        XCTAssertNotEqual(newPid, agentPid)
        XCTAssertTrue(isRunningProcess(newPid))
        XCTAssertNotEqual(after.shimPid, before.shimPid)
        XCTAssertEqual(try sv.paneDead("crash", "victim"), "0")
        XCTAssertEqual(try sv.status("crash").map(\.state), ["running", "running"])
    }

    /// 5. Restart policy: on-failure backoff and give-up, always, never.
    func testRestartPolicyBackoffAndLimits() throws {
        let path = sv.writeProfile("policy",
            agent("flaky", sh("exit 1"), extra: """
                restart = "on-failure"
                backoff_initial = 0.2
                backoff_max = 0.4
                max_restarts = 3
                restart_window = 60
                """) +
            agent("always", sh("exit 0"), extra: """
                restart = "always"
                backoff_initial = 0.1
                backoff_max = 0.1
                max_restarts = 2
                restart_window = 60
                """) +
            agent("never", sh("exit 1"), extra: "restart = \"never\""))
        try upDetached(path)

        let flaky = try sv.waitForState("policy", "flaky", "failed", seconds: 30) { $0.state == .failed }
        XCTAssertEqual(flaky.restarts, 3)
        XCTAssertEqual(flaky.runs.count, 4)
        XCTAssertEqual(flaky.runs.map(\.exit), Array(repeating: .exited(1), count: 4))
        XCTAssertEqual(flaky.lastError, "restarted 3 times within 60s; last exit code 1")
        XCTAssertNil(flaky.agentPid)
        // delay k = next start - this end; base = min(0.2 * 2^k, 0.4); delay in [base/2, base] (+ start-up slack).
        let bases = [0.2, 0.4, 0.4]
        var delays: [Double] = []
        for k in 0..<3 {
            let ended = try XCTUnwrap(flaky.runs[k].endedAt)
            delays.append(flaky.runs[k + 1].startedAt - ended)
            XCTAssertGreaterThanOrEqual(flaky.runs[k + 1].startedAt, flaky.runs[k].startedAt)
        }
        for (delay, base) in zip(delays, bases) {
            XCTAssertGreaterThanOrEqual(delay, base / 2 - 0.001, "delays \(delays)")
            XCTAssertLessThanOrEqual(delay, base + 0.2, "delays \(delays)")
        }
        // The gaps between starts grow with the backoff: the second and third base are twice the first.
        let gaps = (0..<3).map { flaky.runs[$0 + 1].startedAt - flaky.runs[$0].startedAt }
        XCTAssertGreaterThanOrEqual(gaps[1], 0.2 - 0.005, "gaps \(gaps)")
        XCTAssertGreaterThanOrEqual(gaps[2], 0.2 - 0.005, "gaps \(gaps)")
        XCTAssertLessThanOrEqual(gaps[0], 0.2 + 0.2, "gaps \(gaps)")

        let always = try sv.waitForState("policy", "always", "failed after its restarts", seconds: 30) { $0.state == .failed }
        XCTAssertEqual(always.restarts, 2)
        XCTAssertEqual(always.runs.map(\.exit), [.exited(0), .exited(0), .exited(0)])

        let never = try sv.waitForState("policy", "never", "exited") { $0.state == .exited }
        XCTAssertEqual(never.restarts, 0)
        XCTAssertEqual(never.runs.map(\.exit), [.exited(1)])
        // Still exited once the others have long finished restarting.
        XCTAssertEqual(sv.state("policy", "never")?.runs.count, 1)
        XCTAssertEqual(try sv.status("policy").map(\.state), ["failed", "failed", "exited"])
    }

    /// 6. stop / start / restart, process groups, stop_timeout.
    func testStopStartRestartAndStopTimeout() throws {
        let childFile = sv.home.file("child.pid")
        let path = sv.writeProfile("ctl",
            agent("worker", sh("sleep 600 & echo $! > \(childFile); echo worker-up; wait")) +
            agent("stubborn", sh("trap '' TERM; echo stubborn-up; while :; do sleep 1; done"), extra: "stop_timeout = 1"))
        try upDetached(path)
        try sv.waitForLog("ctl", "worker", containing: "worker-up")
        let running = try XCTUnwrap(sv.state("ctl", "worker"))
        let firstPid = try XCTUnwrap(running.agentPid)
        let childPid = try XCTUnwrap(Int32(String(decoding: FileManager.default.contents(atPath: childFile) ?? Data(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertTrue(isRunningProcess(childPid))
        XCTAssertEqual(getpgid(childPid), firstPid, "the child is in the agent's process group")

        let stop = try ok(["stop", "ctl", "worker"])
        XCTAssertTrue(stop.stdout.hasPrefix("worker: stopped"), stop.stdout)
        let stopped = try XCTUnwrap(sv.state("ctl", "worker"))
        XCTAssertEqual(stopped.state, .stopped)
        XCTAssertNil(stopped.agentPid)
        XCTAssertEqual(stopped.runs.last?.exit, .signaled(SIGTERM))
        try waitFor("the agent \(firstPid) to be gone") { !isRunningProcess(firstPid) }
        try waitFor("the agent's background child \(childPid) to be gone") { !isRunningProcess(childPid) }
        XCTAssertEqual(try sv.status("ctl").first { $0.agent == "worker" }?.state, "stopped")
        let sendStopped = try sv.run(["send", "ctl", "worker", "hello"])
        assertOneLineError(sendStopped, ["worker is not running"])
        XCTAssertEqual(try sv.paneDead("ctl", "worker"), "0", "stopping the agent ended its shim")

        let start = try ok(["start", "ctl", "worker"])
        XCTAssertTrue(start.stdout.hasPrefix("worker: running"), start.stdout)
        let started = try XCTUnwrap(sv.state("ctl", "worker"))
        XCTAssertEqual(started.state, .running)
        let secondPid = try XCTUnwrap(started.agentPid)
        XCTAssertNotEqual(secondPid, firstPid)
        XCTAssertTrue(isRunningProcess(secondPid))

        let restart = try ok(["restart", "ctl", "worker"])
        XCTAssertTrue(restart.stdout.hasPrefix("worker: running"), restart.stdout)
        let restarted = try XCTUnwrap(sv.state("ctl", "worker"))
        XCTAssertEqual(restarted.state, .running)
        let thirdPid = try XCTUnwrap(restarted.agentPid)
        XCTAssertNotEqual(thirdPid, secondPid)
        try waitFor("the previous agent \(secondPid) to be gone") { !isRunningProcess(secondPid) }
        XCTAssertEqual(restarted.runs.suffix(3).map(\.exit), [.signaled(SIGTERM), .signaled(SIGTERM), nil])

        // SIGTERM is ignored: the shim SIGKILLs after stop_timeout = 1s.
        try sv.waitForLog("ctl", "stubborn", containing: "stubborn-up")
        let stubbornPid = try XCTUnwrap(sv.state("ctl", "stubborn")?.agentPid)
        let began = Date()
        let stopStubborn = try ok(["stop", "ctl", "stubborn"])
        let took = Date().timeIntervalSince(began)
        XCTAssertTrue(stopStubborn.stdout.hasPrefix("stubborn: stopped"), stopStubborn.stdout)
        XCTAssertEqual(sv.state("ctl", "stubborn")?.runs.last?.exit, .signaled(SIGKILL))
        XCTAssertGreaterThanOrEqual(took, 1.0)
        XCTAssertLessThan(took, 5.0)
        try waitFor("the stubborn agent to be gone") { !isRunningProcess(stubbornPid) }
    }

    /// 150 agents start with one `up --detach` (tmux takes at most ~16 KiB per command: one
    /// invocation for all windows stopped at ~65), and status and down stay quick.
    func testUpOfManyAgents() throws {
        let names = (0..<150).map { String(format: "agent%03d", $0) }
        let path = sv.writeProfile("many", names.map { agent($0, ["sleep", "600"]) }.joined())
        try upDetached(path)
        XCTAssertEqual(try sv.windows("many"), names)
        let began = Date()
        let statuses = try sv.status("many")
        XCTAssertEqual(statuses.filter { $0.state == "running" }.count, names.count)
        XCTAssertLessThan(Date().timeIntervalSince(began), 10)
        let pids = statuses.compactMap(\.pid)
        XCTAssertEqual(pids.count, names.count)
        try ok(["down", "many"], timeout: 60)
        for pid in pids { try waitFor("agent \(pid) to end after down") { !isRunningProcess(pid) } }
    }
}
