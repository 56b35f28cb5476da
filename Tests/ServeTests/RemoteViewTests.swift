import AgentProtocol
import XCTest
@testable import Serve

/// `supervisor client`'s view, from stream messages alone.
final class RemoteViewTests: XCTestCase {
    func event(_ json: String) -> [UInt8] { Array("{\"type\":\"event\",\"agent\":\"c\",\"event\":\(json)}".utf8) }

    /// A coder waiting after a tool call is asking permission: the view shows the question and a
    /// "y" typed answers it as a key, not as a message.
    func testPermissionQuestion() {
        var view = RemoteView(colour: false)
        _ = view.text(event(#"{"type":"tool_call","id":"t1","name":"Bash","input":{"command":"rm -rf build"}}"#))
        let shown = view.text(event(#"{"type":"state","state":"waiting"}"#))
        XCTAssertTrue(shown.contains("? Allow Bash("), shown)
        XCTAssertTrue(shown.contains("rm -rf build"), shown)
        XCTAssertEqual(view.message(for: "y"), #"{"type":"input","data":"y"}"#)
        XCTAssertNil(view.question)
        XCTAssertEqual(view.message(for: "y"), #"{"type":"paste","text":"y"}"#, "no question pending: a message")
    }

    func testTranscriptAndControl() {
        var view = RemoteView(colour: false)
        XCTAssertTrue(view.text(event(#"{"type":"user","text":"hello there","source":"pane"}"#)).contains("hello there"))
        XCTAssertTrue(view.text(Array(#"{"type":"state","status":{"agent":"c","state":"exited"}}"#.utf8)).contains("[c: exited]"))
        XCTAssertEqual(view.message(for: "/restart"), #"{"type":"control","op":"restart"}"#)
    }
}
