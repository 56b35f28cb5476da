import AgentProtocol
import Foundation
import XCTest
import _TestSupport
@testable import Serve

/// The open permission questions serve reads from an events file.
final class QuestionIndexTests: XCTestCase {
    func line(_ event: AgentEvent) -> String { EventCodec.line(event, agent: "c", now: 0) + "\n" }
    func ask(_ id: String) -> AgentEvent { .permission(id: id, tool: "Bash", summary: "ls", diff: nil, choices: PermissionChoice.all, truncated: false) }

    func testQuestionsOpenUntilAnsweredOrTheCoderEnds() throws {
        let dir = TemporaryDirectory(prefix: "questions")
        let path = dir.file("c.events.jsonl")
        let index = QuestionIndex()
        XCTAssertEqual(index.open(path).questions.map(\.id), [], "no file yet")
        FileManager.default.createFile(atPath: path, contents: nil)
        let file = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        file.write(Data((line(.start(pid: 1)) + line(.state(.thinking)) + line(ask("q1")) + line(ask("q2"))).utf8))
        XCTAssertEqual(index.open(path).questions.map(\.id), ["q1", "q2"])
        // Read on from where it was: an answer, then half a line (read once whole).
        file.write(Data(line(.permissionAnswer(id: "q1", tool: "Bash", answer: .yes)).utf8))
        let half = line(ask("q3"))
        file.write(Data(half.prefix(20).utf8))
        XCTAssertEqual(index.open(path).questions.map(\.id), ["q2"])
        file.write(Data(half.dropFirst(20).utf8))
        XCTAssertEqual(index.open(path).questions.map(\.id), ["q2", "q3"])
        XCTAssertEqual(index.open(path).questions.first?.tool, "Bash")
        // The coder exited: nothing is asked any more.
        file.write(Data(line(.exit(status: .code(0), restarts: 0)).utf8))
        XCTAssertEqual(index.open(path).questions.map(\.id), [])
        // A new file at the path (rotated, replaced) is read from its start.
        try FileManager.default.removeItem(atPath: path)
        try (line(ask("q9"))).write(toFile: path, atomically: false, encoding: .utf8)
        XCTAssertEqual(index.open(path).questions.map(\.id), ["q9"])
    }

    /// A long file is read from its last `tail` bytes, skipping the line cut there.
    func testALongFileIsReadFromItsTail() throws {
        let dir = TemporaryDirectory(prefix: "questions")
        let path = dir.file("c.events.jsonl")
        var text = line(ask("old"))
        let filler = line(.message(text: String(repeating: "x", count: 1000), truncated: false))
        while text.utf8.count < QuestionIndex.tail + 10_000 { text += filler }
        text += line(ask("new"))
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        XCTAssertEqual(QuestionIndex().open(path).questions.map(\.id), ["new"])
    }
}
