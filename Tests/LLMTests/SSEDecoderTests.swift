import XCTest
@testable import LLM

/// Decodes `bytes` in one piece, at every single split point, at every pair of
/// split points (for short inputs) and byte by byte; all must agree.
func sseAllSplits(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [SSEEvent] {
    func run(_ chunks: [[UInt8]]) -> [SSEEvent] {
        var d = SSEDecoder()
        var out: [SSEEvent] = []
        for c in chunks { out += d.feed(c) }
        out += d.finish()
        return out
    }
    let whole = run([bytes])
    for i in 0...bytes.count {
        let got = run([Array(bytes[..<i]), Array(bytes[i...])])
        XCTAssertEqual(got, whole, "split at \(i)", file: file, line: line)
    }
    if bytes.count <= 80 {
        for i in 0...bytes.count {
            for j in i...bytes.count {
                let got = run([Array(bytes[..<i]), Array(bytes[i..<j]), Array(bytes[j...])])
                XCTAssertEqual(got, whole, "split at \(i), \(j)", file: file, line: line)
            }
        }
    }
    XCTAssertEqual(run(bytes.map { [$0] }), whole, "byte by byte", file: file, line: line)
    return whole
}

func sseAllSplits(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> [SSEEvent] {
    sseAllSplits(Array(s.utf8), file: file, line: line)
}

final class SSEDecoderTests: XCTestCase {
    func testBasicEventAndFields() {
        let ev = sseAllSplits("event: add\ndata: 73857293\nid: 7\n\n")
        XCTAssertEqual(ev, [SSEEvent(event: "add", data: "73857293", id: "7", retry: nil)])
    }

    func testDefaultEventTypeIsMessage() {
        XCTAssertEqual(sseAllSplits("data: x\n\n"), [SSEEvent(event: "message", data: "x")])
    }

    func testMultiLineDataJoinedWithLF() {
        XCTAssertEqual(sseAllSplits("data: YHOO\ndata: +2\ndata: 10\n\n").map(\.data), ["YHOO\n+2\n10"])
    }

    func testLineEndingsLFCRLFCR() {
        let lf = sseAllSplits("data: a\ndata: b\n\ndata: c\n\n")
        let crlf = sseAllSplits("data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n")
        let cr = sseAllSplits("data: a\rdata: b\r\rdata: c\r\r")
        let mixed = sseAllSplits("data: a\rdata: b\r\n\ndata: c\n\r")
        XCTAssertEqual(lf.map(\.data), ["a\nb", "c"])
        XCTAssertEqual(crlf, lf)
        XCTAssertEqual(cr, lf)
        XCTAssertEqual(mixed, lf)
    }

    func testCRAtChunkEndThenLFIsOneLineEnd() {
        var d = SSEDecoder()
        // "data: a\r" | "\n" | "\r\n": if CR|LF counted twice, the first LF would dispatch early
        // and "data: b" would become a second event.
        XCTAssertEqual(d.feed(Array("data: a\r".utf8)), [])
        XCTAssertEqual(d.feed(Array("\ndata: b\r".utf8)), [])
        XCTAssertEqual(d.feed(Array("\n\r".utf8)).map(\.data), ["a\nb"])
        XCTAssertEqual(d.feed(Array("\n".utf8)), [])  // the LF of the final CRLF, not another blank line
        XCTAssertEqual(d.feed(Array("data: c\n\n".utf8)).map(\.data), ["c"])
    }

    func testCRDispatchesWithoutWaitingForNextChunk() {
        var d = SSEDecoder()
        XCTAssertEqual(d.feed(Array("data: a\r\r".utf8)).map(\.data), ["a"])
    }

    func testCommentsIgnored() {
        let ev = sseAllSplits(": this is a comment\ndata: x\n: another\n\n:\n\n")
        XCTAssertEqual(ev.map(\.data), ["x"])
    }

    func testLeadingBOMStrippedOnlyOnce() {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let ev = sseAllSplits(bom + Array("data: x\n\n".utf8))
        XCTAssertEqual(ev.map(\.data), ["x"])
        // A second BOM is part of the field name, which is then unknown and ignored.
        let ev2 = sseAllSplits(bom + bom + Array("data: x\n\ndata: y\n\n".utf8))
        XCTAssertEqual(ev2.map(\.data), ["y"])
    }

    func testPartialBOMPrefixIsNotDropped() {
        // 0xEF 0xBB then 'd': not a BOM; bytes kept (become part of an unknown field name).
        let ev = sseAllSplits([0xEF, 0xBB] + Array("\ndata: y\n\n".utf8))
        XCTAssertEqual(ev.map(\.data), ["y"])
    }

    func testFieldWithoutColon() {
        // "data" alone: data field with empty value -> an event with empty data is dispatched.
        XCTAssertEqual(sseAllSplits("data\n\n").map(\.data), [""])
        XCTAssertEqual(sseAllSplits("data\ndata\n\n").map(\.data), ["\n"])
        // "event" alone sets an empty type -> "message".
        XCTAssertEqual(sseAllSplits("event\ndata: x\n\n").map(\.event), ["message"])
    }

    func testOnlyOneLeadingSpaceStripped() {
        XCTAssertEqual(sseAllSplits("data:  two\ndata:none\ndata:\tTab\n\n").map(\.data), [" two\nnone\n\tTab"])
        XCTAssertEqual(sseAllSplits("data: a:b: c\n\n").map(\.data), ["a:b: c"])
    }

    func testEmptyDataNotDispatched() {
        XCTAssertEqual(sseAllSplits("event: foo\n\n"), [])
        XCTAssertEqual(sseAllSplits("id: 1\n\n\n\n"), [])
        // Event type does not leak into the next event.
        XCTAssertEqual(sseAllSplits("event: foo\n\ndata: x\n\n").map(\.event), ["message"])
    }

    func testIncompleteEventAtEndDiscarded() {
        XCTAssertEqual(sseAllSplits("data: a\n\ndata: b\n"), [SSEEvent(data: "a")])
        var d = SSEDecoder()
        _ = d.feed(Array("data: b".utf8))
        XCTAssertTrue(d.hasPendingData)
        XCTAssertEqual(d.finish(), [])
    }

    func testIdPersistsAndNulIgnored() {
        let ev = sseAllSplits("id: 1\ndata: a\n\ndata: b\n\nid: x\u{0}y\ndata: c\n\nid\ndata: d\n\n")
        XCTAssertEqual(ev.map(\.id), ["1", "1", "1", ""])
    }

    func testRetryOnlyDigits() {
        let ev = sseAllSplits("retry: 1500\ndata: a\n\nretry: 12a\ndata: b\n\nretry: -5\nretry:\nretry: 1.5\ndata: c\n\nretry: 30\ndata: d\n\n")
        XCTAssertEqual(ev.map(\.retry), [1500, 1500, 1500, 30])
        var d = SSEDecoder()
        _ = d.feed(Array("retry: 250\n\n".utf8))
        XCTAssertEqual(d.reconnectionTime, 250)
    }

    func testUnknownFieldsIgnored() {
        XCTAssertEqual(sseAllSplits("foo: bar\ndata: x\nDATA: y\n\n").map(\.data), ["x"])
    }

    func testUTF8SplitAcrossChunks() {
        let s = "data: héllo wörld ✓ 🎉 日本\n\n"
        XCTAssertEqual(sseAllSplits(s).map(\.data), ["héllo wörld ✓ 🎉 日本"])
    }

    func testInvalidUTF8BecomesReplacementNotCrash() {
        let ev = sseAllSplits(Array("data: a".utf8) + [0xFF, 0xFE] + Array("b\n\n".utf8))
        XCTAssertEqual(ev.map(\.data), ["a\u{FFFD}\u{FFFD}b"])
    }

    func testRecognizedLineCounting() {
        var d = SSEDecoder()
        _ = d.feed(Array("{\"error\": {\"message\": \"nope\"}}\n".utf8))
        XCTAssertEqual(d.recognizedLines, 0)
        _ = d.feed(Array(": ping\n".utf8))
        XCTAssertEqual(d.recognizedLines, 1)
    }

    func testLongRealisticStreamAtEverySplit() {
        let s = """
        event: message_start\r
        data: {"type":"message_start","message":{"id":"m1"}}\r
        \r
        : keepalive\r
        event: ping\r
        data: {"type": "ping"}\r
        \r
        event: content_block_delta\r
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Grüße 🌍"}}\r
        \r

        """
        let ev = sseAllSplits(s)
        XCTAssertEqual(ev.map(\.event), ["message_start", "ping", "content_block_delta"])
        XCTAssertTrue(ev[2].data.contains("Grüße 🌍"))
    }
}
