import XCTest
@testable import Serve

/// The profile stream's pure parts: its record codec, the batch a busy client's output
/// gathers in, the pacer that decides when it goes, and the request's query.
final class ProfileStreamTests: XCTestCase {
    func testRecordsRoundTrip() throws {
        var message = StreamRecords.header(agent: 3, offset: 0x0102_0304_0506_0708, length: 2) + [0xAA, 0xBB]
        message += StreamRecords.header(agent: 300, offset: 9, length: 0)
        message += StreamRecords.header(agent: 0, offset: 1 << 40, length: 1) + [0x7F]
        let records = try XCTUnwrap(message.withUnsafeBytes { StreamRecords.decode($0) })
        XCTAssertEqual(records.map(\.agent), [3, 300, 0])
        XCTAssertEqual(records.map(\.offset), [0x0102_0304_0506_0708, 9, 1 << 40])
        XCTAssertEqual(records.map { Array(message[$0.bytes]) }, [[0xAA, 0xBB], [], [0x7F]])
    }

    func testMalformedRecordsAreRefused() {
        let whole = StreamRecords.header(agent: 1, offset: 5, length: 4) + [1, 2, 3, 4]
        for cut in 1..<whole.count {  // a record cut anywhere
            XCTAssertNil(Array(whole[..<cut]).withUnsafeBytes { StreamRecords.decode($0) }, "cut at \(cut)")
        }
        XCTAssertEqual([UInt8]().withUnsafeBytes { StreamRecords.decode($0) }, [])
    }

    /// Bytes that continue the last record extend it; another agent, or a gap in the offsets,
    /// starts a new record; what does not fit is refused, and an empty batch takes anything.
    func testBatchExtendsAndSplits() throws {
        let batch = RecordBatch(limit: 64)
        XCTAssertTrue(batch.add(agent: 1, offset: 100, bytes: [1, 2, 3]))
        XCTAssertTrue(batch.add(agent: 1, offset: 103, bytes: [4, 5]))
        XCTAssertTrue(batch.add(agent: 2, offset: 7, bytes: [9]))
        XCTAssertTrue(batch.add(agent: 1, offset: 200, bytes: [6]))
        XCTAssertEqual(batch.count, 4 * 14 - 14 + 7)
        XCTAssertFalse(batch.add(agent: 1, offset: 201, bytes: ArraySlice(repeating: 0, count: 64)), "over the limit")
        let message = try XCTUnwrap(batch.take()).bytes
        XCTAssertTrue(batch.isEmpty)
        let records = try XCTUnwrap(message.withUnsafeBytes { StreamRecords.decode($0) })
        XCTAssertEqual(records.map(\.agent), [1, 2, 1])
        XCTAssertEqual(records.map(\.offset), [100, 7, 200])
        XCTAssertEqual(records.map { Array(message[$0.bytes]) }, [[1, 2, 3, 4, 5], [9], [6]])
        XCTAssertTrue(batch.add(agent: 4, offset: 0, bytes: ArraySlice(repeating: 1, count: 100)), "an empty batch takes a big piece whole")
        XCTAssertEqual(batch.count, 114)
        XCTAssertFalse(batch.add(agent: 4, offset: 100, bytes: [2]))
    }

    /// At once after a quiet interval; within it, held until the interval ends.
    func testPacerHoldsOnlyWhileBusy() {
        var pacer = StreamPacer(interval: 1000)
        XCTAssertEqual(pacer.decide(now: 5_000), .sendNow)
        pacer.sent(at: 5_000)
        XCTAssertEqual(pacer.decide(now: 5_000), .holdUntil(6_000))
        XCTAssertEqual(pacer.decide(now: 5_999), .holdUntil(6_000))
        XCTAssertEqual(pacer.decide(now: 6_000), .sendNow)
        pacer.sent(at: 6_000)
        XCTAssertEqual(pacer.decide(now: 9_000), .sendNow)
        var off = StreamPacer(interval: 0)
        off.sent(at: 5)
        XCTAssertEqual(off.decide(now: 5), .sendNow, "0: every piece as it comes")
    }

    func testRequestQuery() throws {
        let agents = ["a", "b", "c"]
        XCTAssertEqual(try ProfileStreamRequest.parse(query: [:], agents: agents).get().starts,
                       ["a": .offset(0), "b": .offset(0), "c": .offset(0)])
        XCTAssertEqual(try ProfileStreamRequest.parse(query: ["agents": "a,c", "start": "end", "from": "c:42"], agents: agents).get().starts,
                       ["a": .end, "c": .offset(42)])
        XCTAssertEqual(try ProfileStreamRequest.parse(query: ["events_from": "b:7,a:0"], agents: agents).get().eventsFrom, ["a": 0, "b": 7])
        for (query, message) in [(["agents": "a,x"], "agents: no agent x in this profile"),
                                 (["agents": ""], "agents: no agent \"\" in this profile"),
                                 (["start": "1"], "start must be 0 or end, not 1"),
                                 (["from": "a:-1"], "from: a:-1 is not AGENT:OFFSET"),
                                 (["from": "a"], "from: a is not AGENT:OFFSET"),
                                 (["agents": "a", "from": "b:1"], "from: b is not an agent this stream asks for"),
                                 (["events_from": "a:x"], "events_from: a:x is not AGENT:OFFSET"),
                                 (["agents": "c", "events_from": "a:1"], "events_from: a is not an agent this stream asks for")] {
            guard case .failure(let error) = ProfileStreamRequest.parse(query: query, agents: agents) else { return XCTFail("\(query) accepted") }
            XCTAssertEqual(error.description, message)
        }
    }

    func testRoute() throws {
        XCTAssertEqual(try Route.parse(method: "GET", path: "/api/profiles/p/stream", upgrade: true).get(), .profileStreamSocket("p"))
        XCTAssertEqual(try Route.parse(method: "GET", path: "/api/profiles/p/stream", upgrade: true).get().scope, .read)
        XCTAssertThrowsError(try Route.parse(method: "GET", path: "/api/profiles/P!/stream", upgrade: true).get())
    }
}
