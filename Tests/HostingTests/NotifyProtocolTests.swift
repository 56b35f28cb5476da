import XCTest
@testable import AgentHost

/// The notify protocol's codec: every message and reply, the version check, and what an
/// unreadable message's error says (never a key).
final class NotifyProtocolTests: XCTestCase {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func message(_ text: String) -> Result<NotifyMessage, NotifyError> { Result { () throws(NotifyError) in try NotifyProtocol.decodeMessage(bytes(text)) } }
    func reply(_ text: String) -> Result<NotifyReply, NotifyError> { Result { () throws(NotifyError) in try NotifyProtocol.decodeReply(bytes(text)) } }

    func testEveryMessageAndReplyRoundTrips() throws {
        let messages: [NotifyMessage] = [
            .started(agent: "coder", pid: 4242), .started(agent: "coder", pid: nil),
            .failed(agent: "coder", error: "cannot exec \"nope\": ENOENT"),
            .keyRequest(agent: "coder", names: ["OPENAI_API_KEY", "GITHUB_TOKEN"]), .keyRequest(agent: "c", names: []),
        ]
        for sent in messages { XCTAssertEqual(try NotifyProtocol.decodeMessage(NotifyProtocol.encode(sent)), sent) }
        let replies: [NotifyReply] = [.keys(["OPENAI_API_KEY": "sk-1", "A": "x\ny\"z"]), .keys([:]), .refused("notify protocol: not a JSON object")]
        for sent in replies { XCTAssertEqual(try NotifyProtocol.decodeReply(NotifyProtocol.encode(sent)), sent) }
    }

