import HTTP
import Loop
import XCTest
import _TestSupport

final class HTTPClientTests: XCTestCase {
    var loop: EventLoop!
    var server: FakeLLMServer!
    var client: HTTPClient!

    override func setUpWithError() throws {
        loop = EventLoop()
        server = try FakeLLMServer(loop: loop)
        client = HTTPClient(loop: loop)
    }

    override func tearDown() {
        client.close()
        server.stop()
        loop.close()
    }

    func post(_ path: String = "/v1/messages", stall: Double? = nil) -> HTTPRequest {
        HTTPRequest(method: "POST", url: server.baseURL + path, headers: [("content-type", "application/json")],
                    body: Array(#"{"model":"m"}"#.utf8), connectTimeout: 2, stallTimeout: stall, totalTimeout: 20)
    }

    func testHeadArrivesBeforeBodyWhichArrivesIncrementally() throws {
        var reply = FakeReply.text("one byte at a time")
        reply.fault = .drip
        server.enqueue(reply)
        var log: [String] = []
        var body: [UInt8] = []
        var result: Result<HTTPTransferInfo, HTTPError>?
        client.start(post(), onHead: { head in
            log.append("head \(head.status) \(head.header("content-type") ?? "")")
        }, onBody: { bytes in
            if log.last != "body" { log.append("body") }
            body += bytes
            log.append("body")
        }, onComplete: { result = $0 })
        try runLoop(loop, until: "transfer done") { result != nil }
        let info = try result!.get()
        XCTAssertEqual(info.head.status, 200)
        XCTAssertEqual(log.first, "head 200 text/event-stream")
        XCTAssertGreaterThan(log.filter { $0 == "body" }.count, 50, "the body came in many pieces")
        XCTAssertEqual(info.bodyBytes, body.count)
        XCTAssertTrue(String(decoding: body, as: UTF8.self).contains("message_stop"))
        XCTAssertEqual(server.requests.first?.method, "POST")
        XCTAssertEqual(server.requests.first?.json?["model"]?.stringValue, "m")
    }

    func testErrorStatusIsAResponseNotATransportError() throws {
        server.enqueue(.status(429, type: "rate_limit_error", message: "slow down", headers: [("retry-after", "3")]))
        var body: [UInt8] = []
        var result: Result<HTTPTransferInfo, HTTPError>?
        client.start(post(), onBody: { body += $0 }, onComplete: { result = $0 })
        try runLoop(loop, until: "transfer done") { result != nil }
        let info = try result!.get()
        XCTAssertEqual(info.head.status, 429)
        XCTAssertEqual(info.head.header("Retry-After"), "3")
        XCTAssertTrue(String(decoding: body, as: UTF8.self).contains("slow down"))
    }

    func testCancelFromInsideTheBodyCallback() throws {
        var reply = FakeReply.text(String(repeating: "long answer ", count: 20))
        reply.fault = .stall(afterEvents: 5, seconds: 30)
        server.enqueue(reply)
        var result: Result<HTTPTransferInfo, HTTPError>?
        var transfer: HTTPTransfer!
        var calls = 0
        transfer = client.start(post(), onBody: { _ in
            calls += 1
            transfer.cancel()  // inside curl's write callback: must be deferred, not re-enter curl
        }, onComplete: { result = $0 })
        try runLoop(loop, until: "cancelled") { result != nil }
        guard case .failure(let e) = result! else { return XCTFail("expected cancellation, got \(result!)") }
        XCTAssertEqual(e.kind, .cancelled)
        XCTAssertGreaterThanOrEqual(calls, 1)
        XCTAssertEqual(client.activeTransfers, 0)
    }

    func testConnectionRefused() throws {
        let closed = TCPStream(loop: loop)
        try closed.bind(host: "127.0.0.1", port: 0)
        let port = closed.localPort
        closed.close()
        var result: Result<HTTPTransferInfo, HTTPError>?
        client.start(HTTPRequest(url: "http://127.0.0.1:\(port)/"), onComplete: { result = $0 })
        try runLoop(loop, until: "refused") { result != nil }
        guard case .failure(let e) = result! else { return XCTFail("connected to a closed port?") }
        XCTAssertEqual(e.kind, .connectFailed, e.message)
        XCTAssertTrue(e.message.contains("127.0.0.1:\(port)"), e.message)
    }

    func testStallTimeout() throws {
        var reply = FakeReply.text("stalls after a few events")
        reply.fault = .stall(afterEvents: 3, seconds: 30)
        server.enqueue(reply)
        var result: Result<HTTPTransferInfo, HTTPError>?
        let started = EventLoop.monotonicSeconds()
        client.start(post(stall: 0.3), onComplete: { result = $0 })
        try runLoop(loop, until: "stall") { result != nil }
        guard case .failure(let e) = result! else { return XCTFail("expected a stall") }
        XCTAssertEqual(e.kind, .stallTimeout)
        XCTAssertTrue(e.receivedHead)
        let elapsed = EventLoop.monotonicSeconds() - started
        XCTAssertGreaterThan(elapsed, 0.29)
        XCTAssertLessThan(elapsed, 3)
    }

    func testTwentyConcurrentTransfersOnOneLoop() throws {
        server.fallback = { _ in .text("same answer for all") }
        var done = 0
        var failures: [String] = []
        for _ in 0..<20 {
            var bytes = 0
            client.start(post(), onBody: { bytes += $0.count }, onComplete: { r in
                done += 1
                if case .failure(let e) = r { failures.append(e.message) }
                else if bytes == 0 { failures.append("empty body") }
            })
        }
        XCTAssertEqual(client.activeTransfers, 20)
        try runLoop(loop, until: "20 transfers") { done == 20 }
        XCTAssertEqual(failures, [])
        XCTAssertEqual(server.requests.count, 20)
    }
}
