import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

final class OutputTests: EndToEndTestCase {
    /// `seq FROM TO` output as bytes.
    func seqBytes(_ from: Int, _ to: Int) -> Data {
        var text = ""
        text.reserveCapacity((to - from + 1) * 7)
        for n in from...to { text += "\(n)\n" }
        return Data(text.utf8)
    }

    /// 3a. A large stream with output post-processing off lands in the log byte for byte.
    func testLogIsByteExact() throws {
        let path = sv.writeProfile("bytes", agent("stream", sh("stty -opost; seq 1 200000"), extra: "restart = \"never\""))
        try upDetached(path)
        let state = try sv.waitForState("bytes", "stream", "exited", seconds: 60) { $0.state == .exited }
        XCTAssertEqual(state.runs.map(\.exit), [.exited(0)])
        let expected = seqBytes(1, 200000)
        let log = sv.log("bytes", "stream")
        XCTAssertEqual(log.count, expected.count)
        XCTAssertTrue(log == expected, "the log differs from seq's output (first difference at \(firstDifference(log, expected)))")
        XCTAssertEqual(state.logBytes, UInt64(expected.count))
    }

    /// 3b. kill -9 of viewers (`logs --follow`, headless `up`) mid-stream: the agent keeps running, the log stays exact.
    func testKillingViewersMidStreamLosesNothing() throws {
        let go = sv.home.file("go")
        let script = "stty -opost; seq 1 100000; while [ ! -e \(go) ]; do sleep 0.02; done; seq 100001 600000; echo end > \(go).done; " +
            "while [ ! -e \(go).2 ]; do sleep 0.02; done"
        let path = sv.writeProfile("viewers", agent("stream", sh(script), extra: "restart = \"never\""))
        // Headless up is a viewer too: it waits for the agents.
        let up = try sv.start(["up", path])
        let firstPart = seqBytes(1, 100000)
        try waitFor("the first part in the log", seconds: 60) { sv.log("viewers", "stream").count >= firstPart.count }
        let follow = try sv.start(["logs", "viewers", "stream", "--follow", "--raw"])
        try waitFor("the follower to print the first part", seconds: 30) { follow.stdoutData.count >= firstPart.count }
        XCTAssertTrue(up.isRunning, "headless up ended early: \(up.stdout) \(up.stderr)")
        let agentPid = try XCTUnwrap(sv.state("viewers", "stream")?.agentPid)

        // Start the second part and kill both viewers while it streams.
        FileManager.default.createFile(atPath: go, contents: nil)
        try waitFor("the second part to begin") { sv.log("viewers", "stream").count > firstPart.count }
        kill(follow.pid, SIGKILL)
        kill(up.pid, SIGKILL)
        let followResult = try follow.wait(seconds: 10)
        XCTAssertTrue(followResult.signaled)
        try up.wait(seconds: 10)
        XCTAssertTrue(isRunningProcess(agentPid), "the agent died with its viewers")

        try waitFor("the second part to finish", seconds: 60) { fileExists(go + ".done") }
        XCTAssertTrue(isRunningProcess(agentPid))
        XCTAssertEqual(sv.state("viewers", "stream")?.state, .running)
        FileManager.default.createFile(atPath: go + ".2", contents: nil)
        let state = try sv.waitForState("viewers", "stream", "exited", seconds: 30) { $0.state == .exited }
        XCTAssertEqual(state.runs.map(\.exit), [.exited(0)])
        let expected = seqBytes(1, 600000)
        let log = sv.log("viewers", "stream")
        XCTAssertEqual(log.count, expected.count)
        XCTAssertTrue(log == expected, "the log differs (first difference at \(firstDifference(log, expected)))")
        // What the follower printed before it was killed is a prefix of the log.
        let printed = followResult.stdoutData
        XCTAssertGreaterThanOrEqual(printed.count, firstPart.count)
        XCTAssertTrue(expected.prefix(printed.count) == printed, "the follower printed something else")
    }

    /// 7a. send: a line reaches a line-reading agent.
    func testSendTypesALine() throws {
        let path = sv.writeProfile("talk", agent("echoer", ["bash", "-c", "echo ready; while IFS= read -r l; do echo \"got:$l\"; done"]))
        try upDetached(path)
        try sv.waitForLog("talk", "echoer", containing: "ready")
        let result = try ok(["send", "talk", "echoer", "hello world"])
        XCTAssertEqual(result.stdout, "")
        try sv.waitForLog("talk", "echoer", containing: "got:hello world\r\n")
        try ok(["send", "talk", "echoer", "second; $(nothing) 'q'"])
        try sv.waitForLog("talk", "echoer", containing: "got:second; $(nothing) 'q'\r\n")
        // `-` reads the text from standard input (its final newline is the Enter).
        let piped = try sv.run(["-c", "printf 'from stdin\\n' | \"$0\" send talk echoer -", sv.executable], executable: "/bin/sh")
        XCTAssertEqual(piped.status, 0, "\(piped)")
        try sv.waitForLog("talk", "echoer", containing: "got:from stdin\r\n")
        XCTAssertEqual(sv.state("talk", "echoer")?.bracketedPaste, false)
    }

