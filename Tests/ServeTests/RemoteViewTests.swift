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

    /// The whole profile: each agent's lines under its name, one column; a line goes to the
    /// agent it names; y/n/a answer that agent's question, or, bare, the one agent that asks.
    func testProfileView() {
        var view = ProfileView(agents: ["coder", "ex"], colour: false)
        func event(_ agent: String, _ json: String) -> [UInt8] { Array("{\"type\":\"event\",\"agent\":\"\(agent)\",\"event\":\(json)}".utf8) }
        let said = view.text(event("ex", #"{"type":"user","text":"hello there","source":"pane"}"#))
        XCTAssertTrue(said.contains("ex    │ ") && said.contains("hello there"), said)
        XCTAssertTrue(said.split(separator: "\n").allSatisfy { $0.hasPrefix("ex    │ ") }, said)
        XCTAssertEqual(view.text(event("nobody", #"{"type":"user","text":"x","source":"pane"}"#)), "", "an agent the profile did not list")
        XCTAssertEqual(view.text(Array(#"{"type":"replayed"}"#.utf8)), "--- live ---\n")
        let asked = view.text(event("coder", #"{"type":"permission","id":"toolu_7","tool":"Bash","summary":"make","choices":["yes","no","always"]}"#))
        XCTAssertTrue(asked.contains("coder │ ") && asked.contains("may it run Bash(make)?") && asked.contains("answer: @coder y / n / a"), asked)
        XCTAssertEqual(view.action(for: "@coder y"), .answer(agent: "coder", id: "toolu_7", .yes))
        XCTAssertEqual(view.action(for: "n"), .answer(agent: "coder", id: "toolu_7", .no), "the one agent that asks")
        XCTAssertEqual(view.action(for: "@ex y"), .paste(agent: "ex", text: "y"), "ex asks nothing: a message")
        XCTAssertEqual(view.action(for: "  @ex  what is 6 x 7 "), .paste(agent: "ex", text: "what is 6 x 7"))
        XCTAssertEqual(view.action(for: "@ex /restart"), .control(agent: "ex", op: "restart"))
        guard case .help(let unknown) = view.action(for: "@zz hi"), case .help(let bare) = view.action(for: "hello"),
              case .help(let empty) = view.action(for: "@ex") else { return XCTFail("help expected") }
        XCTAssertTrue(unknown.contains("no agent zz") && bare.contains("@AGENT (coder, ex)") && empty.contains("@ex what?"), unknown + bare + empty)
        _ = view.text(event("coder", #"{"type":"permission_answer","id":"toolu_7","tool":"Bash","answer":"yes"}"#))
        guard case .help = view.action(for: "y") else { return XCTFail("nobody asks: a bare y is not an answer") }
        // A question older than the replay: the status says it.
        var late = ProfileView(agents: ["coder"], colour: false)
        let status = try! OrderedJSON.parse(Array(#"{"agent":"coder","state":"running","permission":{"id":"q2","tool":"Edit","summary":"a.py","choices":["yes","no","always"]}}"#.utf8))
        let seeded = late.seed(agent: "coder", status: status)
        XCTAssertTrue(seeded.contains("coder │ ? asks: may it run Edit(a.py)?") && !seeded.contains("[coder: running]"), seeded)
        XCTAssertEqual(late.action(for: "a"), .answer(agent: "coder", id: "q2", .always))
        XCTAssertEqual(late.seed(agent: "coder", status: try! OrderedJSON.parse(Array(#"{"agent":"coder","state":"running"}"#.utf8))), "")
    }
}
