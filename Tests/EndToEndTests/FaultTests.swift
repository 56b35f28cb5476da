import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// Faults that must lose no data and open no door: a full disk, a log removed from outside,
/// directories another user prepared, protocol abuse.
final class FaultTests: EndToEndTestCase {
    /// A small tmpfs as the logs directory: a real full disk. Needs root (skips otherwise).
    private func mountSmallDisk(at path: String, kilobytes: Int) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard geteuid() == 0, mount("tmpfs", path, "tmpfs", 0, "size=\(kilobytes)k,mode=0700") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root): \(String(cString: strerror(errno)))")
        }
        addTeardownBlock { _ = umount2(path, Int32(MNT_DETACH)) } // lazily: shims may still hold files
    }

    private func events(_ profile: String, _ agent: String) -> [[String: Any]] {
        let text = String(decoding: FileManager.default.contents(atPath: sv.eventsPath(profile, agent)) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// A full disk: output that does not fit is dropped (the agent is never blocked), `status`
    /// says so, and once there is room the log gets a gap record with the exact count and an
    /// event; the bytes kept plus the count are everything the agent wrote.
    func testFullDiskMarksTheGapInTheLog() throws {
        try mountSmallDisk(at: sv.logsDir, kilobytes: 256)
        let filler = sv.logsDir + "/filler"
        XCTAssertTrue(FileManager.default.createFile(atPath: filler, contents: Data(count: 200 * 1024)))
        let trigger = sv.root + "/room"
        let path = sv.writeProfile("full", agent("w", sh(
            "head -c 100000 /dev/zero | tr '\\0' x; while [ ! -e \(trigger) ]; do sleep 0.05; done; echo after-gap; exec sleep 600"),
            extra: "restart = \"never\""))
        try upDetached(path)
        let lossy = try sv.waitForState("full", "w", "output lost") { ($0.lastError ?? "").contains("lost") }
        XCTAssertTrue(lossy.lastError?.contains("No space left") ?? false, "\(lossy.lastError ?? "nil")")
        XCTAssertTrue(try sv.status("full")[0].lastError?.contains("bytes of output lost") ?? false)

        try FileManager.default.removeItem(atPath: filler)
        XCTAssertTrue(FileManager.default.createFile(atPath: trigger, contents: nil))
        try sv.waitForLog("full", "w", containing: "after-gap")
        let log = String(decoding: sv.log("full", "w"), as: UTF8.self)
        let kept = log.filter { $0 == "x" }.count
        let marker = try XCTUnwrap(log.range(of: #"\[supervisor: (\d+) bytes of output lost here: No space left on device\]"#,
                                             options: .regularExpression), log.suffix(200).description)
        let lost = Int(log[marker].split(separator: " ")[1])!
        XCTAssertGreaterThan(lost, 0)
        XCTAssertEqual(kept + lost, 100_000, "every byte is either in the log or counted in its gap record")
        XCTAssertTrue(log.hasSuffix("after-gap\r\n"), String(log.suffix(100)))
        let gap = try XCTUnwrap(events("full", "w").first { $0["type"] as? String == "gap" })
        XCTAssertEqual((gap["bytes"] as? NSNumber)?.intValue, lost)
        // Offsets stay consistent: what `logs --raw` reads through them is the file itself.
        XCTAssertEqual(try ok(["logs", "full", "w", "--raw"]).stdoutData, sv.log("full", "w"))
    }

    /// A log removed from outside is written anew at its path (nothing written after the
    /// removal is lost), with an event, across restarts too.
    func testRemovedLogIsReopened() throws {
        let trigger = sv.root + "/go"
        let path = sv.writeProfile("gone", agent("w", sh(
            "echo first; while [ ! -e \(trigger) ]; do sleep 0.05; done; echo second; while :; do sleep 0.2; echo tick; done")))
        try upDetached(path)
        try sv.waitForLog("gone", "w", containing: "first")
        try FileManager.default.removeItem(atPath: sv.logPath("gone", "w"))
        XCTAssertTrue(FileManager.default.createFile(atPath: trigger, contents: nil))
        try sv.waitForLog("gone", "w", containing: "second")
        // The shim copies what went to the removed file into the new one, then records the event:
        // a reader can see the text a moment before the event.
        try waitFor("an event saying the log was reopened") { events("gone", "w").contains { $0["type"] as? String == "log" } }
        XCTAssertEqual(try ok(["logs", "gone", "w", "--raw"]).stdoutData, sv.log("gone", "w"), "offsets continue")
        // A restart after another removal starts writing a new file at once.
        try FileManager.default.removeItem(atPath: sv.logPath("gone", "w"))
        try ok(["restart", "gone", "w"])
        try sv.waitForLog("gone", "w", containing: "first")
    }

    /// State and log directories someone else prepared, or can write, are refused before
    /// anything starts, naming the directory and the fix; so is a link where a log goes.
    func testDirectoriesAnotherUserPreparedAreRefused() throws {
        try XCTSkipUnless(geteuid() == 0, "needs root to make a directory owned by another user")
        let path = sv.writeProfile("prep", agent("a", ["sleep", "600"]))
        let agentDir = sv.profileDir("prep") + "/agents/a"
        try FileManager.default.createDirectory(atPath: agentDir, withIntermediateDirectories: true)
        chmod(agentDir, 0o777)
        chown(agentDir, 65534, 65534)
        assertOneLineError(try sv.run(["up", path, "--detach"]), [agentDir, "belongs to user id 65534", "chown"])
        XCTAssertFalse(fileExists(sv.tmuxSocket("prep")))
        chown(agentDir, 0, 0)
        assertOneLineError(try sv.run(["up", path, "--detach"]), [agentDir, "writable by other users", "chmod o-w"])
        chmod(agentDir, 0o700)

        let secret = sv.root + "/secret"
        XCTAssertTrue(FileManager.default.createFile(atPath: secret, contents: Data("keep\n".utf8)))
        try FileManager.default.createDirectory(atPath: sv.logsDir + "/prep", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: sv.logPath("prep", "a"), withDestinationPath: secret)
        assertOneLineError(try sv.run(["up", path, "--detach"]), [sv.logPath("prep", "a"), "remove it"])
        XCTAssertEqual(FileManager.default.contents(atPath: secret), Data("keep\n".utf8))
        try FileManager.default.removeItem(atPath: sv.logPath("prep", "a"))
        try upDetached(path)

        XCTAssertEqual(try sv.status("prep").map(\.state), ["running"])
    }

    /// Malformed requests get a refusal, never a silent success or no answer at all.
    func testMalformedPasteAndResizeAreAnswered() throws {
        let path = sv.writeProfile("frames", agent("a", ["cat"]))
        try upDetached(path)
        let socket = sv.shimSocket("frames", "a")
        let paste = try ShimRequest.send(Frame(type: .paste, payload: [0xff, 0xfe, 0x41]), to: socket, agent: "a")
        XCTAssertFalse(paste.ack.ok)
        XCTAssertTrue(paste.ack.error?.contains("UTF-8") ?? false, "\(paste.ack)")
        let resize = try ShimRequest.send(Frame(type: .resize, payload: [1, 2, 3]), to: socket, agent: "a", timeout: 5)
        XCTAssertFalse(resize.ack.ok)
        XCTAssertTrue(try ShimRequest.send(Frame.resize(rows: 24, cols: 80), to: socket, agent: "a", timeout: 5).ack.ok)
    }

    /// `up` killed at any moment (driven at named points, not by timing) leaves a profile that
    /// `down` removes completely and `up` then starts again; killed once the windows exist,
    /// `up --detach` finds the agents running.
    func testInterruptedUpLeavesAManageableProfile() throws {
        let path = sv.writeProfile("cut", agent("a", ["sleep", "600"]) + agent("b", ["sleep", "600"]))
        for point in ["record-written", "session-created", "shims-waited"] {
            let killed = try sv.run(["up", path, "--detach"], environment: ["SUPERVISOR_TEST_KILL_UP_AT": point])
            XCTAssertTrue(killed.signaled, "\(point): \(killed)")
            let down = try sv.run(["down", "cut"])
            XCTAssertEqual(down.status, 0, "\(point): \(down)")
            XCTAssertFalse(fileExists(sv.tmuxSocket("cut")), "\(point): the tmux server is left")
            XCTAssertFalse(fileExists(sv.profileDir("cut") + "/profile.json"), point)
            try upDetached(path)
            XCTAssertEqual(try sv.status("cut").map(\.state), ["running", "running"], point)
            try ok(["down", "cut"])
        }
        let killed = try sv.run(["up", path, "--detach"], environment: ["SUPERVISOR_TEST_KILL_UP_AT": "session-created"])
        XCTAssertTrue(killed.signaled, "\(killed)")
        try upDetached(path)
        try waitFor("both agents to run") { ((try? self.sv.status("cut")) ?? []).map(\.state) == ["running", "running"] }
    }

    /// A person's start of a `failed` agent gives it its whole restart budget again.
    func testManualStartResetsTheRestartBudget() throws {
        let path = sv.writeProfile("budget", agent("f", ["false"],
            extra: "restart = \"always\"\nmax_restarts = 2\nbackoff_initial = 0.05\nbackoff_max = 0.05"))
        try upDetached(path)
        let failed = try sv.waitForState("budget", "f", "failed") { $0.state == .failed }
        XCTAssertEqual(failed.restarts, 2)
        try ok(["start", "budget", "f"])
        let again = try sv.waitForState("budget", "f", "failed again") { $0.state == .failed && $0.runs.count == failed.runs.count + 3 }
        XCTAssertEqual(again.restarts, 2, "the budget starts over: 2 restarts, not 3, 4")
    }

    /// The events file is rotated with the log (it grew to 110 MB with max_bytes = 4096).
    func testEventsFileIsRotatedWithTheLog() throws {
        let path = sv.writeProfile("evrot", agent("e", sh(
            "i=0; while [ $i -lt 300 ]; do echo '{\"type\":\"step\",\"n\":1}' >&3; i=$((i+1)); done; echo done"),
            extra: "restart = \"never\"") + "", file: nil)
        let text = try String(contentsOfFile: path).replacingOccurrences(of: "[logs]\n", with: "[logs]\nmax_bytes = 4096\nkeep = 2\n")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try upDetached(path)
        _ = try sv.waitForState("evrot", "e", "exited") { $0.state == .exited }
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: sv.eventsPath("evrot", "e"))[.size] as? Int)
        XCTAssertLessThanOrEqual(size, 4096)
        XCTAssertTrue(fileExists(sv.eventsPath("evrot", "e") + ".1"))
        XCTAssertTrue(fileExists(sv.eventsPath("evrot", "e") + ".2"))
        XCTAssertFalse(fileExists(sv.eventsPath("evrot", "e") + ".3"))
    }

    /// Under `ulimit -n 128`, 150 idle connections to a shim neither exhaust its descriptors
    /// (an agent start then failed with EMFILE) nor lock a person's command out.
    func testIdleConnectionsAreCappedAndNeverFailAStart() throws {
        let path = sv.writeProfile("conns", agent("a", ["sleep", "600"]))
        let up = try sv.run(["-c", "ulimit -n 128 && exec \"$0\" up \"$1\" --detach", sv.executable, path], executable: "/bin/sh")
        XCTAssertEqual(up.status, 0, "\(up)")
        let before = try XCTUnwrap(sv.state("conns", "a")?.agentPid)
        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        for _ in 0..<150 {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let socketPath = sv.shimSocket("conns", "a")
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in socketPath.utf8.enumerated() { raw[i] = byte }
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            XCTAssertEqual(connected, 0)
            fds.append(fd)
        }
        let restart = try ok(["restart", "conns", "a"])
        XCTAssertTrue(restart.stdout.hasPrefix("a: running"), restart.stdout)
        let after = try XCTUnwrap(sv.state("conns", "a"))
        XCTAssertNotEqual(after.agentPid, before)
        XCTAssertNil(after.lastError)
        let shim = after.shimPid
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(shim)/fd").count) ?? 0
        XCTAssertLessThan(open, 100, "the shim holds \(open) descriptors")
    }
}