    /// 7b. send of multi-line text to an agent that enabled bracketed paste.
    func testSendUsesBracketedPaste() throws {
        let text = "line one\nline two\nthree"
        let expected = Data("\u{1b}[200~".utf8) + Data(text.utf8) + Data("\u{1b}[201~\r".utf8)
        let out = sv.home.file("input.bin")
        let script = "stty raw -echo; printf '\\033[?2004hready\\r\\n'; head -c \(expected.count) > \(out); echo; echo captured"
        let path = sv.writeProfile("paste", agent("raw", sh(script), extra: "restart = \"never\""))
        try upDetached(path)
        try sv.waitForLog("paste", "raw", containing: "ready")
        try ok(["send", "paste", "raw", text])
        try sv.waitForState("paste", "raw", "exited") { $0.state == .exited }
        let received = FileManager.default.contents(atPath: out) ?? Data()
        XCTAssertEqual(String(decoding: received, as: UTF8.self).debugDescription,
                       String(decoding: expected, as: UTF8.self).debugDescription)
        XCTAssertTrue(received == expected)
    }

    /// 8. logs: stripped by default, --raw, --lines, --follow until SIGINT.
    func testLogsCommand() throws {
        let path = sv.writeProfile("show",
            agent("colors", sh("printf '\\033[31mred\\033[0m plain\\n\\033[1mbold\\033[0m\\n'; seq 1 20"), extra: "restart = \"never\"") +
            agent("chat", ["bash", "-c", "echo chat-ready; while IFS= read -r l; do echo \"got:$l\"; done"]))
        try upDetached(path)
        try sv.waitForState("show", "colors", "exited") { $0.state == .exited }
        let raw = sv.log("show", "colors")
        XCTAssertTrue(raw.range(of: Data("\u{1b}[31mred".utf8)) != nil, "the log lacks the escape sequence")

        let plain = try ok(["logs", "show", "colors"])
        let numbers = (1...20).map { "\($0)\n" }.joined()
        XCTAssertEqual(plain.stdout, "red plain\nbold\n" + numbers)

        let rawOut = try ok(["logs", "show", "colors", "--raw"])
        XCTAssertTrue(rawOut.stdoutData == raw, "--raw is not the log's bytes")

        let last3 = try ok(["logs", "show", "colors", "--lines", "3"])
        XCTAssertEqual(last3.stdout, "18\n19\n20\n")
        XCTAssertEqual(try ok(["logs", "show", "colors", "-l", "1"]).stdout, "20\n")
        XCTAssertEqual(try ok(["logs", "show", "colors", "--lines", "0"]).stdout, "")
        XCTAssertEqual(try ok(["logs", "show", "colors", "--lines", "22"]).stdout, "red plain\nbold\n" + numbers)

        try sv.waitForLog("show", "chat", containing: "chat-ready")
        let follow = try sv.start(["logs", "show", "chat", "--follow"])
        try waitFor("the follower to print what is there") { follow.stdout.contains("chat-ready\n") }
        try ok(["send", "show", "chat", "later"])
        try waitFor("the follower to print new output") { follow.stdout.contains("got:later\n") }
        XCTAssertTrue(follow.isRunning)
        follow.signal(SIGINT)
        let result = try follow.wait(seconds: 10)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertFalse(result.signaled)
        XCTAssertEqual(result.stdout, "chat-ready\nlater\ngot:later\n")
    }

    /// 13. Structured events on fd 3, normalized, plus the shim's own events.
    func testEventsChannel() throws {
        let path = sv.writeProfile("events",
            agent("ev", sh("echo '{\"type\":\"step\",\"n\":1}' >&3; echo notjson >&3"), extra: "restart = \"never\""))
        try upDetached(path)
        let state = try sv.waitForState("events", "ev", "exited") { $0.state == .exited }
        let pid = try XCTUnwrap(state.runs.first?.pid)
        let text = String(decoding: FileManager.default.contents(atPath: sv.eventsPath("events", "ev")) ?? Data(), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        let events = try lines.map { line -> [String: Any] in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try XCTUnwrap(object as? [String: Any], line)
        }
        // `start` before the `running` state it causes, and timestamps never go back.
        XCTAssertEqual(events.map { $0["type"] as? String }, ["start", "state", "step", "invalid", "exit", "state"], text)
        let stamps = events.compactMap { $0["ts"] as? String }
        XCTAssertEqual(stamps, stamps.sorted(), text)
        for event in events {
            XCTAssertEqual(event["agent"] as? String, "ev")
            let ts = try XCTUnwrap(event["ts"] as? String)
            XCTAssertNotNil(ts.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression), ts)
        }
        guard events.count == 6 else { return }
        XCTAssertEqual(events[1]["state"] as? String, "running")
        XCTAssertEqual((events[0]["pid"] as? NSNumber)?.int32Value, pid)
        XCTAssertEqual((events[2]["n"] as? NSNumber)?.intValue, 1)
        XCTAssertTrue(lines[2].hasPrefix("{\"ts\":\""), lines[2])
        XCTAssertTrue(lines[2].hasSuffix("\"agent\":\"ev\",\"type\":\"step\",\"n\":1}"), lines[2])
        XCTAssertEqual(events[3]["raw"] as? String, "notjson")
        XCTAssertEqual((events[4]["status"] as? [String: Any])?["code"] as? Int, 0)
        XCTAssertEqual((events[4]["restarts"] as? NSNumber)?.intValue, 0)
        XCTAssertEqual(events[5]["state"] as? String, "exited")
    }
}

func firstDifference(_ a: Data, _ b: Data) -> Int {
    let x = [UInt8](a), y = [UInt8](b)
    for i in 0..<min(x.count, y.count) where x[i] != y[i] { return i }
    return min(x.count, y.count)
}
