import XCTest
import Foundation
import AgentProtocol
import LLM
@testable import Agents
import _TestSupport

/// The three built-in agents keep one transcript format. `OldFormats/` holds files written by
/// the code before it (a coder session, an exec conversation with its `current.json`, a goal
/// history: the last two by Foundation's JSONEncoder, pretty, sorted, `\/`-escaped), captured
/// from real runs of `supervisor agent coder|exec|goal` with the script provider. Each still
/// loads, and is written back as a transcript that loads to the same value.
final class TranscriptFormatTests: XCTestCase {
    var dir: TemporaryDirectory!

    override func setUp() { dir = TemporaryDirectory(prefix: "trfmt") }

    func oldFile(_ name: String) throws -> [UInt8] {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("OldFormats/" + name)
        return Array(try Data(contentsOf: here))
    }

    func install(_ name: String, at path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: path, contents: Data(try oldFile(name)))
    }

    func isTranscript(_ path: String) throws -> Transcript {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        return try Transcript(bytes: bytes)
    }

    func testOldCoderSessionLoadsAndIsRewrittenAsATranscript() throws {
        let store = SessionStore(stateDir: dir.path)
        let id = "20261205-013749-e4d"
        try install("coder-session-v1.json", at: store.path(id))
        let old = try store.load(id)
        XCTAssertEqual(old.model, "script")
        XCTAssertTrue(old.finished)
        XCTAssertEqual(old.messages.count, 6)
        XCTAssertEqual(old.messages.first?.text, "Write hello to hello.txt")
        XCTAssertEqual(old.messages.last?.text, "Done: hello.txt says hello.")
        XCTAssertEqual(store.list().map(\.id), [id])

        try store.save(old)
        let t = try isTranscript(store.path(id))
        XCTAssertEqual(t.kind, .coder)
        XCTAssertEqual(t.status, .finished(reason: nil))
        XCTAssertEqual(t.messages, old.messages)
        XCTAssertEqual(t.entries.map(\.event.type).filter { $0 != "tokens" }, ["user", "reply", "tool_call", "tool_result", "tool_call", "tool_result", "reply"])
        XCTAssertEqual(try store.load(id), old)
        XCTAssertEqual(store.latestUnfinished(), nil)
    }

    func testOldExecConversationLoadsAndIsRewrittenAsATranscript() throws {
        let store = ConversationStore(stateDir: dir.path)
        let id = "20261205-013733-c847"
        try install("exec-conversation.json", at: store.path(id))
        try install("exec-current.json", at: store.directory + "/current.json")
        XCTAssertEqual(store.currentID(), id)
        let old = try store.load(id)
        XCTAssertEqual(old.provider, "script")
        XCTAssertEqual(old.runs.count, 3)
        XCTAssertEqual(old.requests.count, 3)
        XCTAssertEqual(old.runs.last?.result.status, .answer)

        try store.save(old)
        let t = try isTranscript(store.path(id))
        XCTAssertEqual(t.kind, .exec)
        XCTAssertEqual(t.spend.requests, 3)
        XCTAssertEqual(t.started, old.created)
        XCTAssertNil(t.extras?["model"], "shared fields are kept once, outside extras")
        let types = t.entries.map(\.event.type)
        XCTAssertEqual(types.first, "user")
        XCTAssertEqual(types.filter { $0 == "code" }.count, 3)
        XCTAssertEqual(types.filter { $0 == "block_output" }.count, 3)
        var reloaded = try store.load(id)
        reloaded.updated = old.updated  // `save` stamps the time
        XCTAssertEqual(reloaded, old)
        XCTAssertEqual(store.list().map(\.id), [id])
    }

    /// A transcript written before the exec agent's extras stopped keeping their own copy of the
    /// entries (`extras.messages`, captured from a real `supervisor agent exec` run with the
    /// script provider) loads; written back, the text is in the transcript's one message list
    /// and extras only say each message's kind, time and turn.
    func testExecTranscriptWithItsOwnMessageListLoadsAndIsWrittenWithOneList() throws {
        let store = ConversationStore(stateDir: dir.path)
        let id = "20261205-025642-23c8"
        try install("exec-transcript-v1.json", at: store.path(id))
        let before = try isTranscript(store.path(id))
        XCTAssertNotNil(before.extras?["messages"], "the captured file is the older transcript")
        XCTAssertTrue(before.messages.isEmpty)
        let old = try store.load(id)
        XCTAssertEqual(old.messages.count, 7)
        XCTAssertEqual(old.messages.first?.kind, .prompt)
        XCTAssertEqual(old.messages.first?.text, "What is the sum of the squares of 1..10, and which Python runs you?")

        try store.save(old)
        let t = try isTranscript(store.path(id))
        XCTAssertNil(t.extras?["messages"], "no second copy of the entries in extras")
        XCTAssertEqual(t.messages.map(\.text), old.messages.map(\.text))
        XCTAssertEqual(t.messages.map(\.role.rawValue), old.messages.map(\.role))
        let extrasText = try XCTUnwrap(t.extras).serialized()
        for m in old.messages where m.text.count > 20 && m.text != old.title {  // the title is the first prompt's line
            XCTAssertFalse(extrasText.contains(OrderedJSON.string(m.text).serialized().dropFirst().dropLast()), "text of a \(m.kind) kept in extras too")
        }
        var reloaded = try store.load(id)
        reloaded.updated = old.updated  // `save` stamps the time
        XCTAssertEqual(reloaded, old)
        XCTAssertEqual(reloaded.chatMessages, old.chatMessages)
    }

    func testOldGoalHistoryLoadsAndIsRewrittenAsATranscript() throws {
        let path = dir.file("goal-history.json")
        try install("goal-history.json", at: path)
        let old = try XCTUnwrap(GoalHistory.load(path: path))
        XCTAssertEqual(old.goal, "Write hello to site/index.html")
        XCTAssertEqual(old.steps.map(\.command), ["mkdir -p site && echo hello > site/index.html", "cd site", "cat index.html"])
        XCTAssertEqual(old.finished, "reached")
        XCTAssertEqual(old.cwd, "/tmp/oldfmt/ws/site")

        try old.save(path: path)
        let t = try isTranscript(path)
        XCTAssertEqual(t.kind, .goal)
        XCTAssertEqual(t.status, .finished(reason: "reached"))
        XCTAssertEqual(t.workspace, "/tmp/oldfmt/ws/site")
        XCTAssertEqual(t.spend.requests, old.requests)
        XCTAssertNil(t.extras?["cwd"], "shared fields are kept once, outside extras")
        XCTAssertEqual(t.entries.map(\.event.type).filter { $0 == "command" }.count, 3)
        XCTAssertEqual(t.entries.last?.event, .final(reason: "reached"))
        XCTAssertEqual(GoalHistory.load(path: path), old)
        XCTAssertNil(old.started, "not kept before the transcript format")
    }

    /// Everything the shared type holds survives its JSON; an unknown format is refused.
    func testTranscriptRoundTripsAndRefusesOtherFiles() throws {
        var t = Transcript(id: "x1", kind: .exec, provider: "script", model: "m", workspace: "/w", started: "2026-12-05T00:00:00Z",
                           status: .stopped(reason: "cost budget"), contextCap: ContextCap(tokens: 100, model: "m", contextTokens: 200),
                           entries: [EventRecord(ts: "t", event: .user(text: "hi", source: nil, truncated: false))],
                           messages: [.user("hi"), Message(role: .assistant, content: [.toolUse(id: "a", name: "Bash", input: ["command": "ls"])])],
                           extras: .object([("k", .string("v"))]))
        t.spend.requests = 2
        t.spend.costUSD = 0.5
        XCTAssertEqual(try Transcript(bytes: t.bytes), t)
        XCTAssertThrowsError(try Transcript(bytes: Array(#"{"id": "x"}"#.utf8)))
        XCTAssertThrowsError(try Conversation(bytes: Array(#"{"format": "supervisor-transcript", "id": "x", "kind": "goal"}"#.utf8)))
    }
}