    /// The wire form other builds must find: `v` and `kind` first, then the kind's fields.
    func testEveryMessageCarriesTheVersionAndItsKind() {
        XCTAssertEqual(String(decoding: NotifyProtocol.encode(.started(agent: "a", pid: 7)), as: UTF8.self),
                       #"{"v":1,"kind":"started","agent":"a","pid":7}"#)
        XCTAssertEqual(String(decoding: NotifyProtocol.encode(.keyRequest(agent: "a", names: ["K"])), as: UTF8.self),
                       #"{"v":1,"kind":"key_request","agent":"a","names":["K"]}"#)
        XCTAssertEqual(String(decoding: NotifyProtocol.encode(.refused("why")), as: UTF8.self), #"{"v":1,"kind":"refused","error":"why"}"#)
    }

    /// A build before the protocol (no `v`: `StartNotice`, `KeyRequest`) or after it is named
    /// with its version and agent, never read as if it were this one.
    func testAnotherVersionIsRefusedNamingItsAgent() {
        XCTAssertEqual(message(#"{"agent":"coder","pid":12}"#), .failure(.otherVersion(0, agent: "coder")))
        XCTAssertEqual(message(#"{"agent":"coder","keys":["OPENAI_API_KEY"]}"#), .failure(.otherVersion(0, agent: "coder")))
        XCTAssertEqual(message(#"{"v":2,"kind":"started","agent":"coder","pid":12}"#), .failure(.otherVersion(2, agent: "coder")))
        XCTAssertEqual(message(#"{"v":2,"kind":"started","agent":"coder","pid":"twelve"}"#), .failure(.otherVersion(2, agent: "coder")))
        XCTAssertEqual(reply(#"{"v":2,"kind":"keys","keys":{"K":"sk-secret"}}"#), .failure(.otherVersion(2, agent: nil)))
        XCTAssertEqual(reply(#"{"keys":{"K":"sk-secret"}}"#), .failure(.otherVersion(0, agent: nil)))
        XCTAssertEqual(NotifyError.otherVersion(0, agent: "a").description,
                       "notify protocol: a version 0 message (from a build before the protocol had a version), this build speaks version 1")
    }

    func testAnUnknownKindIsRefused() {
        XCTAssertEqual(message(#"{"v":1,"kind":"restarted","agent":"coder"}"#), .failure(.unknownKind("restarted", agent: "coder")))
        XCTAssertEqual(message(#"{"v":1,"kind":"keys","keys":{}}"#), .failure(.unknownKind("keys", agent: nil))) // a reply is no message
        XCTAssertEqual(reply(#"{"v":1,"kind":"started","agent":"coder"}"#), .failure(.unknownKind(nil, agent: nil)))
        XCTAssertEqual(NotifyError.unknownKind("restarted", agent: "coder").description, "notify protocol: unknown message kind \"restarted\"")
    }

    func testGarbageAndMissingFieldsAreRefused() {
        for text in ["", "garbage", "[1,2]", "\"started\"", #"{"v":1,"kind":"started","agent":"a""#, #"{"v":1} trailing"#] {
            XCTAssertEqual(message(text), .failure(.notJSON), text)
            XCTAssertEqual(reply(text), .failure(.notJSON), text)
        }
        XCTAssertEqual(message(#"{"v":1,"agent":"a"}"#), .failure(.malformed(kind: nil, agent: "a")))
        XCTAssertEqual(message(#"{"v":"1","kind":"started","agent":"a"}"#), .failure(.malformed(kind: nil, agent: "a")))
        XCTAssertEqual(message(#"{"v":1.5,"kind":"started","agent":"a"}"#), .failure(.malformed(kind: nil, agent: "a")))
        XCTAssertEqual(message(#"{"v":1,"kind":"started"}"#), .failure(.malformed(kind: "started", agent: nil)))
        XCTAssertEqual(message(#"{"v":1,"kind":"failed","agent":"a"}"#), .failure(.malformed(kind: "failed", agent: "a")))
        XCTAssertEqual(message(#"{"v":1,"kind":"key_request","agent":"a","names":"K"}"#), .failure(.malformed(kind: "key_request", agent: "a")))
        XCTAssertEqual(reply(#"{"v":1,"kind":"keys"}"#), .failure(.malformed(kind: "keys", agent: nil)))
        XCTAssertEqual(message(String(repeating: " ", count: NotifyProtocol.maxBytes + 1)), .failure(.tooLarge(NotifyProtocol.maxBytes + 1)))
    }

    /// An answer may hold keys: whatever shape it is in, its error quotes none of it. A
    /// message's agent and kind are quoted only when they are plain names.
    func testNoErrorQuotesAKey() {
        let secret = "sk-SECRET-0123"
        let answers = [#"{"v":1,"kind":"keys","keys":["\#(secret)"]}"#, #"{"v":1,"kind":"\#(secret)"}"#, #"{"v":1,"kind":"keys","keys":{"K":1},"x":"\#(secret)"}"#,
                       #"{"v":1,"kind":"keys","keys":{"K":"\#(secret)"}"#, #"{"v":9,"kind":"keys","keys":{"K":"\#(secret)"}}"#, #"\#(secret)"#]
        for text in answers {
            guard case .failure(let error) = reply(text) else { XCTFail(text); continue }
            XCTAssertFalse(error.description.contains("SECRET"), error.description)
            XCTAssertFalse(ShimKeys.answer(error).contains("SECRET"))
        }
        XCTAssertEqual(message(#"{"v":1,"kind":"x y \#(secret)","agent":"a b \#(secret)"}"#), .failure(.unknownKind(nil, agent: nil)))
    }

    /// The shim's words for a launcher of another build say what to do.
    func testTheShimNamesALauncherOfAnotherVersion() {
        XCTAssertEqual(ShimKeys.answer(.otherVersion(2, agent: nil)),
                       "the launcher speaks notify protocol version 2, this shim speaks 1: run `supervisor down` and `supervisor up` again with one build")
    }
}

/// `place-again`'s report to the shim carries a version like the notify protocol.
final class PlacementReportTests: XCTestCase {
    func testRoundTripAndVersions() throws {
        let report = PlacementReport(engine: "second", note: "moved from first: it does not answer")
        XCTAssertEqual(try PlacementReport.decode(report.encode()).get(), report)
        XCTAssertTrue(String(decoding: report.encode(), as: UTF8.self).contains("\"v\":1"))
        // A build from before the version, and a newer one: named, never misread.
        for (json, version) in [(#"{"engine":"first"}"#, 0), (#"{"v":2,"engine":"first"}"#, 2)] {
            guard case .failure(let error) = PlacementReport.decode(Array(json.utf8)) else { return XCTFail(json) }
            XCTAssertTrue(error.description.contains("version \(version), this shim speaks 1"), error.description)
        }
        guard case .failure(let error) = PlacementReport.decode(Array("not json".utf8)) else { return XCTFail() }
        XCTAssertEqual(error.description, "place-again printed no placement report")
    }
}
