import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// The exec agent under its real shim: a one-shot prompt that ends at a limit is not run again
/// from scratch by the on-failure restart policy (it was, once per restart, spending the budget
/// each time).
final class ExecRestartEndToEndTests: EndToEndTestCase {
    func testAOneShotEndedAtALimitIsNotRunAgainByTheRestartPolicy() throws {
        let workspace = sv.home.file("ws")
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        // Every process that starts the prompt afresh begins this script again.
        let script = sv.home.write("exec.script", """
            --- turn
            ```python
            print('spent', 1)
            ```

            """)
        let path = sv.writeProfile("oneshot", """
            [llm]
            provider = "script"
            script = \(tomlString(script))

            [[agents]]
            name = "calc"
            kind = "exec"
            cwd = \(tomlString(workspace))
            prompt = "Count to ten, one block at a time."
            limit = 1
            restart = "on-failure"
            backoff_initial = 0.1
            backoff_max = 0.2
            max_restarts = 2
            restart_window = 60

            """)
        try upDetached(path)
        // The agent says its end is final: the shim does not restart it at all.
        let state = try sv.waitForState("oneshot", "calc", "failed without a restart", seconds: 60) { $0.state == .failed }
        XCTAssertEqual(state.runs.map(\.exit), [.exited(3)])
        XCTAssertEqual(state.restarts, 0)
        XCTAssertTrue(state.lastError?.contains("not restarted (the agent ended for good)") ?? false, "\(state)")
        let events = try String(contentsOfFile: sv.eventsPath("oneshot", "calc"), encoding: .utf8)
        XCTAssertTrue(events.contains(#""type":"final","reason":"step limit reached (limit = 1)""#), events)

        // A restart by hand does not run it from scratch either: it says why and ends again.
        try ok(["restart", "oneshot", "calc"])
        _ = try sv.waitForState("oneshot", "calc", "ended again", seconds: 60) { $0.state == .failed && $0.runs.count == 2 }

        // One conversation, one model request, one block run: the restarts only said why they stopped.
        let dir = sv.profileDir("oneshot") + "/agents/calc/conversations"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") && $0 != "current.json" }
        XCTAssertEqual(files.count, 1, files.joined(separator: " "))
        let data = try XCTUnwrap(FileManager.default.contents(atPath: dir + "/" + (files.first ?? "")))
        // A transcript (README, "Transcripts"): the exec agent's requests and runs are its extras.
        let transcript = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(transcript["format"] as? String, "supervisor-transcript")
        let conversation = try XCTUnwrap(transcript["extras"] as? [String: Any])
        XCTAssertEqual((conversation["requests"] as? [Any])?.count, 1)
        XCTAssertEqual((conversation["runs"] as? [Any])?.count, 1)
        let log = String(decoding: sv.log("oneshot", "calc"), as: UTF8.self)
        XCTAssertEqual(log.components(separatedBy: "already ended: step limit reached (limit = 1)").count - 1, 1, log)
    }
}
