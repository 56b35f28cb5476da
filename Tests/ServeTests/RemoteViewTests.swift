import AgentProtocol
import XCTest
@testable import Serve

/// `supervisor client`'s view, from stream messages alone.
final class RemoteViewTests: XCTestCase {
    func event(_ json: String) -> [UInt8] { Array("{\"type\":\"event\",\"agent\":\"c\",\"event\":\(json)}".utf8) }

    /// The coder's typed question: the view shows it, and "y" typed answers that question (by
    /// its id, over HTTP), not the agent as a message; once answered, "y" is a message again.
    func testPermissionQuestion() {
        var view = RemoteView(colour: false)
        let shown = view.text(event(#"{"type":"permission","id":"toolu_1","tool":"Bash","summary":"rm -rf build","choices":["yes","no","always"]}"#))
        XCTAssertTrue(shown.contains("may it run Bash(rm -rf build)?"), shown)
        XCTAssertTrue(shown.contains("[y]es / [n]o / [a]lways"), shown)
        XCTAssertEqual(view.action(for: "y"), .answer(id: "toolu_1", .yes))
        XCTAssertEqual(view.action(for: " Always"), .answer(id: "toolu_1", .always))
        XCTAssertTrue(view.text(event(#"{"type":"permission_answer","id":"toolu_1","tool":"Bash","answer":"yes"}"#)).contains("Bash allowed"))
        XCTAssertNil(view.question)
        XCTAssertEqual(view.action(for: "y"), .send(#"{"type":"paste","text":"y"}"#), "no question pending: a message")
        XCTAssertEqual(String(decoding: RemoteView.answerBody(.no), as: UTF8.self), #"{"answer":"no"}"#)
        // A client that connects while the coder asks learns the question from the hello's status.
        var late = RemoteView(colour: false)
        let hello = late.text(Array(#"{"type":"hello","status":{"agent":"c","state":"running","permission":{"id":"q9","tool":"Edit","summary":"a.py","choices":["yes","no","always"]}}}"#.utf8))
        XCTAssertTrue(hello.contains("may it run Edit(a.py)?"), hello)
        XCTAssertEqual(late.action(for: "n"), .answer(id: "q9", .no))
    }

    func testTranscriptAndControl() {
        var view = RemoteView(colour: false)
        XCTAssertTrue(view.text(event(#"{"type":"user","text":"hello there","source":"pane"}"#)).contains("hello there"))
        XCTAssertTrue(view.text(Array(#"{"type":"state","status":{"agent":"c","state":"exited"}}"#.utf8)).contains("[c: exited]"))
        XCTAssertEqual(view.action(for: "/restart"), .send(#"{"type":"control","op":"restart"}"#))
    }
}
