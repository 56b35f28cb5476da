import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// With no dashboard open, an agent that needs a person is announced by its shim: the profile's
/// `[notify] command` reads the attention event as JSON, the tmux status line says why, and the
/// event is in the agent's events file.
final class AttentionEndToEndTests: EndToEndTestCase {
    /// A `[notify]` table whose command appends each event to the file `notes`, plus `extra`.
    func notifyTable(_ extra: String = "") -> (notes: String, toml: String) {
        let notes = sv.home.path + "/notes.jsonl"
        return (notes, "[notify]\ncommand = [\"sh\", \"-c\", \"cat >> \(notes)\"]\nmin_interval = 0\n\(extra)\n\n")
    }

    func testANeedIsAnnouncedWithNoViewer() throws {
        let (notes, notify) = notifyTable()
        let profile = notify
            + agent("asks", sh(#"echo '{"type":"state","state":"waiting"}' >&3; exec sleep 100000"#))
            + agent("broken", sh("echo bye; exit 3"), extra: "restart = \"never\"")
            + agent("busy", sh(#"echo '{"type":"state","state":"waiting"}' >&3; echo '{"type":"state","state":"thinking"}' >&3; exec sleep 100000"#))
        try upDetached(sv.writeProfile("att", profile))
        var lines: [String] = []
        try waitFor("both notifications", seconds: 30) {
            lines = (try? String(contentsOfFile: notes, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
            return lines.count >= 2
        }
        let byAgent = Dictionary(lines.map { line -> (String, String) in
            let agent = line.contains(#""agent":"asks""#) ? "asks" : line.contains(#""agent":"broken""#) ? "broken" : "other"
            return (agent, line)
        }, uniquingKeysWith: { a, _ in a })
        XCTAssertTrue(byAgent["asks"]?.contains(#""type":"attention""#) ?? false, "\(lines)")
        XCTAssertTrue(byAgent["asks"]?.contains(#""reason":"waiting_for_input""#) ?? false, "\(lines)")
        XCTAssertTrue(byAgent["broken"]?.contains(#""reason":"failed""#) ?? false, "\(lines)")
        XCTAssertTrue(byAgent["broken"]?.contains("exited with code 3") ?? false, "\(lines)")
        XCTAssertNil(byAgent["other"], "an agent that said waiting and went on at once is not announced: \(lines)")
        // The status line of the profile's tmux server says it.
        let shown = try sv.tmux("att", ["show-options", "-w", "-v", "-t", "=att:=asks", "@sv_attention"])
        XCTAssertEqual(shown.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "waits for input")
        let events = try String(contentsOfFile: sv.logsDir + "/att/asks.events.jsonl", encoding: .utf8)
        XCTAssertTrue(events.contains(#""type":"attention""#), events)
    }

    /// A plain command blocked reading its terminal (`read x`), with no dashboard open: its
    /// shim finds it in /proc once it is quiet, runs `[notify] command` and sets the status line.
    func testACommandReadingItsTerminalIsAnnouncedWithNoViewer() throws {
        let (notes, notify) = notifyTable()
        let profile = notify
            + agent("reader", sh("echo 'your name?'; read x; echo got $x; exec sleep 100000"))
            + agent("sleeper", sh("exec sleep 100000"))
        try upDetached(sv.writeProfile("rd", profile))
        var text = ""
        try waitFor("the notification", seconds: 30) {
            text = (try? String(contentsOfFile: notes, encoding: .utf8)) ?? ""
            return !text.isEmpty
        }
        XCTAssertTrue(text.contains(#""agent":"reader""#) && text.contains(#""type":"attention""#), text)
        XCTAssertTrue(text.contains(#""reason":"waiting_for_input""#), text)
        XCTAssertFalse(text.contains(#""agent":"sleeper""#), "sleeping is not waiting for input: \(text)")
        try waitFor("the status line", seconds: 10) {
            let shown = try? sv.tmux("rd", ["show-options", "-w", "-v", "-t", "=rd:=reader", "@sv_attention"])
            return shown?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "waits for input"
        }
        // Typing an answer ends the wait: the status line is cleared.
        try ok(["send", "rd", "reader", "ada"])
        try waitFor("the status line cleared", seconds: 10) {
            let shown = try? sv.tmux("rd", ["show-options", "-w", "-v", "-t", "=rd:=reader", "@sv_attention"])
            return (shown?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") == ""
        }
    }

    /// `[notify] on` picks the reasons that notify; the others still reach the events file.
    func testOnlyTheListedReasonsNotify() throws {
        let (notes, notify) = notifyTable(#"on = ["finished"]"#)
        let profile = notify
            + agent("done", sh("echo ok"), extra: "restart = \"never\"")
            + agent("asks", sh(#"echo '{"type":"state","state":"waiting"}' >&3; exec sleep 100000"#))
        try upDetached(sv.writeProfile("on", profile))
        try waitFor("the waiting agent's attention event", seconds: 30) {
            ((try? String(contentsOfFile: sv.logsDir + "/on/asks.events.jsonl", encoding: .utf8)) ?? "").contains(#""type":"attention""#)
        }
        var text = ""
        try waitFor("the finished notification", seconds: 30) {
            text = (try? String(contentsOfFile: notes, encoding: .utf8)) ?? ""
            return text.contains(#""reason":"finished""#)
        }
        XCTAssertTrue(text.contains(#""agent":"done""#), text)
        XCTAssertFalse(text.contains(#""agent":"asks""#), "waiting_for_input is not in `on`: \(text)")
    }
}
