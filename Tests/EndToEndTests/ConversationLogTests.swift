import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// `supervisor logs P AGENT` on a built-in agent prints its conversation, rendered from its
/// events: the recorded coder demo's final answer as plain text, no escape sequences; --follow
/// started before the answer prints it once; --terminal and --raw print the pane's text and
/// bytes; a command agent keeps its terminal text.
final class ConversationLogTests: EndToEndTestCase {
    func testLogsOfACoderShowItsConversation() throws {
        let workspace = sv.home.file("ws")
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        let script = URLPathForTests.packageRoot(#filePath) + "/profiles/scripts/coder-demo.script"
        let chatScript = sv.home.write("chat.script", "--- turn 1\nHello to you.\n")
        let path = sv.writeProfile("talk", """
            [llm]
            provider = "script"

            [[agents]]
            name = "coder"
            kind = "coder"
            cwd = \(tomlString(workspace))
            prompt = "Write a greeting program"
            permission = "yolo"
            restart = "never"
            [agents.llm]
            script = \(tomlString(script))

            [[agents]]
            name = "chat"
            kind = "coder"
            cwd = \(tomlString(workspace))
            [agents.llm]
            script = \(tomlString(chatScript))

            """ + agent("shell", sh("printf '\\033[1mbold\\033[0m plain\\n'; exec sleep 600")))
        try upDetached(path)
        // Followed from the start: each event once, live.
        let follower = try sv.start(["logs", "--follow", "talk", "coder"])
        let answer = "Done. I wrote `coder-demo/hello.py`"
        try waitFor("the coder's answer in its events", seconds: 60) {
            (try? String(contentsOfFile: self.sv.eventsPath("talk", "coder"), encoding: .utf8))?.contains("Done. I wrote") ?? false
        }

        let logs = try ok(["logs", "talk", "coder"]).stdout
        XCTAssertTrue(logs.contains(answer), logs)
        XCTAssertFalse(logs.contains("\u{1B}"), "escape sequences in: \(logs.debugDescription)")
        XCTAssertTrue(logs.contains("→ Write"), logs)
        XCTAssertTrue(logs.contains("python3 coder-demo/hello.py supervisor"), logs)
        XCTAssertEqual(logs.components(separatedBy: answer).count - 1, 1, logs)

        try waitFor("the follower to print the answer", seconds: 30) { follower.stdout.contains(answer) }
        follower.signal(SIGINT)
        let followed = try follower.wait(seconds: 10).stdout
        XCTAssertEqual(followed.components(separatedBy: answer).count - 1, 1, followed)
        XCTAssertEqual(followed.components(separatedBy: "── started").count - 1, 1, followed)
        XCTAssertFalse(followed.contains("\u{1B}"), followed.debugDescription)

        // The pane's text and bytes stay available.
        let terminal = try ok(["logs", "--terminal", "talk", "coder"]).stdout
        XCTAssertNotEqual(terminal, logs)
        XCTAssertFalse(terminal.contains("\u{1B}"))
        XCTAssertTrue(try ok(["logs", "--raw", "talk", "coder"]).stdout.contains("\u{1B}"))
        // A command agent: its terminal text, as before.
        try sv.waitForLog("talk", "shell", containing: "plain")
        XCTAssertEqual(try ok(["logs", "talk", "shell"]).stdout, "bold plain\n")
        // What a person sends is in a built-in agent's record of events, never in another
        // program's (it may be a password typed at a prompt that does not echo).
        try ok(["send", "talk", "shell", "hunter2"])
        try ok(["send", "talk", "chat", "hello there"])
        try waitFor("the chat's answer", seconds: 30) {
            (try? String(contentsOfFile: self.sv.eventsPath("talk", "chat"), encoding: .utf8))?.contains("Hello to you.") ?? false
        }
        let events = try String(contentsOfFile: sv.eventsPath("talk", "chat"), encoding: .utf8)
        XCTAssertTrue(events.contains(#""type":"user","text":"hello there","source":"send""#), events)
        let chat = try ok(["logs", "talk", "chat"]).stdout
        XCTAssertTrue(chat.contains("user (send):\n  hello there\n"), chat)
        XCTAssertEqual(chat.components(separatedBy: "hello there").count - 1, 1, chat)
        XCTAssertTrue(chat.contains("Hello to you."), chat)
        XCTAssertFalse(try String(contentsOfFile: sv.eventsPath("talk", "shell"), encoding: .utf8).contains("hunter2"))
    }
}

enum URLPathForTests {
    static func packageRoot(_ file: String) -> String {
        var parts = file.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }
}
